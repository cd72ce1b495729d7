"""Hostile and broken Google Trends input (issue 14): one clear message, exit 1, the database untouched.

Table-driven: each case builds its input (a file, a device, a FIFO, a full disk), runs the real
CLI, and checks the message fragment, the exit code, that no traceback is printed, that the
database file is byte-for-byte unchanged and that no raw copy was left behind. Then a fuzz test
(hypothesis) of the parser, and the pytrends route against servers that answer too slowly.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import trends, trends_csv
from pulse.cli import main
from pulse.errors import SourceError

FIX = Path(__file__).parent / "fixtures" / "trends"
GOOD = (FIX / "good_weekly_worldwide.csv").read_text()
HEAD = "Category: All categories\n\nWeek,PyTorch: (Worldwide),TensorFlow: (Worldwide)\n"


def write(tmp_path: Path, text: str | bytes, name: str = "multiTimeline.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def weekly(rows: list[str]) -> str:
    return HEAD + "\n".join(rows) + "\n"


def disk_full(tmp_path, monkeypatch) -> list[str]:
    """Every write(2) of the raw copy fails as on a full disk (ENOSPC)."""
    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(trends_csv.os, "write", no_space)
    return [str(FIX / "good_weekly_worldwide.csv")]


def fifo(tmp_path, monkeypatch) -> list[str]:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)  # nobody writes to it: opening it for reading would block for ever
    return [str(path)]


# (case, builder(tmp_path, monkeypatch) -> CLI arguments after `ingest trends-csv`, expected fragment)
CASES = [
    ("dev-zero", lambda t, m: ["/dev/zero"], "it is a device, not a regular file"),
    ("fifo", fifo, "it is a FIFO (named pipe), not a regular file"),
    ("directory", lambda t, m: [str(t)], "is a directory"),  # click refuses it first (exit 2, usage error)
    ("oversize", lambda t, m: [str(write(t, GOOD + "x" * trends_csv.MAX_BYTES))], "more than a Trends export can be"),
    ("4-MB-line", lambda t, m: [str(write(t, weekly(["2021-11-21,43," + "1" * 4_000_000])))], "line 4 is 4,000,014 characters long"),
    ("huge-quoted-field", lambda t, m: [str(write(t, HEAD + '2021-11-21,43,"' + ("9" * 9000 + "\n") * 20 + '"\n'))], "not a readable CSV"),
    ("binary", lambda t, m: [str(write(t, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))], "binary file"),
    ("utf-16-resave", lambda t, m: [str(write(t, GOOD.encode("utf-16")))], "it is UTF-16 text"),
    ("latin-1", lambda t, m: [str(write(t, "Catégorie: Toutes\n\nSemaine,PyTorch: (France)\n2021-01-03,1\n".encode("latin-1")))], "not UTF-8"),
    ("repeated-column", lambda t, m: [str(write(t, "Category: All categories\n\nWeek,PyTorch: (Worldwide),PyTorch: (Worldwide)\n2021-11-21,43,43\n2021-11-28,100,100\n"))],
     "the term 'PyTorch' is in two columns (2 and 3)"),
    ("case-twins-of-a-framework", lambda t, m: [str(write(t, "Category: All categories\n\nWeek,PyTorch: (Worldwide),pytorch: (Worldwide)\n2021-11-21,43,40\n2021-11-28,100,90\n"))],
     "map to the same framework (pytorch)"),
    ("year-0001", lambda t, m: [str(write(t, weekly(["0001-01-07,43,57", "0001-01-14,100,58"])))], "the date 0001-01-07, outside 1990-01-01.."),
    ("year-9998", lambda t, m: [str(write(t, weekly(["9998-01-04,43,57", "9998-01-11,100,58"])))], "the date 9998-01-04, outside 1990-01-01.."),
    ("impossible-date", lambda t, m: [str(write(t, weekly(["2021-02-30,43,57"])))], "starts with '2021-02-30', not a date"),
    ("newline-in-region", lambda t, m: [str(write(t, 'Category: All categories\n\nWeek,"PyTorch: (World\nwide)"\n2021-11-21,43\n2021-11-28,100\n'))],
     "holds a line break or control character"),
    ("value-101", lambda t, m: [str(write(t, weekly(["2021-11-21,43,101", "2021-11-28,100,58"])))], "the value '101'; Trends values are integers 0-100"),
    ("negative-value", lambda t, m: [str(write(t, weekly(["2021-11-21,-4,57", "2021-11-28,100,58"])))], "the value '-4'"),
    ("ragged-row", lambda t, m: [str(write(t, weekly(["2021-11-21,43", "2021-11-28,100,58"])))], "line 4 has 2 fields, the header has 3"),
    ("duplicate-date", lambda t, m: [str(write(t, weekly(["2021-11-21,43,57", "2021-11-21,100,58"])))], "the date 2021-11-21 appears twice"),
    ("one-row", lambda t, m: [str(write(t, weekly(["2021-11-21,100,57"])))], "it has one data row"),
    ("six-terms", lambda t, m: [str(write(t, "Category: x\n\nWeek," + ",".join(f"t{i}: (Worldwide)" for i in range(6)) + "\n2021-11-21,1,2,3,4,5,100\n2021-11-28,1,2,3,4,5,6\n")), "--keep-unknown"],
     "it has 6 terms; one Trends request compares at most 5"),
    ("long-preamble", lambda t, m: [str(write(t, "a: 1\nb: 2\nc: 3\nd: 4\n" + HEAD + "2021-11-21,43,57\n2021-11-28,100,58\n"))], "lines before the header"),
    ("header-removed", lambda t, m: [str(FIX / "bad_header_stripped.csv")], "it has no header line"),
    ("region-map-export", lambda t, m: [str(FIX / "bad_region_map_portuguese.csv")], "(interest by region or related queries)"),
    ("unknown-term", lambda t, m: [str(FIX / "bad_unknown_term.csv")], "Import it with --keep-unknown"),
    ("unknown-region", lambda t, m: [str(FIX / "bad_unknown_region.csv")], "Pass --geo CODE"),
    ("no-region", lambda t, m: [str(FIX / "good_new_ui_no_region.csv"), "--keep-unknown"], "its header names no region"),
    ("bad-geo-option", lambda t, m: [str(FIX / "good_new_ui_no_region.csv"), "--keep-unknown", "--geo", "Narnia"], "--geo 'Narnia' is not an ISO 3166 code"),
    ("geo-contradicts-file", lambda t, m: [str(FIX / "good_pt_brasil_weekly.csv"), "--geo", "DE"], "but --geo says DE"),
    ("disk-full-raw-copy", disk_full, "the disk is full"),
]


def invoke(args: list[str], seconds: float = 60.0):
    """The CLI in a thread, so a hang fails the test instead of stopping the suite."""
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("result", CliRunner().invoke(main, args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"`pulse {' '.join(args)[:80]}` still running after {seconds:.0f} s"
    return box["result"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case, build, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_message_and_changes_nothing(snapshot_db, tmp_path, monkeypatch, case, build, fragment):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    args = build(inputs, monkeypatch)
    before = digest(snapshot_db)
    result = invoke(["ingest", "trends-csv", "--db", str(snapshot_db), *args])
    assert result.exit_code in (1, 2), result.output  # 2: click's own usage error
    assert fragment in result.output, result.output
    assert "Error: " in result.output and "Traceback" not in result.output and len(result.output) < 1500
    assert "Nothing was stored" in result.output or result.exit_code == 2
    assert digest(snapshot_db) == before  # not one byte written: no data, no failed-run record
    raw = Path(os.environ["PULSE_RAW_DIR"])
    assert not raw.exists() or not any(p.is_file() for p in raw.rglob("*"))  # no raw copy, whole or partial


def test_disk_full_then_room_again_imports(snapshot_db, monkeypatch):
    """After ENOSPC nothing half-written blocks the next import."""
    real_write = os.write
    monkeypatch.setattr(trends_csv.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(SourceError, match="the disk is full"):
        trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"])
    monkeypatch.setattr(trends_csv.os, "write", real_write)
    assert trends_csv.run(snapshot_db, [FIX / "good_weekly_worldwide.csv"]).rows == 48


# --- Fuzz: whatever the bytes, the parser returns a file or raises one SourceError -------------

LINES = st.sampled_from([
    "Category: All categories", "Categoria: Todas as categorias", "类别：所有类别", "", ",", '"', '""', "Week,PyTorch: (Worldwide)",
    "Semana,pytorch: (Brasil),tensorflow: (Brasil)", "Month,JAX: (すべての国)", "Time,\"AI\",\"NLP\"", "Geo: 대한민국",
    "2021-11-21,43", "2021-11-28,100,57", "2004-01,<1", "2004-02,< 1", "2004-03,<\u00a01", "0001-01-01,1", "9999-12-31,1",
    "2021-02-30,4", "2021-11-21T05,3", "2021-11,101", "\ufeff", "\x00", "Region,PyTorch: (1/1/21 - 1/1/22)", "California,100",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=12), st.booleans(), st.sampled_from([None, "US", "world", "x"]))
def test_fuzz_structured_lines_never_escape_as_anything_but_source_error(lines, keep_unknown, geo):
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    try:
        parsed = trends_csv.parse("fuzz.csv", data, keep_unknown=keep_unknown, geo=geo)
    except SourceError as exc:
        assert str(exc).startswith("Cannot import fuzz.csv: ") and "Nothing was stored" in str(exc)
        return
    assert len(parsed.values) >= 2 and parsed.values.notna().all().all()
    assert ((parsed.values >= 0) & (parsed.values <= 100)).all().all()
    assert parsed.values.index.min().year >= trends_csv.FIRST_YEAR


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data):
    try:
        trends_csv.parse("fuzz.csv", data, keep_unknown=True)
    except SourceError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 100), st.just("<1")), min_size=2, max_size=30))
def test_fuzz_valid_files_round_trip_exactly(cells):
    weeks = [str(dt.date(2021, 1, 3) + dt.timedelta(weeks=i)) for i in range(len(cells))]
    text = "Kategori: Tüm kategoriler\n\nHafta,PyTorch: (Dünya Genelinde)\n" + "\n".join(f"{d},{c}" for d, c in zip(weeks, cells, strict=True))
    parsed = trends_csv.parse("ok.csv", text.encode())
    assert parsed.values["PyTorch"].tolist() == [0.5 if c == "<1" else float(c) for c in cells]
    assert parsed.below_one["PyTorch"].tolist() == [c == "<1" for c in cells]
    assert parsed.geo == "world" and parsed.granularity == "week"


# --- pytrends: bounded waits ---------------------------------------------------------------------

def drip_server() -> tuple[str, threading.Event]:
    """A server that accepts, then sends one byte of an HTTP answer every 0.3 s for ever."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()
        listener.close()

    def drip(conn):
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.3)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/trends", stop


