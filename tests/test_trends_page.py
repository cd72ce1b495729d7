"""The Trends page (AppTest): charts from one request, the relative-values note, the CSV upload box."""

from __future__ import annotations

from pathlib import Path

import base64

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ingest import trends_csv
from pulse.db import open_read

ROOT = Path(__file__).parent.parent
PAGE = str(ROOT / "app_pages" / "trends.py")
FIX = Path(__file__).parent / "fixtures" / "trends"


def count(db: Path) -> int:
    con = open_read(db)  # a private instance: sees the file the page's writer swapped in
    try:
        return con.execute("SELECT count(*) FROM observations WHERE metric = 'trends_interest'").fetchone()[0]
    finally:
        con.close()


def page(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("PULSE_DB", str(db))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def values(array) -> list:
    """Plotly 6 encodes arrays as {dtype, bdata} in JSON."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def charts(at: AppTest) -> list:
    import plotly.io as pio

    return [pio.from_json(c.proto.spec) for c in at.get("plotly_chart")]


def test_page_draws_interest_and_share_from_one_request(snapshot_db, monkeypatch):
    trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"])
    at = page(snapshot_db, monkeypatch)
    assert at.title[0].value == "Google Trends: search interest"
    note = at.info[0].value
    assert "Worldwide" in note and "2021-11-21 2022-03-12" in note and "Relative values" in note
    interest, share = charts(at)
    names = sorted(t.name for t in interest.data)
    assert names == ["JAX", "PyTorch", "TensorFlow"]  # Keras (a default) is not in this request
    pytorch = next(t for t in interest.data if t.name == "PyTorch")
    assert values(pytorch.y)[:3] == [43, 45, 44]
    assert len(share.data) == 3
    first_day = sum(values(t.y)[0] for t in share.data)
    assert first_day == pytest.approx(1.0)
    captions = " ".join(c.value for c in at.caption)
    assert "Google Trends web download (CSV) (Worldwide, 2021-11-21 2022-03-12, as of" in captions
    assert "Not in this request: Keras." in captions
    table = at.dataframe[0].value
    assert table["Variant"].tolist() == ["world|2021-11-21 2022-03-12|jax+pytorch+tensorflow"] and table["Points"].tolist() == [48]


def test_upload_imports_through_the_same_code_path(snapshot_db, monkeypatch):
    at = page(snapshot_db, monkeypatch)
    assert sum("no data yet" in m.value for m in at.markdown) == 1
    # The CSV route: a ready link to the same comparison on the Trends website.
    link = at.get("link_button")[0].proto
    assert link.url.startswith("https://trends.google.com/trends/explore?") and "PyTorch%2CTensorFlow%2CJAX%2CKeras" in link.url
    assert not at.get("plotly_chart") and not at.get("download_button")
    data = (FIX / "good_weekly_worldwide.csv").read_bytes()
    at.file_uploader(key="trends_upload").set_value(("multiTimeline.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert count(snapshot_db) == 48
    assert "Imported 48 Google Trends points" in at.success[0].value
    assert "pytorch, tensorflow, jax (Worldwide, world)" in at.success[0].value
    # the page reloaded on the new file: the request is listed and drawn
    assert "Worldwide" in at.info[0].value and len(at.get("plotly_chart")) == 2
    assert not at.error


def test_an_upload_shows_the_request_it_imported(snapshot_db, monkeypatch):
    """With a request already on screen, a new file's request is drawn (not the old one under a success message)."""
    trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"])
    at = page(snapshot_db, monkeypatch)
    assert "Worldwide" in at.info[0].value
    data = (FIX / "good_pt_brasil_weekly.csv").read_bytes()
    at.file_uploader(key="trends_upload").set_value(("multiTimeline.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert "Imported" in at.success[0].value
    picked = at.sidebar.selectbox(key="trends_request_pick").value
    assert picked.startswith("trends_csv:BR|"), picked
    assert "Worldwide" not in at.info[0].value


def test_switching_to_another_request_draws_its_own_search_terms(snapshot_db, monkeypatch):
    """The previous request's terms in the link must not leave the next request's charts empty."""
    trends_csv.run(snapshot_db, [FIX / "good_ru_worldwide_unknown_term.csv"], keep_unknown=True)
    at = page(snapshot_db, monkeypatch)
    assert at.sidebar.multiselect(key="trends_terms_pick").value == ["term:глубокое обучение"]
    at.checkbox(key="trends_keep_unknown").check().run()
    data = (FIX / "bad_unknown_term.csv").read_bytes()
    at.file_uploader(key="trends_upload").set_value(("multiTimeline.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert "Imported" in at.success[0].value
    assert at.sidebar.multiselect(key="trends_terms_pick").value == ["term:Chainer"]
    interest, _ = charts(at)
    assert sorted(t.name for t in interest.data) == ["PyTorch", "“Chainer”"]


def test_bad_upload_shows_a_clear_error_and_stores_nothing(snapshot_db, monkeypatch):
    at = page(snapshot_db, monkeypatch)
    data = (FIX / "bad_html_saved_as_csv.csv").read_bytes()
    at.file_uploader(key="trends_upload").set_value(("multiTimeline.csv", data, "text/csv")).run()
    assert not at.exception
    assert "web page (HTML) saved as .csv" in at.error[0].value and "Nothing was stored" in at.error[0].value
    assert count(snapshot_db) == 0


@pytest.mark.skipif(not (ROOT / "app_pages" / "overview.py").exists(), reason="needs the other pages (merged on main)")
def test_page_is_routed_from_app(snapshot_db, monkeypatch):
    trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"])
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("app_pages/trends.py").run()
    assert not at.exception
    assert at.title[0].value == "Google Trends: search interest"
    assert len(at.get("plotly_chart")) == 2


def test_other_search_terms_are_drawn_beside_the_frameworks(snapshot_db, monkeypatch):
    trends_csv.run(snapshot_db, [FIX / "good_ru_worldwide_unknown_term.csv"], keep_unknown=True)
    at = page(snapshot_db, monkeypatch)
    picker = at.sidebar.multiselect(key="trends_terms_pick")
    assert picker.value == ["term:глубокое обучение"] and picker.label == "Other search terms in this request"
    interest, share = charts(at)
    names = sorted(t.name for t in interest.data)
    assert names == ["PyTorch", "“глубокое обучение”"]
    other = next(t for t in interest.data if t.name == "“глубокое обучение”")
    assert other.line.dash == "dot"
    assert values(other.y) == [float(line.split(",")[2]) for line in (FIX / "good_ru_worldwide_unknown_term.csv").read_text().splitlines()[3:]]
    assert len(share.data) == 2
    assert "1 frameworks + 1 other terms" in at.dataframe[0].value["Request"].iloc[0]
    assert "and 1 other search terms" in at.info[0].value
    picker.set_value([]).run()  # the user hides it: only the frameworks remain
    assert not at.exception
    assert [t.name for t in charts(at)[0].data] == ["PyTorch"]


def test_upload_with_keep_unknown_and_a_region_for_a_file_that_names_none(snapshot_db, monkeypatch):
    at = page(snapshot_db, monkeypatch)
    data = (FIX / "good_new_ui_no_region.csv").read_bytes()
    at.file_uploader(key="trends_upload").set_value(("multiTimeline.csv", data, "text/csv")).run()
    assert "names no region" in at.error[0].value and count(snapshot_db) == 0
    at.text_input(key="trends_geo").set_value("world").run()
    assert "'deep learning' match no framework" in at.error[0].value and "Keep terms that match no framework" in at.error[0].value
    assert count(snapshot_db) == 0
    at.checkbox(key="trends_keep_unknown").check().run()
    assert not at.exception, at.exception
    assert count(snapshot_db) == 9
    assert "pytorch, tensorflow, 'deep learning' (Worldwide, world)" in at.success[0].value
