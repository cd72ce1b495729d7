"""Static images (PNG, SVG, PDF) of plotly figures through kaleido and one warm headless Chromium.

kaleido v1 drives a Chrome/Chromium through choreographer. The browser is found from
$BROWSER_PATH (choreographer's own override, honoured here too), else on PATH (Debian's
`chromium` is /usr/bin/chromium), else choreographer's downloaded copy (`plotly_get_chrome`).
One Chromium is started on first use and kept warm for the life of the process, so every
image after the first costs a render, not a browser start. Calls are thread-safe (Streamlit
sessions run in threads).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import importlib.util
import logging
import os
import shutil
import threading
from concurrent.futures import TimeoutError as FutureTimeout

import plotly.graph_objects as go

from pulse.errors import PulseError

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = (
    "Install Chromium (Debian/Ubuntu: `apt-get install -y chromium`; elsewhere run `plotly_get_chrome`) "
    "or set BROWSER_PATH to a Chrome/Chromium executable. HTML and CSV exports work without it."
)
# Names searched on PATH, in order, when BROWSER_PATH is unset.
EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 60.0


class ExportError(PulseError):
    """An export could not be produced or written."""


class ChromiumMissing(ExportError):
    """PNG/SVG/PDF need a Chrome/Chromium, and none was found."""


def _is_exe(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def chromium_path() -> str | None:
    """The Chrome/Chromium executable kaleido will use, or None when there is none."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        # An explicit setting that is wrong must not silently fall back to another browser.
        return configured if _is_exe(configured) else None
    for name in EXECUTABLES:
        found = shutil.which(name)
        if found and _is_exe(found):
            return found
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
    except Exception:  # best effort: choreographer's layout is not an API
        return None
    return found if found and _is_exe(found) else None


def kaleido_installed() -> bool:
    return importlib.util.find_spec("kaleido") is not None


def unavailable_reason() -> str | None:
    """Why PNG/SVG/PDF cannot be made here (missing kaleido or Chromium), or None when they can."""
    try:
        require_chromium()
    except ExportError as exc:
        return str(exc)
    return None


def require_chromium(fmt: str = "PNG/SVG/PDF") -> str:
    """The browser path, or ChromiumMissing saying how to install one (or kaleido, when missing)."""
    if not kaleido_installed():
        raise ExportError(f"Cannot render {fmt.upper()}: the kaleido package is not installed.",
                          "Install it with `pip install 'framework-pulse[export]'` (kaleido>=1). HTML and CSV exports work without it.")
    path = chromium_path()
    if path:
        return path
    configured = os.environ.get("BROWSER_PATH")
    where = f"BROWSER_PATH={configured} is not an executable file" if configured else f"none of {', '.join(EXECUTABLES)} is on PATH"
    raise ChromiumMissing(f"Cannot render {fmt.upper()}: it needs Chrome/Chromium and {where}.", INSTALL_HINT)


class WarmChromium:
    """One kaleido (one headless Chromium) on a background event loop, reused by every render."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._path: str | None = None
        self.starts = 0  # browser launches in this process (the benchmark and tests read it)

    @property
    def running(self) -> bool:
        return self._kaleido is not None and self._thread is not None and self._thread.is_alive()

    def _start(self, path: str) -> None:
        import kaleido

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="pulse-chromium", daemon=True)
        thread.start()

        async def launch():
            # mathjax=False: no CDN fetch, so rendering works offline.
            k = kaleido.Kaleido(n=1, path=path, mathjax=False, timeout=RENDER_TIMEOUT_S)
            await k.open()
            return k

        try:
            self._kaleido = asyncio.run_coroutine_threadsafe(launch(), loop).result(START_TIMEOUT_S)
        except Exception as exc:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            raise ExportError(f"Could not start Chromium at {path}: {exc}.", INSTALL_HINT) from exc
        self._loop, self._thread, self._path = loop, thread, path
        self.starts += 1
        log.info("Started headless Chromium for exports: %s", path)

    def _stop_locked(self) -> None:
        if self._loop is None:
            return
        if self._kaleido is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._kaleido.close(), self._loop).result(10)
            except Exception as exc:  # closing a dead browser: nothing left to do
                log.debug("Closing Chromium: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._thread = self._kaleido = self._path = None

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _ensure(self, fmt: str):
        path = require_chromium(fmt)
        with self._lock:
            if not self.running or self._path != path:
                self._stop_locked()
                self._start(path)
            return self._loop, self._kaleido

    def print_pdf(self, url: str) -> bytes:
        """Print a page (a file:// URL) to PDF in a new tab of the warm browser."""
        loop, k = self._ensure("pdf")

        async def job() -> bytes:
            import choreographer

            # Browser.create_tab, not kaleido's own tab pool: this tab is ours and closed after.
            tab = await choreographer.Browser.create_tab(k, "")
            try:
                loaded = tab.subscribe_once("Page.loadEventFired")
                await tab.send_command("Page.enable")
                await tab.send_command("Page.navigate", params={"url": url})
                await asyncio.wait_for(loaded, RENDER_TIMEOUT_S)
                response = await tab.send_command("Page.printToPDF", params={
                    "printBackground": True, "displayHeaderFooter": False,
                    "paperWidth": 8.27, "paperHeight": 11.69,  # A4 in inches, unless the page's CSS @page says
                    "preferCSSPageSize": True,
                })
                if "error" in response:
                    raise RuntimeError(response["error"])
                return base64.b64decode(response["result"]["data"])
            finally:
                await k.close_tab(tab.target_id)

        try:
            return asyncio.run_coroutine_threadsafe(job(), loop).result(RENDER_TIMEOUT_S + 5)
        except Exception as exc:
            raise ExportError(f"Chromium failed to print {url} to PDF: {exc}.", "Try again; HTML reports need no browser.") from exc

    def render(self, fig: go.Figure | dict, fmt: str, width: int, height: int, scale: float = 1.0) -> bytes:
        """The figure as PNG/SVG/PDF bytes; starts Chromium on first use, replaces a dead one once."""
        if fmt not in IMAGE_FORMATS:
            raise ExportError(f"Cannot render format '{fmt}'.", f"Image formats are {', '.join(IMAGE_FORMATS)}.")
        spec = fig.to_dict() if isinstance(fig, go.Figure) else fig
        opts = {"format": fmt, "width": width, "height": height, "scale": scale}
        for attempt in (1, 2):
            loop, k = self._ensure(fmt)
            future = asyncio.run_coroutine_threadsafe(k.calc_fig(spec, opts=opts), loop)
            try:
                return future.result(RENDER_TIMEOUT_S + 5)
            except FutureTimeout as exc:
                future.cancel()
                self.stop()  # a hung browser is replaced on the next call
                raise ExportError(f"Rendering {fmt.upper()} timed out after {RENDER_TIMEOUT_S:.0f} s.", "Try again; if it persists, check Chromium runs: chromium --headless --version.") from exc
            except Exception as exc:
                # A long-lived server's browser may have died (OOM killer, crash): start a new one and retry once.
                self.stop()
                if attempt == 2:
                    raise ExportError(f"Chromium failed to render {fmt.upper()}: {exc}.", "Try again; the browser is restarted on the next export.") from exc
                log.warning("Rendering %s failed (%s); restarting Chromium and retrying once.", fmt, exc)
        raise AssertionError("unreachable")


BROWSER = WarmChromium()
atexit.register(BROWSER.stop)


def render(fig: go.Figure | dict, fmt: str, width: int = 1100, height: int = 650, scale: float = 1.0) -> bytes:
    """Render with the process-wide warm Chromium."""
    return BROWSER.render(fig, fmt, width, height, scale)
