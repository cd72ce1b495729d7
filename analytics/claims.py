"""Claim checks: every ledger claim beside what the data says, by one generic checker over specs.

A claim is a ledger row (data/snapshot/claims.csv, table `claims`) that says what is measured
(metric, basis, subject and the frameworks it is compared with), when (window), how it is
compared (comparison) and with what tolerance. Source modules only provide series: a function
registered with @provides(metric) turns a spec into a Series (dated values per framework, with
the source's precision, the last complete period and a label). This module reads the series at
the claim's date and today and gives a Verdict with its evidence. docs/claims.md explains the
rules in words; a new claim is a ledger row, not a new function.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from pulse import registry

CHECK_MODULES: list[str] = ["analytics.github", "analytics.trends", "analytics.paperswithcode", "analytics.huggingface",
                            "analytics.probe", "analytics.conferences", "analytics.adoption"]

SUPPORTED = "supported"
PARTLY = "partly supported"
CONTRADICTED = "contradicted"
OUTDATED = "true then, not now"
NOT_CHECKABLE = "not checkable yet"
STATUSES = (SUPPORTED, PARTLY, CONTRADICTED, OUTDATED, NOT_CHECKABLE)
RANK = {SUPPORTED: 0, PARTLY: 1, CONTRADICTED: 2}

COMPARISONS = ("about", "at_least", "at_most", "ratio", "ratio_at_least", "leads", "trails", "level", "closed_gap",
               "rising_falling", "date")
DEFAULT_REL_TOLERANCE = 0.05

# What makes a metric checkable, named in "not checkable yet" verdicts.
COMMANDS = {
    "github_stars": "`pulse ingest github` (or the embedded snapshot: `pulse db init`)",
    "github_created_at": "`pulse ingest github` (stores each repository's creation date)",
    "release_date": "a source of release dates, which no command stores yet (`pulse ingest github` stores repository creation dates only)",
    "pwc_implementation_share": "`pulse ingest paperswithcode`",
    "pwc_implementation_share_relative": "`pulse ingest paperswithcode`",
    "pwc_papers_with_code_share": "`pulse ingest paperswithcode`",
    "hf_tf_keras_models_also_pytorch": "`pulse ingest huggingface --framework tensorflow --framework keras`",
    "hf_model_share": "`pulse ingest huggingface` (a complete crawl of the default frameworks) or `--hub-stats FILE`",
    "hf_models_total": "`pulse ingest huggingface --hub-stats FILE` (a hub-stats models.parquet)",
    "hf_models": "`pulse ingest huggingface` (or `--hub-stats FILE`)",
    "hf_models_by_library": "`pulse ingest huggingface --hub-stats FILE` (a hub-stats models.parquet with library_name)",
    "google_trends_interest": "`pulse ingest trends` or `pulse ingest trends-csv FILE`",
    "conference_mention_share": "`pulse db init` (data/snapshot/conference_mentions.csv)",
    "training_step_ms": "`pulse probe run` on a GPU",
    "compile_speedup": "`pulse probe run` on a GPU",
    "pypi_downloads": "`pulse ingest pypi`",
    "so_questions": "`pulse ingest stackoverflow`",
    "so_tag_questions_total": "`pulse ingest stackoverflow`",
}


class NotCheckable(Exception):
    """A provider has no usable data for the spec; the message says why."""


@dataclass
class Series:
    """What a source provides for a spec: dated values per framework and how precise they are."""

    frame: pd.DataFrame  # date, framework, value (optional: count, base)
    name: str  # what the values are, e.g. "GitHub stars"
    source: str  # the source, in words
    unit: str  # count, share, index, ratio, date
    basis: str = ""  # how the values are counted (which series, which base)
    noise: float = 0.0  # absolute precision of one value (Trends: 1 index point of rounding)
    period: str | None = None  # 'W', 'M', 'Q', 'Y' when a value covers a period starting at its date
    complete_until: pd.Timestamp | None = None  # points after this are incomplete periods: never judged
    smooth_months: int = 0  # values are read as the mean over this many months ending at the date
    cap: str | None = None  # the best verdict this series can give (e.g. one workload: partly)
    cap_reason: str = ""
    page: str = ""  # the dashboard view that shows the evidence
    incomplete_note: str = ""  # set by the engine when incomplete periods were left out
    incomplete_reason: str = "a period still running when the data was taken"
    first_date: pd.Timestamp | None = None  # set by the engine: the first complete point
    window_starts: dict = field(default_factory=dict)  # set by the engine: first point of each smoothing window
    value_suffix: str = ""  # words after a figure, e.g. "of the two frameworks' mentions"


@dataclass
class Verdict:
    status: str
    measured: str = ""  # the figure at the claim's date, in words with numbers
    measured_at: str = ""  # the date (or period) it is for
    today: str = ""  # the same figure on the latest complete data
    today_at: str = ""
    basis: str = ""  # series, source and counting basis used
    explanation: str = ""  # one sentence a reader can check
    rule: str = ""  # the rule applied and its outcome, without the figures (for compact tables)
    value: float | None = None  # the measured figure, comparable with the claim's value
    today_value: float | None = None
    page: str = ""
    evidence: pd.DataFrame | None = field(default=None, repr=False)  # the series read (for the small chart)
    as_of: str = ""  # the older name of measured_at (kept in step with it)

    def __post_init__(self) -> None:
        self.measured_at = self.measured_at or self.as_of
        self.as_of = self.measured_at


Provider = Callable[[duckdb.DuckDBPyConnection, "Spec"], Series]
PROVIDERS: dict[str, Provider] = {}
# Per-claim checkers (the older interface): one registered for an id replaces the generic engine
# for that claim. Prefer a ledger row and a series provider; kept so that source modules written
# against it keep working.
Checker = Callable[[duckdb.DuckDBPyConnection, dict], "Verdict"]
CHECKERS: dict[str, Checker] = {}


def checks(*claim_ids: str):
    """Register a custom checker for claim ids (overrides the generic engine for them)."""

    def decorate(func: Checker) -> Checker:
        for claim_id in claim_ids:
            CHECKERS[claim_id] = func
        return func

    return decorate


def provides(*metrics: str):
    """Register a series provider for ledger metrics."""

    def decorate(func: Provider) -> Provider:
        for metric in metrics:
            PROVIDERS[metric] = func
        return func

    return decorate


# --- Formatting: figures as people write them ------------------------------------------------------

def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt_count(value) -> str:
    return f"{float(value):,.0f}" if _finite(value) else "no figure"


def fmt_share(value, digits: int = 1) -> str:
    if not _finite(value):
        return "no figure"
    text = f"{float(value) * 100:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def fmt_ratio(value) -> str:
    if not _finite(value):
        return "no figure"
    value = float(value)
    # 2.9x, 1.21x: two decimals only below 2, where a speed-up's second decimal matters.
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 2 else f"{value:.2f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "x"


def fmt_index(value) -> str:
    return f"{float(value):,.1f}".removesuffix(".0") if _finite(value) else "no figure"


def fmt_value(value, unit: str | None) -> str:
    """One figure in the unit's usual writing: 2,161,698; 68%; 2.9x; 49.5 (Trends index)."""
    unit = (unit or "").lower()
    if unit in ("share", "fraction"):
        return fmt_share(value)
    if unit == "ratio":
        return fmt_ratio(value)
    if unit in ("index",):
        return fmt_index(value)
    if not _finite(value):
        return "no figure"
    value = float(value)
    if value == int(value):
        return fmt_count(value)
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def quoted_figure(value, unit: str | None) -> str:
    """The claim's own figure: '68%', '165,000 stars', '3x'; '' when the claim quotes none."""
    if not _finite(value):
        return ""
    unit = (unit or "").lower()
    if unit in ("share", "fraction"):
        return fmt_share(value, 2)
    if unit == "ratio":
        return fmt_ratio(value)
    text = fmt_value(value, unit)
    return f"{text} {unit}" if unit and unit not in ("index",) else text


