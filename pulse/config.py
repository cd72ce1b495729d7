"""Settings from the environment (and .streamlit/secrets.toml for secrets), with redaction."""

from __future__ import annotations

import importlib.resources
import logging
import os
import tomllib
from pathlib import Path

import platformdirs

APP_NAME = "framework-pulse"
HOME_VAR = "PULSE_HOME"
# Settings holding a path (made absolute before they are handed to a child process whose
# working directory differs, so a relative value never lands next to the code).
PATH_SETTINGS = (HOME_VAR, "PULSE_DB", "PULSE_RAW_DIR", "PULSE_PROBE_DIR")

# The code's root: a checkout, or site-packages for an installed wheel. Nothing is written here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bundle_root() -> Path:
    """The folder holding app.py, app_pages/, .streamlit/ and data/snapshot/.

    In an installed wheel they are package data under pulse/_bundle/ (pyproject.toml maps them
    there); run from a checkout (or an editable install) they are the checkout's own files.
    """
    packaged = importlib.resources.files("pulse") / "_bundle"
    if isinstance(packaged, Path) and (packaged / "app.py").is_file():
        return packaged
    return PROJECT_ROOT


BUNDLE_ROOT = bundle_root()
INSTALLED = BUNDLE_ROOT != PROJECT_ROOT  # running from a wheel, not from a checkout
APP_FILE = BUNDLE_ROOT / "app.py"
SNAPSHOT_DIR = BUNDLE_ROOT / "data" / "snapshot"
# Where a checkout kept its database, raw responses and probe results before the data home
# existed; pulse.legacy moves them into the default data home (checkouts only).
LEGACY_DATA_DIR = PROJECT_ROOT / "data"

SECRET_NAMES = ("GITHUB_TOKEN", "HF_TOKEN", "STACKEXCHANGE_KEY")
# Base-URL settings that may carry credentials (`https://user:TOKEN@host`): those are secrets too.
URL_SECRET_SETTINGS = ("GITHUB_API_URL", "HF_ENDPOINT")

# Every setting the project reads: name -> (default, description). The README's
# configuration table is checked against this list by a test.
SETTINGS: dict[str, tuple[str, str]] = {
    "PULSE_HOME": ("(user data dir)", "Data home: database, raw responses, downloads and probe results. Default: the platform's user data folder, e.g. ~/.local/share/framework-pulse on Linux."),
    "PULSE_DB": ("$PULSE_HOME/pulse.duckdb", "DuckDB database file (also `--db`)."),
    "PULSE_RAW_DIR": ("$PULSE_HOME/raw", "Where raw responses and downloads are kept for replay."),
    "GITHUB_API_URL": ("https://api.github.com", "GitHub REST API base URL (GitHub Enterprise or a test server)."),
    "GITHUB_TOKEN": ("(unset)", "Optional GitHub token; env or .streamlit/secrets.toml. Never logged or stored."),
    "PULSE_GITHUB_WORKERS": ("4", "Concurrent requests for one repository's star-history pages."),
    "HF_ENDPOINT": ("https://huggingface.co", "Hugging Face Hub base URL (mirror or test server)."),
    "HF_TOKEN": ("(unset)", "Optional Hugging Face token; env or .streamlit/secrets.toml. Never logged or stored."),
    "PULSE_TRENDS_URL": ("https://trends.google.com/trends", "Google Trends base URL used by pytrends (a test server or mirror)."),
    "PULSE_TRENDS_MAX_WAIT": ("600", "Most seconds `pulse ingest trends` spends backing off from HTTP 429 before giving up."),
    "PULSE_PYPISTATS_URL": ("https://pypistats.org", "pypistats.org base URL for `pulse ingest pypi` (recent daily downloads; a test server or mirror)."),
    "PULSE_CLICKPY_URL": ("https://sql-clickhouse.clickhouse.com", "ClickPy ClickHouse HTTP interface for `pulse ingest pypi` (download history since 2016; read-only user play)."),
    "PULSE_STACKEXCHANGE_URL": ("https://api.stackexchange.com", "Stack Exchange API base URL for `pulse ingest stackoverflow` (a test server)."),
    "STACKEXCHANGE_KEY": ("(unset)", "Optional Stack Exchange app key: 10,000 requests/day instead of 300; env or .streamlit/secrets.toml. Never logged or stored."),
    "PULSE_EXTRA_SOURCES": ("(unset)", "Extra sources for `pulse ingest --all`: comma-separated name=module (site-local or test sources)."),
    "PULSE_SOURCE_TIMEOUT": ("900", "Default per-source time limit in seconds for `pulse ingest --all` (also `--timeout`)."),
    "PULSE_TEST_PAUSE_AT": ("(unset)", "Test-only: copy, write or replace; the writer writes its pid to <db>.paused and sleeps there so crash tests can kill it."),
    "PULSE_ALLOW_PROBE": ("0", "Set to 1 to enable the dashboard's \"Run probe now\" button."),
    "BROWSER_PATH": ("(found on PATH)", "Chrome/Chromium for PNG/SVG/PDF exports (kaleido); default: chromium on PATH, e.g. /usr/bin/chromium."),
    "PULSE_PUBLIC_URL": ("(unset)", "Dashboard base URL, used in the 'open this view' link that CLI exports and reports carry."),
    "PULSE_PROBE_DIR": ("$PULSE_HOME/probe", "Where `pulse probe run` and the dashboard's probe button write result files."),
    "PULSE_STORE": ("(unset)", "DuckLake team store, e.g. `ducklake:postgres:dbname=pulse host=db user=pulse`: every read and write goes there instead of PULSE_DB. Its password is never printed or stored."),
    "PULSE_STORE_DATA_PATH": ("(unset)", "Where the team store keeps its Parquet files: a shared folder or an s3:// path (needed by `pulse db init`)."),
    "PROBE_OUT_DIR": ("probe-results", "Default --out of the standalone `python -m probe` (which reads no other setting)."),
}


