"""Real Google Trends exports saved by other people (../shared/data/real/trends, SOURCES.tsv there).

Every genuine 'Interest over time' export must import with --keep-unknown, with exactly the
file's values and the right ISO 3166 region (or `world`); the wrong kinds are refused with what
to do. The files are read where they are (never copied into the project); skipped when absent.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pulse.cli import main
from pulse.config import PROJECT_ROOT

REAL = PROJECT_ROOT.parent / "shared" / "data" / "real" / "trends"
pytestmark = pytest.mark.skipif(not (REAL / "SOURCES.tsv").exists(), reason="../shared/data/real/trends is not here")

# file: (region, terms as searched, granularity, window). The region is the file's own, mapped
# to ISO 3166 (or world); the window ends at the end of the last row's week or month.
GENUINE = {
    'Allan-Calixto__DevSis_AC04__multiTimeline.csv': ('BR', ['python', 'html', 'java', 'Microsoft SQL Server', 'Microsoft Excel'], 'week', '2019-05-19 2020-05-16'),
    'Aramir-A1DATAINT__nlp_korean__multiTimeline.csv': ('KR', ['윤석열', '홍준표'], 'week', '2020-11-08 2021-11-06'),
    'BU-IE-360__spring22-Devrim1__multiTimeline.csv': ('world', ['Turkey Hotels'], 'week', '2017-04-16 2022-04-16'),
    'Bshabx2__LeagueOfLegendsTrends__multiTimeline.csv': ('US', ['league of legends'], 'month', '2004-01-01 2022-03-31'),
    'Casanova1582__FATAL-POLICE-SHOOTING-IS-IT-ON-THE-RISE-__multiTimeline.csv': ('US', ['fatal police shooting'], 'month', '2015-05-01 2021-05-31'),
    'ChoiVadim__ai_education_analys__multiTimeline.csv': ('world', ['ChatGPT for studying', 'AI learning tools', 'AI studying'], 'week', '2020-10-25 2025-11-01'),
    'Dinuk-Di__Autonomous-Trend-Analysis__multiTimeline.csv': ('IL', ['לוסי איוב'], 'week', '2019-07-07 2024-07-13'),
    'Eko7nanterre__Stocker-du-papier-toilette__multiTimeline.csv': ('US', ['toilet paper'], 'week', '2020-02-09 2022-04-16'),
    'HanytskaKateryna__-2022-2023-.__multiTimeline.csv': ('UA', ['Українське кіно', 'український кінематограф', 'українські фільми', 'українське кіно', 'сучасний український кінематограф'], 'week', '2022-01-02 2023-11-25'),
    'JonathanSHenry__google-trends-visualization__multiTimeline.csv': ('world', ['Gym and Fitness Centre', 'Weight loss'], 'week', '2013-01-06 2018-01-06'),
    'Karan3710__-AI-Powered-Google-Search-Trend-Analysis-Dashboard-Project-Overview__multiTimeline.csv': ('world', ['AI', 'Machine Learning', 'Data Science', 'Python', 'Deep Learning', 'Big Data', 'Neural Network', 'NLP'], 'month', '2004-01-01 2026-02-28'),
    'Kutinasi6364__scraping__multiTimeline.csv': ('world', ['カップケーキ'], 'month', '2004-01-01 2022-07-31'),
    'LuZhang0128__Computational-Content-Analysis-Project__multiTimeline.csv': ('US', ['black lives matter', 'blm'], 'month', '2013-01-01 2022-03-31'),
    'MatACENET__Dask-Tutorial__multiTimeline.csv': ('US', ['parallel'], 'week', '2019-06-02 2020-05-30'),
    'Nerosight__hacker-news-engagement-analysis__multiTimeline.csv': ('world', ['Xamarin Visual studio SDK'], 'month', '2014-01-01 2019-12-31'),
    'Sanmarcsoft__c2pa-generator-product__multiTimeline.csv': ('AT', ['Project Preserve Destiny'], 'week', '2020-07-19 2025-07-26'),
    'ValeatorioLab__allianz_vs_prima__multiTimeline.csv': ('IT', ['Allianz', 'Prima Assicurazioni'], 'month', '2020-01-01 2025-06-30'),
    'artsyhrstn__Analisis-Tagar-KaburAjaDulu__multiTimeline.csv': ('ID', ['kabur aja dulu'], 'day', '2024-12-26 2025-03-26'),
    'remisublette__GLP1-trends__multiTimeline.csv': ('US', ['ozempic', 'glp-1'], 'week', '2024-09-15 2025-09-20'),
    'sais202520107-bot__we-google-trend__multiTimeline__1_.csv': ('KR', ['게임'], 'month', '2008-04-01 2025-12-31'),
    'zremek__google-trends-ds-ml-ai__multiTimeline.csv': ('world', ['Big data', 'Uczenie maszynowe', 'Danologia', 'Sztuczna inteligencja'], 'month', '2008-01-01 2020-09-30'),
    'zremek__google-trends-ds-ml-ai__multiTimeline_1_.csv': ('world', ['Big data', 'Uczenie maszynowe', 'Danologia'], 'month', '2008-01-01 2020-09-30'),
}
# The redesigned Explore page's export names no region: the user states it (--geo); world here.
NO_REGION = {"Karan3710__-AI-Powered-Google-Search-Trend-Analysis-Dashboard-Project-Overview__multiTimeline.csv"}
REFUSED = {
    "EliottAppo__QIS_PreStage__multiTimeline.csv": ("no header line", "import it unedited"),
    "onflowai__trendflow__geoMap.csv": ("'Region' export (interest by region", "'Interest over time' chart"),
}
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def file_cells(path: Path) -> list[tuple[str, list[str]]]:
    """The test's own reading: (date, cells) for every dated line (csv module, nothing else)."""
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=None))
    out = []
    for cells in rows:
        if cells and DATE.match(cells[0].strip()):
            day = cells[0].strip()
            out.append((day if len(day) == 10 else day + "-01", [c for c in cells[1:] if c.strip()]))
    return out


