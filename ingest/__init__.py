"""Ingest jobs: one module per source, each with the same small interface.

A source module defines NAME, DESCRIPTION, CADENCE (a timedelta: how often it should run),
fetch functions that do IO and return plain data, parse/save functions that turn plain data
into observation rows, and `run(db_path, ...) -> store.Run`. Sources are listed in SOURCES.
"""

# name -> module path; the runner and `pulse status` import them lazily from here. Only
# sources that can run unattended are listed: file imports (trends-csv, hub-stats) and the
# probe (measured by hand on the hardware of interest) are loaded by their own commands.
SOURCES: dict[str, str] = {
    "snapshot": "ingest.snapshot",
    "trends": "ingest.trends",
    "github": "ingest.github",
    "paperswithcode": "ingest.paperswithcode",
    "huggingface": "ingest.huggingface",
    "pypi": "ingest.pypi",
    "stackoverflow": "ingest.stackoverflow",
}
