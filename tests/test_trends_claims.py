"""The ledger's Google Trends claims checked against stored requests (synthetic CSV imports)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics import claims
from analytics.charts import ChartOptions, catalog
from ingest import trends_csv
from pulse.db import open_read

FIX = Path(__file__).parent / "fixtures" / "trends"


def monthly_csv(tmp_path: Path, name: str, start: str, pytorch: list[float], tensorflow: list[float], geo: str = "Worldwide") -> Path:
    """A synthetic 'Interest over time' export (monthly), in the web UI's layout."""
    months = pd.date_range(start, periods=len(pytorch), freq="MS")
    lines = ["Category: All categories", "", f"Month,PyTorch: ({geo}),TensorFlow: ({geo})"]
    lines += [f"{m:%Y-%m},{round(p)},{round(t)}" for m, p, t in zip(months, pytorch, tensorflow, strict=True)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def verdicts(db: Path) -> pd.DataFrame:
    con = open_read(db)
    try:
        return claims.check_all(con).set_index("id")
    finally:
        con.close()


def test_without_trends_data_both_claims_are_not_checkable(snapshot_db):
    table = verdicts(snapshot_db)
    for claim_id in ("seed-trends-gap", "seed-trends-neck"):
        assert table.loc[claim_id, "status"] == claims.NOT_CHECKABLE
        assert "holds PyTorch and TensorFlow" in table.loc[claim_id, "measured"]
        assert "pulse ingest trends" in table.loc[claim_id, "measured"]


def test_gap_closed_is_supported_and_names_the_request(snapshot_db, tmp_path):
    n = 61  # 2018-01 .. 2023-01
    pt = [20 + 60 * i / (n - 1) for i in range(n)]
    tf = [100 - 25 * i / (n - 1) for i in range(n)]
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "gap.csv", "2018-01-01", pt, tf)])
    row = verdicts(snapshot_db).loc["seed-trends-gap"]
    assert row["status"] == claims.SUPPORTED
    assert row["as_of"] == "2022-11-01 to 2023-01-31"
    assert "Worldwide, 2018-01-01 2023-01-31" in row["basis"] and "variant 'world|2018-01-01 2023-01-31|pytorch+tensorflow'" in row["basis"]
    # means of the last 3 months (rounded as in the file): PyTorch 78, 79, 80; TensorFlow 76, 75, 75
    assert "PyTorch 79 vs TensorFlow 75.3" in row["measured"]
    assert row["verdict_value"] == pytest.approx(79 / 75.33, abs=1e-3)
    # the gap at the start of the claim's 5-year window: PyTorch 21, 22, 23; TensorFlow 100, 99, 99
    assert "at 2018-02-01 to 2018-04-30: PyTorch 22 vs TensorFlow 99.3" in row["measured"]


def test_gap_still_open_is_contradicted(snapshot_db, tmp_path):
    n = 61
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "open.csv", "2018-01-01", [30.0] * n, [90.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-gap"]
    assert row["status"] == claims.CONTRADICTED and row["verdict_value"] == pytest.approx(0.33, abs=0.01)


def test_gap_with_a_window_that_misses_2023_is_not_checkable(snapshot_db):
    trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"])
    row = verdicts(snapshot_db).loc["seed-trends-gap"]
    assert row["status"] == claims.NOT_CHECKABLE
    assert "Worldwide 2021-11-21 to 2022-03-06" in row["measured"] and "do not reach 2018-02 to 2023-01" in row["measured"]
    assert '--timeframe "2018-02-01 2023-01-31"' in row["measured"]


def test_neck_and_neck_now_then_and_never(snapshot_db, tmp_path):
    n = 24
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "now.csv", "2024-11-01", [50.0] * n, [53.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-neck"]
    assert row["status"] == claims.SUPPORTED and "Worldwide, 2024-11-01 2026-10-31" in row["basis"]
    assert row["as_of"] == "2026-08-01 to 2026-10-31"

    then = [50.0] * 12 + [90.0] * 12
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "then.csv", "2024-12-01", then, [52.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-neck"]
    assert row["status"] == claims.OUTDATED  # the newer request (ends 2026-11) wins
    assert row["as_of"] == "2025-09-01 to 2025-11-30"  # the last 3 months where both were level

    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "never.csv", "2025-01-01", [90.0] * n, [20.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-neck"]
    assert row["status"] == claims.CONTRADICTED and row["verdict_value"] == pytest.approx(20 / 90, abs=1e-3)  # closeness


def test_charts_are_catalogued_and_use_one_request(snapshot_db, tmp_path):
    trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv", FIX / "good_monthly_us_lowercase_terms.csv"])
    specs = catalog()
    assert specs["trends-interest"].page == "trends" and specs["trends-share"].page == "trends"
    con = open_read(snapshot_db)
    try:
        result = specs["trends-interest"].builder(con, ChartOptions(frameworks=["pytorch", "tensorflow"]))
        # the default request: the one covering the chosen frameworks over the longest window (monthly US)
        assert set(result.data["variant"]) == {"US|2018-01-01 2019-12-31|pytorch+tensorflow"}
        assert len(result.figure.data) == 2 and result.as_of == "2019-12-01"
        assert any("relative to this one request" in n for n in result.notes)
        key = "trends_csv:world|2021-11-21 2022-03-12|jax+pytorch+tensorflow"
        shares = specs["trends-share"].builder(con, ChartOptions(frameworks=["pytorch", "tensorflow", "jax"], extra={"trends_request": key}))
        total = shares.data.groupby("date")["share"].sum()
        assert total.round(9).eq(1).all() and len(total) == 16
        assert shares.sources == [f"Google Trends web download (CSV) (Worldwide, 2021-11-21 2022-03-12, as of {shares.sources[0].split('as of ')[1][:10]})"]
        empty = specs["trends-interest"].builder(con, ChartOptions(frameworks=["caffe"]))
        assert empty.as_of == "no data" or empty.data.empty
    finally:
        con.close()


def test_gap_with_a_request_starting_late_checks_the_end_and_says_so(snapshot_db, tmp_path):
    n = 26  # 2021-01 .. 2023-02: sees the end of the claim's window, not its start
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "late.csv", "2021-01-01", [60.0] * n, [50.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-gap"]
    assert row["status"] == claims.SUPPORTED
    assert "the data starts 2021-01-01, after the claim's window starts (2018-02-01)" in row["measured"]
    assert "PyTorch 60 vs TensorFlow 50" in row["measured"]
    assert row["today"].startswith("PyTorch 60 vs TensorFlow 50")


def test_gap_that_never_existed_is_partly_supported(snapshot_db, tmp_path):
    n = 61
    trends_csv.run(snapshot_db, [monthly_csv(tmp_path, "level.csv", "2018-01-01", [70.0] * n, [60.0] * n)])
    row = verdicts(snapshot_db).loc["seed-trends-gap"]
    assert row["status"] == claims.PARTLY and "no gap to close" in row["measured"]
