"""Reusable file downloads: streamed, resumable (HTTP Range), verified, cached under raw_dir().

What the Hugging Face Hub sends for `{HF_ENDPOINT}/{repo}/resolve/{revision}/{path}`
(huggingface_hub's `get_hf_file_metadata` reads the same headers):
- a HEAD (no redirects followed) on an LFS file answers 302 to a CDN, with
  `X-Linked-Etag: "<sha256 of the file>"`, `X-Linked-Size: <bytes>` and
  `X-Repo-Commit: <40-hex commit>`; `Location` is the CDN URL (for Xet-backed repos
  `cas-bridge.xethub.hf.co`, plus `X-Xet-Hash` and a `rel="xet-auth"` Link that only the Xet
  protocol needs). The 302's own Content-Length is the redirect body's, not the file's;
- a small (non-LFS) file answers 200 with `ETag: "<git blob sha1>"` (not a sha256) and
  `Content-Length`; the ETag may carry a weak `W/` prefix;
- renamed repos and some small files answer a relative 307 (to the new name, or to
  `/api/resolve-cache/...`), which we follow;
- the CDN honours `Range: bytes=N-` with 206 and `Content-Range`.

So: size comes from X-Linked-Size, else Content-Length; a checksum is verified only when the
ETag is a 64-hex sha256 (LFS files). A file is cached at `raw_dir()/<source>/<path>` with a
sidecar `<file>.meta.json`; a second run with the same remote ETag downloads nothing. A
download in progress lives in `<file>.part` (+ `.part.json` with the ETag it belongs to) and
is resumed with `Range` after an interruption.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests

from ingest.http import DEFAULT_TIMEOUT, make_session, safe_url, same_origin
from ingest.progress import Progress, ProgressLine, log_progress  # noqa: F401  (re-exported)
from pulse import config
from pulse.errors import SourceError

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # small reads: a broken connection loses at most one chunk
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
# A JSON answer (a listing page) larger than this is refused rather than held in memory:
# a real 1,000-entry page is about 1 MB.
MAX_JSON_BYTES = 32 << 20
MAX_TREE_PAGES = 200  # a dataset of 200,000 files is not the archive; stop rather than loop


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1  # unparsable port: matches nothing
    return scheme, (parts.hostname or "").lower(), port


def page_key(url: str) -> tuple:
    """A URL in a canonical form (origin, path, sorted decoded query) to spot a page asked twice."""
    parts = urlsplit(url)
    return origin(url), parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def read_json_capped(response: requests.Response, url: str, limit: int | None = None):
    """The JSON body of a streamed response, refusing bodies over `limit` bytes (MAX_JSON_BYTES)."""
    limit = limit or MAX_JSON_BYTES
    declared = _int(response.headers.get("Content-Length"))
    if declared is not None and declared > limit:
        response.close()
        raise SourceError(f"{safe_url(url)} answered {declared:,} bytes, more than the {limit:,} bytes a page may have; not read.",
                          "Check HF_ENDPOINT points at the Hugging Face Hub (or a mirror of its API).")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise SourceError(f"{safe_url(url)} sent more than the {limit:,} bytes a page may have; stopped reading.",
                                  "Check HF_ENDPOINT points at the Hugging Face Hub (or a mirror of its API).")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise SourceError(f"Reading {safe_url(url)} broke off ({_reason(exc)}).", "Check the network, then run again.") from None
    finally:
        response.close()
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        raise SourceError(f"{safe_url(url)} answered a body that is not JSON.",
                          "Check HF_ENDPOINT points at the Hugging Face Hub API.") from None


@dataclass(frozen=True)
class TreeFile:
    """One file of a Hub repository listing: path, size and (LFS files) sha256."""

    path: str
    size: int | None
    sha256: str | None


def tree_url(repo: str, revision: str = "main", repo_type: str = "datasets") -> str:
    """`{HF_ENDPOINT}/api/datasets/{repo}/tree/{revision}` (what HfApi.list_repo_tree asks)."""
    return f"{hf_endpoint()}/api/{repo_type}/{repo}/tree/{quote(revision, safe='')}"


def list_tree(repo: str, revision: str = "main", *, session: requests.Session | None = None,
              timeout=DEFAULT_TIMEOUT, max_pages: int = MAX_TREE_PAGES) -> tuple[list[TreeFile], int]:
    """Every file of a Hub repository at `revision` (recursive), and the requests made.

    Pages are followed by their `Link: rel="next"` like the Hub paginates, only to the
    HF_ENDPOINT origin (the token goes nowhere else); a repeated page URL or more than
    `max_pages` pages ends the listing with a SourceError.
    """
    session = session or hf_session()
    base = hf_endpoint()
    url: str | None = tree_url(repo, revision)
    params: dict | None = {"recursive": "true", "expand": "false"}
    seen: set[str] = set()
    files: list[TreeFile] = []
    made = 0
    while url:
        if len(seen) >= max_pages:
            raise SourceError(f"The file listing of {repo} ran past {max_pages} pages; stopped.",
                              "Check HF_ENDPOINT points at the Hugging Face Hub (or a mirror of it).")
        try:
            response = session.get(url, params=params, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as exc:
            raise SourceError(f"Could not reach {safe_url(url)} ({_reason(exc)}).", "Check the network or HF_ENDPOINT, then retry.") from None
        made += 1
        seen.add(page_key(response.url))
        location = response.headers.get("Location")
        if response.status_code in (301, 302, 307, 308) and location:
            response.close()  # a renamed repository: follow on the same origin only
            url, params = urljoin(response.url, location), None
            if not same_origin(url, base):
                raise SourceError(f"The listing of {repo} redirected to another host ({origin(url)[1]}); not followed.",
                                  "Check HF_ENDPOINT and the repository name; the token is only ever sent there.")
            continue
        if response.status_code != 200:
            response.close()
            raise _status_error(response, response.url)
        body = read_json_capped(response, response.url)
        if not isinstance(body, list):
            raise SourceError(f"{safe_url(response.url)} answered {type(body).__name__} where a JSON list of files was expected.",
                              "Check HF_ENDPOINT points at the Hugging Face Hub (or a mirror of it).")
        for entry in body:
            if not isinstance(entry, dict) or entry.get("type") != "file" or not isinstance(entry.get("path"), str):
                continue
            lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
            sha = lfs.get("oid") if isinstance(lfs.get("oid"), str) and SHA256_RE.match(lfs.get("oid")) else None
            size = lfs.get("size", entry.get("size"))
            files.append(TreeFile(entry["path"], size if isinstance(size, int) and size >= 0 else None, sha))
        next_url = response.links.get("next", {}).get("url")
        if next_url:
            next_url = urljoin(response.url, next_url)
            if not same_origin(next_url, base):
                raise SourceError(f"The listing of {repo} pointed its next page at another host ({origin(next_url)[1]}); not followed.",
                                  "Check HF_ENDPOINT; the token is only ever sent to that host.")
            if page_key(next_url) in seen:
                raise SourceError(f"The listing of {repo} repeated a page ({safe_url(next_url)}); stopped.",
                                  "The server's pagination loops; try again later or use --from with downloaded files.")
        url, params = next_url, None
    return files, made


def no_space(path: Path, exc: OSError) -> SourceError:
    """One clear message for a full disk (or quota) while writing under the raw directory."""
    return SourceError(f"No space left on the device writing {config.display_path(path)} ({os.strerror(exc.errno or errno.ENOSPC)}).",
                       "Free some space there or set PULSE_RAW_DIR to a folder on a larger disk, then run again "
                       "(nothing was stored; downloads resume).")


def is_no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def hf_resolve_url(repo: str, path: str, revision: str = "main", repo_type: str = "datasets") -> str:
    """`{HF_ENDPOINT}/datasets/{repo}/resolve/{revision}/{path}` (models have no type prefix)."""
    prefix = f"{repo_type}/" if repo_type and repo_type != "models" else ""
    return f"{hf_endpoint()}/{prefix}{repo}/resolve/{revision}/{path}"


def hf_session() -> requests.Session:
    """A session with `Authorization: Bearer $HF_TOKEN` when set (requests drops it on cross-host redirects)."""
    return make_session(config.secret("HF_TOKEN"))


@dataclass
class RemoteFile:
    """What the server says about a file before we download it."""

    url: str
    size: int | None = None
    etag: str | None = None
    commit: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.etag if self.etag and SHA256_RE.match(self.etag) else None


@dataclass
class Downloaded:
    """A verified local file and where it came from (stored as the sidecar .meta.json)."""

    path: Path
    url: str
    size: int
    sha256: str | None = None
    etag: str | None = None
    commit: str | None = None
    downloaded_at: str = ""
    fetched_bytes: int = 0  # bytes transferred in this run (0 when served from cache)
    requests: int = 0
    resumed_from: int = 0
    verified: list[str] = field(default_factory=list)  # checks passed: size, sha256

    def meta(self) -> dict:
        out = asdict(self)
        for key in ("path", "fetched_bytes", "requests", "resumed_from"):
            out.pop(key)
        return out


def _normalise_etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def part_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _reason(exc: Exception) -> str:
    """A short cause for a requests exception (urllib3's text repeats the whole URL)."""
    text = config.redact(str(exc))
    errno_text = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    return f"{type(exc).__name__}: {errno_text.group(0)}" if errno_text else type(exc).__name__


def probe(session: requests.Session, url: str, timeout=DEFAULT_TIMEOUT) -> tuple[RemoteFile, int]:
    """HEAD the URL without following redirects to a CDN; return its metadata and requests made."""
    current, made = url, 0
    for _ in range(5):
        try:
            response = session.head(current, allow_redirects=False, timeout=timeout, headers={"Accept-Encoding": "identity"})
        except requests.RequestException as exc:
            raise SourceError(
                f"Could not reach {safe_url(current)} ({_reason(exc)}).",
                "Check the network or HF_ENDPOINT, then retry.",
            ) from None
        made += 1
        location = response.headers.get("Location")
        relative = bool(location) and not re.match(r"^https?://", location)
        if response.status_code in (301, 302, 303, 307, 308) and relative:
            current = urljoin(current, location)  # a renamed repo: same host, follow
            continue
        if response.status_code >= 400:
            raise _status_error(response, current)
        headers = response.headers
        return (
            RemoteFile(
                url=current,
                size=_int(headers.get("X-Linked-Size")) or (_int(headers.get("Content-Length")) if response.status_code == 200 else None),
                etag=_normalise_etag(headers.get("X-Linked-Etag") or headers.get("ETag")),
                commit=headers.get("X-Repo-Commit"),
            ),
            made,
        )
    raise SourceError(f"{safe_url(url)} redirected too many times.", "Check HF_ENDPOINT and the repository name.")


def _status_error(response: requests.Response, url: str) -> SourceError:
    status = response.status_code
    if status in (401, 403):
        return SourceError(f"{safe_url(url)} answered {status}: access refused.", "Set HF_TOKEN to a token that may read this repository.")
    if status == 404:
        return SourceError(f"{safe_url(url)} answered 404 Not Found.", "Check the repository, revision and file name (and HF_ENDPOINT).")
    if status == 429:
        return SourceError(f"{safe_url(url)} answered 429 Too Many Requests.", "Wait a few minutes (the Hub counts requests per 5 minutes) and run again.")
    return SourceError(f"{safe_url(url)} answered HTTP {status}.", "The server may be down; run again later (the partial download is kept and resumed).")


def _cached(target: Path, remote: RemoteFile | None) -> Downloaded | None:
    """The cached file if its sidecar matches the remote (or no remote is known) and its size is intact."""
    meta = _read_json(meta_path(target))
    if not meta or not target.exists():
        return None
    if target.stat().st_size != meta.get("size"):
        log.warning("cached %s has %d bytes, expected %s: downloading it again", config.display_path(target), target.stat().st_size, meta.get("size"))
        return None
    if remote is not None:
        if remote.etag and meta.get("etag") and remote.etag != meta["etag"]:
            log.info("%s changed on the server (ETag %s -> %s): downloading", config.display_path(target), meta["etag"], remote.etag)
            return None
        if remote.size is not None and remote.size != meta.get("size"):
            return None
    fields = {k: meta.get(k) for k in ("url", "size", "sha256", "etag", "commit", "downloaded_at", "verified")}
    fields["verified"] = fields["verified"] or []
    return Downloaded(path=target, **fields)


def _hash_existing(path: Path, hasher) -> int:
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
            done += len(chunk)
    return done


class Interrupted(SourceError):
    """The transfer broke off; the `.part` file is kept and the next attempt resumes it."""


def download(
    url: str,
    target: Path,
    *,
    session: requests.Session | None = None,
    progress: Progress | None = None,
    timeout=DEFAULT_TIMEOUT,
    retries: int = 2,
    sleep: Callable[[float], None] = time.sleep,
) -> Downloaded:
    """Download `url` to `target` unless an identical verified copy is cached; resume a `.part`.

    A transfer that breaks off is resumed (HTTP Range) up to `retries` times in this call;
    after that, Interrupted (a SourceError) says to run again, keeping the `.part`. Size or
    checksum mismatch: SourceError, the bad file removed, nothing returned.
    """
    session = session or hf_session()
    spent = 0
    for attempt in range(retries + 1):
        try:
            got = _download_once(url, target, session, progress, timeout)
            got.requests += spent
            return got
        except OSError as exc:
            if is_no_space(exc):
                raise no_space(target, exc) from None
            raise
        except Interrupted as exc:
            spent += getattr(exc, "requests", 0)
            if attempt == retries:
                raise
            wait = 2.0 ** attempt
            log.info("%s; resuming in %.0fs (attempt %d of %d)", exc.message, wait, attempt + 2, retries + 1)
            sleep(wait)
    raise AssertionError("unreachable")


def _download_once(url: str, target: Path, session: requests.Session, progress: Progress | None, timeout) -> Downloaded:
    target.parent.mkdir(parents=True, exist_ok=True)
    name = target.name
    try:
        remote, made = probe(session, url, timeout)
    except SourceError:
        cached = _cached(target, None)
        if cached is None:
            raise
        log.warning("could not check %s for changes; using the cached copy from %s", safe_url(url), cached.downloaded_at)
        return cached
    cached = _cached(target, remote)
    if cached is not None:
        cached.requests = made
        log.info("%s: cached copy is current (%s bytes), nothing downloaded", config.display_path(target), f"{cached.size:,}")
        return cached

    part, part_meta = part_path(target), Path(str(part_path(target)) + ".json")
    start = 0
    if part.exists():
        previous = _read_json(part_meta) or {}
        if remote.etag and previous.get("etag") == remote.etag:
            start = part.stat().st_size
        else:
            log.info("discarding %s: it belongs to another version of the file", config.display_path(part))
            part.unlink()
    part_meta.write_text(json.dumps({"url": url, "etag": remote.etag, "size": remote.size}))

    hasher = hashlib.sha256()
    headers = {"Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        error = Interrupted(
            f"Could not download {safe_url(url)} ({_reason(exc)}).",
            "Check the network and run again; the download resumes where it stopped.",
        )
        error.requests = made
        raise error from None
    made += 1
    with response:
        if start and response.status_code == 416:
            # Nothing left to send: the part may already be complete; verification decides.
            if remote.size is None or start != remote.size:
                part.unlink()
                raise SourceError(
                    f"{safe_url(url)} refused to resume at byte {start:,} (416) and the partial file does not match the expected size.",
                    "The partial file was removed; run again to download from the start.",
                )
            _hash_existing(part, hasher)
            fetched = 0
        else:
            if response.status_code not in (200, 206):
                raise _status_error(response, url)
            mode = "ab"
            if response.status_code == 206:
                content_range = response.headers.get("Content-Range", "")
                if not content_range.startswith(f"bytes {start}-"):
                    part.unlink(missing_ok=True)
                    raise SourceError(
                        f"{safe_url(url)} answered a range ({content_range or 'none'}) other than the one asked for (bytes {start}-).",
                        "The partial file was removed; run again to download from the start.",
                    )
                if start:
                    _hash_existing(part, hasher)
                    log.info("resuming %s at %s bytes", name, f"{start:,}")
            else:
                if start:
                    log.info("server ignored the Range request for %s; downloading from the start", name)
                start, mode = 0, "wb"
            total = remote.size
            if total is None and response.headers.get("Content-Length"):
                total = start + int(response.headers["Content-Length"])
            done, fetched = start, 0
            try:
                with open(part, mode) as fh:
                    for chunk in response.iter_content(CHUNK):
                        if total is not None and done + len(chunk) > total:
                            # More than announced: keep no byte past the size (sha256 then decides).
                            chunk = chunk[: max(total - done, 0)]
                        if not chunk:
                            break
                        fh.write(chunk)
                        hasher.update(chunk)
                        done += len(chunk)
                        fetched += len(chunk)
                        if progress:
                            progress(name, done, total)
            except requests.RequestException as exc:
                error = Interrupted(
                    f"Download of {safe_url(url)} broke off after {done:,} bytes ({type(exc).__name__}).",
                    f"Run the command again: it resumes from {config.display_path(part)}.",
                )
                error.requests = made
                raise error from None
    return _finish(target, part, part_meta, remote, hasher.hexdigest(), fetched, made, start)


def _finish(target: Path, part: Path, part_meta: Path, remote: RemoteFile, digest: str,
            fetched: int, made: int, resumed_from: int) -> Downloaded:
    size = part.stat().st_size
    verified: list[str] = []
    if remote.size is not None:
        if size != remote.size:
            if size > remote.size:
                part.unlink()
                part_meta.unlink(missing_ok=True)
                hint = "The oversized file was removed; run again to download it afresh."
            else:
                hint = f"Run the command again to resume from {config.display_path(part)}."
            raise SourceError(
                f"Download of {safe_url(remote.url)} is incomplete or damaged: {size:,} bytes instead of {remote.size:,}; it was not loaded.",
                hint,
            )
        verified.append("size")
    if remote.sha256:
        if digest != remote.sha256:
            part.unlink()
            part_meta.unlink(missing_ok=True)
            raise SourceError(
                f"Download of {safe_url(remote.url)} is corrupt: sha256 {digest[:12]}... does not match the server's {remote.sha256[:12]}...; it was not loaded.",
                "The damaged file was removed; run the command again to download it afresh.",
            )
        verified.append("sha256")
    os.replace(part, target)
    part_meta.unlink(missing_ok=True)
    result = Downloaded(
        path=target, url=remote.url, size=size, sha256=digest, etag=remote.etag, commit=remote.commit,
        downloaded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), fetched_bytes=fetched,
        requests=made, resumed_from=resumed_from, verified=verified,
    )
    meta_path(target).write_text(json.dumps(result.meta(), indent=2, sort_keys=True))
    log.info("downloaded %s (%s bytes, verified: %s)", config.display_path(target), f"{size:,}", ", ".join(verified) or "nothing to verify against")
    return result


def verify_file(path: Path, sha256: str | None, size: int | None = None) -> list[str]:
    """Re-check a cached file against its recorded size and sha256; remove it when damaged."""
    checks = []
    if size is not None:
        if path.stat().st_size != size:
            _discard(path)
            raise SourceError(f"Cached {config.display_path(path)} has {path.stat().st_size if path.exists() else 0:,} bytes, not {size:,}; it was removed and not loaded.",
                              "Run the command again to download it afresh.")
        checks.append("size")
    if sha256:
        digest = hashlib.sha256()
        _hash_existing(path, digest)
        if digest.hexdigest() != sha256:
            _discard(path)
            raise SourceError(f"Cached {config.display_path(path)} no longer matches its sha256 (damaged on disk); it was removed and not loaded.",
                              "Run the command again to download it afresh.")
        checks.append("sha256")
    return checks


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    meta_path(path).unlink(missing_ok=True)
