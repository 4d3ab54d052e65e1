"""Errors every layer may raise."""

from __future__ import annotations


class ConfigError(Exception):
    """A config problem found before the job starts; the CLI prints it and exits with code 2."""
