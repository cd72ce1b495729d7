"""CLI command modules: each defines register(main, ingest)."""