# --- Specs -----------------------------------------------------------------------------------------

@dataclass
class Window:
    lo: pd.Timestamp
    hi: pd.Timestamp
    label: str
    kind: str  # day, month, year, range


def parse_when(text: str | None) -> Window | None:
    """'2022' -> the year, '2023-01' -> the month, '2025-10-23' -> the day, 'A..B' -> from A's start to B's end."""
    text = str(text or "").strip()
    if not text:
        return None
    if ".." in text:
        left, right = (parse_when(part) for part in text.split("..", 1))
        if left is None or right is None:
            return None
        return Window(left.lo, right.hi, f"{left.label} to {right.label}", "range")
    try:
        if len(text) == 4 and text.isdigit():
            year = int(text)
            return Window(pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31), text, "year")
        if len(text) == 7:
            lo = pd.Timestamp(text + "-01")
            return Window(lo, lo + pd.offsets.MonthEnd(0), text, "month")
        if len(text) == 10:
            day = pd.Timestamp(text)
            return Window(day, day, text, "day")
    except ValueError:
        return None
    return None


def _quoted_slack(value: float | None) -> float:
    """Half a unit of the last significant digit of the quoted figure (68% -> 0.005; 56.4k -> 50)."""
    if not _finite(value) or float(value) == 0:
        return 0.0
    value = abs(float(value))
    text = f"{value:.10g}"
    if "e" in text:
        return 0.0
    if "." in text:
        decimals = len(text.split(".")[1])
        return 0.5 * 10 ** -decimals
    digits = text.rstrip("0")
    return 0.5 * 10 ** (len(text) - len(digits))


