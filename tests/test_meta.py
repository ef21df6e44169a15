"""House rules checked by code: every format and every command is documented and registered."""

from __future__ import annotations

import inspect

import typer.main

from forensics.cli import app
from forensics.ingest.registry import BY_NAME, PARSERS


def test_every_parser_is_named_described_and_typed() -> None:
    assert len(BY_NAME) == len(PARSERS), "parser names must be unique"
    for parser in PARSERS:
        cls = type(parser)
        assert parser.name and parser.name == parser.name.lower(), cls
        assert parser.description, cls
        assert cls.__doc__, f"{cls.__name__} has no docstring"
        for method in ("sniff", "parse"):
            sig = inspect.signature(getattr(cls, method))
            assert sig.return_annotation is not inspect.Signature.empty, (
                f"{cls.__name__}.{method} lacks a return type"
            )


def _commands(group: typer.main.TyperGroup, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((prefix + name, cmd))
        if hasattr(cmd, "commands"):
            out.extend(_commands(cmd, prefix + name + " "))  # type: ignore[arg-type]
    return out


def test_every_command_has_help_with_an_example() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)  # type: ignore[arg-type]
    assert {
        "ingest",
        "sql",
        "hunt",
        "rules",
        "timeline",
        "report",
        "export",
        "verify",
        "keygen",
        "custody",
    } <= {n.split()[0] for n, _ in commands}
    missing = [
        n for n, c in commands if not hasattr(c, "commands") and "example" not in (c.help or "").lower()
    ]  # type: ignore[attr-defined]
    assert missing == []


def test_public_api_names_resolve() -> None:
    import forensics

    for name in forensics.__all__:
        assert getattr(forensics, name) is not None, name
