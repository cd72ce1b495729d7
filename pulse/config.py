"""Settings from the environment (and .streamlit/secrets.toml for secrets), with redaction."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = PROJECT_ROOT / "data" / "snapshot"
DEFAULT_DB = PROJECT_ROOT / "data" / "pulse.duckdb"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"

SECRET_NAMES = ("GITHUB_TOKEN", "HF_TOKEN")

# Every setting the project reads: name -> (default, description). The README's
# configuration table is checked against this list by a test.
SETTINGS: dict[str, tuple[str, str]] = {
    "PULSE_DB": (str(DEFAULT_DB.relative_to(PROJECT_ROOT)), "DuckDB database file (also `--db`)."),
    "PULSE_RAW_DIR": ("data/raw", "Where raw responses and downloads are kept for replay."),
    "GITHUB_API_URL": ("https://api.github.com", "GitHub REST API base URL (GitHub Enterprise or a test server)."),
    "GITHUB_TOKEN": ("(unset)", "Optional GitHub token; env or .streamlit/secrets.toml. Never logged or stored."),
    "PULSE_GITHUB_WORKERS": ("4", "Concurrent requests for one repository's star-history pages."),
    "HF_ENDPOINT": ("https://huggingface.co", "Hugging Face Hub base URL (mirror or test server)."),
    "HF_TOKEN": ("(unset)", "Optional Hugging Face token; env or .streamlit/secrets.toml. Never logged or stored."),
    "PULSE_TRENDS_URL": ("https://trends.google.com/trends", "Google Trends base URL used by pytrends (a test server or mirror)."),
    "PULSE_TRENDS_MAX_WAIT": ("600", "Most seconds `pulse ingest trends` spends backing off from HTTP 429 before giving up."),
    "PULSE_EXTRA_SOURCES": ("(unset)", "Extra sources for `pulse ingest --all`: comma-separated name=module (site-local or test sources)."),
    "PULSE_SOURCE_TIMEOUT": ("900", "Default per-source time limit in seconds for `pulse ingest --all` (also `--timeout`)."),
    "PULSE_TEST_PAUSE_AT": ("(unset)", "Test-only: copy, write or replace; the writer writes its pid to <db>.paused and sleeps there so crash tests can kill it."),
    "PULSE_ALLOW_PROBE": ("0", "Set to 1 to enable the dashboard's \"Run probe now\" button."),
    "BROWSER_PATH": ("(found on PATH)", "Chrome/Chromium for PNG/SVG/PDF exports (kaleido); default: chromium on PATH, e.g. /usr/bin/chromium."),
    "PULSE_PUBLIC_URL": ("(unset)", "Dashboard base URL, used in the 'open this view' link that CLI exports and reports carry."),
    "PULSE_PROBE_DIR": ("data/probe", "Where `pulse probe run` and the dashboard's probe button write result files."),
    "PROBE_OUT_DIR": ("probe-results", "Default --out of the standalone `python -m probe` (which reads no other setting)."),
}


def db_path(override: str | os.PathLike | None = None) -> Path:
    """The database file: explicit override, else $PULSE_DB, else data/pulse.duckdb."""
    value = override or os.environ.get("PULSE_DB")
    return Path(value).expanduser() if value else DEFAULT_DB


def raw_dir() -> Path:
    value = os.environ.get("PULSE_RAW_DIR")
    return Path(value).expanduser() if value else PROJECT_ROOT / "data" / "raw"


def probe_dir() -> Path:
    value = os.environ.get("PULSE_PROBE_DIR")
    return Path(value).expanduser() if value else PROJECT_ROOT / "data" / "probe"


def display_path(path: Path) -> str:
    """A path relative to the project root when inside it (stable across checkouts)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _secrets_file_values() -> dict[str, str]:
    try:
        with SECRETS_FILE.open("rb") as fh:
            data = tomllib.load(fh)
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return {}
    return {k: str(v) for k, v in data.items() if isinstance(v, (str, int))}


def secret(name: str) -> str | None:
    """A secret from the environment, else from .streamlit/secrets.toml; None when unset."""
    value = os.environ.get(name) or _secrets_file_values().get(name)
    return value or None


def known_secret_values() -> list[str]:
    return [v for v in (secret(n) for n in SECRET_NAMES) if v and len(v) >= 4]


def redact(text: str) -> str:
    """Replace every known secret value in text with '***'."""
    for value in known_secret_values():
        text = text.replace(value, "***")
    return text


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