@dataclass
class Spec:
    id: str
    claim: str
    metric: str
    subject: str
    versus: list[str]
    comparison: str
    basis: str
    window: Window | None
    value: float | None
    unit: str
    kind: str
    rel_tolerance: float = DEFAULT_REL_TOLERANCE
    partly_from: float | None = None
    level_ratio: float = 0.9

    @classmethod
    def from_row(cls, row: dict) -> Spec:
        options = {}
        for item in str(row.get("tolerance") or "").split(";"):
            key, sep, val = item.partition("=")
            if sep:
                try:
                    options[key.strip()] = float(val)
                except ValueError:
                    pass
        versus = [v.strip() for v in str(row.get("versus") or "").split(",") if v.strip()]
        return cls(
            id=str(row.get("id")), claim=str(row.get("claim") or ""), metric=str(row.get("metric") or ""),
            subject=str(row.get("subject") or ""), versus=versus, comparison=str(row.get("comparison") or ""),
            basis=str(row.get("basis") or ""), window=parse_when(row.get("period")),
            value=float(row["value"]) if _finite(row.get("value")) else None, unit=str(row.get("unit") or ""),
            kind=str(row.get("kind") or ""), rel_tolerance=options.get("rel", DEFAULT_REL_TOLERANCE),
            partly_from=options.get("partly_from"), level_ratio=options.get("level", 0.9),
        )

    @property
    def frameworks(self) -> list[str]:
        return [self.subject] + [v for v in self.versus if v != self.subject]

    def quoted_slack(self) -> float:
        # Only a figure the article quotes has a rounding; a threshold read from words has none.
        return _quoted_slack(self.value) if self.kind in ("point", "share") else 0.0


def name(framework: str) -> str:
    if framework == "all":
        return "All"
    try:
        return registry.display_name(framework)
    except Exception:  # a framework the registry does not list: its own id
        return framework


# --- Reading a series ------------------------------------------------------------------------------

PERIOD_END = {"D": pd.Timedelta(0), "W": pd.Timedelta(days=6), "M": pd.offsets.MonthEnd(0), "Q": pd.offsets.QuarterEnd(0),
              "Y": pd.offsets.YearEnd(0)}


def _period_end(dates: pd.DatetimeIndex, period: str | None) -> pd.DatetimeIndex:
    if period is None:
        return dates
    return dates + PERIOD_END[period]


def prepare(series: Series, spec: Spec) -> pd.DataFrame:
    """Wide table (date x framework) of complete periods, smoothed when the source asks for it."""
    frame = series.frame
    wanted = spec.frameworks
    frame = frame[frame["framework"].isin(wanted)]
    if frame.empty:
        return pd.DataFrame(columns=wanted)
    wide = frame.pivot_table(index="date", columns="framework", values="value", aggfunc="last").sort_index()
    wide.index = pd.to_datetime(wide.index)
    if series.complete_until is not None:
        late = wide.index > series.complete_until
        if late.any():
            series.incomplete_note = (f"Left out as incomplete: {', '.join(d.strftime('%Y-%m-%d') for d in wide.index[late][:3])}"
                                      f"{' and later' if late.sum() > 3 else ''} ({series.incomplete_reason}).")
        wide = wide[~late]
    series.first_date = wide.index.min() if len(wide) else None
    if series.smooth_months and len(wide):
        # A mean over the last `smooth_months` of points (3 monthly, 13 weekly, ~91 daily points).
        n = {"M": series.smooth_months, "W": round(series.smooth_months * 30.44 / 7)}.get(series.period or "D",
                                                                                         round(series.smooth_months * 30.44))
        starts = pd.Series(wide.index, index=wide.index).shift(n - 1)
        wide = wide.rolling(n, min_periods=n).mean().dropna(how="all")
        series.window_starts = starts.dropna().to_dict()
    return wide


@dataclass
class Reading:
    status: str
    value: float | None
    text: str  # the figures, e.g. "TensorFlow 165,353 vs PyTorch 56,368: 2.93x"
    why: str  # the rule applied, in words


