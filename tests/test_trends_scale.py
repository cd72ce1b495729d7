"""Stitching batches of <= 5 terms onto one scale, against known synthetic ground truth.

Each batch is normalised 0-100 and rounded as Google does (integers, `<1` for small non-zero
values; SOURCES.md: "every request is rescaled to 0-100"); the stitched result must match
the truth (scaled so its overall max is 100) within the rounding of each term's own request.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest import trends_scale as ts


def synthetic_truth(n_terms: int, weeks: int = 260, seed: int = 1, spread: float = 200.0) -> pd.DataFrame:
    """Synthetic weekly series: sizes from `spread` down to 1, trends, seasonality and noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-11-21", periods=weeks, freq="7D")
    t = np.arange(weeks)
    sizes = np.geomspace(spread, 1.0, n_terms)
    rng.shuffle(sizes)
    data = {}
    for i, size in enumerate(sizes):
        trend = 1 + rng.uniform(-0.6, 0.6) * t / weeks
        season = 1 + 0.15 * np.sin(2 * np.pi * t / 52 + i)
        data[f"term{i:02d}"] = size * trend * season * rng.uniform(0.93, 1.07, weeks)
    return pd.DataFrame(data, index=index)


def fetch_like_google(truth: pd.DataFrame) -> tuple[list[ts.Batch], str]:
    """What the ingest does: first 5 terms, anchor = their most searched, then anchor + 4 new."""
    terms = list(truth.columns)
    first = ts.simulate_request(truth, ts.first_batch(terms))
    anchor = ts.pick_anchor(first)
    return [first] + [ts.simulate_request(truth, b) for b in ts.next_batches(terms, anchor)], anchor


def rounding_bound(stitched: ts.Stitched, truth_scaled: pd.DataFrame, term: str, anchor_points: pd.Series) -> float:
    """Half a unit of the term's own request, on the common scale, plus the anchor ratio's error."""
    factor = stitched.factors[term]
    # A ratio of sums of n rounded points is off by at most n*0.5 over the sum, twice.
    usable = anchor_points[anchor_points >= 1]
    ratio_err = 2 * 0.5 * len(usable) / usable.sum() if len(usable) else 0.0
    return 0.5 * factor + truth_scaled[term].abs() .max() * ratio_err + 1e-9


@pytest.mark.parametrize("n_terms,seed", [(5, 1), (9, 2), (13, 3), (17, 4), (24, 5)])
def test_stitched_matches_ground_truth_within_rounding(n_terms, seed):
    truth = synthetic_truth(n_terms, seed=seed)
    batches, anchor = fetch_like_google(truth)
    assert len(batches) == 1 + max(0, -(-(n_terms - 5) // 4))
    assert all(len(b.terms) <= 5 for b in batches)
    assert all(anchor in b.terms for b in batches)
    stitched = ts.stitch(batches, anchor if len(batches) > 1 else None)
    assert not stitched.unscaled
    assert sorted(stitched.values.columns) == sorted(truth.columns)
    expected = truth * (100.0 / truth.max().max())
    assert stitched.values.max().max() == pytest.approx(100.0)
    for term in truth.columns:
        batch = batches[stitched.batch_of[term]]
        bound = rounding_bound(stitched, expected, term, batch.values[anchor] if anchor in batch.terms else batch.values[term])
        err = (stitched.values[term] - expected[term]).abs().max()
        assert err <= bound, f"{term}: error {err:.3f} > bound {bound:.3f}"


def test_without_the_anchor_rescale_the_batches_do_not_match():
    """The check above can fail: naive concatenation of per-request values misses the truth.

    (When the anchor is the most searched term overall every request peaks on it and the
    scales agree anyway; so here a term of a later batch is made the most searched.)
    """
    truth = synthetic_truth(13, seed=3)
    truth["term08"] = truth.max(axis=1) * 2.5
    batches, anchor = fetch_like_google(truth)
    naive = pd.concat([b.values[[t for t in b.terms if t != anchor or b is batches[0]]] for b in batches], axis=1)
    expected = truth * (100.0 / truth.max().max())
    stitched = ts.stitch(batches, anchor)
    worst_naive = max((naive[t] - expected[t]).abs().max() for t in truth.columns)
    worst_stitched = max((stitched.values[t] - expected[t]).abs().max() for t in truth.columns)
    assert worst_stitched <= 1.5
    assert worst_naive > 10 * worst_stitched


def test_anchor_is_the_most_searched_term_of_the_first_batch():
    truth = synthetic_truth(9, seed=2)
    first = ts.simulate_request(truth, list(truth.columns[:5]))
    assert ts.pick_anchor(first) == str(truth[truth.columns[:5]].sum().idxmax())


def test_anchor_all_zero_in_the_first_batch_is_refused():
    zeros = pd.DataFrame(0.0, index=pd.date_range("2022-01-02", periods=5, freq="7D"), columns=list("abcde"))
    with pytest.raises(ValueError, match="no anchor"):
        ts.pick_anchor(ts.Batch(list("abcde"), zeros))


def test_anchor_swamped_in_a_later_batch_is_reported_unscaled_not_guessed():
    """When a new term dwarfs the anchor, the anchor reads 0/<1 in that request: no factor."""
    index = pd.date_range("2022-01-02", periods=30, freq="7D")
    truth = pd.DataFrame({"a": 1.0, "b": 0.8, "c": 0.5, "d": 0.3, "e": 0.2, "huge": 2000.0, "f": 0.1}, index=index)
    batches = [ts.simulate_request(truth, list("abcde")), ts.simulate_request(truth, ["a", "huge", "f"])]
    assert (batches[1].values["a"] < 1).all()
    stitched = ts.stitch(batches, "a")
    assert stitched.unscaled == ["huge", "f"]
    assert list(stitched.values.columns) == list("abcde")


def test_anchor_zero_on_some_dates_uses_the_other_dates():
    """A term that starts later (zeros early on) still anchors through its non-zero points."""
    index = pd.date_range("2022-01-02", periods=40, freq="7D")
    ramp = np.r_[np.zeros(10), np.linspace(20, 100, 30)]
    truth = pd.DataFrame({"a": ramp, "b": 30.0, "c": 10.0, "d": 5.0, "e": 2.0, "f": 50.0, "g": 1.0}, index=index)
    batches = [ts.simulate_request(truth, list("abcde")), ts.simulate_request(truth, ["a", "f", "g"])]
    stitched = ts.stitch(batches, "a")
    expected = truth * (100.0 / truth.max().max())
    assert (stitched.values["f"] - expected["f"]).abs().max() <= 0.5 * stitched.factors["f"] + 0.5
    assert (stitched.values["a"].iloc[:10] == 0).all()


def test_google_round_reports_below_one():
    frame = pd.DataFrame({"x": [0.0, 0.2, 0.49, 0.5, 1.4, 99.5]})
    values, below = ts.google_round(frame)
    assert values["x"].tolist() == [0.0, ts.BELOW_ONE, ts.BELOW_ONE, 1.0, 1.0, 100.0]
    assert below["x"].tolist() == [False, True, True, False, False, False]
