"""Fuzzing the probe result parser (hypothesis): whatever the bytes, a clear refusal or a document
that stores cleanly; never a traceback (issue 14).

Documents start from a SYNTHETIC valid result (tests/probe_synthetic.py) and get random edits:
a leaf replaced by any JSON-ish value (NaN, infinities, huge integers, odd strings, nesting),
keys deleted, cases repeated, bytes re-encoded or cut. Accepted documents are saved into a
real (in-memory) DuckDB database with the project's schema.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import probe
from pulse import db, store
from pulse.errors import SourceError
from tests.probe_synthetic import make_doc

BASE = make_doc(run_id="synthfuzz001")

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaf_values = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -0.0, 5e-324, 2**53 + 1, 2**63, "", "ok", "NaN", "1e999", "\n", "\x00", "é" * 3]),
    st.text(max_size=30),
)
json_values = st.recursive(leaf_values, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


def _paths(node, prefix=()):
    """Every (container, key) position in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


PATHS = list(_paths(BASE))


def _set(doc, path, value, delete=False):
    node = doc
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


@st.composite
def edited_documents(draw) -> bytes:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(PATHS))
        try:
            if draw(st.booleans()):
                _set(doc, path, draw(json_values))
            else:
                _set(doc, path, None, delete=True)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit removed or replaced the parent
    if draw(st.booleans()) and isinstance(doc.get("cases"), list) and doc["cases"]:
        doc["cases"].append(copy.deepcopy(doc["cases"][0]))
    text = json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return data


def _store(doc: dict) -> None:
    """Save an accepted document into a fresh in-memory database with the project's schema."""
    con = duckdb.connect(":memory:")
    try:
        db.migrate(con)
        run = store.Run(source=probe.NAME)
        probe.save(con, [(Path("probe-fuzz.json"), doc)], run)
        values = [v for (v,) in con.execute("SELECT value FROM observations").fetchall()]
        assert all(math.isfinite(v) for v in values)
    finally:
        con.close()


def _check(data: bytes) -> None:
    try:
        doc = probe.parse(data, "probe-fuzz.json")
    except SourceError as exc:
        assert exc.message.strip() and "probe-fuzz.json" in exc.message
        return
    _store(doc)


@SETTINGS
@given(edited_documents())
def test_edited_documents_are_refused_clearly_or_stored_cleanly(data):
    _check(data)


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_clearly(data):
    _check(data)


@SETTINGS
@given(json_values)
def test_random_json_is_refused_clearly(value):
    _check(json.dumps(value, allow_nan=True).encode())


def test_the_unedited_document_is_accepted_and_stored():
    """The fuzz properties above would hold for a parser that refuses everything: not this one."""
    doc = probe.parse(json.dumps(BASE).encode(), "probe-fuzz.json")
    _store(doc)


@pytest.mark.parametrize("edit", [lambda d: d["cases"][0].update(tokens_per_s=float("nan")),
                                  lambda d: d["cases"][0].update(mfu=float("inf"))])
def test_non_finite_values_are_refused(edit):
    doc = copy.deepcopy(BASE)
    edit(doc)
    with pytest.raises(SourceError, match="not a number this schema accepts"):
        probe.parse(json.dumps(doc, allow_nan=True).encode(), "probe-fuzz.json")
