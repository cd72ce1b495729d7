"""Every module below the UI imports on its own, in a fresh interpreter, and keeps to its layer.

Importing a module first (not through `pulse.cli`) catches circular imports that the CLI's own
import order hides; the layer checks read `sys.modules` after the import, as harlequin's do.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = {"pulse.config", "pulse.db", "pulse.schema", "pulse.store", "pulse.registry", "pulse.lake", "pulse.errors", "pulse.legacy"}
UI_ONLY = ("streamlit", "app_pages")

CHECK = """
import importlib, sys
name = sys.argv[1]
importlib.import_module(name)
loaded = {m.split('.')[0] for m in sys.modules}
bad = sorted(loaded & {'streamlit', 'app_pages'})
if sys.argv[2] == 'core':
    bad += sorted(loaded & {'ingest', 'analytics'}) + sorted(m for m in sys.modules if m.startswith('pulse.commands') or m == 'pulse.cli')
print(','.join(bad))
"""


def _modules() -> list[str]:
    names = []
    for package in ("pulse", "ingest", "analytics"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":  # runs the CLI: not a library module
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _check(name: str) -> str | None:
    role = "core" if name in CORE else "other"
    proc = subprocess.run([sys.executable, "-c", CHECK, name, role], capture_output=True, text=True, cwd=ROOT, timeout=300)
    if proc.returncode != 0:
        return f"{name}: does not import on its own: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
    if proc.stdout.strip():
        return f"{name}: pulls in {proc.stdout.strip()}"
    return None


def test_every_module_imports_on_its_own_and_keeps_to_its_layer():
    names = _modules()
    assert "pulse.commands.adoption" in names and "pulse.config" in names  # the walk found the tree
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(_check, names) if p]
    assert problems == []