def _tolerance(spec: Spec, series: Series, noise: float) -> float:
    claimed = abs(spec.value or 0.0)
    return max(spec.rel_tolerance * claimed, spec.quoted_slack(), noise)


def _share_noise(series: Series, date: pd.Timestamp, framework: str) -> float:
    """Two standard errors of a share of a count (p of n): the spread a sample of that size has."""
    frame = series.frame
    if "base" not in frame.columns:
        return series.noise
    row = frame[(frame["date"] == date) & (frame["framework"] == framework)]
    if row.empty or not _finite(row["base"].iloc[0]) or float(row["base"].iloc[0]) <= 0:
        return series.noise
    p, n = float(row["value"].iloc[0]), float(row["base"].iloc[0])
    return max(series.noise, 2 * math.sqrt(max(p * (1 - p), 0.0) / n))


def _fmt(series: Series, value) -> str:
    return fmt_value(value, series.unit if series.unit != "count" else "")


def read_at(spec: Spec, series: Series, wide: pd.DataFrame, at: pd.Timestamp, start: pd.Timestamp | None = None) -> Reading:
    """Apply the spec's comparison to the values at `at` (and at `start` for changes)."""
    row = wide.loc[at]
    s = row.get(spec.subject)
    others = {v: row.get(v) for v in spec.versus}
    if not _finite(s) or any(not _finite(v) for v in others.values()):
        missing = [name(f) for f, v in [(spec.subject, s), *others.items()] if not _finite(v)]
        return Reading(NOT_CHECKABLE, None, f"no value for {', '.join(missing)} on {at.date()}", "")
    s = float(s)
    noise = series.noise
    if series.unit == "share":
        noise = _share_noise(series, at, spec.subject)
    comparison = spec.comparison
    claimed = spec.value
    if comparison in ("about", "at_least", "at_most"):
        tol = _tolerance(spec, series, noise)
        slack = max(spec.quoted_slack(), noise)
        text = _fmt(series, s) if spec.subject == "all" else f"{name(spec.subject)} {_fmt(series, s)}"
        text += f" {series.value_suffix}" if series.value_suffix else ""
        gap = s - claimed
        if comparison == "about":
            status = SUPPORTED if abs(gap) <= tol else PARTLY if abs(gap) <= 2 * tol else CONTRADICTED
            why = f"within {_fmt(series, tol)} of the claimed {_fmt(series, claimed)} is supported, within twice that partly"
        elif comparison == "at_least":
            floor = spec.partly_from if spec.partly_from is not None else claimed - 2 * tol
            status = SUPPORTED if s >= claimed - slack else PARTLY if s > floor else CONTRADICTED
            why = f"at least {_fmt(series, claimed)} is supported" + (f", above {_fmt(series, floor)} partly" if floor < claimed else "")
        else:
            ceiling = spec.partly_from if spec.partly_from is not None else claimed + 2 * tol
            status = SUPPORTED if s <= claimed + slack else PARTLY if s < ceiling else CONTRADICTED
            why = f"at most {_fmt(series, claimed)} is supported"
        return Reading(status, s, text, why)
    if comparison in ("ratio", "ratio_at_least"):
        other = spec.versus[0]
        o = float(others[other])
        ratio = s / o if o else float("inf")
        text = f"{name(spec.subject)} {_fmt(series, s)} vs {name(other)} {_fmt(series, o)}: {fmt_ratio(ratio)}"
        if comparison == "ratio":
            tol = max(spec.rel_tolerance * claimed, spec.quoted_slack())
            status = SUPPORTED if abs(ratio - claimed) <= tol else PARTLY if abs(ratio - claimed) <= 2 * tol else CONTRADICTED
            why = f"a ratio within {fmt_ratio(tol).removesuffix('x')} of {fmt_ratio(claimed)} is supported, within twice that partly"
        else:
            floor = spec.partly_from if spec.partly_from is not None else 1.0
            status = SUPPORTED if ratio >= claimed else PARTLY if ratio > floor else CONTRADICTED
            why = f"'{spec.claim}' read as at least {fmt_ratio(claimed)}; more than {fmt_ratio(floor)} but less is partly"
        return Reading(status, ratio, text, why)
    if comparison in ("leads", "trails"):
        values = {spec.subject: s, **{k: float(v) for k, v in others.items()}}
        text = ", ".join(f"{name(k)} {_fmt(series, v)}" for k, v in sorted(values.items(), key=lambda kv: -kv[1]))
        best = max(others.values()) if comparison == "leads" else min(others.values())
        margin = (s - best) if comparison == "leads" else (best - s)
        status = SUPPORTED if margin > noise else PARTLY if margin >= -noise else CONTRADICTED
        word = "ahead of" if comparison == "leads" else "below"
        why = (f"{name(spec.subject)} must be {word} every other by more than the source's precision "
               f"({_fmt(series, noise)}); within it is level, partly supported")
        return Reading(status, float(margin), text, why)
    if comparison == "level":
        values = {spec.subject: s, **{k: float(v) for k, v in others.items()}}
        top, low = max(values.values()), min(values.values())
        closeness = low / top if top else 1.0
        text = ", ".join(f"{name(k)} {_fmt(series, v)}" for k, v in values.items()) + f" (the smaller is {fmt_share(closeness, 0)} of the larger)"
        partly = spec.partly_from if spec.partly_from is not None else spec.level_ratio - 0.15
        status = SUPPORTED if closeness >= spec.level_ratio or top - low <= noise else PARTLY if closeness >= partly else CONTRADICTED
        why = f"level means the smaller within {fmt_share(1 - spec.level_ratio, 0)} of the larger, or a gap within the source's precision"
        return Reading(status, closeness, text, why)
    if comparison == "closed_gap":
        other = spec.versus[0]
        o = float(others[other])
        text = f"{name(spec.subject)} {_fmt(series, s)} vs {name(other)} {_fmt(series, o)}"
        closed = s >= o - noise
        status = SUPPORTED if closed else CONTRADICTED
        why = f"the gap is closed when {name(spec.subject)} is at least {name(other)} minus the source's precision ({_fmt(series, noise)})"
        sees_start = start is not None and start in wide.index and (
            spec.window is None or spec.window.kind != "range" or start - spec.window.lo <= NEAR_END)
        if sees_start:
            s0, o0 = wide.loc[start].get(spec.subject), wide.loc[start].get(other)
            if _finite(s0) and _finite(o0):
                text += f"; at {_at_label(start, series)}: {name(spec.subject)} {_fmt(series, s0)} vs {name(other)} {_fmt(series, o0)}"
                if closed and float(s0) >= float(o0) - noise:
                    status = PARTLY
                    text += " (already level at the start: there was no gap to close)"
                    why += "; with no gap at the window's start there was nothing to close: partly supported"
        elif spec.window is not None and spec.window.kind == "range":
            first = series.first_date if series.first_date is not None else wide.index.min()
            text += (f"; the data starts {first.date()}, after the claim's window starts ({spec.window.lo.date()}): "
                     "the end of the window is checked, the gap before it is not seen")
        return Reading(status, s / o if o else None, text, why)
    if comparison == "rising_falling":
        other = spec.versus[0]
        if start is None or start not in wide.index:
            return Reading(NOT_CHECKABLE, None, "no earlier point to measure a change from", "")
        s0, o0 = float(wide.loc[start, spec.subject]), float(wide.loc[start, other])
        ds, do = s - s0, float(others[other]) - o0
        text = (f"from {start.date()} to {at.date()}: {name(spec.subject)} {_fmt(series, s0)} to {_fmt(series, s)} ({ds:+.1f}), "
                f"{name(other)} {_fmt(series, o0)} to {_fmt(series, others[other])} ({do:+.1f})")
        up, down = ds > noise, do < -noise
        status = SUPPORTED if up and down else PARTLY if up or down else CONTRADICTED
        why = f"{name(spec.subject)} must rise and {name(other)} fall by more than the source's precision ({_fmt(series, noise)})"
        return Reading(status, ds - do, text, why)
    raise ValueError(f"unknown comparison '{comparison}'")