def home() -> Path:
    """The data home: $PULSE_HOME, else the platform's user data folder (platformdirs)."""
    value = os.environ.get(HOME_VAR)
    path = Path(value).expanduser() if value else platformdirs.user_data_path(APP_NAME, appauthor=False)
    return path.absolute()


def _setting_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def db_path(override: str | os.PathLike | None = None) -> Path:
    """The database file: explicit override, else $PULSE_DB, else pulse.duckdb in the data home."""
    if override:
        return Path(override).expanduser()
    return _setting_path("PULSE_DB", home() / "pulse.duckdb")


def raw_dir() -> Path:
    """Raw responses and downloads: $PULSE_RAW_DIR, else raw/ in the data home."""
    return _setting_path("PULSE_RAW_DIR", home() / "raw")


def probe_dir() -> Path:
    """Probe result files: $PULSE_PROBE_DIR, else probe/ in the data home."""
    return _setting_path("PULSE_PROBE_DIR", home() / "probe")


def child_env(**extra: str) -> dict[str, str]:
    """os.environ for a child process (`pulse serve`, the probe) that runs in another folder: every
    path setting made absolute, and a checkout's root on PYTHONPATH so it imports this same code."""
    env = dict(os.environ)
    for name in PATH_SETTINGS:
        if env.get(name):
            env[name] = str(Path(env[name]).expanduser().absolute())
    if not INSTALLED:
        paths = [str(PROJECT_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(extra)
    return env


def __getattr__(name: str):
    if name == "DEFAULT_DB":  # the default moved with the data home; kept for older callers
        return home() / "pulse.duckdb"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def display_path(path: Path) -> str:
    """A file's name for messages and provenance: relative to the bundle when it is one of the code's
    own (e.g. data/snapshot/claims.csv, the same in a wheel and a checkout), else the path as given."""
    resolved = Path(path).resolve()
    for root in (BUNDLE_ROOT, PROJECT_ROOT):
        try:
            return str(resolved.relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


# Secrets file: a checkout's .streamlit/secrets.toml; an installed copy reads secrets.toml in its
# data home instead (never a file inside site-packages).
SECRETS_FILE = home() / "secrets.toml" if INSTALLED else PROJECT_ROOT / ".streamlit" / "secrets.toml"


def _secrets_file_values(strict: bool = True) -> dict[str, str]:
    """The secrets file's values; an unreadable one is a PulseError (strict) or nothing (redaction)."""
    try:
        with SECRETS_FILE.open("rb") as fh:
            data = tomllib.load(fh)
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return {}
    except OSError as exc:  # a folder, or a file this user may not read: one message, not a traceback
        if not strict:  # redact() runs at the error boundary: it must not fail there too
            return {}
        from pulse.errors import PulseError

        raise PulseError(f"Cannot read the secrets file {SECRETS_FILE}: {exc.strerror or exc}.",
                         "Make it a file this user can read (chmod 600, owned by this user), or remove it and set the secrets in the environment.") from None
    return {k: str(v) for k, v in data.items() if isinstance(v, (str, int))}


def secret(name: str) -> str | None:
    """A secret from the environment, else from .streamlit/secrets.toml; None when unset."""
    value = os.environ.get(name) or _secrets_file_values().get(name)
    return value or None


def _url_secrets(url: str) -> list[str]:
    """The password of `scheme://user:password@host` (or the user when no password is given)."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    value = password or user
    return [value, unquote(value)] if value else []


def known_secret_values() -> list[str]:
    from urllib.parse import quote, quote_plus

    values = [os.environ.get(n) or _secrets_file_values(strict=False).get(n) for n in SECRET_NAMES]
    values += [v for name in URL_SECRET_SETTINGS for v in _url_secrets(os.environ.get(name) or "")]
    # A secret sent as a query parameter appears percent-encoded in the request URL (a Stack
    # Exchange key such as "U4DMV*8nvpm3EOpvf69Rxw((" as "U4DMV%2A8nvpm3EOpvf69Rxw%28%28").
    values += [encoded for v in values if v for encoded in (quote(v, safe=""), quote_plus(v))]
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


def redact(text: str) -> str:
    """Replace every known secret value (tokens, the team store's password) in text with '***'."""
    from pulse import lake  # lazily: lake is core too, and config is imported by everything

    for value in known_secret_values():
        text = text.replace(value, "***")
    return lake.redact_url(text)


class RedactingFilter(logging.Filter):
    """Logging filter that scrubs secrets from every record before it is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
