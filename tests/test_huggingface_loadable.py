"""PyTorch on the Hub two ways: the `pytorch` tag, and PyTorch-loadable (a `transformers` model
with `safetensors` weights and no TF/Flax-only weights), from the API crawl and from hub-stats.

Synthetic models (the tag mixes seen in real answers: ../shared/data/real/huggingface shows
2025 transformers models with `safetensors` and no `pytorch` tag, and older ones with
`pytorch` + `tf` + `safetensors`). Hand-computed, every registry tag crawled:
- pytorch tag: s/bert-like, s/albert-like, s/pt-only -> 3
- loadable: s/kimi-like, s/albert-like, s/keras-st -> 3; tag or loadable: 5
- tf/keras models: s/albert-like, s/tf-st, s/keras-st, s/tf-only -> 4; with pytorch tag 1 (25%),
  tag or loadable 2 (50%)
- left out as uncertain (TF/Flax weights + safetensors, no pytorch): s/tf-st, s/flax-st -> 2
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest import huggingface
from ingest import huggingface_metrics as metrics
from ingest.huggingface_api import parse_page
from pulse import config
from tests.test_huggingface_api import FakeHub

PH = "2022-03-02T23:29:04.000Z"
MODELS = [
    {"_id": "1", "id": "s/kimi-like", "createdAt": "2025-11-04T08:25:31.000Z", "tags": ["transformers", "safetensors", "text-generation"]},
    {"_id": "2", "id": "s/bert-like", "createdAt": PH, "tags": ["transformers", "pytorch", "bert", "fill-mask"]},
    {"_id": "3", "id": "s/albert-like", "createdAt": PH, "tags": ["transformers", "pytorch", "tf", "safetensors", "albert"]},
    {"_id": "4", "id": "s/tf-st", "createdAt": "2023-05-01T00:00:00.000Z", "tags": ["transformers", "tf", "safetensors"]},
    {"_id": "5", "id": "s/flax-st", "createdAt": "2023-06-01T00:00:00.000Z", "tags": ["transformers", "jax", "safetensors"]},
    {"_id": "6", "id": "s/keras-st", "createdAt": "2024-01-15T00:00:00.000Z", "tags": ["keras", "transformers", "safetensors"]},
    {"_id": "7", "id": "s/diffusers-st", "createdAt": "2024-03-01T00:00:00.000Z", "tags": ["diffusers", "safetensors"]},
    {"_id": "8", "id": "s/tf-only", "createdAt": "2023-02-01T00:00:00.000Z", "tags": ["tf", "transformers"]},
    {"_id": "9", "id": "s/pt-only", "createdAt": "2024-04-01T00:00:00.000Z", "tags": ["pytorch"]},
]
REAL = config.PROJECT_ROOT.parent / "shared" / "data" / "real" / "huggingface"


def latest(db: Path, metric: str, variant: str, source: str) -> tuple[float, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        value, detail = con.execute(
            "SELECT value, detail FROM observations WHERE source = ? AND metric = ? AND framework = 'pytorch' AND variant = ? "
            "ORDER BY date DESC LIMIT 1", [source, metric, variant]).fetchone()
    finally:
        con.close()
    return value, json.loads(detail)


EXPECTED = {("hf_models", ""): 3, ("hf_models", metrics.LOADABLE): 3, ("hf_models", metrics.TAG_OR_LOADABLE): 5,
            ("hf_tf_keras_models_also_pytorch", ""): 0.25, ("hf_tf_keras_models_also_pytorch", metrics.TAG_OR_LOADABLE): 0.5}


@pytest.fixture
def hub(httpserver, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    fake = FakeHub(httpserver)
    fake.models = MODELS
    return fake


def test_api_crawl_stores_both_pytorch_counts_with_their_definition(hub, db_file):
    run = huggingface.run(db_file)
    assert run.status == "ok"
    for (metric, variant), value in EXPECTED.items():
        assert latest(db_file, metric, variant, "huggingface")[0] == pytest.approx(value), (metric, variant)
    _, detail = latest(db_file, "hf_models", metrics.LOADABLE, "huggingface")
    assert detail["definition"] == metrics.LOADABLE_DEFINITION and detail["tf_flax_with_safetensors"] == 2
    _, also = latest(db_file, "hf_tf_keras_models_also_pytorch", metrics.TAG_OR_LOADABLE, "huggingface")
    assert also["tf_keras"] == 4 and also["also_pytorch"] == 2


def test_hub_stats_file_gives_the_same_numbers(tmp_path, db_file):
    rows = [{"id": m["id"], "createdAt": m["createdAt"], "tags": m["tags"]} for m in MODELS]
    path = tmp_path / "models.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert huggingface.run(db_file, hub_stats=path).status == "ok"
    for (metric, variant), value in EXPECTED.items():
        assert latest(db_file, metric, variant, "hub_stats")[0] == pytest.approx(value), (metric, variant)


def test_crawls_of_an_older_version_do_not_give_a_loadable_count(hub, db_file):
    huggingface.run(db_file)
    con = duckdb.connect(str(db_file))
    con.execute("UPDATE ingest_runs SET detail = json_object('tags', 'all') WHERE source = 'huggingface'")  # no stored_tags
    con.execute("UPDATE hf_models SET tags = list_filter(tags, lambda t: t <> 'safetensors')")
    con.close()
    run = huggingface.run(db_file, ["keras"], refresh=True)  # recounts; transformers' crawl is an old one
    assert any("PyTorch-loadable variants wait" in n and "--refresh" in n for n in run.detail["notes"])
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM observations WHERE variant = ?", [metrics.LOADABLE]).fetchone()[0] == 0
    finally:
        con.close()


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real/huggingface not present")
def test_real_hub_answers_are_classified_as_documented():
    """Real /api/models entries: 2025 transformers models with safetensors and no pytorch tag are
    PyTorch-loadable but not `pytorch`; bert (pytorch, no safetensors) the reverse; albert both."""
    known = frozenset(metrics.all_tags())
    listing = json.loads((REAL / "burncloud__api_models_default_listing_2025-11.json").read_text())
    models, skipped = parse_page(listing, known)
    assert skipped == 0 and [m.id for m in models] == ["moonshotai/Kimi-K2-Thinking", "MiniMaxAI/MiniMax-M2"]
    for model in models:
        assert "safetensors" in model.tags and "pytorch" not in model.tags
        assert metrics.is_pytorch_loadable(model.tags)
    bert = json.loads((REAL / "unknown-lua-plugin__api_models_bert_trimmed.json").read_text())[0]
    albert = json.loads((REAL / "unknown-ts-app__api_models_albert_2023.json").read_text())[0]
    assert "pytorch" in bert["tags"] and not metrics.is_pytorch_loadable(bert["tags"])
    assert "pytorch" in albert["tags"] and metrics.is_pytorch_loadable(albert["tags"])
    # Neither has createdAt (listed without expand[]): the crawl, which always expands, would skip them.
    assert parse_page([bert, albert], known) == ([], 2)
    # The vectorised test used for the counts agrees with the per-model one on every real entry.
    bits = metrics.all_tags()
    for tags in [m["tags"] for m in listing] + [bert["tags"], albert["tags"]]:
        assert bool(metrics.loadable_masks([metrics.mask_of(tags, bits)], bits)[0]) == metrics.is_pytorch_loadable(tags)


def test_hub_page_names_the_basis_of_each_chart(snapshot_db, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from ingest import huggingface_bulk
    from tests.test_huggingface_bulk import write_list_form

    # A chart without data draws the empty-state card and no basis line: load (synthetic) Hub data.
    huggingface_bulk.run(snapshot_db, write_list_form(tmp_path / "models.parquet"))
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "app_pages" / "hub.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    bases = [c.value for c in at.caption if c.value.startswith("Basis:")]
    assert len(bases) == 3  # one per chart: models, share, also-on-PyTorch
    assert "`pytorch` tag" in bases[0] and "`pytorch-loadable`" in bases[0]
    assert "`pytorch-tag-or-loadable`" in bases[2]
