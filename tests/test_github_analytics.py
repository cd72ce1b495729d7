"""Merging live GitHub data with the snapshot, and the GitHub page showing it (AppTest)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from werkzeug.wrappers import Response

from analytics import github as gh
from analytics.charts import ChartOptions
from ingest import github
from pulse import config
from tests.github_fake import FakeRepo, fake_github, synthetic_weeks  # noqa: F401 (fixture)

TODAY = dt.datetime.now(dt.UTC).date()


def obs(source, framework, dates, values):
    return pd.DataFrame({"source": source, "framework": framework, "date": pd.to_datetime(dates), "value": values})


def test_best_source_prefers_exact_history_over_snapshot_and_keeps_snapshot_outside_it():
    frame = pd.concat([
        obs("snapshot", "pytorch", ["2019-01-01", "2020-01-01", "2021-01-01", "2022-01-01"], [1, 2, 3, 4]),
        obs("github_history", "pytorch", ["2020-06-01", "2020-06-02", "2022-06-01"], [20, 21, 40]),
        obs("github", "pytorch", ["2022-06-01"], [40]),
        obs("github_sampled", "pytorch", ["2018-01-01", "2021-06-01"], [0.5, 30]),
        obs("snapshot", "jax", ["2021-01-01"], [9]),
    ])
    best = gh.best_source(frame)
    pt = best[best["framework"] == "pytorch"]
    # Inside the exact span only exact points remain (the current count on the same date too);
    # the sampled series keeps its point before it and hides the snapshot inside its own span.
    assert list(zip(pt["date"].dt.strftime("%Y-%m-%d"), pt["source"])) == [
        ("2018-01-01", "github_sampled"),
        ("2020-06-01", "github_history"), ("2020-06-02", "github_history"), ("2022-06-01", "github_history"),
    ]
    assert best[best["framework"] == "jax"]["source"].tolist() == ["snapshot"]


def test_with_gaps_breaks_lines_across_missing_months():
    frame = obs("snapshot", "jax", ["2020-01-01", "2020-02-01", "2020-09-01"], [1, 2, 3]).assign(x=lambda f: f["date"])
    drawn = gh.with_gaps(frame)
    assert len(drawn) == 4 and drawn["value"].isna().sum() == 1


@pytest.fixture
def live_db(snapshot_db, fake_github):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=3000), TODAY), forks=26_000, watchers=1_700, issues=15_000))
    fake_github.add(FakeRepo("jax-ml/jax", synthetic_weeks(TODAY - dt.timedelta(days=2000), TODAY), forks=3_100, watchers=330, issues=2_000))
    fake_github.add(FakeRepo("tensorflow/tensorflow", [], stars=196_000, history_status=404, list_status=403))
    run = github.run(snapshot_db, ["pytorch", "jax", "tensorflow"], sleep=lambda s: None)
    assert run.status == "partial"  # tensorflow: no history anywhere, snapshot kept
    return snapshot_db


def test_chart_uses_live_history_and_hover_names_the_source(live_db):
    con = duckdb.connect(str(live_db), read_only=True)
    try:
        result = gh.stars_chart(con, ChartOptions(frameworks=["pytorch", "tensorflow"]))
        cards = gh.repo_cards(con, ["jax", "pytorch"])
        update = gh.last_update(con)
        coverage = gh.history_coverage(con, ["tensorflow"])
    finally:
        con.close()
    pt = result.data[result.data["framework"] == "pytorch"]
    assert set(pt["source"]) == {"github_history"} and len(pt) == 3001
    tf = result.data[result.data["framework"] == "tensorflow"]
    assert set(tf["source"]) == {"snapshot", "github"}  # today's count after the snapshot, not joined to it
    trace = next(t for t in result.figure.data if t.name == "TensorFlow")
    assert any(np.isnan(v) for v in trace.y if v is not None)  # the gap before today's point
    assert "GitHub REST API (current count)" in {c[1] for c in trace.customdata}
    # Today's count sits alone after the gap: it gets a visible marker (a line cannot draw it).
    sizes = list(trace.marker.size)
    assert sizes[-1] == 7 and trace.customdata[-1][1] == "GitHub REST API (current count)"
    pt_sizes = list(next(t for t in result.figure.data if t.name == "PyTorch").marker.size)
    assert set(pt_sizes) == {0.0}  # a daily exact line: no markers
    assert "GitHub star history (exact, API)" in result.sources
    assert cards["framework"].tolist() == ["jax", "pytorch"]
    assert cards.loc[1, ["forks", "open_issues", "watchers"]].tolist() == [26_000, 15_000, 1_700]
    assert update["status"] == "partial" and "tensorflow/tensorflow" in update["error"] and update["failed_at"] is None
    assert coverage["source"].tolist() == ["github", "snapshot"]


def _decode(value):
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    return value


def test_github_page_shows_cards_last_update_and_live_history(live_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(live_db))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "app_pages" / "github.py"), default_timeout=60)
    at.query_params["frameworks"] = "pytorch,jax,tensorflow"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PyTorch forks"] == "26,000" and metrics["PyTorch watchers"] == "1,700"
    assert metrics["JAX open issues"] == "2,000" and metrics["TensorFlow stars"] == "196,000"
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Last GitHub update:") and "(partial); problems with tensorflow/tensorflow" in c for c in captions)
    assert any("jax-ml/jax (formerly google/jax) · GitHub REST API (current count) · as of" in c and "exact daily history" in c for c in captions)
    assert any(c.startswith("tensorflow/tensorflow") and "stored star history was kept" in c for c in captions)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    pytorch = next(t for t in fig["data"] if t["name"] == "PyTorch")
    assert len(_decode(pytorch["y"])) == 3001
    assert pytorch["customdata"][-1][1] == "GitHub star history (exact, API)"
    coverage = at.dataframe[0].value
    assert list(coverage.columns[:2]) == ["Framework", "Source"] and "JAX" in set(coverage["Framework"])
    assert set(coverage["Source"]) >= {"GitHub star history (exact, API)", "Embedded snapshot (EvanLi/Github-Ranking)"}


def test_describe_update_names_problem_repos_and_a_later_failure(snapshot_db, fake_github):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    fake_github.add(FakeRepo("tensorflow/tensorflow", [], stars=5, history_status=404, list_status=403))
    github.run(snapshot_db, ["pytorch", "tensorflow"], sleep=lambda s: None)
    fake_github.repos["pytorch/pytorch"].faults[("repo", None)] = [Response("down", status=503) for _ in range(4)]
    with pytest.raises(github.SourceError):
        github.run(snapshot_db, ["pytorch"], sleep=lambda s: None)
    con = duckdb.connect(str(snapshot_db), read_only=True)
    try:
        text = gh.describe_update(gh.last_update(con))
    finally:
        con.close()
    assert text.startswith("Last GitHub update: ") and "UTC (partial); problems with tensorflow/tensorflow (details under each card)" in text
    assert re.search(r"\. Latest attempt \d{4}-\d\d-\d\d \d\d:\d\d UTC failed: (SourceError: )?No GitHub repository could be read: pytorch/pytorch", text)


def test_stars_added_per_month_are_dated_by_the_month_they_cover_and_scaled_to_its_length():
    # Snapshots on the first of the month: June 1 -> July 1 (30 days, +300) is June's growth;
    # July 1 -> August 4 (34 days, +340) is July's, scaled to a 30.44-day month; a 3-month gap is left out.
    frame = obs("snapshot", "pytorch", ["2022-06-01", "2022-07-01", "2022-08-04", "2022-11-01"], [1000, 1300, 1640, 2000])
    added = gh.added_per_month(frame)
    assert list(added["date"].dt.strftime("%Y-%m")) == ["2022-06", "2022-07"]
    assert added["value"].tolist() == pytest.approx([300 / 30 * 30.44, 340 / 34 * 30.44])


def test_claims_prefer_point_in_time_counts_over_the_backwards_history():
    # The exact history counts today's stargazers backwards (unstars invisible); a claim about a
    # past count is read on the snapshot where one exists.
    frame = pd.concat([
        obs("snapshot", "pytorch", ["2022-06-01"], [56368]),
        obs("github_history", "pytorch", ["2022-06-01", "2026-12-01"], [55000, 100000]),
    ])
    best = gh.best_source(frame, gh.CLAIM_PRIORITY)
    assert best.set_index("date").loc["2022-06-01", "source"] == "snapshot"
    assert gh.best_source(frame).set_index("date").loc["2022-06-01", "source"] == "github_history"
