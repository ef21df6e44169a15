"""Shared CLI pieces: consoles (results on stdout, progress and logs on stderr), JSON lines."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from rich.console import Console

# Piped or redirected output is read in files and logs, not an 80-column terminal: give tables room.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)  # results
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)  # progress, notes
# errors and warnings: printed under --quiet too (forensics.cli.guard.say / warn)
alerts = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
CONSOLES = (out, err, alerts)


def reset() -> None:
    """Back to the defaults before a command line is parsed: not quiet; colour unless NO_COLOR is set."""
    err.quiet = False
    for c in CONSOLES:
        c.no_color = os.environ.get("NO_COLOR", "") != ""


def set_quiet(quiet: bool) -> None:
    """``-q/--quiet``: no progress or notes on stderr (results, warnings and errors stay)."""
    err.quiet = quiet


def set_colour(colour: bool) -> None:
    """``--no-color``: no colours on any console."""
    for c in CONSOLES:
        c.no_color = not colour


def progress_shown() -> bool:
    """Whether a progress display belongs on stderr: a terminal, and not ``--quiet``."""
    return err.is_terminal and not err.quiet


def _default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, set | frozenset | tuple):
        return sorted(v) if isinstance(v, set | frozenset) else list(v)
    return str(v)


def json_line(obj: Any) -> str:
    """One canonical JSON object per line (sorted keys)."""
    return orjson.dumps(obj, default=_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def print_json_line(obj: Any) -> None:
    """Write one JSON line to stdout."""
    sys.stdout.write(json_line(obj) + "\n")
