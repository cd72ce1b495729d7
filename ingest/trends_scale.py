"""Many Google Trends terms on one scale: batches of at most 5 that share one anchor term.

Google rescales every request so that its highest point is 100 and rounds to integers, so
two requests only share a scale through a term present in both. Method:

1. The first batch holds the first (up to) 5 terms. Its most searched term (largest sum,
   which must be non-zero) becomes the anchor.
2. Every further batch holds the anchor plus up to 4 new terms.
3. Batch b is brought onto batch 1's scale by f_b = sum(anchor in batch 1) / sum(anchor in
   batch b), summed over the dates where the anchor is at least MIN_ANCHOR_POINT in both
   (points reported as 0 or `<1` carry no usable ratio). A ratio of sums weights the large,
   precisely rounded points most.
4. All series are multiplied by one factor so that the highest point of any term is 100:
   the result reads like one request holding every term.

Limits: each stored value carries Google's rounding (+-0.5 on its own request's scale),
multiplied by f_b; `<1` is kept as 0.5 (the middle of (0, 1)) and flagged. A batch whose
anchor has fewer than MIN_COMMON_POINTS usable points (the new terms dwarf the anchor)
cannot be placed on the common scale: its terms are reported as unscaled, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MAX_TERMS = 5
MIN_ANCHOR_POINT = 1.0
MIN_COMMON_POINTS = 3
BELOW_ONE = 0.5  # stored value for Google's `<1`


@dataclass
class Batch:
    """One request's answer: values (index = dates, one column per term) on its own 0-100 scale."""

    terms: list[str]
    values: pd.DataFrame
    below_one: pd.DataFrame | None = None  # True where Google said `<1`
    meta: dict = field(default_factory=dict)


@dataclass
class Stitched:
    values: pd.DataFrame  # one column per term, common scale (max of all = 100)
    anchor: str | None
    factors: dict[str, float]  # term -> factor applied (batch factor x final normalisation)
    batch_of: dict[str, int]  # term -> batch number (0-based)
    unscaled: list[str]  # terms whose batch could not be placed on the common scale
    below_one: pd.DataFrame


def first_batch(terms: list[str]) -> list[str]:
    return list(terms[:MAX_TERMS])


def next_batches(terms: list[str], anchor: str) -> list[list[str]]:
    """The batches after the first: the anchor plus up to 4 terms not yet requested."""
    rest = [t for t in terms[MAX_TERMS:] if t != anchor]
    size = MAX_TERMS - 1
    return [[anchor, *rest[i:i + size]] for i in range(0, len(rest), size)]


def pick_anchor(batch: Batch) -> str:
    """The most searched term of the first batch; ValueError when every term is zero."""
    sums = batch.values[batch.terms].sum()
    if sums.max() <= 0:
        raise ValueError(f"every term of {batch.terms} is zero in this window: no anchor can be chosen")
    return str(sums.idxmax())


def batch_factor(reference: pd.Series, anchor: pd.Series) -> float | None:
    """Factor taking a batch onto the reference scale; None when the anchor gives too little to go on."""
    joined = pd.concat([reference, anchor], axis=1, join="inner").dropna()
    usable = joined[(joined.iloc[:, 0] >= MIN_ANCHOR_POINT) & (joined.iloc[:, 1] >= MIN_ANCHOR_POINT)]
    if len(usable) < MIN_COMMON_POINTS:
        return None
    return float(usable.iloc[:, 0].sum() / usable.iloc[:, 1].sum())


def stitch(batches: list[Batch], anchor: str | None = None) -> Stitched:
    """Put every batch's terms on batch 0's scale through the anchor, then rescale to max 100."""
    if not batches:
        raise ValueError("no batches to stitch")
    first = batches[0]
    anchor = anchor or (pick_anchor(first) if len(batches) > 1 else None)
    columns: dict[str, pd.Series] = {}
    flags: dict[str, pd.Series] = {}
    factors: dict[str, float] = {}
    batch_of: dict[str, int] = {}
    unscaled: list[str] = []
    for number, batch in enumerate(batches):
        below = batch.below_one if batch.below_one is not None else pd.DataFrame(False, index=batch.values.index, columns=batch.terms)
        if number == 0:
            factor: float | None = 1.0
        else:
            factor = batch_factor(first.values[anchor], batch.values[anchor])
        for term in batch.terms:
            if term in columns or term in unscaled:
                continue  # the anchor: batch 0's copy is the reference
            if factor is None:
                unscaled.append(term)
                continue
            columns[term] = batch.values[term].astype(float) * factor
            flags[term] = below[term].astype(bool) if term in below else pd.Series(False, index=batch.values.index)
            factors[term] = factor
            batch_of[term] = number
    values = pd.DataFrame(columns)
    peak = float(values.max().max()) if not values.empty else 0.0
    if peak > 0:
        values = values * (100.0 / peak)
        factors = {t: f * 100.0 / peak for t, f in factors.items()}
    below_one = pd.DataFrame(flags).reindex(values.index).fillna(False).astype(bool)
    return Stitched(values, anchor, factors, batch_of, unscaled, below_one)


def google_round(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What Google reports for exact values on a 0-100 scale: integers, and `<1` for (0, 1).

    Returns (values with `<1` as BELOW_ONE, mask of `<1` points). Used by tests and the
    benchmark to simulate requests from known series.
    """
    rounded = (frame + 0.5).apply(lambda s: s.astype(float).floordiv(1))
    below = (frame > 0) & (frame < 0.5)
    return rounded.mask(below, BELOW_ONE), below


def simulate_request(truth: pd.DataFrame, terms: list[str]) -> Batch:
    """A synthetic request: these terms of `truth`, scaled so their max is 100, rounded as Google does."""
    part = truth[terms]
    scaled = part * (100.0 / float(part.max().max()))
    values, below = google_round(scaled)
    return Batch(list(terms), values, below)
