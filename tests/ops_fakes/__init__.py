"""Test-only source modules for the ops runner (synthetic data, registered via PULSE_EXTRA_SOURCES).

Each has the real source interface (NAME, DESCRIPTION, CADENCE, run(db_path) -> store.Run) and
follows the real pattern: fetch with no lock held, then one write_session.
"""
