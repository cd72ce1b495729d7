"""pytrends' real code path, its HTTP answered at the transport (`responses`) with Google's shapes.

Encodes SOURCES.md "Google Trends": TrendReq's constructor makes a request (the NID cookie
page), explore answers with a `)]}'` prefix, multiline with `)]}',`, Google throttles with
429, at most 5 terms per request. Bodies: tests/fixtures/http/trends/ (README there).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import responses
from click.testing import CliRunner

from ingest import trends, trends_scale
from pulse.errors import RateLimited, SourceError

FIX = Path(__file__).parent / "fixtures" / "http" / "trends"
BASE = trends.DEFAULT_BASE
COOKIE_URL = f"{BASE}/explore/"
EXPLORE_URL = f"{BASE}/api/explore"
MULTILINE_URL = f"{BASE}/api/widgetdata/multiline"
HTML_429 = "<html><head><title>Error 429 (Too Many Requests)!!1</title></head><body><p>We're sorry...</p></body></html>"


class FakeClock:
    """Injectable clock and sleep: sleeping advances the clock, nothing really waits."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_backoff(clock: FakeClock, **kw) -> trends.Backoff:
    return trends.Backoff(sleep=clock.sleep, clock=clock.clock, rng=random.Random(7), **kw)


def explore_body(terms: list[str]) -> str:
    body = json.loads((FIX / "explore.txt").read_text()[4:])
    for widget in body["widgets"]:
        items = widget["request"]["comparisonItem"]
        template = items[0]
        widget["request"]["comparisonItem"] = [
            {**template, "complexKeywordsRestriction": {"keyword": [{"type": "BROAD", "value": t}]}} for t in terms
        ]
    body["keywords"] = [{"keyword": t, "name": t, "type": "Search term"} for t in terms]
    return ")]}'\n" + json.dumps(body)


def multiline_body(values: pd.DataFrame, below: pd.DataFrame | None = None) -> str:
    """Google's multiline shape for a frame of integer values (index: week starts)."""
    points = []
    for day, row in values.iterrows():
        shown = ["<1" if below is not None and below.at[day, t] else str(int(v)) for t, v in row.items()]
        stamp = int(pd.Timestamp(day).tz_localize("UTC").timestamp())
        points.append({"time": str(stamp), "formattedTime": day.strftime("%b %-d, %Y"), "formattedAxisTime": day.strftime("%b %-d, %Y"),
                       "value": [0 if s == "<1" else int(v) for s, v in zip(shown, row.values, strict=True)],
                       "hasData": [True] * len(row), "formattedValue": shown})
    return ")]}',\n" + json.dumps({"default": {"timelineData": points, "averages": [0] * values.shape[1]}})


def add_cookie(rsps, status=200):
    rsps.add(responses.GET, COOKIE_URL, body="<html>explore</html>", status=status, content_type="text/html",
             headers={"Set-Cookie": "NID=511=synthetic; expires=Tue, 25-May-2027 10:00:00 GMT; path=/; domain=.google.com"})


def add_ok(rsps, terms=("PyTorch", "TensorFlow")):
    rsps.add(responses.POST, EXPLORE_URL, body=explore_body(list(terms)), content_type="application/json; charset=utf-8")
    rsps.add(responses.GET, MULTILINE_URL, body=(FIX / "multiline.txt").read_text(), content_type="application/json; charset=utf-8")


def add_429(rsps, url=EXPLORE_URL, method=responses.POST, headers=None):
    rsps.add(method, url, body=HTML_429, status=429, content_type="text/html; charset=UTF-8", headers=headers or {})