NEAR_END = pd.Timedelta(days=100)  # a claim read "at" a date needs a complete point this close before it


def _candidates(spec: Spec, series: Series, wide: pd.DataFrame) -> pd.DatetimeIndex:
    """Dates whose (complete) period lies inside the claim's window; for a month, a day or the end
    of a range, the last such point, which must end within NEAR_END of the window's end."""
    window = spec.window
    ends = _period_end(wide.index, series.period)
    if window.kind == "year":
        return wide.index[(ends <= window.hi) & (ends >= window.lo)]
    before = ends <= window.hi
    if not before.any() or window.hi - ends[before].max() > NEAR_END:
        return wide.index[:0]
    return wide.index[before][-1:]


def _first_full(lo: pd.Timestamp, series: Series) -> pd.Timestamp:
    """The first date whose smoothing window lies wholly on or after `lo`."""
    if not series.smooth_months:
        return lo
    step = {"M": pd.DateOffset(months=1), "W": pd.Timedelta(days=7)}.get(series.period or "D", pd.Timedelta(days=1))
    return lo + pd.DateOffset(months=series.smooth_months) - step


def _start_of(spec: Spec, series: Series, wide: pd.DataFrame, at: pd.Timestamp) -> pd.Timestamp | None:
    """The point a change is measured from: the window's start, or a year before `at` when undated."""
    lo = spec.window.lo if spec.window is not None and spec.window.kind == "range" else at - pd.DateOffset(years=1)
    earlier = wide.index[wide.index >= _first_full(lo, series)]
    return earlier[0] if len(earlier) and earlier[0] < at else None


