"""CLI command modules: each defines register(main, ingest) and is listed in pulse.cli.COMMAND_MODULES."""
