"""Framework Pulse core: configuration, registry, database and CLI."""

__version__ = "0.2.0"
