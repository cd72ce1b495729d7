"""Importing the Trends web UI's CSV download: good files stored with provenance, bad files refused.

Fixtures: tests/fixtures/trends/ (README there; shape from SOURCES.md "Google Trends").
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from ingest import trends_csv
from pulse.cli import main
from pulse.errors import SourceError

FIX = Path(__file__).parent / "fixtures" / "trends"


def stored(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM observations WHERE metric = 'trends_interest' ORDER BY variant, framework, date").df()
    finally:
        con.close()


def test_weekly_file_is_stored_with_geo_terms_and_below_one(db_file):
    run = trends_csv.run(db_file, [FIX / "good_weekly_worldwide.csv"])
    rows = stored(db_file)
    assert run.rows == len(rows) == 48
    assert set(rows["source"]) == {"trends_csv"}
    assert set(rows["variant"]) == {"world|2021-11-21 2022-03-12|jax+pytorch+tensorflow"}
    pt = rows[rows["framework"] == "pytorch"]
    assert pt["value"].tolist()[:3] == [43, 45, 44] and str(pt["date"].iloc[0])[:10] == "2021-11-21"
    jax = rows[rows["framework"] == "jax"].reset_index()
    assert jax.loc[0, "value"] == 0.5 and json.loads(jax.loc[0, "detail"])["below_one"] is True
    assert "below_one" not in json.loads(jax.loc[2, "detail"]) and jax.loc[2, "value"] == 1
    detail = json.loads(pt.iloc[0]["detail"])
    assert detail["route"] == "csv" and detail["geo"] == "world" and detail["granularity"] == "week"
    assert detail["category"] == "All categories" and detail["file"] == "good_weekly_worldwide.csv"
    assert pt.iloc[0]["subject"] == "PyTorch"
    assert pt.iloc[0]["citation"].endswith("(CSV download)")
    raw = Path(pt.iloc[0]["raw_file"])
    assert raw.read_bytes() == (FIX / "good_weekly_worldwide.csv").read_bytes()


def test_case_insensitive_terms_country_and_month(db_file):
    trends_csv.run(db_file, [FIX / "good_monthly_us_lowercase_terms.csv"])
    rows = stored(db_file)
    assert set(rows["framework"]) == {"pytorch", "tensorflow"}
    assert set(rows["variant"]) == {"US|2018-01-01 2019-12-31|pytorch+tensorflow"}
    assert json.loads(rows.iloc[0]["detail"])["granularity"] == "month" and len(rows) == 48


def test_time_column_without_preamble_and_excel_bom_crlf(db_file):
    trends_csv.run(db_file, [FIX / "good_daily_time_column_no_preamble.csv", FIX / "good_bom_crlf.csv"])
    rows = stored(db_file)
    keras = rows[rows["framework"] == "keras"]
    assert len(keras) == 30 and set(keras["variant"]) == {"DE|2026-08-01 2026-08-30|keras"}
    assert json.loads(keras.iloc[0]["detail"])["granularity"] == "day"
    assert len(rows[rows["variant"].str.startswith("world|2021-11-21 2021-12-18")]) == 8


def test_reimport_is_idempotent_and_a_new_window_does_not_overwrite(db_file):
    trends_csv.run(db_file, [FIX / "good_weekly_worldwide.csv"])
    trends_csv.run(db_file, [FIX / "good_weekly_worldwide.csv"])
    assert len(stored(db_file)) == 48
    trends_csv.run(db_file, [FIX / "good_bom_crlf.csv"])
    assert stored(db_file)["variant"].nunique() == 2 and len(stored(db_file)) == 56


BAD = {
    "bad_empty.csv": "the file is empty",
    "bad_html_saved_as_csv.csv": "web page (HTML) saved as .csv",
    "bad_not_trends.csv": "header 'date,value' is not a Google Trends",
    "bad_geo_map_export.csv": "'Country' export (interest by region",
    "bad_mixed_granularity.csv": "mix granularities",
    "bad_unknown_term.csv": "'Chainer' match no framework",
    "bad_value.csv": "line 6 has the value 'n/a'",
    "bad_mixed_geo.csv": "different regions (United States, Worldwide)",
    "bad_hourly.csv": "hourly data",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_and_nothing_is_stored(snapshot_db, name):
    before = stored(snapshot_db)
    with pytest.raises(SourceError) as err:
        trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv", FIX / name])
    assert BAD[name] in str(err.value), str(err.value)
    assert name in str(err.value) and "Nothing was stored" in str(err.value)
    assert stored(snapshot_db).equals(before) and before.empty


def test_unknown_term_error_lists_known_terms(db_file):
    with pytest.raises(SourceError) as err:
        trends_csv.run(db_file, [FIX / "bad_unknown_term.csv"])
    assert "Known Trends terms:" in str(err.value) and "PyTorch" in str(err.value) and "TensorFlow" in str(err.value)
    assert not db_file.exists()


def test_oversize_file_is_refused_before_reading(tmp_path, db_file):
    big = tmp_path / "big.csv"
    good = (FIX / "good_weekly_worldwide.csv").read_text()
    big.write_text(good + "x" * (trends_csv.MAX_BYTES + 1))
    with pytest.raises(SourceError, match=r"MB, more than a Trends export can be"):
        trends_csv.run(db_file, [big])
    with pytest.raises(SourceError, match=r"more than the 5 MB"):
        trends_csv.import_bytes(db_file, "big.csv", big.read_bytes())
    assert not db_file.exists()


def test_cli_imports_and_reports(db_file):
    result = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db_file), str(FIX / "good_weekly_worldwide.csv")])
    assert result.exit_code == 0, result.output
    assert "good_weekly_worldwide.csv: 48 points, pytorch, tensorflow, jax" in result.output
    assert len(stored(db_file)) == 48


def test_cli_bad_file_is_one_clean_line(db_file):
    result = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db_file), str(FIX / "bad_html_saved_as_csv.csv")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: Cannot import bad_html_saved_as_csv.csv")
    missing = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db_file), str(FIX / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_repeated_imports_keep_the_file_readable(snapshot_db, tmp_path):
    """Regression: a checkpoint after DELETEs truncates free trailing blocks; open_read must still accept the file
    (it compared the size with total_blocks, refusing valid files; now used_blocks)."""
    from pulse.db import open_read

    for i, start in enumerate(["2024-11-01", "2024-12-01", "2025-01-01"]):
        months = pd.date_range(start, periods=24, freq="MS")
        lines = ["Category: All categories", "", "Month,PyTorch: (Worldwide),TensorFlow: (Worldwide)"]
        path = tmp_path / f"m{i}.csv"
        path.write_text("\n".join(lines + [f"{m:%Y-%m},50,53" for m in months]) + "\n")
        trends_csv.run(snapshot_db, [path])
        con = open_read(snapshot_db)
        try:
            assert con.execute("SELECT count(DISTINCT variant) FROM observations WHERE metric = 'trends_interest'").fetchone()[0] == i + 1
        finally:
            con.close()
