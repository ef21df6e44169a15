"""Shared CLI pieces: consoles (results on stdout, progress and logs on stderr), JSON lines, and
``shown``, the one way a name or value from evidence enters a message."""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Literal

import orjson
from rich.console import Console
from rich.markup import escape

# Piped or redirected output is read in files and logs, not an 80-column terminal: give tables room.
# No emoji codes: a file named ":skull:.evtx" is printed as it is named.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, emoji=False)  # results
err = Console(
    stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160, emoji=False
)  # progress, notes
# errors and warnings: printed under --quiet too (forensics.cli.guard.say / warn)
alerts = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160, emoji=False)
CONSOLES = (out, err, alerts)
HELP_COLOURS: Literal["auto"] = "auto"  # Typer's own default for its help console


def reset() -> None:
    """Back to the defaults before a command line is parsed: not quiet; colour unless NO_COLOR is set."""
    err.quiet = False
    set_colour(os.environ.get("NO_COLOR", "") == "")


def set_quiet(quiet: bool) -> None:
    """``-q/--quiet``: no progress or notes on stderr (results, warnings and errors stay)."""
    err.quiet = quiet


def set_colour(colour: bool) -> None:
    """``--no-color``: no colours on any console, the help's included (Typer draws help on a console of
    its own, made when help is shown, from ``typer.rich_utils.COLOR_SYSTEM``: None draws no ANSI codes)."""
    for c in CONSOLES:
        c.no_color = not colour
    _HelpColours.wanted = HELP_COLOURS if colour else None
    rich_utils = sys.modules.get("typer.rich_utils")
    if rich_utils is not None:
        rich_utils.__dict__["COLOR_SYSTEM"] = _HelpColours.wanted


class _HelpColours(importlib.abc.MetaPathFinder):
    """Sets ``typer.rich_utils.COLOR_SYSTEM`` when Typer imports the module (to show help, a usage
    error or "Aborted."), not before: importing it (rich.markdown, markdown-it, rich.traceback) would
    cost every command ~40 ms."""

    wanted: Literal["auto"] | None = HELP_COLOURS

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> ModuleSpec | None:
        """The module's own spec, its loader setting the colours once the module has run."""
        if fullname != "typer.rich_utils":
            return None
        spec = None  # found by whichever finder would find it without this one (site-packages, editable, zip)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None and (spec := find(fullname, path, target)) is not None:
                break
        loader = spec.loader if spec is not None else None
        if loader is None:
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.__dict__["COLOR_SYSTEM"] = _HelpColours.wanted

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _HelpColours())


def progress_shown() -> bool:
    """Whether a progress display belongs on stderr: a terminal, and not ``--quiet``."""
    return err.is_terminal and not err.quiet


# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text
# (bidi overrides and isolates, zero-width characters, BOM, line/paragraph separators).
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSEEN_KEEP_NL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def shown(value: object, *, newlines: bool = False) -> str:
    """``value`` as text safe to put in a rich message: control and invisible characters written
    as ``\\x1b`` / ``\\u202e``, rich markup escaped. What is stored stays verbatim; only the
    message is made safe. ``newlines`` keeps line breaks (multi-line text such as the story).
    """
    text = "" if value is None else str(value)
    text = (_UNSEEN_KEEP_NL if newlines else _UNSEEN).sub(_visible, text)
    return escape(text)


def cells(*values: object) -> list[str]:
    """Table cells from evidence values: each through :func:`shown`, so a host, account or field
    value can neither be read as rich markup nor move the analyst's terminal."""
    return [shown(v) for v in values]


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