def _describe(reading: Reading, at: pd.Timestamp, series: Series) -> str:
    return reading.text


def _at_label(at: pd.Timestamp, series: Series) -> str:
    if series.period == "Q":
        return f"{at.year}-Q{at.quarter}"
    if series.period == "Y":
        return str(at.year)
    if series.smooth_months and at in series.window_starts:
        hi = _period_end(pd.DatetimeIndex([at]), series.period)[0]
        return f"{series.window_starts[at].date()} to {hi.date()}"
    return str(at.date())


def not_checkable(claim: dict | Spec, why: str = "", command: str | None = None) -> Verdict:
    metric = claim.metric if isinstance(claim, Spec) else (claim.get("metric") or "")
    command = command or COMMANDS.get(metric, "a source not built yet")
    text = f"Not checkable yet: needs {command}."
    then = f" Run {command} to make it checkable." if command.startswith("`") else f" Needs {command}."
    return Verdict(NOT_CHECKABLE, measured=(why + " " + text).strip() if why else text,
                   explanation=(why or "The stored data cannot check this claim.") + then)


def check_date(spec: Spec, series: Series) -> Verdict:
    """A dated fact ('TensorFlow was open-sourced in 2015-11') against a recorded date."""
    row = series.frame[series.frame["framework"] == spec.subject]
    if row.empty:
        return not_checkable(spec, f"No recorded date for {name(spec.subject)}.")
    when = pd.Timestamp(row["date"].iloc[0])
    measured = f"{series.name}: {when.date()}"
    basis = f"{series.name} ({series.source}); {series.basis}".strip("; ")
    if spec.window is None:
        verdict = not_checkable(spec, f"The data gives {when.date()}, but the ledger does not record the date the article gives.",
                                "the article's date in the ledger (data/snapshot/claims.csv, column period)")
        verdict.measured_at = verdict.as_of = str(when.date())
        verdict.basis = basis
        return verdict
    if spec.window.lo <= when <= spec.window.hi:
        status, rule = SUPPORTED, f"falls in {spec.window.label}"
    elif abs((when - spec.window.lo).days) <= 92 or abs((when - spec.window.hi).days) <= 92:
        status, rule = PARTLY, f"is within three months of {spec.window.label}"
    else:
        status, rule = CONTRADICTED, f"is not in {spec.window.label}"
    status = _capped(status, series)
    return Verdict(status, measured=measured, measured_at=str(when.date()), basis=basis, page=series.page,
                   explanation=f"The recorded date {when.date()} {rule}, the date the claim gives." + _cap_text(series))


def _capped(status: str, series: Series) -> str:
    if series.cap and status in RANK and RANK[status] < RANK.get(series.cap, 9):
        return series.cap
    return status


def _cap_text(series: Series) -> str:
    return f" {series.cap_reason}" if series.cap and series.cap_reason else ""


