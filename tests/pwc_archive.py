"""Test helpers: small Papers with Code archive files and a loopback Hub that serves them.

Schema (SOURCES.md, "Papers with Code"): links file columns `paper_url, paper_title,
paper_arxiv_id, paper_url_abs, paper_url_pdf, repo_url, is_official (bool),
mentioned_in_paper (bool), mentioned_in_github (bool), framework (string)`; papers files
`paper_url, arxiv_id, title, abstract, url_abs, url_pdf, proceeding, authors, tasks, date,
methods`. Types not given there follow the PwC JSON dumps the archive was converted from:
authors/tasks lists of strings, methods a list of structs, date a 'YYYY-MM-DD' string.

The fake Hub's file listing encodes the Hub's `/api/datasets/{repo}/tree/{revision}?recursive=true`
answer (what huggingface_hub's HfApi.list_repo_tree reads): a JSON list of
`{"type": "file", "oid": <git blob sha1>, "size", "path", "lfs": {"oid": <sha256>, "size",
"pointerSize"}}` and `{"type": "directory", "oid", "size": 0, "path"}` entries, paginated by
`Link: <...?cursor=...>; rel="next"`.

The fake Hub encodes SOURCES.md's URL shape `{HF_ENDPOINT}/datasets/{repo}/resolve/{revision}/{path}`
and the Hub's resolve behaviour for LFS files (documented in ingest/download.py): HEAD and GET
answer 302 to a CDN URL with `X-Linked-Etag` (sha256), `X-Linked-Size`, `X-Repo-Commit`; the
CDN honours `Range: bytes=N-` with 206 + `Content-Range`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from werkzeug import Request, Response

COMMIT = "0123456789abcdef0123456789abcdef01234567"
# The archive's shard names as of 2025 (SOURCES.md): fixture layout only; the ingest lists them.
LINKS_FILES = ("data/train-00000-of-00001.parquet",)
PAPERS_FILES = tuple(f"data/train-0000{i}-of-00004.parquet" for i in range(4))

LINKS_SCHEMA = pa.schema([
    ("paper_url", pa.string()), ("paper_title", pa.string()), ("paper_arxiv_id", pa.string()),
    ("paper_url_abs", pa.string()), ("paper_url_pdf", pa.string()), ("repo_url", pa.string()),
    ("is_official", pa.bool_()), ("mentioned_in_paper", pa.bool_()), ("mentioned_in_github", pa.bool_()),
    ("framework", pa.string()),
])
METHOD = pa.struct([("name", pa.string()), ("full_name", pa.string()), ("description", pa.string())])
PAPERS_SCHEMA = pa.schema([
    ("paper_url", pa.string()), ("arxiv_id", pa.string()), ("title", pa.string()), ("abstract", pa.string()),
    ("url_abs", pa.string()), ("url_pdf", pa.string()), ("proceeding", pa.string()),
    ("authors", pa.list_(pa.string())), ("tasks", pa.list_(pa.string())), ("date", pa.string()),
    ("methods", pa.list_(METHOD)),
])

# Hand-made archive (synthetic). Hand-computed expectations are in test_paperswithcode_ingest.py.
PAPERS = [  # (slug, date)
    ("p1", "2020-01-15"), ("p2", "2020-02-10"), ("p3", "2020-03-30"),
    ("p4", "2020-05-01"), ("p5", "2020-06-01"), ("p7", "2020-04-04"),
    ("p6", None), ("p8", "2020-08-08"),
]
LINKS = [  # (paper slug, repo, is_official, framework)
    ("p1", "https://github.com/a/p1-official", True, "pytorch"),
    ("p1", "https://github.com/b/p1-tf", False, "tf"),
    ("p2", "https://github.com/a/p2", False, "pytorch"),
    ("p3", "https://github.com/c/p3", True, "none"),
    ("p3", "https://github.com/a/p3-port", False, "PyTorch"),
    ("p4", "https://github.com/d/p4", True, "mindspore"),
    ("p4", "https://github.com/e/p4-jax", False, "jax"),
    ("p6", "https://github.com/a/p6", False, "pytorch"),  # paper has no date: not in any quarter
    ("px", "https://github.com/f/px", False, "tf"),  # paper not in the papers files
    ("p8", "https://github.com/g/p8", True, "tf"),
]


def url(slug: str) -> str:
    return f"https://paperswithcode.com/paper/{slug}"


def links_table(rows=LINKS) -> pa.Table:
    return pa.Table.from_pylist([
        {"paper_url": url(s), "paper_title": f"Paper {s}", "paper_arxiv_id": None, "paper_url_abs": None,
         "paper_url_pdf": None, "repo_url": repo, "is_official": off, "mentioned_in_paper": off,
         "mentioned_in_github": not off, "framework": fw}
        for s, repo, off, fw in rows
    ], schema=LINKS_SCHEMA)


def papers_table(rows) -> pa.Table:
    return pa.Table.from_pylist([
        {"paper_url": url(s), "arxiv_id": f"2001.{i:05d}", "title": f"Paper {s}", "abstract": "synthetic abstract " * 5,
         "url_abs": None, "url_pdf": None, "proceeding": None, "authors": ["A. Author"], "tasks": ["Synthetic"],
         "date": d, "methods": [{"name": "m", "full_name": "Method", "description": "synthetic"}]}
        for i, (s, d) in enumerate(rows)
    ], schema=PAPERS_SCHEMA)


def write_archive(directory: Path) -> dict[str, bytes]:
    """Write the archive's five files under directory (Hub layout); return {'<repo>/<path>': bytes}."""
    from ingest import paperswithcode as pwc

    files: dict[str, bytes] = {}
    tables = [(pwc.LINKS_REPO, LINKS_FILES[0], links_table())]
    chunks = [PAPERS[0:3], PAPERS[3:6], PAPERS[6:7], PAPERS[7:]]
    tables += [(pwc.PAPERS_REPO, path, papers_table(rows)) for path, rows in zip(PAPERS_FILES, chunks, strict=True)]
    for repo, path, table in tables:
        target = directory / repo.split("/", 1)[1] / path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)
        files[f"{repo}/{path}"] = target.read_bytes()
    return files