def test_pytrends_request_that_drips_bytes_is_cut_at_the_deadline(monkeypatch):
    monkeypatch.setattr(trends, "REQUEST_DEADLINE", 1.5)
    base, stop = drip_server()
    try:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            trends.fetch_interest(["PyTorch"], base=base, backoff=trends.Backoff(max_attempts=1, sleep=lambda s: None))
        elapsed = time.monotonic() - started
    finally:
        stop.set()
    assert "did not answer the cookie request within 2 s" in str(err.value) and "trends-csv" in str(err.value)
    assert elapsed < 10


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1e12", "soon"])
def test_pytrends_max_wait_must_be_a_finite_number_of_seconds(monkeypatch, value):
    monkeypatch.setenv("PULSE_TRENDS_MAX_WAIT", value)
    with pytest.raises(SourceError, match="PULSE_TRENDS_MAX_WAIT="):
        trends.max_wait()


def test_pytrends_replay_of_a_fifo_or_device_is_refused(tmp_path):
    pipe = tmp_path / "raw.json"
    os.mkfifo(pipe)
    for path in (pipe, Path("/dev/zero")):
        with pytest.raises(SourceError, match="not a regular file"):
            trends.replay(path)


def test_pytrends_geo_must_be_a_code(db_file):
    with pytest.raises(SourceError, match="--geo 'United States' is not an ISO 3166 code"):
        trends.run(db_file, geo="United States")
    assert not db_file.exists()


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
def test_pytrends_answer_over_the_body_cap_is_refused(httpserver, monkeypatch, announced):
    from werkzeug import Response

    monkeypatch.setattr(trends, "MAX_BODY", 4096)
    body = b"x" * 50_000

    def handler(request):
        if announced:
            return Response(body)
        return Response(iter([body[i:i + 1000] for i in range(0, len(body), 1000)]), direct_passthrough=True)

    httpserver.expect_request("/trends/explore/").respond_with_handler(handler)
    with pytest.raises(SourceError) as err:
        trends.fetch_interest(["PyTorch"], base=httpserver.url_for("/trends"), backoff=trends.Backoff(max_attempts=1, sleep=lambda s: None))
    expected = "announced an answer of 50,000 bytes, over the 4,096 bytes cap" if announced else "answered with more than 4,096 bytes"
    assert expected in str(err.value) and "Traceback" not in str(err.value)
