"""The verdict engine on data built to exercise each rule (synthetic, named so), `pulse claims`,
the Claims page, and figures as people write them.

Scenarios from issue #13's "Done when": a rising series read at the window's end, a gap inside
Trends rounding, 60% is not a vast majority, a partial last quarter ignored, a paper with five
repositories.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analytics import claims, overview
from ingest import paperswithcode as pwc_ingest
from ingest import trends_csv
from pulse import config, db, store
from pulse.cli import main
from tests.pwc_archive import LINKS_FILES, PAPERS_FILES, links_table, papers_table

LEDGER = config.SNAPSHOT_DIR / "claims.csv"
BAD_FIGURE = re.compile(r"\bnan\b|\bNaN\b|\bNone\b|\bNaT\b|\d[eE][+-]\d")


def ledger_row(claim_id: str, **changes) -> dict:
    with LEDGER.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == claim_id)
    return {**row, **changes}


def check(path: Path, claim_id: str, **changes) -> claims.Verdict:
    con = db.open_read(path)
    try:
        claims.load_modules()
        return claims.check(con, ledger_row(claim_id, **changes))
    finally:
        con.close()


def put(path: Path, rows: list[dict], **common) -> None:
    frame = pd.DataFrame(rows).assign(**common)
    with db.write_session(path) as con:
        store.upsert_observations(con, frame, run_id="synthetic")


# --- A rising series is read at the window's end ---------------------------------------------------

def _pwc_relative(path: Path, shares: list[float], start: str = "2018-01-01", partial_last: bool = False) -> None:
    """Synthetic PwC quarters: PyTorch/(PyTorch+TensorFlow) shares with counts out of 1,000 links."""
    dates = pd.date_range(start, periods=len(shares), freq="QS")
    rows = []
    for i, (date, share) in enumerate(zip(dates, shares, strict=True)):
        complete = not (partial_last and i == len(shares) - 1)
        n = round(share * 1000)
        detail = {"count": n, "base": 1000, "complete": complete}
        for fid, value, count in (("pytorch", share, n), ("tensorflow", 1 - share, 1000 - n)):
            rows.append({"date": date, "framework": fid, "metric": "pwc_implementation_share_relative", "variant": "all", "value": value,
                         "detail": {**detail, "count": count}})
            rows.append({"date": date, "framework": fid, "metric": "pwc_implementation_share", "variant": "all", "value": value,
                         "detail": {**detail, "count": count}})
            rows.append({"date": date, "framework": fid, "metric": "pwc_implementations", "variant": "all", "value": float(count),
                         "detail": {"count": count, "complete": complete}})
    put(path, rows, source="paperswithcode", subject="synthetic", citation="synthetic test data")


def test_rising_series_is_read_at_the_windows_end(snapshot_db):
    # 2018-Q1 .. 2023-Q1, rising from 50% to 94%: pooled over five years it is about 72%, but the
    # chart the article read ends at 93% in 2022-Q4 (the last complete quarter by 01/2023).
    shares = [0.50 + 0.022 * i for i in range(21)]
    _pwc_relative(snapshot_db, shares)
    verdict = check(snapshot_db, "seed-pwc-92")
    assert verdict.measured_at == "2022-Q4" and verdict.value == pytest.approx(shares[19], abs=1e-3)
    assert verdict.status == claims.SUPPORTED
    assert "the end of 2018-02 to 2023-01" in verdict.explanation


def test_partial_last_quarter_is_never_judged_nor_headlined(snapshot_db):
    # 2023-Q3 complete at 80%; 2023-Q4 partial at 10% (the archive stops mid-quarter).
    _pwc_relative(snapshot_db, [0.8] * 23 + [0.1], partial_last=True)
    verdict = check(snapshot_db, "soai-2020")
    assert verdict.today_at == "2023-Q3" and verdict.today == "PyTorch 80%"
    assert "incomplete" in verdict.basis and "2023-10-01" in verdict.basis
    con = db.open_read(snapshot_db)
    try:
        latest = overview.latest_by_metric(con, "pwc_implementation_share", "all", ["pytorch", "tensorflow"])
    finally:
        con.close()
    assert set(latest["date"].dt.date.astype(str)) == {"2023-07-01"}


# --- Trends: a gap inside rounding is closed; a partial week is left out ---------------------------

def _trends_csv(tmp_path: Path, start: str, pytorch: list[int], tensorflow: list[int], freq: str = "MS", label: str = "Month") -> Path:
    dates = pd.date_range(start, periods=len(pytorch), freq=freq)
    lines = ["Category: All categories", "", f"{label},PyTorch: (Worldwide),TensorFlow: (Worldwide)"]
    lines += [f"{d:%Y-%m}" + f",{p},{t}" if label == "Month" else f"{d:%Y-%m-%d},{p},{t}" for d, p, t in zip(dates, pytorch, tensorflow, strict=True)]
    path = tmp_path / f"synthetic-{start}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("end_pt, end_tf, expected", [
    (50, 50, claims.SUPPORTED),  # level
    (49, 50, claims.SUPPORTED),  # a 1-point gap is inside Trends' integer rounding: closed
    (47, 50, claims.CONTRADICTED),  # 3 points is a real gap
])
def test_gap_inside_trends_rounding_is_closed(snapshot_db, tmp_path, end_pt, end_tf, expected):
    n = 61  # 2018-01 .. 2023-01: a wide gap at the start, the end values for the last 6 months
    pt = [20] * 55 + [end_pt] * 6
    tf = [90] * 55 + [end_tf] * 6
    trends_csv.run(snapshot_db, [_trends_csv(tmp_path, "2018-01-01", pt, tf)])
    verdict = check(snapshot_db, "seed-trends-gap")
    assert verdict.status == expected, verdict.explanation
    assert f"PyTorch {end_pt} vs TensorFlow {end_tf}" in verdict.measured


def test_partial_trends_week_is_left_out(snapshot_db, tmp_path):
    # Weekly points up to this week: the week that has not ended yet is incomplete and never read.
    today = pd.Timestamp.now().normalize()
    start = today - pd.Timedelta(weeks=30) - pd.Timedelta(days=today.day_of_week + 1)
    n = 31
    path = _trends_csv(tmp_path, str(start.date()), [50] * (n - 1) + [5], [50] * (n - 1) + [95], freq="7D", label="Week")
    trends_csv.run(snapshot_db, [path])
    verdict = check(snapshot_db, "seed-trends-neck")
    assert verdict.status == claims.SUPPORTED, verdict.explanation
    assert "Left out as incomplete" in verdict.basis


# --- 60% is not a vast majority --------------------------------------------------------------------

@pytest.mark.parametrize("share, expected", [
    (0.80, claims.SUPPORTED),
    (0.60, claims.PARTLY),  # a majority, not a vast one
    (0.45, claims.CONTRADICTED),
])
def test_sixty_percent_is_not_a_vast_majority(snapshot_db, share, expected):
    put(snapshot_db, [{"date": "2022-12-31", "framework": "pytorch", "value": share}], source="hub_stats", metric="hf_model_share",
        variant="default-frameworks", subject="synthetic", citation="synthetic test data")
    verdict = check(snapshot_db, "seed-hf-sota")
    assert verdict.status == expected and verdict.measured_at == "2022-12-31"


# --- A paper with five repositories counts once when the claim speaks of papers ----------------------

def test_paper_with_five_repositories(snapshot_db, tmp_path):
    # 2023-Q1: one PyTorch paper with five repositories, four TensorFlow papers with one each.
    # Links: PyTorch 5 of 9 (56%). Papers: PyTorch 1 of 5 (20%).
    papers = [("pt-paper", "2023-02-01")] + [(f"tf-paper-{i}", "2023-02-01") for i in range(4)] + [("closing", "2023-06-30")]
    links = [("pt-paper", f"https://github.com/pt/repo{i}", False, "pytorch") for i in range(5)]
    links += [(f"tf-paper-{i}", f"https://github.com/tf/repo{i}", False, "tf") for i in range(4)]
    root = tmp_path / "archive"
    target = root / "links-between-paper-and-code" / LINKS_FILES[0]
    target.parent.mkdir(parents=True)
    pq.write_table(links_table(links), target)
    for i, path in enumerate(PAPERS_FILES):
        target = root / "papers-with-abstracts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(papers_table(papers if i == 0 else []), target)
    pwc_ingest.run(snapshot_db, from_dir=root)
    by_links = check(snapshot_db, "hn-2023", basis="links", period="2023-03")
    by_papers = check(snapshot_db, "hn-2023", period="2023-03")  # the ledger's basis: papers
    assert by_links.value == pytest.approx(5 / 9, abs=1e-4) and "variant 'all'" in by_links.basis
    assert by_papers.value == pytest.approx(1 / 5, abs=1e-4) and "variant 'papers'" in by_papers.basis
    assert "a paper with five repositories counts once" in by_papers.basis
    # Five papers is a small base: two standard errors of a share of 5 is 36 points, and the rule says so.
    assert "within 35.8% of the claimed 59%" in by_papers.explanation
    relative = check(snapshot_db, "seed-pwc-92", basis="papers", period="2023-03", comparison="at_least")
    assert relative.value == pytest.approx(1 / 5, abs=1e-4)


# --- Conference mentions: a source of its own, cited on every row --------------------------------------

def test_conference_mentions_load_with_citation_and_exact_values(snapshot_db):
    con = db.open_read(snapshot_db)
    try:
        rows = con.execute("SELECT framework, metric, variant, date, value, citation FROM observations WHERE source = 'conference_mentions'").df()
        runs = con.execute("SELECT count(*) FROM ingest_runs WHERE source = 'conference_mentions' AND status = 'ok'").fetchone()[0]
    finally:
        con.close()
    with (config.SNAPSHOT_DIR / "conference_mentions.csv").open() as handle:
        source = list(csv.DictReader(handle))
    assert len(rows) == 3 * len(source) and runs == 1
    assert rows["citation"].notna().all() and (rows["citation"].str.contains("github.com/Chillee/pytorch-vs-tensorflow")).all()
    keyed = rows.set_index(["variant", "metric", "framework"]).sort_index()
    iclr = keyed.loc[("ICLR", "conference_papers_mentioning", "pytorch")]
    assert iclr[iclr["date"].astype(str) == "2022-05-01"]["value"].item() == 1091
    assert keyed.loc[("ICLR", "conference_papers_total", "all")].query("date == @pd.Timestamp('2022-05-01').date()")["value"].item() == 3388
    assert keyed.loc[("NeurIPS", "conference_papers_mentioning", "tensorflow")].sort_values("date")["date"].astype(str).iloc[0] == "2015-12-01"


@pytest.mark.parametrize("mutate, fragment", [
    (lambda r: r[1].__setitem__(5, ""), "rows without a citation"),
    (lambda r: r[1].__setitem__(1, "2018/09"), "not YYYY-MM"),
    (lambda r: r[1].__setitem__(2, "many"), "not a whole number"),
    (lambda r: [row.pop() for row in r], "lacks the columns citation"),
])
def test_bad_conference_file_is_refused_and_loses_nothing(snapshot_db, tmp_path, mutate, fragment):
    from ingest import snapshot
    from pulse.errors import PulseError

    folder = tmp_path / "snapshot"
    folder.mkdir()
    for name in ("github_stars_monthly.csv", "claims.csv"):
        (folder / name).write_bytes((config.SNAPSHOT_DIR / name).read_bytes())
    with (config.SNAPSHOT_DIR / "conference_mentions.csv").open() as handle:
        rows = list(csv.reader(handle))
    mutate(rows)
    with (folder / "conference_mentions.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    before = snapshot_db.read_bytes()
    with pytest.raises(PulseError, match=fragment):
        snapshot.run(snapshot_db, folder)
    con = db.open_read(snapshot_db)
    try:
        assert con.execute("SELECT count(*) FROM observations WHERE source = 'conference_mentions'").fetchone()[0] == 3 * 35
    finally:
        con.close()
    assert len(before) > 0


def test_research_claim_is_judged_on_mentions(snapshot_db):
    verdict = check(snapshot_db, "research-most-pytorch")
    # 2020, pooled over the six conferences of that year: PyTorch 1,460 vs TensorFlow 444 mentions.
    assert verdict.status == claims.SUPPORTED and verdict.measured_at == "2020"
    assert verdict.value == pytest.approx(1460 / (1460 + 444), abs=1e-4)
    assert "mentions" in verdict.measured and "not exclusive use" in verdict.basis
    assert "2021-01-01, 2022-01-01" in verdict.basis  # years few conferences report: incomplete, not judged


def test_conference_chart_is_catalogued_and_exports_its_rows(snapshot_db):
    from analytics.charts import ChartOptions, catalog

    spec = catalog()["conference-mentions"]
    assert spec.page == "papers"
    con = db.open_read(snapshot_db)
    try:
        every = spec.builder(con, ChartOptions())
        one = spec.builder(con, ChartOptions(extra={"conference": "ICLR"}))
    finally:
        con.close()
    assert len(every.data) == 2 * 35 and every.data["citation"].notna().all()
    assert set(one.data["conference"]) == {"ICLR"} and len(one.figure.data) == 2
    assert any("not exclusive use" in note for note in every.notes)


# --- On a fresh database, at least six claims carry a verdict -----------------------------------------

def test_fresh_database_gives_six_verdicts(snapshot_db):
    con = db.open_read(snapshot_db)
    try:
        table = claims.check_all(con)
    finally:
        con.close()
    judged = table[table["status"] != claims.NOT_CHECKABLE]
    assert len(judged) >= 6, list(judged["id"])
    by_id = table.set_index("id")
    # Undated: PyTorch was last below both TensorFlow and Keras in the snapshot of 2022-03-01
    # (Keras 54,426, PyTorch 54,264); it is not now.
    assert by_id.loc["stars-pt-least-popular", "status"] == claims.OUTDATED
    assert by_id.loc["stars-pt-least-popular", "measured_at"] == "2022-03-01"
    assert by_id.loc["stars-tf-bigger-community", "status"] == claims.SUPPORTED  # 1.93x today, read as "much bigger" >= 1.5x
    for row in table.to_dict("records"):
        for key in ("measured", "measured_at", "today", "today_at", "explanation", "basis", "claimed"):
            assert not BAD_FIGURE.search(str(row[key] or "")), (row["id"], key, row[key])
    missing = table[table["status"] == claims.NOT_CHECKABLE]
    # Every "not checkable yet" names what would make it checkable.
    assert all(("pulse " in m) or ("ledger" in m) or ("source" in m) for m in missing["explanation"])


# --- pulse claims ------------------------------------------------------------------------------------

def test_pulse_claims_json_shape(snapshot_db):
    result = CliRunner().invoke(main, ["claims", "--db", str(snapshot_db), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    with LEDGER.open() as handle:
        assert [r["id"] for r in records] == [r["id"] for r in csv.DictReader(handle)]
    for key in ("id", "claim", "source", "verdict", "measured", "measured_at", "today", "today_at", "basis", "explanation"):
        assert all(isinstance(r[key], str) for r in records), key
    one = json.loads(CliRunner().invoke(main, ["claims", "--db", str(snapshot_db), "--json", "--id", "seed-stars-2022"]).output)
    assert len(one) == 1 and one[0]["verdict"] == claims.OUTDATED and one[0]["claimed"] == "3x"
    assert one[0]["measured"] == "TensorFlow 163,217 vs PyTorch 54,264: 3x" and one[0]["measured_at"] == "2022-03-01"


@pytest.mark.parametrize("args, fragment", [
    (["--id", "seed-stars"], "No claim with id 'seed-stars'"),
    (["--id", "nope-nothing"], "`pulse claims` lists every id"),
])
def test_pulse_claims_bad_id(snapshot_db, args, fragment):
    before = snapshot_db.read_bytes()
    result = CliRunner().invoke(main, ["claims", "--db", str(snapshot_db), *args])
    assert result.exit_code != 0 and fragment in result.output and "Traceback" not in result.output
    assert snapshot_db.read_bytes() == before


def test_pulse_claims_text(snapshot_db):
    result = CliRunner().invoke(main, ["claims", "--db", str(snapshot_db)])
    assert result.exit_code == 0 and "[supported] research-most-pytorch" in result.output
    assert not BAD_FIGURE.search(result.output)


# --- The Claims page ---------------------------------------------------------------------------------

def test_claims_page_groups_by_article_with_evidence(snapshot_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "app_pages" / "claims.py"), default_timeout=60)
    at.run()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers[0].startswith("TensorFlow vs PyTorch: which will be the top deep learning framework in 2022")
    assert "State of AI Report 2020" in headers and len(headers) == len(set(headers))
    assert len(at.get("plotly_chart")) >= 6  # one small evidence chart per judged claim
    text = "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])
    assert "[See the evidence on its page](/github?frameworks=tensorflow,pytorch)" in text
    assert "address: [https://news.ycombinator.com/item?id=35999101]" in text
    assert not BAD_FIGURE.search(text)
    counts = {m.label: m.value for m in at.metric}
    assert int(counts["Not checkable yet"]) < 29


# --- Figures as people write them --------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, expected", [
    (2161698, "models", "2,161,698"),
    (2.1617e6, "models", "2,161,700"),
    (0.68, "share", "68%"),
    (0.6789, "share", "67.9%"),
    (2.93, "ratio", "2.9x"),
    (1.21, "ratio", "1.21x"),
    (165000, "stars", "165,000"),
    (float("nan"), "share", "no figure"),
    (None, "stars", "no figure"),
    (49.5, "index", "49.5"),
])
def test_figures_never_print_raw(value, unit, expected):
    assert claims.fmt_value(value, unit) == expected
    assert not BAD_FIGURE.search(claims.fmt_value(value, unit))


@pytest.mark.parametrize("value, unit, expected", [
    (165000, "stars", "165,000 stars"),
    (3, "ratio", "3x"),
    (0.92, "share", "92%"),
    (2161698, "models", "2,161,698 models"),
    (None, "share", ""),
    (float("nan"), "ratio", ""),
])
def test_quoted_figures(value, unit, expected):
    assert claims.quoted_figure(value, unit) == expected


def test_overview_hub_share_is_on_distinct_models(snapshot_db):
    # 10 distinct models: 6 tagged pytorch, 5 tf, 3 keras (several carry two or three tags).
    # Summing per-tag counts would give PyTorch 6/14 = 43%; the Hub page's base is distinct models: 60%.
    retrieved = pd.Timestamp.now().normalize()
    month_end = (retrieved - pd.offsets.MonthEnd(1)).date()
    counts = [{"framework": f, "value": v, "metric": "hf_models", "variant": ""} for f, v in (("pytorch", 6), ("tensorflow", 5), ("keras", 3))]
    shares = [{"framework": f, "value": v, "metric": "hf_model_share", "variant": "default-frameworks"}
              for f, v in (("pytorch", 0.6), ("tensorflow", 0.5), ("keras", 0.3))]
    put(snapshot_db, counts + shares, source="hub_stats", date=month_end, subject="synthetic", citation="synthetic test data")
    # A month not over at retrieval (dated after it) is never headlined.
    put(snapshot_db, [{"framework": "pytorch", "value": 99.0, "metric": "hf_models", "variant": ""}], source="hub_stats",
        date=(retrieved + pd.offsets.MonthEnd(1)).date(), subject="synthetic", citation="synthetic test data")
    con = db.open_read(snapshot_db)
    try:
        frame = overview.latest_by_metric(con, "hf_models", frameworks=["pytorch", "tensorflow", "keras"]).set_index("framework")
    finally:
        con.close()
    assert frame.loc["pytorch", "value"] == 6 and frame.loc["pytorch", "share"] == pytest.approx(0.6)
    assert frame.loc["keras", "share"] == pytest.approx(0.3)


def test_overview_headlines_the_frameworks_request_and_the_tag_basis(snapshot_db):
    # Synthetic: a frameworks' Trends request, then a newer request of terms outside the registry
    # (--keep-unknown), and a newer PyTorch-only Hub variant. Neither may replace the headline.
    put(snapshot_db, [{"framework": f, "value": v, "metric": "trends_interest", "variant": "world|2021-01-03 2021-06-27"}
                      for f, v in (("pytorch", 60.0), ("tensorflow", 40.0))],
        source="trends_csv", date=pd.Timestamp("2021-06-27").date(), subject="synthetic", citation="synthetic test data")
    put(snapshot_db, [{"framework": "term:deep learning", "value": 70.0, "metric": "trends_interest",
                       "variant": "world|2022-01-02 2022-06-26"}],
        source="trends_csv", date=pd.Timestamp("2022-06-26").date(), subject="synthetic", citation="synthetic test data")
    month_end = (pd.Timestamp.now().normalize() - pd.offsets.MonthEnd(1))
    put(snapshot_db, [{"framework": "pytorch", "value": 9.0, "metric": "hf_models", "variant": "pytorch-loadable"}],
        source="hub_stats", date=month_end.date(), subject="synthetic", citation="synthetic test data")
    put(snapshot_db, [{"framework": f, "value": v, "metric": "hf_models", "variant": ""} for f, v in (("pytorch", 6.0), ("tensorflow", 5.0))],
        source="hub_stats", date=(month_end - pd.offsets.MonthEnd(1)).date(), subject="synthetic", citation="synthetic test data")
    con = db.open_read(snapshot_db)
    try:
        tables = {metric: frame.set_index("framework") for metric, _, frame in overview.headline_tables(con)}
    finally:
        con.close()
    assert tables["trends_interest"]["value"].to_dict() == {"pytorch": 60.0, "tensorflow": 40.0}
    assert tables["hf_models"]["value"].to_dict() == {"pytorch": 6.0, "tensorflow": 5.0}


def test_an_older_database_is_upgraded_with_the_ledger_specs_and_conference_data(snapshot_db):
    from ingest import snapshot
    from pulse import bootstrap

    # An install from before this version: no spec columns, no conference rows, migration 2 not applied.
    with db.write_session(snapshot_db) as con:
        for column in snapshot.SPEC_COLUMNS:
            con.execute(f"ALTER TABLE claims DROP COLUMN {column}")  # names from a fixed list in code
        con.execute("DELETE FROM observations WHERE source = 'conference_mentions'")
        con.execute("DELETE FROM schema_version WHERE version = 2")
    con = db.open_read(snapshot_db)
    try:
        assert (claims.check_all(con)["status"] != claims.NOT_CHECKABLE).sum() == 0  # nothing says how to compare
    finally:
        con.close()
    assert bootstrap.ensure_database(snapshot_db) is True
    con = db.open_read(snapshot_db)
    try:
        assert (claims.check_all(con)["status"] != claims.NOT_CHECKABLE).sum() >= 6
    finally:
        con.close()


def _ledger() -> list[dict]:
    with LEDGER.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("row", _ledger(), ids=lambda r: r["id"])
def test_every_ledger_row_is_a_complete_specification(row):
    claims.load_modules()
    assert row["comparison"] in claims.COMPARISONS
    assert row["metric"] in claims.PROVIDERS or row["metric"] in claims.COMMANDS, "no series and no command named"
    assert row["metric"] in claims.COMMANDS, "a 'not checkable yet' must name what makes it checkable"
    if row["period"]:
        assert claims.parse_when(row["period"]) is not None
    for key in ("article_title", "article_author", "article_date", "article_url"):
        assert row[key].strip(), f"{key}: write 'not given' rather than leave it empty"
    for fid in [row["subject"], *filter(None, row["versus"].split(","))]:
        assert fid == "all" or fid in __import__("pulse.registry", fromlist=["ids"]).ids()
    docs = (config.PROJECT_ROOT / "docs" / "claims.md").read_text()
    assert row["comparison"] in docs


def test_conference_metrics_are_documented():
    text = (config.PROJECT_ROOT / "docs" / "metrics.md").read_text()
    assert "`conference_papers_mentioning`" in text and "`conference_papers_total`" in text


def test_hub_availability_counts_pytorch_loadable_models_where_stored(snapshot_db):
    month = (pd.Timestamp.now().normalize() - pd.offsets.MonthEnd(1)).date()
    tags = [{"framework": f, "value": v, "variant": ""} for f, v in (("pytorch", 40), ("tensorflow", 50), ("jax", 5), ("keras", 10))]
    put(snapshot_db, tags, source="hub_stats", metric="hf_models", date=month, subject="synthetic", citation="synthetic test data")
    by_tag = check(snapshot_db, "hf-pt-availability")
    assert by_tag.status == claims.CONTRADICTED and "counted by its tag" in by_tag.basis
    put(snapshot_db, [{"framework": "pytorch", "value": 90.0, "variant": "pytorch-tag-or-loadable"}], source="hub_stats",
        metric="hf_models", date=month, subject="synthetic", citation="synthetic test data")
    loadable = check(snapshot_db, "hf-pt-availability")
    assert loadable.status == claims.SUPPORTED and "counted as 'pytorch-tag-or-loadable'" in loadable.basis
    assert loadable.measured.startswith("PyTorch 90, TensorFlow 50")


def test_a_past_star_count_is_read_on_the_point_in_time_series_and_says_so(snapshot_db):
    # An exact history (counts today's stargazers backwards) covering 2022 lower than the snapshot:
    # the claim is read on the snapshot, and the basis names the series read.
    history = [{"date": d, "framework": "pytorch", "value": v} for d, v in (("2022-06-01", 50000.0), ("2022-06-02", 50010.0))]
    put(snapshot_db, history, source="github_history", metric="github_stars", variant="", subject="pytorch/pytorch",
        citation="synthetic test data")
    verdict = check(snapshot_db, "seed-stars-2022-pt")
    assert verdict.measured == "PyTorch 56,368" and verdict.measured_at == "2022-06-01"
    assert "read from: Embedded snapshot (EvanLi/Github-Ranking)" in verdict.basis


def _three_terms_csv(tmp_path: Path, pytorch: list[int], tensorflow: list[int], keras: list[int]) -> Path:
    """Synthetic weekly export with three terms, ending well before today (every week complete)."""
    dates = pd.date_range("2024-01-07", periods=len(pytorch), freq="7D")
    lines = ["Category: All categories", "", "Week,PyTorch: (Worldwide),TensorFlow: (Worldwide),Keras: (Worldwide)"]
    lines += [f"{d:%Y-%m-%d},{p},{t},{k}" for d, p, t, k in zip(dates, pytorch, tensorflow, keras, strict=True)]
    path = tmp_path / "three.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("pt, tf, keras, expected", [
    (60, 50, 20, claims.SUPPORTED),  # ahead of both by more than Trends rounding
    (50, 50, 20, claims.PARTLY),  # level with TensorFlow: not overtaken
    (40, 50, 20, claims.CONTRADICTED),
])
def test_overtaken_in_search_interest(snapshot_db, tmp_path, pt, tf, keras, expected):
    n = 60
    trends_csv.run(snapshot_db, [_three_terms_csv(tmp_path, [pt] * n, [tf] * n, [keras] * n)])
    verdict = check(snapshot_db, "trends-pt-overtook")
    assert verdict.status == expected, verdict.explanation


def test_search_trend_turned_negative_for_tensorflow_only(snapshot_db, tmp_path):
    n = 60  # PyTorch climbs 30 -> 89, TensorFlow falls 80 -> 21 over the last year and more
    up = [30 + i for i in range(n)]
    down = [80 - i for i in range(n)]
    trends_csv.run(snapshot_db, [_three_terms_csv(tmp_path, up, down, [10] * n)])
    verdict = check(snapshot_db, "trends-tf-negative")
    assert verdict.status == claims.SUPPORTED and "TensorFlow" in verdict.measured
    flat = [50] * n
    trends_csv.run(snapshot_db, [_three_terms_csv(tmp_path, flat, flat, [10] * n)])
    assert check(snapshot_db, "trends-tf-negative").status == claims.CONTRADICTED


@pytest.mark.parametrize("created, expected", [
    ("2015-11-07 18:31:00", claims.SUPPORTED),
    ("2016-01-20 10:00:00", claims.PARTLY),  # within three months of 2015-11
    ("2017-06-01 10:00:00", claims.CONTRADICTED),
])
def test_dated_fact_against_the_repository_creation_date(snapshot_db, created, expected):
    with db.write_session(snapshot_db) as con:
        con.execute("INSERT INTO github_repos (framework, requested, full_name, created_at, retrieved_at) VALUES (?, ?, ?, ?, now())",
                    ["tensorflow", "tensorflow/tensorflow", "tensorflow/tensorflow", created])
    verdict = check(snapshot_db, "tf-open-sourced")
    assert verdict.status == expected and verdict.measured_at == created[:10]
    assert "tensorflow/tensorflow" in verdict.basis