@dataclass
class FakeHub:
    """Serves files like the Hub's resolve endpoint + CDN, with Range support and fault injection."""

    files: dict[str, bytes]  # '<repo>/<path>' -> bytes
    etags: dict[str, str] = field(default_factory=dict)  # override X-Linked-Etag per key
    cut_after: dict[str, int] = field(default_factory=dict)  # next CDN GET of key breaks after N bytes
    ignore_range: bool = False
    wrong_range: bool = False  # answer 206 for a different start than asked
    gets: list[tuple[str, str | None]] = field(default_factory=list)  # (key, Range header) per CDN GET
    heads: int = 0
    auth_seen: list[str | None] = field(default_factory=list)
    tree_page: int = 3  # entries per listing page (the Hub: 1,000)
    listings: int = 0

    def install(self, httpserver) -> None:
        httpserver.expect_request(re.compile(r"^/api/datasets/[^/]+/[^/]+/tree/.+")).respond_with_handler(self.tree)
        httpserver.expect_request(re.compile(r"^/datasets/.+/resolve/.+")).respond_with_handler(self.resolve)
        httpserver.expect_request(re.compile(r"^/cdn/.+")).respond_with_handler(self.cdn)

    def tree(self, request: Request) -> Response:
        import json

        repo = re.match(r"^/api/datasets/([^/]+/[^/]+)/tree/", request.path).group(1)
        self.listings += 1
        self.auth_seen.append(request.headers.get("Authorization"))
        entries, folders = [], set()
        for key in sorted(self.files):
            if not key.startswith(repo + "/"):
                continue
            path = key[len(repo) + 1:]
            parts = path.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            data = self.files[key]
            entries.append({"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": path,
                            "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}})
        entries += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)]
        entries.append({"type": "file", "oid": "1" * 40, "size": 12, "path": "README.md"})
        if not any(k.startswith(repo + "/") for k in self.files):
            return Response('{"error":"Repository not found"}', status=404, content_type="application/json")
        start = int(request.args.get("cursor", 0))
        page = entries[start:start + self.tree_page]
        headers = {}
        if start + self.tree_page < len(entries):
            headers["Link"] = f'<{request.host_url}api/datasets/{repo}/tree/main?recursive=true&cursor={start + self.tree_page}>; rel="next"'
        return Response(json.dumps(page), status=200, headers=headers, content_type="application/json")

    def _key(self, path: str) -> tuple[str, str]:
        match = re.match(r"^/datasets/(.+?/.+?)/resolve/([^/]+)/(.+)$", path)
        return f"{match.group(1)}/{match.group(3)}", match.group(2)

    def resolve(self, request: Request) -> Response:
        key, _revision = self._key(request.path)
        self.auth_seen.append(request.headers.get("Authorization"))
        if request.method == "HEAD":
            self.heads += 1
        if key not in self.files:
            return Response("Entry not found", status=404)
        data = self.files[key]
        headers = {
            "X-Linked-Etag": f'"{self.etags.get(key, hashlib.sha256(data).hexdigest())}"',
            "X-Linked-Size": str(len(data)),
            "X-Repo-Commit": COMMIT,
            "ETag": '"a1b2c3"',
            "Location": f"{request.host_url}cdn/{key}",
        }
        return Response(b"", status=302, headers=headers)

    def cdn(self, request: Request) -> Response:
        key = request.path[len("/cdn/"):]
        data = self.files[key]
        wanted = request.headers.get("Range")
        self.gets.append((key, wanted))
        start = 0
        if wanted and not self.ignore_range:
            start = int(re.match(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(data):
                return Response(b"", status=416, headers={"Content-Range": f"bytes */{len(data)}"})
        body = data[start:]
        status = 206 if start else 200
        headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes"}
        if status == 206:
            shown = start + 1 if self.wrong_range else start
            headers["Content-Range"] = f"bytes {shown}-{len(data) - 1}/{len(data)}"
        cut = self.cut_after.pop(key, None)
        if cut is not None:
            def broken():
                yield body[:cut]
                raise ConnectionResetError("synthetic interruption")
            return Response(broken(), status=status, headers=headers, direct_passthrough=True)
        return Response(body, status=status, headers=headers)
