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

from ingest import trends_csv, trends_store
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


# --- Exports from any interface language, recognised by structure --------------------------

LANGUAGES = {
    # file: (ISO region or world, {term: stored id}, granularity, window, options)
    "good_pt_brasil_weekly.csv": ("BR", {"pytorch": "pytorch", "tensorflow": "tensorflow"}, "week", "2019-05-19 2019-07-13", {}),
    "good_ru_worldwide_unknown_term.csv": ("world", {"PyTorch": "pytorch", "глубокое обучение": "term:глубокое обучение"}, "week",
                                           "2020-10-25 2020-12-05", {"keep_unknown": True}),
    "good_ja_monthly_worldwide.csv": ("world", {"JAX": "jax", "Keras": "keras"}, "month", "2004-01-01 2004-06-30", {}),
    "good_zh_us_monthly.csv": ("US", {"TensorFlow": "tensorflow"}, "month", "2015-05-01 2015-08-31", {}),
    "good_fr_nbsp_below_one.csv": ("FR", {"PyTorch": "pytorch", "Keras": "keras"}, "week", "2021-01-03 2021-01-30", {}),
    "good_it_exact_phrase.csv": ("IT", {"PyTorch": "pytorch", "JAX": "jax"}, "month", "2020-01-01 2020-03-31", {}),
    "good_uk_case_different_terms.csv": ("UA", {"Нейронні мережі": "term:Нейронні мережі", "нейронні мережі": "term:нейронні мережі"},
                                         "week", "2022-01-02 2022-02-05", {"keep_unknown": True}),
    "good_ko_category_only.csv": ("KR", {"게임": "category:게임"}, "month", "2008-04-01 2008-07-31", {"keep_unknown": True}),
    "good_new_ui_no_region.csv": ("US", {"PyTorch": "pytorch", "TensorFlow": "tensorflow", "deep learning": "term:deep learning"},
                                  "month", "2024-01-01 2024-03-31", {"keep_unknown": True, "geo": "us"}),
    "good_tr_state_trailing_comma.csv": ("US-CA", {"PyTorch": "pytorch"}, "week", "2023-01-01 2023-01-21", {}),
}


def file_values(path: Path) -> dict[tuple[str, str], float]:
    """The test's own reading of a fixture: (column position, date) -> value ('<1' with any space = 0.5)."""
    out = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        cells = [c.strip().strip('"') for c in line.split(",")]
        if cells and len(cells[0]) >= 7 and cells[0][:4].isdigit() and cells[0][4] == "-":
            day = cells[0] if len(cells[0]) == 10 else cells[0] + "-01"
            for position, cell in enumerate(cells[1:]):
                out[(position, day)] = 0.5 if "".join(cell.split()) == "<1" else float(cell)
    return out


@pytest.mark.parametrize("name", sorted(LANGUAGES))
def test_exports_of_every_shape_import_with_exact_values_and_iso_region(db_file, name):
    geo, ids, granularity, window, options = LANGUAGES[name]
    run = trends_csv.run(db_file, [FIX / name], **options)
    rows = stored(db_file)
    expected = file_values(FIX / name)
    assert run.rows == len(rows) == len(expected)
    assert set(rows["variant"]) == {trends_store.variant_for(geo, window, list(ids.values()))}
    order = list(ids)
    for row in rows.itertuples():
        assert ids[row.subject] == row.framework
        assert row.value == expected[(order.index(row.subject), str(row.date)[:10])], (row.subject, row.date)
    detail = json.loads(rows.iloc[0]["detail"])
    assert detail["geo"] == geo and detail["granularity"] == granularity and detail["timeframe"] == window
    citation = rows.iloc[0]["citation"]
    assert ("geo=" not in citation) if geo == "world" else (f"geo={geo}&" in citation or citation.endswith(f"geo={geo} (CSV download)"))
    assert f"date={window.replace(' ', '%20')}" in citation


def test_exact_phrase_quotes_are_stripped_from_the_term_but_kept_in_the_cited_link(db_file):
    trends_csv.run(db_file, [FIX / "good_it_exact_phrase.csv"])
    rows = stored(db_file)
    assert set(rows["subject"]) == {"PyTorch", "JAX"}
    assert "q=%22PyTorch%22%2C%22JAX%22" in rows.iloc[0]["citation"]
    assert json.loads(rows[rows["subject"] == "PyTorch"].iloc[0]["detail"])["column"] == '"PyTorch"'


def test_no_break_space_below_one_is_flagged(db_file):
    trends_csv.run(db_file, [FIX / "good_fr_nbsp_below_one.csv"])
    keras = stored(db_file).query("framework == 'keras'")
    flags = [json.loads(d).get("below_one", False) for d in keras["detail"]]
    assert flags == [True, True, False, True] and keras["value"].tolist() == [0.5, 0.5, 2.0, 0.5]


def test_case_different_terms_are_kept_apart(db_file):
    trends_csv.run(db_file, [FIX / "good_uk_case_different_terms.csv"], keep_unknown=True)
    rows = stored(db_file)
    upper, lower = (rows[rows["subject"] == t]["value"].tolist() for t in ("Нейронні мережі", "нейронні мережі"))
    assert upper == [0, 3, 0, 7, 1] and lower == [21, 19, 100, 56, 44]


def test_registry_terms_differing_only_by_case_are_refused_not_merged(tmp_path, db_file):
    path = tmp_path / "twice.csv"
    path.write_text("Category: All categories\n\nWeek,PyTorch: (Worldwide),pytorch: (Worldwide)\n2021-11-21,43,100\n2021-11-28,45,90\n")
    with pytest.raises(SourceError, match=r"the columns 'PyTorch', 'pytorch' map to the same framework \(pytorch\)"):
        trends_csv.run(db_file, [path])
    assert not db_file.exists()


