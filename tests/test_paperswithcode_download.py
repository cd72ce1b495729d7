"""ingest/download.py against a loopback Hub (tests/pwc_archive.FakeHub, which documents the
Hub facts it encodes): redirects, Range resume, 200-ignoring-Range, 416, corrupt and
truncated files, caching, token handling."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import pytest

from ingest import download
from pulse.errors import SourceError
from tests.pwc_archive import COMMIT, FakeHub

KEY = "pwc-archive/links-between-paper-and-code/data/train-00000-of-00001.parquet"
DATA = bytes(range(256)) * 4096  # 1 MiB of synthetic bytes


@pytest.fixture
def hub(httpserver, monkeypatch):
    fake = FakeHub({KEY: DATA})
    fake.install(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    return fake


def _url() -> str:
    return download.hf_resolve_url("pwc-archive/links-between-paper-and-code", "data/train-00000-of-00001.parquet")


def test_downloads_verifies_and_records_metadata(hub, tmp_path):
    target = tmp_path / "raw" / "f.parquet"
    got = download.download(_url(), target)
    assert target.read_bytes() == DATA
    assert got.verified == ["size", "sha256"]
    assert got.sha256 == hashlib.sha256(DATA).hexdigest() and got.commit == COMMIT
    meta = json.loads(download.meta_path(target).read_text())
    assert meta["size"] == len(DATA) and meta["etag"] == got.sha256
    assert not download.part_path(target).exists()
    assert hub.gets == [(KEY, None)]


def test_second_run_downloads_nothing(hub, tmp_path):
    target = tmp_path / "f.parquet"
    download.download(_url(), target)
    again = download.download(_url(), target)
    assert again.fetched_bytes == 0 and again.path == target
    assert len(hub.gets) == 1  # only the first run fetched the body; the second made one HEAD
    assert hub.heads == 2


def test_changed_remote_file_is_downloaded_again(hub, tmp_path):
    target = tmp_path / "f.parquet"
    download.download(_url(), target)
    hub.files[KEY] = DATA[::-1]
    got = download.download(_url(), target)
    assert target.read_bytes() == DATA[::-1] and got.fetched_bytes == len(DATA)


def test_broken_transfer_is_resumed_within_the_same_call(hub, tmp_path):
    target = tmp_path / "f.parquet"
    hub.cut_after[KEY] = 300_000
    waits = []
    got = download.download(_url(), target, sleep=waits.append)
    assert waits == [1.0] and len(hub.gets) == 2
    assert hub.gets[0] == (KEY, None) and hub.gets[1][1] == f"bytes={got.resumed_from}-" and got.resumed_from > 0
    assert target.read_bytes() == DATA and got.verified == ["size", "sha256"] and got.requests == 4  # 2 HEAD + 2 GET


def test_interrupted_download_resumes_with_range(hub, tmp_path):
    target = tmp_path / "f.parquet"
    hub.cut_after[KEY] = 300_000
    with pytest.raises(SourceError, match="resumes") as err:
        download.download(_url(), target, retries=0)
    assert "broke off" in str(err.value)
    part = download.part_path(target)
    assert part.exists() and 0 < part.stat().st_size < len(DATA) and not target.exists()
    kept = part.stat().st_size
    got = download.download(_url(), target)
    assert hub.gets[-1] == (KEY, f"bytes={kept}-")
    assert got.resumed_from == kept and got.fetched_bytes == len(DATA) - kept
    assert target.read_bytes() == DATA and got.verified == ["size", "sha256"]


def test_client_side_interruption_resumes(hub, tmp_path):
    """Ctrl-C in the middle (the progress callback raises) leaves a .part that the next run resumes."""
    target = tmp_path / "f.parquet"

    def stop(name, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download.download(_url(), target, progress=stop)
    kept = download.part_path(target).stat().st_size
    assert 0 < kept < len(DATA)
    download.download(_url(), target)
    assert hub.gets[-1][1] == f"bytes={kept}-" and target.read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(hub, tmp_path):
    target = tmp_path / "f.parquet"
    hub.cut_after[KEY] = 200_000
    with pytest.raises(SourceError):
        download.download(_url(), target, retries=0)
    hub.ignore_range = True
    got = download.download(_url(), target)
    assert hub.gets[-1][1] is not None  # we asked for a range, got 200 with the whole file
    assert got.resumed_from == 0 and got.fetched_bytes == len(DATA) and target.read_bytes() == DATA


def test_206_for_another_range_is_refused_and_part_dropped(hub, tmp_path):
    target = tmp_path / "f.parquet"
    hub.cut_after[KEY] = 200_000
    with pytest.raises(SourceError):
        download.download(_url(), target, retries=0)
    hub.wrong_range = True
    with pytest.raises(SourceError, match="other than the one asked for"):
        download.download(_url(), target)
    assert not download.part_path(target).exists() and not target.exists()
    hub.wrong_range = False
    got = download.download(_url(), target)
    assert got.resumed_from == 0 and target.read_bytes() == DATA


def test_416_with_complete_part_is_verified_not_refetched(hub, tmp_path):
    target = tmp_path / "f.parquet"
    part = download.part_path(target)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(DATA)
    digest = hashlib.sha256(DATA).hexdigest()
    (part.parent / (part.name + ".json")).write_text(json.dumps({"etag": digest}))
    got = download.download(_url(), target)
    assert hub.gets == [(KEY, f"bytes={len(DATA)}-")]
    assert got.fetched_bytes == 0 and target.read_bytes() == DATA and got.verified == ["size", "sha256"]


def test_part_of_another_version_is_discarded(hub, tmp_path):
    target = tmp_path / "f.parquet"
    part = download.part_path(target)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"x" * 1000)
    (part.parent / (part.name + ".json")).write_text(json.dumps({"etag": "0" * 64}))
    download.download(_url(), target)
    assert hub.gets == [(KEY, None)] and target.read_bytes() == DATA


def test_corrupt_download_is_rejected_and_removed(hub, tmp_path):
    target = tmp_path / "f.parquet"
    hub.etags[KEY] = "f" * 64  # the Hub's checksum no longer matches the bytes served
    with pytest.raises(SourceError, match="corrupt") as err:
        download.download(_url(), target)
    assert "run the command again" in str(err.value)
    assert not target.exists() and not download.part_path(target).exists()
    assert not download.meta_path(target).exists()


def test_truncated_cached_file_is_fetched_again(hub, tmp_path):
    target = tmp_path / "f.parquet"
    download.download(_url(), target)
    target.write_bytes(DATA[:1000])  # damaged after the download
    got = download.download(_url(), target)
    assert got.fetched_bytes == len(DATA) and target.read_bytes() == DATA


def test_missing_file_says_what_to_check(hub, tmp_path):
    url = download.hf_resolve_url("pwc-archive/links-between-paper-and-code", "data/nope.parquet")
    with pytest.raises(SourceError, match="404") as err:
        download.download(url, tmp_path / "nope.parquet")
    assert "revision" in str(err.value)


def test_offline_uses_verified_cache(hub, tmp_path, monkeypatch):
    target = tmp_path / "f.parquet"
    download.download(_url(), target)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    got = download.download(_url(), target)
    assert got.path == target and got.fetched_bytes == 0


def test_token_sent_as_bearer_and_never_logged(hub, tmp_path, monkeypatch, caplog):
    secret = "hf_SyntheticSecretToken123"
    monkeypatch.setenv("HF_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "f.parquet"
    download.download(_url(), target)
    assert hub.auth_seen and all(a == f"Bearer {secret}" for a in hub.auth_seen)
    hub.files.clear()
    with pytest.raises(SourceError) as err:
        download.download(download.hf_resolve_url("pwc-archive/x", "y.parquet"), tmp_path / "y")
    assert secret not in str(err.value)
    assert secret not in caplog.text
    assert secret not in download.meta_path(target).read_text()


def test_progress_line_draws_a_bar():
    stream = io.StringIO()
    line = download.ProgressLine(stream, every=0)
    line("f.parquet", 50, 100)
    line("f.parquet", 100, 100)
    text = stream.getvalue()
    assert "50.0%" in text and "100.0%" in text and text.endswith("\n") and "#" * 24 in text
