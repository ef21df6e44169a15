"""``forensics rules update|list|use``: install SigmaHQ's release rules, see what is installed, pick one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forensics import rulesets
from forensics.cli.common import cells, err, out, print_json_line
from forensics.cli.guard import say
from forensics.rulesets import DEFAULT_PACKAGE, PACKAGES, Installed, RuleSet, RuleSupplyError

UPDATE_HELP = f"""Install a Sigma rule set for `hunt` to use when no --sigma is given.

Without --from: download SigmaHQ's release package (--package, default {DEFAULT_PACKAGE}: one of
{", ".join(PACKAGES)}) of the latest release or of --version TAG from GitHub, check its size and
SHA-256 against GitHub's published digest (and --sha256 when given), check every member, and
install it into the data folder ($FORENSICS_DATA_DIR, else $XDG_DATA_HOME/forensics, else
~/.local/share/forensics), pinned by version and SHA-256. --from installs a local copy instead: a
release zip, a folder of rules, or a SigmaHQ checkout (its rules* folders). Installed sets are
never overwritten; the new one becomes current.

Exit codes: 0 installed (or already installed); 1 error (unreachable, digest mismatch, bad archive); 2 usage.

Example: forensics rules update --package core+ --version r2025-01-01 --sha256 <hex>
Example: forensics rules update --from sigma_all_rules.zip
"""


def add_commands(rules: typer.Typer) -> None:
    """Add ``update``, ``list`` and ``use`` to the ``rules`` command group."""
    rules.command("update", help=UPDATE_HELP)(update)
    rules.command(
        "list",
        help=(
            "List the installed Sigma rule sets: version, package, rules and how many converted, the "
            "SHA-256 each is pinned by, where it came from; * marks the one `hunt` uses.\n\n"
            "Exit codes: 0 ok (also when none is installed); 1 error (a damaged set record).\n\n"
            "Example: forensics rules list --json"
        ),
    )(list_sets)
    rules.command(
        "use",
        help=(
            "Make an installed rule set the one `hunt` uses, named by its id or version "
            "(see `forensics rules list`).\n\nExit codes: 0 ok; 1 no such set.\n\n"
            "Example: forensics rules use r2025-01-01"
        ),
    )(use)


def _progress(msg: str) -> None:
    err.print(f"[dim]{msg}[/dim]", highlight=False)


def update(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Install this local copy: a release zip, a rules folder or a checkout."),
    ] = None,
    package: Annotated[
        str, typer.Option("--package", help=f"SigmaHQ package to download: {', '.join(PACKAGES)}.")
    ] = DEFAULT_PACKAGE,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Release tag to download (default: the latest); names a local copy."),
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="The archive's expected SHA-256 (hex); a mismatch fails.")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="The installed set as one JSON object on stdout.")
    ] = False,
) -> None:
    """Download (or take from --from) a Sigma rule set, verify it and install it."""
    if package not in PACKAGES:
        say(f"--package must be one of {', '.join(PACKAGES)}")
        raise typer.Exit(2)
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        say("--sha256 takes 64 hex digits")
        raise typer.Exit(2)
    try:
        if source is not None:
            done = rulesets.install_local(source, version=version, sha256=sha256, progress=_progress)
        else:
            done = rulesets.update(package=package, version=version, sha256=sha256, progress=_progress)
    except RuleSupplyError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if json:
        print_json_line({**done.rule_set.to_record(), "new": done.new})
    _report(done)


def _report(done: Installed) -> None:
    s = done.rule_set
    verb = "installed" if done.new else "already installed"
    err.print(f"{verb}: {s.label()} -> {s.path}", highlight=False)
    err.print(
        f"  {s.files} rule files, {s.rules} rules: {s.converted} converted, {s.skipped} skipped, {s.failed} failed",
        highlight=False,
    )
    err.print(f"  {done.digest_note}; rule files' SHA-256 {s.tree_sha256}", highlight=False)
    if done.others:
        err.print(
            f"  {done.others} other file(s) in the source (README, LICENSE, ...) not installed as rules"
        )
    err.print("  current: `forensics hunt` uses this set when no --sigma is given", highlight=False)


def list_sets(
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per installed set on stdout.")
    ] = False,
) -> None:
    """Show the installed rule sets, the current one marked."""
    try:
        sets = rulesets.installed()
        chosen = rulesets.current()
    except RuleSupplyError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    key = chosen.set_id if chosen is not None else None
    if json:
        for s in sets:
            print_json_line({**s.to_record(), "current": s.set_id == key})
        return
    if not sets:
        err.print(
            f"no rule set installed in {rulesets.data_dir() / 'rules'}: `forensics rules update` installs "
            "SigmaHQ's release rules (`--from DIR|ZIP` a local copy)",
            highlight=False,
        )
        return
    _table(sets, key)


def _table(sets: list[RuleSet], key: str | None) -> None:
    t = Table(
        "", "set", "version", "package", "rules", "converted", "sha256", "digest", "installed (UTC)", "origin"
    )
    for s in sets:
        t.add_row(*cells(
            "*" if s.set_id == key else "", s.set_id, s.version, s.package or "(folder)", str(s.rules),
            str(s.converted), s.sha256[:16] + "…", s.digest, s.installed_utc[:19], s.origin,
        ))  # fmt: skip
    out.print(t)


def use(
    name: Annotated[str, typer.Argument(help="Set id or version (see `forensics rules list`).")],
    json: Annotated[
        bool, typer.Option("--json", help="The set now current as one JSON object on stdout.")
    ] = False,
) -> None:
    """Make an installed set current."""
    try:
        chosen = rulesets.use(name)
    except RuleSupplyError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if json:
        print_json_line({**chosen.to_record(), "current": True})
        return
    out.print(f"current: {chosen.label()} ({chosen.set_id})", highlight=False, markup=False)