def test_unknown_terms_are_refused_naming_them_and_the_flag(db_file):
    with pytest.raises(SourceError) as err:
        trends_csv.run(db_file, [FIX / "good_ru_worldwide_unknown_term.csv"])
    assert "'глубокое обучение' match no framework" in str(err.value) and "--keep-unknown" in str(err.value)
    with pytest.raises(SourceError, match=r"category-only export \(category '게임'.*--keep-unknown"):
        trends_csv.run(db_file, [FIX / "good_ko_category_only.csv"])
    assert not db_file.exists()


def test_new_ui_export_needs_its_region_and_refuses_a_contradicting_one(db_file):
    with pytest.raises(SourceError, match=r"its header names no region.*--geo CODE"):
        trends_csv.run(db_file, [FIX / "good_new_ui_no_region.csv"], keep_unknown=True)
    with pytest.raises(SourceError, match=r"says the region is 'Brasil' \(BR\) but --geo says US"):
        trends_csv.run(db_file, [FIX / "good_pt_brasil_weekly.csv"], geo="US")
    with pytest.raises(SourceError, match=r"region 'Atlantis Prime' is not a country or region name.*--geo CODE"):
        trends_csv.run(db_file, [FIX / "bad_unknown_region.csv"])
    assert not db_file.exists()
    trends_csv.run(db_file, [FIX / "bad_unknown_region.csv"], geo="GR")  # the user says where: stored under GR
    rows = stored(db_file)
    assert set(rows["variant"]) == {"GR|2021-11-21 2021-12-04|pytorch"}
    assert json.loads(rows.iloc[0]["detail"])["geo_name"] == "Atlantis Prime"


def test_header_stripped_and_localized_region_map_are_refused_with_what_to_do(db_file):
    with pytest.raises(SourceError) as err:
        trends_csv.run(db_file, [FIX / "bad_header_stripped.csv"])
    assert "no header line" in str(err.value) and "import it unedited" in str(err.value)
    with pytest.raises(SourceError) as err:
        trends_csv.run(db_file, [FIX / "bad_region_map_portuguese.csv"])
    assert "'Região' export (interest by region" in str(err.value) and "'Interest over time' chart" in str(err.value)


def test_same_request_is_stored_the_same_way_from_pytrends_and_from_a_csv(db_file, tmp_path):
    """A US request for 2018-01..2019-12 (monthly): same variant, same geo code in detail and link."""
    from ingest import trends, trends_scale

    parsed = trends_csv.read_file(FIX / "good_monthly_us_lowercase_terms.csv")
    values = parsed.values.rename(columns={"pytorch": "PyTorch", "TENSORFLOW": "TensorFlow"})
    fetched = trends.Fetched(["PyTorch", "TensorFlow"], trends.normalise_geo("us"), parsed.timeframe)
    fetched.batches = [trends_scale.Batch(["PyTorch", "TensorFlow"], values)]
    from pulse import db, store

    with store.tracked_run(db_file, trends.NAME) as run_, db.write_session(db_file) as con:
        trends.save(con, fetched, run_, tmp_path / "raw.json", {"PyTorch": "pytorch", "TensorFlow": "tensorflow"})
        run_.finish(con)
    trends_csv.run(db_file, [FIX / "good_monthly_us_lowercase_terms.csv"])
    rows = stored(db_file)
    by_source = {s: part for s, part in rows.groupby("source")}
    assert set(by_source["trends"]["variant"]) == set(by_source["trends_csv"]["variant"]) == {"US|2018-01-01 2019-12-31|pytorch+tensorflow"}
    details = {s: json.loads(part.iloc[0]["detail"]) for s, part in by_source.items()}
    assert details["trends"]["geo"] == details["trends_csv"]["geo"] == "US"
    for part in by_source.values():
        assert "geo=US" in part.iloc[0]["citation"] and "date=2018-01-01%202019-12-31" in part.iloc[0]["citation"]
    assert by_source["trends"]["value"].tolist() == by_source["trends_csv"]["value"].tolist()


def test_cli_keep_unknown_and_geo(db_file):
    args = ["ingest", "trends-csv", "--db", str(db_file)]
    no_region = CliRunner().invoke(main, args + [str(FIX / "good_new_ui_no_region.csv")])
    assert no_region.exit_code == 1 and "names no region" in no_region.output and "--geo CODE" in no_region.output
    refused = CliRunner().invoke(main, args + ["--geo", "world", str(FIX / "good_new_ui_no_region.csv")])
    assert refused.exit_code == 1 and "'deep learning' match no framework" in refused.output and "--keep-unknown" in refused.output
    assert "Traceback" not in refused.output
    result = CliRunner().invoke(main, args + ["--keep-unknown", "--geo", "world", str(FIX / "good_new_ui_no_region.csv")])
    assert result.exit_code == 0, result.output
    assert "good_new_ui_no_region.csv: 9 points, pytorch, tensorflow, 'deep learning' (world|2024-01-01 2024-03-31|" in result.output


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_spreadsheet_resave_with_its_locale_separator_still_imports(tmp_path, db_file, separator):
    text = (FIX / "good_pt_brasil_weekly.csv").read_text().replace(",", separator)
    path = tmp_path / "resaved.csv"
    path.write_text(text)
    trends_csv.run(db_file, [path])
    rows = stored(db_file)
    assert set(rows["variant"]) == {"BR|2019-05-19 2019-07-13|pytorch+tensorflow"}
    expected = file_values(FIX / "good_pt_brasil_weekly.csv")
    assert {(["pytorch", "tensorflow"].index(r.framework), str(r.date)[:10]): r.value for r in rows.itertuples()} == expected
