"""Shared CLI pieces: consoles (results on stdout, progress and logs on stderr), JSON lines."""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from rich.console import Console

# Piped or redirected output is read in files and logs, not an 80-column terminal: give tables room.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


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
