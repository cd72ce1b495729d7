"""Our GitHub parsers against real GitHub answers recorded by other projects.

The answers live in ../shared/data/real/github (SOURCES.tsv names each one's repository, path and
commit); they are served byte for byte, with their recorded status and headers, over loopback.
Skipped when that folder is absent: tests/github_fake.py covers the same shapes with our own data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from ingest import github
from ingest.github_history import HistoryRejected, parse_starred_page
from ingest.github_http import GitHubClient, last_page
from pulse import registry
from pulse.errors import RateLimited, SourceError

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real" / "github"
pytestmark = pytest.mark.skipif(not (REAL / "SOURCES.tsv").exists(), reason="no real GitHub answers in ../shared/data/real/github")
# Transport headers describe the recorded bytes (gzip, chunks), not the body we serve.
TRANSPORT = {"status", "content-length", "content-encoding", "transfer-encoding", "connection"}


def real(name: str) -> tuple[str, int, dict]:
    """(body text, status, response headers) of one recorded answer."""
    body = (REAL / f"{name}.json").read_text()
    meta_file = REAL / f"{name}.headers.json"
    if not meta_file.exists():
        return body, 200, {"Content-Type": "application/json; charset=utf-8"}
    meta = json.loads(meta_file.read_text())
    headers = {k: v for k, v in meta["response_headers"] if k.lower() not in TRANSPORT}
    return body, meta["status"], headers


def serve(httpserver, path: str, name: str, **replace) -> dict:
    body, status, headers = real(name)
    headers.update(replace)
    httpserver.expect_request(path).respond_with_response(Response(body, status=status, headers=headers))
    return headers


def client(httpserver, tmp_path, **kwargs) -> GitHubClient:
    return GitHubClient(httpserver.url_for("/").rstrip("/"), raw_root=tmp_path / "raw", sleep=lambda s: None, **kwargs)


def framework(full_name: str) -> registry.Framework:
    return dataclasses.replace(registry.get("pytorch"), github=(full_name,), github_former=())


def test_sources_list_names_every_file():
    listed = {line.split("\t")[0] for line in (REAL / "SOURCES.tsv").read_text().splitlines()[1:] if line.strip()}
    assert listed and all((REAL / f).exists() for f in listed)


@pytest.mark.parametrize("name, full_name", [
    ("PyGithub__PyGithub__repo_PyGithub-PyGithub", "PyGithub/PyGithub"),  # 2025, API 2022-11-28, weak ETag
    ("PyGithub__PyGithub__repo_danvk-comparea", "danvk/comparea"),  # 2015 field set
    ("octokit__fixtures__repo_octokit-fixture-org-hello-world", "octokit-fixture-org/hello-world"),
    ("dogsheep__github-to-sqlite__repo", "dogsheep/github-to-sqlite"),  # body only
])
def test_real_repository_answers_parse_into_the_four_counts(httpserver, tmp_path, name, full_name):
    headers = serve(httpserver, f"/repos/{full_name}", name)
    expected = json.loads(real(name)[0])
    repo = github.fetch_repo(client(httpserver, tmp_path), framework(full_name))
    assert repo.full_name == full_name and repo.former == []
    rows = github.count_rows(repo, "run")
    assert dict(zip(rows["metric"], rows["value"])) == {metric: expected[field] for metric, field in github.COUNT_FIELDS.items()}
    assert set(rows["citation"]) == {expected["html_url"]}
    etag = next((v for k, v in headers.items() if k.lower() == "etag"), None)
    assert repo.reply.etag == etag


def test_a_real_weak_etag_is_sent_back_and_its_304_answered_from_the_kept_body(httpserver, tmp_path):
    body, _, headers = real("PyGithub__PyGithub__repo_PyGithub-PyGithub")
    etag = headers["ETag"]
    assert etag.startswith('W/"')

    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, status=200, headers=headers)

    httpserver.expect_request("/repos/PyGithub/PyGithub").respond_with_handler(answer)
    first = client(httpserver, tmp_path)
    first.get("/repos/PyGithub/PyGithub", slug="x", name="repo")
    second = client(httpserver, tmp_path, etags=first.new_etags)
    reply = second.get("/repos/PyGithub/PyGithub", slug="x", name="repo")
    assert reply.not_modified and reply.data["stargazers_count"] == 7122


def test_the_real_rate_limit_answer_stops_cleanly(httpserver, tmp_path):
    serve(httpserver, "/repos/a/b", "PyGithub__PyGithub__rate_limit_exceeded")  # 403, lower-case headers, no reset
    with pytest.raises(RateLimited, match=r"rate limit reached \(HTTP 403\)") as info:
        client(httpserver, tmp_path).get("/repos/a/b", slug="a__b", name="repo")
    assert info.value.reset_at is None and "GITHUB_TOKEN is not set" in str(info.value)


def test_the_real_rename_redirect_to_api_github_com_is_not_followed_from_another_base(httpserver, tmp_path):
    serve(httpserver, "/repos/octokit-fixture-org/old-name", "octokit__fixtures__repo_renamed_301")
    with pytest.raises(SourceError, match=r"was redirected to https://api.github.com, another server than http://localhost:\d+"):
        github.fetch_repo(client(httpserver, tmp_path, token="ghp_" + "x" * 36), framework("octokit-fixture-org/old-name"))


def test_the_real_rename_redirect_on_the_same_server_is_followed(httpserver, tmp_path):
    serve(httpserver, "/repos/octokit-fixture-org/old-name", "octokit__fixtures__repo_renamed_301",
          Location=httpserver.url_for("/repositories/515436299"))
    serve(httpserver, "/repositories/515436299", "octokit__fixtures__repo_octokit-fixture-org-hello-world")
    repo = github.fetch_repo(client(httpserver, tmp_path), framework("octokit-fixture-org/old-name"))
    assert repo.full_name == "octokit-fixture-org/hello-world" and repo.former == ["octokit-fixture-org/old-name"]
    assert repo.reply.final_url.endswith("/repositories/515436299")


@pytest.mark.parametrize("name, first_day", [
    ("PyGithub__PyGithub__stargazers_starred_at_danvk-comparea", dt.date(2014, 8, 13)),  # v3.star+json, 2015
    ("dogsheep__github-to-sqlite__stargazers", dt.date(2019, 9, 8)),  # star+json, 2019
])
def test_real_starred_at_pages_parse(name, first_day):
    data = json.loads(real(name)[0])
    stamps = parse_starred_page(data, 1)
    assert len(stamps) == len(data) and stamps[0].date() == first_day
    assert all(s.tzinfo is not None for s in stamps)


def test_a_real_plain_stargazer_page_is_refused_with_the_reason_and_its_link_read():
    body, _, headers = real("PyGithub__PyGithub__stargazers_plain_page1")
    with pytest.raises(HistoryRejected, match=r"no starred_at \(was it asked with Accept: application/vnd.github.star\+json\?\)"):
        parse_starred_page(json.loads(body), 1)
    assert last_page(headers["link"]) == 3
