"""CLI command modules: each defines register(main, ingest) (listed in pulse.cli.COMMAND_MODULES)."""
