"""Errors the operator can fix. Torch-free and import-free, so every entry point (the show,
the trainer child process, the benchmarks) can raise them without loading the rest."""

from __future__ import annotations


class UserError(Exception):
    """Something the operator can fix; the CLI prints it without a traceback, exit 2."""