def expected_value(cell: str) -> tuple[float, bool]:
    compact = "".join(cell.split())
    return (0.5, True) if compact == "<1" else (float(int(compact)), False)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("real") / "pulse.duckdb"
    regional = [str(REAL / f) for f in sorted(GENUINE) if f not in NO_REGION]
    result = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db), "--keep-unknown", *regional])
    assert result.exit_code == 0, result.output
    for name in sorted(NO_REGION):
        refused = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db), "--keep-unknown", str(REAL / name)])
        assert refused.exit_code == 1 and "names no region" in refused.output and "--geo CODE" in refused.output
        result = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db), "--keep-unknown", "--geo", "world", str(REAL / name)])
        assert result.exit_code == 0, result.output
    return db


def test_the_table_covers_every_file_in_the_folder():
    assert set(GENUINE) | set(REFUSED) == {p.name for p in REAL.glob("*.csv")}


@pytest.mark.parametrize("name", sorted(GENUINE))
def test_genuine_export_imports_with_exact_values_and_region(imported, name):
    geo, terms, granularity, window = GENUINE[name]
    con = duckdb.connect(str(imported), read_only=True)
    try:
        rows = con.execute(
            "SELECT subject, framework, date, value, variant, citation, detail FROM observations "
            "WHERE metric = 'trends_interest' AND detail LIKE ? ORDER BY date",
            [f'%"file": {json.dumps(name)}%'],
        ).df()
    finally:
        con.close()
    cells = file_cells(REAL / name)
    assert len(rows) == len(cells) * len(terms) and len(cells) > 0
    assert set(rows["variant"].str.split("|").str[0]) == {geo}
    assert set(rows["variant"].str.split("|").str[1]) == {window}
    stored = {(r.subject, str(r.date)[:10]): (r.value, json.loads(r.detail).get("below_one", False)) for r in rows.itertuples()}
    for day, values in cells:
        assert len(values) == len(terms)
        for term, cell in zip(terms, values, strict=True):
            assert stored[(term, day)] == expected_value(cell), (term, day, cell)
    detail = json.loads(rows.iloc[0]["detail"])
    assert detail["geo"] == geo and detail["granularity"] == granularity
    citation = rows.iloc[0]["citation"]
    assert ("geo=" not in citation) if geo == "world" else f"geo={geo}" in citation


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_wrong_kinds_are_refused_with_what_to_do(tmp_path, name):
    db = tmp_path / "pulse.duckdb"
    result = CliRunner().invoke(main, ["ingest", "trends-csv", "--db", str(db), "--keep-unknown", str(REAL / name)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    for fragment in REFUSED[name]:
        assert fragment in result.output
    assert "Nothing was stored" in result.output and not db.exists()