def check(con: duckdb.DuckDBPyConnection, claim: dict) -> Verdict:
    """The verdict for one ledger row."""
    if claim.get("id") in CHECKERS:
        return CHECKERS[claim["id"]](con, claim)
    spec = Spec.from_row(claim)
    provider = PROVIDERS.get(spec.metric)
    if not spec.comparison:
        return not_checkable(spec, "This ledger row has no specification (how to compare it).",
                             "`pulse db init` (reloads the embedded ledger with its specifications)")
    if provider is None:
        return not_checkable(spec)
    if spec.comparison not in COMPARISONS:
        return not_checkable(spec, f"The ledger's comparison '{spec.comparison}' is not one of {', '.join(COMPARISONS)}.",
                             "a valid comparison in data/snapshot/claims.csv")
    if spec.comparison not in ("leads", "trails", "level", "rising_falling", "closed_gap", "date") and spec.value is None:
        return not_checkable(spec, "The claim gives no figure to compare.", "a figure in the ledger")
    try:
        series = provider(con, spec)
    except NotCheckable as exc:
        return not_checkable(spec, str(exc))
    if spec.comparison == "date":
        return check_date(spec, series)
    wide = prepare(series, spec)
    missing = [f for f in spec.frameworks if f not in wide.columns]
    wide = wide.dropna(subset=[f for f in spec.frameworks if f in wide.columns])
    if missing or wide.empty:
        who = ", ".join(name(f) for f in (missing or spec.frameworks))
        return not_checkable(spec, f"No complete {series.name} for {who} in the stored data.")
    basis = "; ".join(p for p in (f"{series.name} ({series.source})", series.basis, series.incomplete_note) if p)
    evidence = wide[spec.frameworks].copy()
    latest = wide.index.max()
    today = read_at(spec, series, wide, latest, _start_of(spec, series, wide, latest))
    if spec.window is not None:
        dates = _candidates(spec, series, wide)
        if len(dates) == 0:
            return not_checkable(spec, f"The stored {series.name} covers {_at_label(wide.index.min(), series)} to "
                                 f"{_at_label(latest, series)}, with no complete point in (or just before the end of) "
                                 f"{spec.window.label}, the period the claim speaks about.")
        if spec.window.kind == "year":
            readings = [(d, read_at(spec, series, wide, d, _start_of(spec, series, wide, d))) for d in dates]
            # Dated only by a year: read at the point of that year that fits the claim best.
            def fit(item):
                d, r = item
                close = abs((r.value or 0) - (spec.value or 0)) if spec.value is not None and r.value is not None else 0
                return (RANK.get(r.status, 9), close, -d.value)
            at, reading = min(readings, key=fit)
            when_text = f"the point of {spec.window.label} that fits the claim best (the claim gives only the year)"
        else:
            at = dates[-1]
            reading = read_at(spec, series, wide, at, _start_of(spec, series, wide, at))
            when_text = f"the end of {spec.window.label}" if spec.window.kind == "range" else spec.window.label
            if _at_label(at, series) != spec.window.label:
                when_text = f"{_at_label(at, series)}, the last complete point by {when_text}"
        status = reading.status
        if status in (SUPPORTED, PARTLY) and at < latest and today.status == CONTRADICTED:
            status = OUTDATED
    else:
        at, reading, when_text = latest, today, "the latest complete data (the claim gives no date)"
        status = reading.status
        if status != SUPPORTED:
            for d in reversed(wide.index[:-1]):
                earlier = read_at(spec, series, wide, d, _start_of(spec, series, wide, d))
                if earlier.status == SUPPORTED:
                    at, reading, status = d, earlier, OUTDATED
                    when_text = f"the last time it held ({_at_label(d, series)}); it does not hold on the latest data"
                    break
    if reading.status == NOT_CHECKABLE:
        return not_checkable(spec, reading.text[:1].upper() + reading.text[1:] + ".")
    status = _capped(status, series)
    if "source" in series.frame.columns:
        used = series.frame[(series.frame["date"] == at) & series.frame["framework"].isin(spec.frameworks)]["source"].dropna().unique()
        if len(used):
            basis += f"; the figure at {_at_label(at, series)} is read from: {', '.join(sorted(map(str, used)))}"
    verdict_words = {SUPPORTED: "the data supports the claim", PARTLY: "the data partly supports the claim",
                     CONTRADICTED: "the data contradicts the claim", NOT_CHECKABLE: "the data cannot check the claim",
                     OUTDATED: f"the claim held then, but not on the latest data ({today.text}, {_at_label(latest, series)})"}
    explanation = (f"{series.name[:1].upper() + series.name[1:]}, read at {when_text}: {reading.text}. Rule: {reading.why}. "
                   f"So {verdict_words[status]}." + _cap_text(series))
    rule = f"Read at {when_text}. {reading.why[:1].upper() + reading.why[1:]}." + _cap_text(series)
    same = at == latest
    return Verdict(
        status, measured=reading.text, measured_at=_at_label(at, series),
        today="" if same else today.text, today_at="" if same else _at_label(latest, series),
        basis=basis, explanation=explanation, rule=rule, value=_round(reading.value), today_value=_round(today.value),
        page=series.page, evidence=evidence,
    )


def _round(value) -> float | None:
    return round(float(value), 4) if _finite(value) else None


# --- The ledger --------------------------------------------------------------------------------------