def stored(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM observations WHERE metric = 'trends_interest' ORDER BY framework, date").df()
    finally:
        con.close()


def runs(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM ingest_runs WHERE source = 'trends'").df()
    finally:
        con.close()


@responses.activate
def test_success_stores_rows_with_provenance(db_file):
    add_cookie(responses)
    add_ok(responses)
    clock = FakeClock()
    run = trends.run(db_file, timeframe="2022-01-02 2022-03-26", geo="", frameworks=["pytorch", "tensorflow"], backoff=make_backoff(clock))
    assert run.status == "ok" and run.rows == 24
    # cookie page + explore + multiline, and no back-off
    assert run.requests == 3 and clock.sleeps == []
    rows = stored(db_file)
    assert len(rows) == 24
    assert set(rows["variant"]) == {"world|2022-01-02 2022-03-26|pytorch+tensorflow"}
    pt = rows[rows["framework"] == "pytorch"].set_index("date")["value"]
    tf = rows[rows["framework"] == "tensorflow"].set_index("date")["value"]
    assert pt.iloc[0] == 61 and tf.iloc[0] == 100 and pt.iloc[-1] == 84
    assert str(pt.index[0])[:10] == "2022-01-02"
    detail = json.loads(rows.iloc[-1]["detail"])
    assert detail["route"] == "pytrends" and detail["geo"] == "world" and detail["timeframe"] == "2022-01-02 2022-03-26"
    assert detail.get("partial") is True  # the last, incomplete week is flagged
    assert rows.iloc[0]["citation"].startswith("https://trends.google.com/trends/explore?date=2022-01-02%202022-03-26&q=PyTorch%2CTensorFlow")
    raw = Path(rows.iloc[0]["raw_file"])
    raw = raw if raw.is_absolute() else Path(__file__).parent.parent / raw
    assert json.loads(raw.read_text())["responses"][1]["body"]["default"]["timelineData"][0]["value"] == [61, 100]
    # pytrends sent our timeframe and terms in the explore request
    sent = json.loads(responses.calls[1].request.params["req"])
    assert [c["complexKeywordsRestriction"]["keyword"][0]["value"] if "complexKeywordsRestriction" in c else c["keyword"]
            for c in sent["comparisonItem"]] == ["PyTorch", "TensorFlow"]
    assert all(c["time"] == "2022-01-02 2022-03-26" for c in sent["comparisonItem"])
    assert all("Authorization" not in c.request.headers for c in responses.calls)


@responses.activate
def test_429_then_success(db_file):
    add_cookie(responses)
    add_429(responses)
    add_429(responses, headers={"Retry-After": "90"})
    add_ok(responses)
    clock = FakeClock()
    run = trends.run(db_file, timeframe="2022-01-02 2022-03-26", frameworks=["pytorch", "tensorflow"], backoff=make_backoff(clock))
    assert run.status == "ok" and len(stored(db_file)) == 24
    assert run.requests == 5  # cookie, 429, 429, explore, multiline
    assert len(clock.sleeps) == 2
    first, second = clock.sleeps
    assert 10 <= first <= 20  # first_wait 20 with equal jitter
    assert second >= 90  # Retry-After honoured
    assert json.loads(runs(db_file).iloc[0]["detail"])["statuses"] == {"200": 3, "429": 2}


@responses.activate
def test_429_forever_stops_within_cap_and_points_to_csv(db_file):
    add_cookie(responses)
    add_429(responses)  # responses repeats the last registered answer
    clock = FakeClock()
    with pytest.raises(RateLimited) as err:
        trends.run(db_file, timeframe="today 5-y", frameworks=["pytorch", "tensorflow"], backoff=make_backoff(clock, total_cap=300))
    message = str(err.value)
    assert "429" in message and "pulse ingest trends-csv" in message
    assert "trends.google.com/trends/explore?date=today%205-y&q=PyTorch%2CTensorFlow" in message
    assert sum(clock.sleeps) <= 300 and clock.now <= 300
    assert len(clock.sleeps) >= 2
    assert not db_file.exists() or stored(db_file).empty
    record = runs(db_file).iloc[0]
    assert record["status"] == "failed" and "429" in record["error"] and record["requests"] == len(clock.sleeps) + 2


@responses.activate
def test_429_forever_through_cli_is_one_clean_line(db_file, monkeypatch):
    from pulse.cli import main

    add_cookie(responses)
    add_429(responses)
    monkeypatch.setenv("PULSE_TRENDS_MAX_WAIT", "0")
    result = CliRunner().invoke(main, ["ingest", "trends", "--db", str(db_file), "--framework", "pytorch", "--framework", "jax"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Error: Google Trends (PyTorch, JAX; world, today 5-y) kept answering 429" in result.output
    assert "pulse ingest trends-csv" in result.output


@responses.activate
def test_other_http_error_is_a_source_error(db_file):
    add_cookie(responses)
    responses.add(responses.POST, EXPLORE_URL, body="<html>400</html>", status=400, content_type="text/html")
    with pytest.raises(SourceError, match="answered HTTP 400"):
        trends.fetch_interest(["PyTorch"], backoff=make_backoff(FakeClock()))


def test_network_down_is_a_source_error(monkeypatch):
    monkeypatch.setenv("PULSE_TRENDS_URL", "http://127.0.0.1:9/trends")
    with pytest.raises(SourceError, match="Could not reach Google Trends"):
        trends.fetch_interest(["PyTorch"], backoff=make_backoff(FakeClock()))


def synthetic_truth(terms: list[str], weeks: int = 60) -> pd.DataFrame:
    """Synthetic weekly series with very different sizes (the anchor must carry small terms)."""
    rng = np.random.default_rng(3)
    index = pd.date_range("2022-01-02", periods=weeks, freq="7D")
    sizes = np.geomspace(400, 2, len(terms))
    data = {t: s * (1 + 0.4 * np.sin(np.arange(weeks) / (5 + i))) * rng.uniform(0.9, 1.1, weeks) for i, (t, s) in enumerate(zip(terms, sizes, strict=True))}
    return pd.DataFrame(data, index=index)


@responses.activate
def test_thirteen_frameworks_are_stitched_through_one_anchor(db_file):
    """Default run (every registry framework): 3 requests sharing the anchor, one common scale."""
    term_ids = trends.terms_for(None)
    terms = list(term_ids)
    assert len(terms) == 13
    truth = synthetic_truth(terms)
    batches = [trends_scale.first_batch(terms)]
    anchor = terms[0]  # the largest synthetic series is the first
    batches += trends_scale.next_batches(terms, anchor)
    add_cookie(responses)
    for batch in batches:
        simulated = trends_scale.simulate_request(truth, batch)
        responses.add(responses.POST, EXPLORE_URL, body=explore_body(batch), content_type="application/json")
        responses.add(responses.GET, MULTILINE_URL, body=multiline_body(simulated.values.where(~simulated.below_one, 0), simulated.below_one),
                      content_type="application/json")
    clock = FakeClock()
    run = trends.run(db_file, backoff=make_backoff(clock))
    assert run.status == "ok" and run.requests == 1 + 2 * len(batches) == 7
    assert clock.sleeps == [trends.PAUSE_BETWEEN_BATCHES] * 2  # polite pause between requests only
    rows = stored(db_file)
    assert set(rows["variant"]) == {"world|today 5-y"}
    assert rows["framework"].nunique() == 13 and len(rows) == 13 * len(truth)
    wide = rows.pivot(index="date", columns="subject", values="value")
    expected = truth * (100 / truth.max().max())
    # The stitched small terms follow the truth, within rounding of their own request.
    for term in terms[5:]:
        factor = json.loads(rows[rows["subject"] == term].iloc[0]["detail"])["factor"]
        err = (wide[term].values - expected[term].values)
        assert np.abs(err).max() <= 0.5 * factor + 0.02 * expected[term].max(), term
    assert wide.max().max() == pytest.approx(100)
    assert json.loads(rows.iloc[0]["detail"])["anchor"] == "PyTorch"
    below = rows[rows["detail"].str.contains('"below_one": true')]
    assert (below["value"] > 0).all()


def test_run_with_defaults_only_needs_db_path(db_file, monkeypatch):
    """Cron contract: run(db_path) works with defaults and raises a SourceError on failure."""
    monkeypatch.setenv("PULSE_TRENDS_URL", "http://127.0.0.1:9/trends")
    with pytest.raises(SourceError):
        trends.run(db_file)
    assert runs(db_file).iloc[0]["status"] == "failed"


def test_backoff_waits_grow_and_respect_the_cap():
    clock = FakeClock()
    backoff = make_backoff(clock, total_cap=100, first_wait=10, max_attempts=10)
    waits = []
    for attempt in range(1, 10):
        wait = backoff.next_wait(attempt, None)
        if wait is None:
            break
        waits.append(wait)
        backoff.pause(wait)
    assert waits[0] >= 5 and waits[1] >= 10 and waits[2] >= 20
    assert sum(waits) <= 100 and len(waits) < 9
    assert dt.timedelta(seconds=clock.now) <= dt.timedelta(seconds=100)


@responses.activate
def test_replay_reloads_a_kept_raw_file_without_network(db_file, tmp_path):
    from pulse.cli import main

    add_cookie(responses)
    add_ok(responses)
    trends.run(db_file, timeframe="2022-01-02 2022-03-26", frameworks=["pytorch", "tensorflow"], backoff=make_backoff(FakeClock()))
    first = stored(db_file)
    raw = Path(first.iloc[0]["raw_file"])
    other = tmp_path / "replayed.duckdb"
    calls = len(responses.calls)
    result = CliRunner().invoke(main, ["ingest", "trends", "--db", str(other), "--replay", str(raw)])
    assert result.exit_code == 0, result.output
    assert "stored 24 Google Trends points (world|2022-01-02 2022-03-26|pytorch+tensorflow) replayed from" in result.output
    assert len(responses.calls) == calls  # nothing fetched
    again = stored(other)
    cols = ["framework", "variant", "date", "value", "subject", "citation", "raw_file", "retrieved_at"]
    pd.testing.assert_frame_equal(first[cols], again[cols])
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    failed = CliRunner().invoke(main, ["ingest", "trends", "--db", str(other), "--replay", str(bad)])
    assert failed.exit_code == 1 and "is not a raw Trends file" in failed.output


@responses.activate
def test_no_secret_travels_to_google_or_into_storage(db_file, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_synthetic_secret_value_123")
    monkeypatch.setenv("HF_TOKEN", "hf_synthetic_secret_value_456")
    add_cookie(responses)
    add_ok(responses)
    trends.run(db_file, timeframe="2022-01-02 2022-03-26", frameworks=["pytorch", "tensorflow"], backoff=make_backoff(FakeClock()))
    rows = stored(db_file)
    raw_text = Path(rows.iloc[0]["raw_file"]).read_text()
    for secret in ("ghp_synthetic_secret_value_123", "hf_synthetic_secret_value_456"):
        for call in responses.calls:
            assert secret not in str(call.request.headers) and secret not in call.request.url
        assert secret not in raw_text and secret not in rows.to_csv()
        assert secret not in runs(db_file).to_csv()


@responses.activate
def test_consent_page_instead_of_json_is_named(db_file):
    add_cookie(responses)
    responses.add(responses.POST, EXPLORE_URL, body="<html><form action='https://consent.google.com/save'></form></html>",
                  status=200, content_type="text/html; charset=UTF-8")
    with pytest.raises(SourceError, match="web page instead of data") as err:
        trends.run(db_file, frameworks=["pytorch"], backoff=make_backoff(FakeClock()))
    assert "pulse ingest trends-csv" in str(err.value)


@responses.activate
def test_anchor_swamped_by_a_later_term_gives_a_partial_run(db_file):
    """A later batch whose new term dwarfs the anchor cannot be rescaled: stored without it, run partial."""
    term_ids = trends.terms_for(["pytorch", "tensorflow", "jax", "keras", "paddlepaddle", "transformers"])
    terms = list(term_ids)
    index = pd.date_range("2022-01-02", periods=20, freq="7D")
    truth = pd.DataFrame({t: v for t, v in zip(terms, [1.0, 0.8, 0.5, 0.3, 0.2, 5000.0], strict=True)}, index=index)
    add_cookie(responses)
    for batch in [terms[:5], [terms[0], terms[5]]]:
        simulated = trends_scale.simulate_request(truth, batch)
        responses.add(responses.POST, EXPLORE_URL, body=explore_body(batch), content_type="application/json")
        responses.add(responses.GET, MULTILINE_URL, body=multiline_body(simulated.values.where(~simulated.below_one, 0), simulated.below_one),
                      content_type="application/json")
    run = trends.run(db_file, frameworks=list(term_ids.values()), backoff=make_backoff(FakeClock()))
    assert run.status == "partial" and "Hugging Face Transformers" in run.error and "'PyTorch'" in run.error
    rows = stored(db_file)
    assert sorted(rows["framework"].unique()) == ["jax", "keras", "paddlepaddle", "pytorch", "tensorflow"]
    assert runs(db_file).iloc[0]["status"] == "partial"


def test_hourly_timeframes_and_world_geo(db_file):
    with pytest.raises(SourceError, match="hourly or minute data"):
        trends.run(db_file, timeframe="now 7-d", frameworks=["pytorch"])
    assert not db_file.exists()  # refused before any request or run record
    assert trends.normalise_geo(" world ") == "" and trends.normalise_geo("us-ca") == "US-CA"
