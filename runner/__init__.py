"""wsrun: test WebSocket servers from YAML scenarios."""

__version__ = "0.1.0"