def load_claims(con: duckdb.DuckDBPyConnection) -> list[dict]:
    frame = con.execute("SELECT * FROM claims ORDER BY rowid").df()
    return [{k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def load_modules() -> None:
    for module in CHECK_MODULES:
        importlib.import_module(module)


def article(claim: dict) -> str:
    """The article in words: title, author, date and address where the ledger gives them."""
    parts = []
    for key, label in (("article_title", "title"), ("article_author", "author"), ("article_date", "date"), ("article_url", "address")):
        value = claim.get(key)
        parts.append(f"{label}: {value}" if value and str(value).strip() else f"{label}: not given")
    return "; ".join(parts)


def check_all(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every claim with its verdict, one row each (ledger order); the page, report and CLI use it."""
    load_modules()
    rows = []
    for claim in load_claims(con):
        verdict = check(con, claim)
        rows.append({
            **claim, "status": verdict.status, "verdict": verdict.status, "measured": verdict.measured,
            "measured_at": verdict.measured_at, "as_of": verdict.measured_at, "today": verdict.today, "today_at": verdict.today_at,
            "basis": verdict.basis, "explanation": verdict.explanation, "rule": verdict.rule or verdict.explanation,
            "verdict_value": verdict.value,
            "today_value": verdict.today_value, "page": verdict.page, "evidence": verdict.evidence,
            "claimed": quoted_figure(claim.get("value"), claim.get("unit")) if claim.get("kind") in ("point", "share") else "",
            "article": article(claim),
        })
    return pd.DataFrame(rows)


def verdict_for(con: duckdb.DuckDBPyConnection, claim_id: str) -> Verdict:
    """One claim's verdict by id (KeyError when the ledger has no such claim)."""
    load_modules()
    for claim in load_claims(con):
        if claim["id"] == claim_id:
            return check(con, claim)
    raise KeyError(claim_id)


JSON_FIELDS = ("id", "claim", "source", "verdict", "claimed", "measured", "measured_at", "today", "today_at", "basis",
               "explanation", "metric", "comparison", "article_title", "article_author", "article_date", "article_url", "page")


def as_records(frame: pd.DataFrame) -> list[dict]:
    """The verdicts as plain records (no NaN/None: empty text instead) for `pulse claims --json`."""
    out = []
    for row in frame.to_dict("records"):
        out.append({key: ("" if row.get(key) is None or (not isinstance(row.get(key), str) and pd.isna(row.get(key)))
                          else row.get(key)) for key in JSON_FIELDS})
    return out


# --- The small chart beside a verdict ---------------------------------------------------------------

def evidence_figure(row: dict, theme: str = "light"):
    """The series the verdict read, with the claim's date and figure marked (None without evidence)."""
    import plotly.graph_objects as go

    from analytics.charts import apply_template, color

    evidence = row.get("evidence")
    if not isinstance(evidence, pd.DataFrame) or evidence.empty:
        return None
    spec = Spec.from_row(row)
    fig = go.Figure()
    unit = row.get("unit") or ""
    if spec.comparison in ("ratio", "ratio_at_least") and spec.versus:
        ratio = evidence[spec.subject] / evidence[spec.versus[0]]
        fig.add_trace(go.Scatter(x=evidence.index, y=ratio, mode="lines", name=f"{name(spec.subject)} / {name(spec.versus[0])}",
                                 line={"color": color(spec.subject)}, hovertemplate="%{x|%Y-%m-%d}: %{y:.2f}x<extra></extra>"))
        y_format = ".1f"
        fig.update_yaxes(ticksuffix="x")
    else:
        share = unit == "share"
        for fid in spec.frameworks:
            if fid in evidence:
                fig.add_trace(go.Scatter(x=evidence.index, y=evidence[fid], mode="lines", name=name(fid), line={"color": color(fid)},
                                         hovertemplate="%{x|%Y-%m-%d}: " + ("%{y:.1%}" if share else "%{y:,.1f}") + "<extra></extra>"))
        y_format = ".0%" if share else ",.0f"
    if _finite(spec.value) and spec.comparison not in ("level", "leads", "trails", "closed_gap", "rising_falling", "date"):
        label = quoted_figure(spec.value, unit) if spec.kind in ("point", "share") else fmt_value(spec.value, unit)
        fig.add_hline(y=float(spec.value), line_dash="dash", line_color="#888888", annotation_text=f"claim: {label}",
                      annotation_position="top left")
    measured_at = (row.get("measured_at") or "").split(" to ")[-1]
    try:
        when = pd.Timestamp(measured_at[:10]) if len(measured_at) >= 7 and "Q" not in measured_at else (
            pd.Period(measured_at).start_time if measured_at else None)
    except ValueError:
        when = None
    if when is not None:
        fig.add_vline(x=when, line_dash="dot", line_color="#555555")
    apply_template(fig, theme)
    fig.update_layout(height=200, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=len(fig.data) > 1,
                      legend={"orientation": "h", "y": -0.25, "x": 0}, yaxis={"tickformat": y_format})
    return fig
