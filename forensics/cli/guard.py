"""Every error reaches the user as one line with a documented exit code, never as a traceback.

The app's group class (``GuardedGroup``) wraps the parsing and the running of every command,
sub-commands included:

- a usage error (missing argument, unknown option, bad value): ``error: forensics sql: Missing
  argument 'QUERY'. (usage: forensics sql [OPTIONS] CASE QUERY; --help for more)``, exit 2;
- an error this package raises on purpose (``ForensicsError``: not a case, unreadable bundle, …)
  and an operating-system error (``OSError``: the file it names, and why): one line, exit 1;
- anything else is a bug: one line saying so, exit 70 (``FORENSICS_DEBUG=1`` shows the traceback).

Commands still choose their own exits (3, 4, 5, 6) with ``typer.Exit``; those pass through.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as click_exc  # Typer ships its own copy of Click
from typer.core import TyperGroup

from forensics.cli import common, conventions
from forensics.cli.common import alerts, shown
from forensics.errors import ForensicsError
from forensics.timeutil import parse_iso_utc

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, not the user's doing


def time_option(text: str | None, option: str) -> datetime | None:
    """The UTC time an ISO-8601 option names (``--since``/``--until``), or a usage error (exit 2)."""
    if text is None:
        return None
    parsed = parse_iso_utc(text)
    if parsed is None:
        say(f"{option} must be an ISO-8601 time, e.g. 2024-03-05T09:00:00Z")
        raise typer.Exit(EXIT_USAGE)
    return parsed


def say(message: str) -> None:
    """One ``error:`` line on stderr, printed as it is: a path with ``[brackets]`` is not markup,
    line breaks inside it are shown escaped, so the message stays one line, and control and
    invisible characters (a name holding ESC) are shown as ``\\x1b`` (``shown``)."""
    text = message.strip().replace("\r", "\\r").replace("\n", "\\n")
    alerts.print("error: " + shown(text), highlight=False)


def warn(message: str) -> None:
    """One ``warning:`` line on stderr, shown under ``--quiet`` too."""
    text = message.strip().replace("\r", "\\r").replace("\n", "\\n")
    alerts.print("warning: " + shown(text), highlight=False)


def _usage_line(exc: click_exc.UsageError) -> str:
    ctx = exc.ctx
    if ctx is None:
        return exc.format_message()
    usage = ctx.get_usage().removeprefix("Usage: ").strip()
    return f"{ctx.command_path}: {exc.format_message()} (usage: {usage}; --help for more)"


def _os_line(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else None
    why = exc.strerror or str(exc)
    return f"{where}: {why}" if where is not None else why


def _debug() -> bool:
    return os.environ.get("FORENSICS_DEBUG", "") not in ("", "0")


class GuardedGroup(TyperGroup):
    """The ``forensics`` group: parse and run every command inside the guard above, each with the
    conventions of ``forensics.cli.conventions``."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        conventions.apply(self)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        return name, cmd, conventions.normalise(cmd, rest) if cmd is not None else rest

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        if parent is None:
            common.reset()  # -q / --no-color hold for one command line
            # --no-color before Click reads the line: --help (eager, printed as it is met) obeys it
            # wherever it stands, on the group or a command
            words = args[: args.index("--")] if "--" in args else args
            if "--no-color" in words:
                common.set_colour(False)
        return _guarded(
            lambda: super(GuardedGroup, self).make_context(info_name, args, parent=parent, **extra)
        )

    def invoke(self, ctx: Any) -> Any:
        return _guarded(lambda: super(GuardedGroup, self).invoke(ctx))


def _guarded(step: Any) -> Any:
    """Run one step of the command line (parsing, or running the command), turning every error into
    one line and its exit code."""
    try:
        return step()
    except (typer.Exit, typer.Abort, click_exc.NoArgsIsHelpError):
        raise
    except click_exc.UsageError as exc:
        say(_usage_line(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    except click_exc.ClickException as exc:
        say(exc.format_message())
        raise typer.Exit(exc.exit_code) from exc
    except ForensicsError as exc:
        if _debug():
            raise
        say(str(exc))
        raise typer.Exit(EXIT_ERROR) from exc
    except BrokenPipeError as exc:  # `forensics sql ... | head`: the reader has what it wanted
        raise typer.Exit(EXIT_ERROR) from exc
    except OSError as exc:
        if _debug():
            raise
        say(_os_line(exc))
        raise typer.Exit(EXIT_ERROR) from exc
    except Exception as exc:  # a bug: one line, not a traceback; FORENSICS_DEBUG=1 shows it
        if _debug():
            raise
        say(f"internal error ({type(exc).__name__}: {exc}); this is a bug in forensics, please report it "
            "with the command line (FORENSICS_DEBUG=1 shows the traceback)")  # fmt: skip
        raise typer.Exit(EXIT_INTERNAL) from exc


def output_path(path: Path, option: str) -> None:
    """Exit 2 when ``path`` cannot be written as a file: it is a folder, or sits under a file."""
    if path.is_dir():
        say(f"{option} {path}: is a folder; give a file name")
        raise typer.Exit(EXIT_USAGE)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                say(f"{option} {path}: {parent} is a file, not a folder")
                raise typer.Exit(EXIT_USAGE)
            break


__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "EXIT_USAGE", "GuardedGroup", "output_path", "say", "warn"]
