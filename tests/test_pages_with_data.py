"""Every page with every source loaded (synthetic data, named so): what a reader sees is formatted.

One database holds Trends (a CSV fixture), Papers with Code (the synthetic archive), the Hub
(a synthetic hub-stats file) and probe results (synthetic runs) beside the embedded snapshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest import huggingface_bulk, trends_csv
from ingest import paperswithcode as pwc
from pulse import config, db, store
from tests.test_adoption_pages import synthetic_downloads, synthetic_questions
from tests.page_checks import assert_formatted
from tests.probe_synthetic import make_doc, write
from tests.test_huggingface_bulk import write_list_form
from tests.test_paperswithcode_claims import write_synthetic
from tests.test_probe_ingest import ingest as ingest_probe

PAGES = sorted(p.stem for p in (config.PROJECT_ROOT / "app_pages").glob("[!_]*.py"))
TRENDS_CSV = Path(__file__).parent / "fixtures" / "trends" / "good_weekly_worldwide.csv"


@pytest.fixture
def full_db(snapshot_db, tmp_path) -> Path:
    trends_csv.run(snapshot_db, [TRENDS_CSV])
    pwc.run(snapshot_db, from_dir=write_synthetic(tmp_path / "pwc"))
    huggingface_bulk.run(snapshot_db, write_list_form(tmp_path / "models.parquet"))
    results = tmp_path / "probe"
    write(results, make_doc(run_id="synthcpu0001", started_at="2026-11-20T10:00:00Z"))
    write(results, make_doc(run_id="synthh1000001", started_at="2026-11-21T09:00:00Z", device="cuda",
                            device_name="NVIDIA H100 80GB HBM3", host="synthetic-gpu", precisions=("fp32", "bf16")))
    assert ingest_probe(snapshot_db, results).exit_code == 0
    with db.write_session(snapshot_db) as con:  # synthetic PyPI downloads and Stack Overflow counts
        store.upsert_observations(con, synthetic_downloads())
        store.upsert_observations(con, synthetic_questions())
    return snapshot_db


@pytest.mark.parametrize("page", PAGES)
def test_page_with_data_is_formatted(full_db, monkeypatch, page):
    monkeypatch.setenv("PULSE_DB", str(full_db))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "app_pages" / f"{page}.py"), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert_formatted(at, page)
    if page in ("trends", "papers", "hub", "probe", "downloads", "community"):
        assert at.get("plotly_chart"), f"{page}: the loaded data draws charts"
        assert not any("no data yet." in m.value and "This page will" in m.value for m in at.markdown)
