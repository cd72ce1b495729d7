"""Claim checks and the Papers page on a synthetic archive with hand-chosen counts.

Synthetic archive (one link per paper, non-official):
  2020-08 (2020-Q3): pytorch 47, tf 18, none 35        -> soai-2020 47%, soai-2020-tf 18%
  2021-05 (2021-Q2): pytorch 60, tf 20, none 20
  2023-02 (2023-Q1): pytorch 59, tf 5, none 36 + 233 papers without code -> hn-2023 59%; 2023 papers with code 100/333
  2024-02 (2024-Q1): pytorch 80, tf 5, none 15 (last full quarter; a paper dated 2024-03-31 closes it)
Relative PyTorch/(PyTorch+TensorFlow) 2018-2022: (47 + 60) / (47 + 60 + 18 + 20) = 107/145.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from analytics import claims
from ingest import paperswithcode as pwc
from tests.pwc_archive import LINKS_FILES, PAPERS_FILES, links_table, papers_table

APP = Path(__file__).resolve().parent.parent / "app.py"

SPEC = {
    "2020-08-15": {"pytorch": 47, "tf": 18, "none": 35},
    "2021-05-15": {"pytorch": 60, "tf": 20, "none": 20},
    "2023-02-15": {"pytorch": 59, "tf": 5, "none": 36, None: 233},
    "2024-02-15": {"pytorch": 80, "tf": 5, "none": 15},
}


def write_synthetic(directory):
    papers, links = [], []
    for date, counts in SPEC.items():
        for framework, n in counts.items():
            for i in range(n):
                slug = f"{date}-{framework}-{i}"
                papers.append((slug, date))
                if framework is not None:
                    links.append((slug, f"https://github.com/{framework}/repo{i % 3}", False, framework))
    papers.append(("closing", "2024-03-31"))
    target = directory / "links-between-paper-and-code" / LINKS_FILES[0]
    target.parent.mkdir(parents=True)
    pq.write_table(links_table(links), target)
    quarter = len(papers) // 4 + 1
    for i, path in enumerate(PAPERS_FILES):
        target = directory / "papers-with-abstracts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(papers_table(papers[i * quarter:(i + 1) * quarter]), target)
    return directory


@pytest.fixture
def pwc_db(snapshot_db, tmp_path):
    pwc.run(snapshot_db, from_dir=write_synthetic(tmp_path / "synthetic"))
    return snapshot_db


def papers_page(**params) -> AppTest:
    """The Papers page through the app.py router when every routed page exists (the merged app),
    else the page file alone (this branch lacks the lead's pages, and st.Page refuses missing files)."""
    root = APP.parent
    pages = re.findall(r'st\.Page\("([^"]+)"', APP.read_text())
    assert "app_pages/papers.py" in pages and 'url_path="papers"' in APP.read_text()
    if all((root / page).exists() for page in pages):
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params.update(params)
        at.run()
        return at.switch_page("app_pages/papers.py").run()
    at = AppTest.from_file(str(root / "app_pages" / "papers.py"), default_timeout=60)
    at.query_params.update(params)
    return at.run()


def verdicts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = claims.check_all(con)
    finally:
        con.close()
    return frame.set_index("id")


def test_claims_not_checkable_without_data(snapshot_db):
    v = verdicts(snapshot_db)
    for claim_id in ("seed-pwc-68", "seed-pwc-92", "soai-2020", "soai-2020-tf", "hn-2023", "seed-pwc-30"):
        assert v.loc[claim_id, "status"] == claims.NOT_CHECKABLE
        assert "pulse ingest paperswithcode" in v.loc[claim_id, "measured"]


def test_claim_verdicts_name_variant_and_period(pwc_db):
    v = verdicts(pwc_db)
    soai = v.loc["soai-2020"]
    # 2020-10: read at 2020-Q3, the last complete quarter by then; 47% then, 80% in 2024-Q1.
    assert soai["verdict_value"] == pytest.approx(0.47) and soai["status"] == claims.OUTDATED
    assert "variant 'all'" in soai["basis"] and soai["measured_at"] == "2020-Q3"
    assert soai["measured"] == "PyTorch 47%" and soai["today"] == "PyTorch 80%" and soai["today_at"] == "2024-Q1"
    tf = v.loc["soai-2020-tf"]
    assert tf["verdict_value"] == pytest.approx(0.18) and tf["status"] == claims.OUTDATED
    hn = v.loc["hn-2023"]  # speaks of papers: distinct papers (here one link per paper, so the same 59%)
    assert hn["verdict_value"] == pytest.approx(0.59) and hn["measured_at"] == "2023-Q1" and "variant 'papers'" in hn["basis"]
    assert hn["status"] == claims.OUTDATED
    seed68 = v.loc["seed-pwc-68"]
    # 59% of 100 papers: two standard errors of a share of 100 is 9.8 points, so 68% is inside the source's precision.
    assert seed68["verdict_value"] == pytest.approx(0.59) and seed68["status"] == claims.SUPPORTED
    assert "within 9.8% of the claimed 68%" in seed68["explanation"]
    rel = v.loc["seed-pwc-92"]
    # Read at the end of its window (2022-Q4): the archive has no quarter near 2023-01, so it cannot say.
    assert rel["status"] == claims.NOT_CHECKABLE and "2018-02 to 2023-01" in rel["measured"]
    papers = v.loc["seed-pwc-30"]
    assert papers["verdict_value"] == pytest.approx(100 / 333, abs=1e-4) and papers["status"] == claims.OUTDATED
    assert "variant 'any'" in papers["basis"]


def test_chart_stacks_to_one_and_marks_the_end(pwc_db):
    from analytics import paperswithcode as analytics
    from analytics.charts import ChartOptions, catalog

    assert "pwc-implementation-share" in catalog() and catalog()["pwc-implementation-share"].page == "papers"
    con = duckdb.connect(str(pwc_db), read_only=True)
    try:
        result = analytics.implementation_share_chart(con, ChartOptions(frameworks=["pytorch"], extra={"variant": "all"}))
        known = analytics.implementation_share_chart(con, ChartOptions(frameworks=["pytorch", "tensorflow"], extra={"variant": "known"}))
        repos = analytics.top_repos(con, analytics.quarters(con)[0], ["pytorch", "tensorflow"], limit=2)
    finally:
        con.close()
    totals = result.data.groupby("date")["value"].sum()
    assert totals.to_numpy() == pytest.approx([1.0] * len(totals))
    assert set(result.data["series"]) == {"pytorch", "other", "none"}  # tf grouped as Other
    names = [t.name for t in result.figure.data]
    assert names == ["PyTorch", "Other frameworks", "No framework", "series end"]
    assert any("series ends 2024-Q1" in a.text for a in result.figure.layout.annotations)
    assert result.as_of.startswith("2024-Q1")
    assert "none" not in set(known.data["series"])
    assert known.data.loc[known.data["quarter"] == "2020-Q3"].set_index("series")["value"]["pytorch"] == pytest.approx(47 / 65)
    assert list(repos["framework"]) == ["pytorch", "pytorch", "tensorflow", "tensorflow"]
    assert repos.iloc[0]["papers"] == 27  # 80 pytorch papers over repo0..repo2: 27, 27, 26


def test_papers_page(pwc_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(pwc_db))
    at = papers_page()
    assert not at.exception
    assert at.title[0].value.startswith("Papers")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PyTorch"] == "80.0%" and metrics["Papers with code"] == "99.0%"  # 100 of 101 papers in 2024-Q1
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # conference mentions (embedded data), then the two Papers with Code charts
    spec = json.loads(charts[1].proto.spec)
    assert [t["name"] for t in spec["data"]][:2] == ["PyTorch", "TensorFlow"]
    assert any("2024-Q1" in c.value for c in at.caption)
    assert at.selectbox(key="papers_quarter").value == "2024-Q1"
    at.radio(key="papers_variant").set_value("known").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["PyTorch"] == "94.1%"  # 80 / 85
    at.selectbox(key="papers_quarter").set_value("2020-Q3").run()
    tables = at.dataframe
    assert len(tables) == 2 and tables[0].value.iloc[0]["Papers"] == 16  # 47 pytorch papers over 3 repos: 16, 16, 15


def test_papers_page_state_from_the_link(pwc_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(pwc_db))
    at = papers_page(variant="official", quarter="2021-Q2", frameworks="tensorflow")
    assert not at.exception
    assert at.radio(key="papers_variant").value == "official"
    assert at.selectbox(key="papers_quarter").value == "2021-Q2"
    assert len(at.dataframe) == 1 and at.dataframe[0].value["Papers"].sum() == 20  # 20 tf papers over 3 repos
    bad = papers_page(variant="bogus")
    assert any("Unknown variant 'bogus'" in w.value for w in bad.warning)


def test_papers_page_without_data(snapshot_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = papers_page()
    assert not at.exception
    cards = [m.value for m in at.markdown if "no data yet" in m.value]
    assert len(cards) == 1 and any("pulse ingest paperswithcode" in m.value for m in at.markdown)
    # The conference mentions ship with the snapshot: the page still shows real, cited data, and
    # only that chart (which has data) offers downloads.
    assert [c.key for c in at.get("plotly_chart")] == ["chart_papers_conferences"]
    assert all("conferences" in (b.key or "") for b in at.get("download_button"))
    assert at.selectbox(key="papers_conference").value == "all"


def test_papers_page_conference_selector(snapshot_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = papers_page(conference="ICLR")
    assert not at.exception and at.selectbox(key="papers_conference").value == "ICLR"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"]] == ["PyTorch", "TensorFlow"]
