"""Hugging Face bulk path: a small generated hub-stats models.parquet (synthetic), read with DuckDB.

The file holds the 11 valid models of tests/fixtures/http/huggingface/models.json plus two
untagged models (2023-05, library diffusers) and one model without a creation time.
Hand-computed (as of the newest createdAt, 2024-02-01):
- hf_models: pytorch 6, tensorflow 5, keras 3, jax 1 (as in test_huggingface_api.py)
- hf_models_total: 3 on 2022-03-02 (placeholder), 4 on 2022-03-31, 12 on 2023-05-31,
  14 on 2024-02-01 (every row, the undated one included)
- hf_tf_keras_models_also_pytorch 2/7; hf_model_share (default frameworks) pytorch 6/11
- library_name, all models: transformers 4, keras 3, timm 2, diffusers 2, (none) 2, tf-keras 1;
  pytorch-tagged: transformers 3, timm 2, (none) 1
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest import huggingface, huggingface_bulk
from pulse.errors import SourceError

FIXTURE = Path(__file__).parent / "fixtures" / "http" / "huggingface" / "models.json"
LIBRARIES = {"m/old-pt-tf": "transformers", "m/old-tf": "transformers", "m/pt-2022-03": "transformers", "m/tf-2022-04": "transformers",
             "m/old-keras": "keras", "m/keras-2022-04": "keras", "m/keras-2023-01": "keras", "m/jax-2022-05": None,
             "m/pt-2022-05": "timm", "m/pt-2024-02": "timm", "m/tf-2023-01": "tf-keras"}


def synthetic_rows() -> list[dict]:
    rows = []
    for m in json.loads(FIXTURE.read_text()):
        if m.get("id") in LIBRARIES:
            created = dt.datetime.fromisoformat(m["createdAt"].replace("Z", "+00:00"))
            rows.append({"id": m["id"], "created": created, "tags": m["tags"], "library_name": LIBRARIES[m["id"]]})
    rows += [
        {"id": "s/untagged-1", "created": dt.datetime(2023, 5, 1, tzinfo=dt.UTC), "tags": ["diffusers", "safetensors"], "library_name": "diffusers"},
        {"id": "s/untagged-2", "created": dt.datetime(2023, 5, 9, tzinfo=dt.UTC), "tags": ["safetensors"], "library_name": "diffusers"},
        {"id": "s/undated", "created": None, "tags": ["gguf"], "library_name": None},
    ]
    return rows


def write_list_form(path: Path) -> Path:
    """The real shape: createdAt timestamp (UTC), tags list<string>, library_name string."""
    rows = synthetic_rows()
    table = pa.table({
        "id": [r["id"] for r in rows],
        "author": [r["id"].split("/")[0] for r in rows],
        "createdAt": pa.array([r["created"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "downloads": [10] * len(rows),
        "likes": [1] * len(rows),
        "tags": pa.array([r["tags"] for r in rows], pa.list_(pa.string())),
        "pipeline_tag": [None] * len(rows),
        "library_name": [r["library_name"] for r in rows],
    })
    pq.write_table(table, path)
    return path


def write_string_form(path: Path) -> Path:
    """A variant: created_at as ISO text, tags as JSON text, no library_name column."""
    rows = synthetic_rows()
    table = pa.table({
        "id": [r["id"] for r in rows],
        "created_at": [r["created"].strftime("%Y-%m-%dT%H:%M:%S.000Z") if r["created"] else None for r in rows],
        "tags": [json.dumps(r["tags"]) for r in rows],
    })
    pq.write_table(table, path)
    return path


def values(db: Path, metric: str, framework: str, variant: str = "") -> dict[str, float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT date, value FROM observations WHERE source = 'hub_stats' AND metric = ? AND framework = ? AND variant = ? ORDER BY date",
                           [metric, framework, variant]).fetchall()
    finally:
        con.close()
    return {str(d): v for d, v in rows}


def test_list_form_gives_hand_computed_metrics(tmp_path, db_file):
    path = write_list_form(tmp_path / "models.parquet")
    run = huggingface.run(db_file, hub_stats=path)
    assert run.status == "ok" and run.detail["rows"] == 14 and run.detail["undated_rows"] == 1
    assert run.detail["as_of"] == "2024-02-01" and run.detail["library_name"] is True
    assert values(db_file, "hf_models", "pytorch")["2024-02-01"] == 6
    assert values(db_file, "hf_models", "tensorflow")["2024-02-01"] == 5
    assert values(db_file, "hf_models", "keras")["2024-02-01"] == 3
    assert values(db_file, "hf_models", "jax")["2024-02-01"] == 1
    total = values(db_file, "hf_models_total", "all")
    assert (total["2022-03-02"], total["2022-03-31"], total["2023-05-31"], total["2024-02-01"]) == (3, 4, 12, 14)
    assert values(db_file, "hf_models_new", "tensorflow", "created_before_2022_03_02") == {"2022-03-02": 2}
    assert values(db_file, "hf_tf_keras_models_also_pytorch", "pytorch")["2024-02-01"] == pytest.approx(2 / 7)
    assert values(db_file, "hf_model_share", "pytorch", "default-frameworks")["2024-02-01"] == pytest.approx(6 / 11)
    con = duckdb.connect(str(db_file), read_only=True)
    libs = dict(con.execute("SELECT variant, value FROM observations WHERE metric = 'hf_models_by_library' AND framework = 'all'").fetchall())
    pt_libs = dict(con.execute("SELECT variant, value FROM observations WHERE metric = 'hf_models_by_library' AND framework = 'pytorch'").fetchall())
    provenance = con.execute("SELECT DISTINCT source, citation, raw_file, run_id FROM observations WHERE source = 'hub_stats'").fetchall()
    con.close()
    assert libs == {"transformers": 4, "keras": 3, "timm": 2, "diffusers": 2, "(none)": 2, "tf-keras": 1}
    assert pt_libs == {"transformers": 3, "timm": 2, "(none)": 1}
    assert provenance == [("hub_stats", huggingface_bulk.CITATION, str(path), run.run_id)]


def test_string_form_without_library_name_gives_the_same_counts(tmp_path, db_file):
    path = write_string_form(tmp_path / "models.parquet")
    run = huggingface_bulk.run(db_file, path)
    assert run.detail["tags_type"] == "VARCHAR" and run.detail["created_column"] == "created_at"
    assert run.detail["library_name"] is False
    assert values(db_file, "hf_models", "pytorch")["2024-02-01"] == 6
    assert values(db_file, "hf_tf_keras_models_also_pytorch", "pytorch")["2024-02-01"] == pytest.approx(2 / 7)
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT count(*) FROM observations WHERE metric = 'hf_models_by_library'").fetchone()[0] == 0
    con.close()


def test_reloading_the_same_file_is_idempotent(tmp_path, db_file):
    path = write_list_form(tmp_path / "models.parquet")
    first = huggingface_bulk.run(db_file, path)
    con = duckdb.connect(str(db_file), read_only=True)
    count = con.execute("SELECT count(*) FROM observations WHERE source = 'hub_stats'").fetchone()[0]
    con.close()
    second = huggingface_bulk.run(db_file, path)
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT count(*) FROM observations WHERE source = 'hub_stats'").fetchone()[0] == count == first.rows == second.rows
    con.close()


def test_bad_files_fail_cleanly_and_leave_the_database(tmp_path, snapshot_db):
    with pytest.raises(SourceError, match="No hub-stats file"):
        huggingface_bulk.run(snapshot_db, tmp_path / "missing.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(SourceError, match="Cannot read .* as Parquet"):
        huggingface_bulk.run(snapshot_db, junk)
    no_tags = tmp_path / "no_tags.parquet"
    pq.write_table(pa.table({"id": ["a"], "createdAt": [dt.datetime(2023, 1, 1)]}), no_tags)
    with pytest.raises(SourceError, match="lacks a tags column; it has: id, createdAt"):
        huggingface_bulk.run(snapshot_db, no_tags)
    con = duckdb.connect(str(snapshot_db), read_only=True)
    assert con.execute("SELECT count(*) FROM observations WHERE source = 'hub_stats'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM ingest_runs WHERE source = 'hub_stats' AND status = 'failed'").fetchone()[0] == 3
    con.close()


def test_cli_hub_stats(tmp_path, db_file):
    from pulse.cli import main

    path = write_list_form(tmp_path / "models.parquet")
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--hub-stats", str(path)])
    assert result.exit_code == 0, result.output
    assert "14 models in" in result.output and "as of 2024-02-01" in result.output
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--hub-stats", str(tmp_path / "nope.parquet")])
    assert result.exit_code == 1 and "No hub-stats file" in result.output and "Traceback" not in result.output
