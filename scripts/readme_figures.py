"""Regenerate the figures of README.md from a run, so they cannot drift from what the tool does.

    python scripts/readme_figures.py            # print every figure block, from a fresh run
    python scripts/readme_figures.py --check    # exit 1 and show the difference when README.md disagrees
    python scripts/readme_figures.py --write    # rewrite the blocks in README.md
    python scripts/readme_figures.py --raw      # the commands' whole output, before shortening

The walk-through's commands run as a new user would type them, in a fresh temporary folder that holds
`sample_data/` (a link to the repository's) and `../shared/data` (a link to the public corpus, for the
Sigma step), with an empty data folder (no installed rule set) and the output a terminal-less console
prints. A block of README.md is the fenced block after a `<!-- figures: NAME -->` line; the script
writes its `$ command` lines and the output, shortened the same way every time (table borders dropped,
long tables cut with `…`, chosen lines of the story). Values that differ on every run — key
fingerprints, bundle ids and hashes, custody heads, timings — are shown as `<…>` placeholders.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MARK = re.compile(r"^<!-- figures: ([a-z0-9-]+) -->$")
ELLIPSIS = "…"
BOX_ONLY = re.compile(r"^[\s\u2500-\u257f]*$")  # a table's border line (box-drawing characters only)

# The case details for `export` (the README shows this very file).
CASE_FILE = """\
fir_number: "0123/2022"
police_station: Cyber Crime PS, New Delhi
agency: IFSO, Delhi Police
sections: ["IT Act 2000 s.43", "IT Act 2000 s.66", "IT Act 2000 s.66F"]
proceeding_date: 2022-11-23    # before 01/07/2024: IEA s.65B(4) certificate; on or after: BSA s.63
operator: SI A. Rao
organisation: DIMS Hospital
place: Server room, DIMS Hospital, New Delhi
tlp: AMBER
incident_type: Ransomware
device:
  class: Server
  make: Dell
  model: PowerEdge R740
  serial: DIMS-SRV-0042
  ids: 10.10.20.11
"""

# (pattern, placeholder): values that differ on every run, replaced wherever they appear
VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(fingerprint|signer) sha256:[0-9a-f]{8}[0-9a-f…]*"), r"\1 sha256:<key fingerprint>"),
    (re.compile(r"\bFB-[0-9a-f]{24}\b"), "FB-<bundle id>"),
    (re.compile(r"\bsha256 [0-9a-f]{64}\b"), "sha256 <bundle sha256>"),
    (re.compile(r"head [0-9a-f]{16}…"), "head <custody head>"),
    (re.compile(r"\b\d+\.\d\ds\b"), "<t>s"),
)


@dataclass(frozen=True)
class Step:
    """One command of the walk-through as the README shows it."""

    command: str  # as typed, starting with `forensics`
    keep: Callable[[list[str]], list[str]] = lambda lines: lines
    needs_shared: bool = False
    ok_codes: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Block:
    """A fenced block of README.md: the steps run in order, or a fixed text."""

    name: str
    steps: tuple[Step, ...] = ()
    text: str | None = None


def _is_row(line: str) -> bool:
    """The first line of a table row (a wrapped cell's continuation has an empty first cell)."""
    return line.startswith("│") and line[1:].split("│", 1)[0].strip() != ""


def pick(
    lines: list[str], prefixes: tuple[str, ...] = (), sections: dict[str, int] | None = None, rows: int = 3
) -> list[str]:
    """The lines starting with ``prefixes``, a table's header and first ``rows`` rows, and the first
    lines of each of ``sections`` (header prefix -> how many indented lines), ``…`` where cut."""
    sections = sections or {}
    out: list[str] = []
    shown, limit, in_table = 0, -1, False
    for line in lines:
        if line.startswith("┃"):
            out.append(line)
            shown, in_table = 0, True
            continue
        if in_table and line.startswith("│"):
            shown += _is_row(line)
            if shown <= rows:
                out.append(line)
            elif out[-1] != ELLIPSIS:
                out.append(ELLIPSIS)
            continue
        in_table = False
        if limit >= 0 and line.startswith("  "):
            shown += 1
            if shown <= limit:
                out.append(line)
            elif shown == limit + 1:
                out.append("  " + ELLIPSIS)
            continue
        limit = next((n for head, n in sections.items() if line.startswith(head)), -1)
        shown = 0
        if (
            limit >= 0
            or line.startswith(prefixes)
            or NOT_LOGS.match(line)
            or (line == "" and out and out[-1] != "")
        ):
            out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


STORY = (
    "INCIDENT STORY",
    "Span:",
    "Patient zero:",
    "Entry point:",
    "Encrypted hosts:",
    "Held:",
    "Clock offsets",
)
SUMMARY = ("case:", "using IOC", "sigma:", "ingested:", "findings:", "hunt run", "outputs")
NOT_LOGS = re.compile(r"\d+ file\(s\) are (not logs|the hunt's IOC lists)")  # the ingest's count lines


def _hunt(lines: list[str]) -> list[str]:
    """The first hunt: what it read, the top of the findings table, the totals, the story's main lines."""
    picked = pick(
        lines,
        SUMMARY + STORY,
        {"Lateral-movement path": 4, "Cleared logs": 1, "outputs": 9},
    )
    # input problems (none in the demo: its files that are not logs are counted on one line above)
    return picked + [line for line in lines if "input problem(s) in the ingest step" in line]


def _rehunt(lines: list[str]) -> list[str]:
    """A later hunt of the case: which rules, what they found."""
    return pick(lines, ("sigma: installed", "sigma: SigmaHQ", "sql hunts:", "findings:", "hunt run"))


def _rules_update(lines: list[str]) -> list[str]:
    return pick(lines, ("installed:", "already installed:", "  "))


BLOCKS: tuple[Block, ...] = (
    # exit 0: the demo collection's files that are not logs (ransom notes, the encryptor) are counted, no problem
    Block("hunt", (Step("forensics hunt sample_data/", _hunt),)),
    Block(
        "sql",
        (
            Step(
                'forensics sql cases/sample_data "SELECT source, count(*) AS events, count(DISTINCT host) AS '
                'hosts FROM events GROUP BY ALL ORDER BY events DESC"'
            ),
        ),
    ),
    Block(
        "sigma",
        (
            Step(
                "forensics rules check ../shared/data/sigma/rules --case cases/sample_data", needs_shared=True
            ),
            Step(
                "forensics rules update --from ../shared/data/sigma/rules", _rules_update, needs_shared=True
            ),
            Step("forensics hunt cases/sample_data", _rehunt, needs_shared=True),
        ),
    ),
    Block(
        "timeline",
        (Step("forensics timeline cases/sample_data --format timesketch --out dims-timeline.jsonl"),),
    ),
    Block("case-file", text=CASE_FILE),
    Block(
        "bundle",
        (
            Step("forensics keygen keys/analyst"),
            Step(
                "forensics export cases/sample_data --out dims-bundle.zip --case-file fir.yaml --key keys/analyst"
            ),
            Step("forensics verify dims-bundle.zip --sources sample_data --key keys/analyst.pub"),
        ),
    ),
)


def _mask(text: str, places: dict[str, str]) -> str:
    """``text`` with this run's folders named as a user would see them and volatile values masked."""
    for folder, shown in places.items():
        text = text.replace(folder, shown)
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FORENSICS_DATA_DIR=str(home / "data"),  # a fresh install: no rule set installed
        PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
        NO_COLOR="1",
        COLUMNS="160",
    )
    env.pop("FORCE_COLOR", None)
    return env


def run_step(step: Step, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run one command as typed (``forensics`` is this interpreter's ``-m forensics``), output lines."""
    argv = shlex.split(step.command)
    res = subprocess.run(
        [sys.executable, "-m", "forensics", *argv[1:]],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if res.returncode not in step.ok_codes:
        raise SystemExit(f"`{step.command}` exited {res.returncode}:\n{res.stdout}")
    return [line.rstrip() for line in res.stdout.splitlines()]


def generate(shared: Path | None, raw: bool = False) -> dict[str, str]:
    """Every block's text, from a fresh run in a temporary folder (``shared``: the corpus, or None)."""
    blocks: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="readme-figures-") as tmp:
        home = Path(tmp)
        cwd = home / "work"
        cwd.mkdir()
        (cwd / "sample_data").symlink_to(REPO / "sample_data", target_is_directory=True)
        (cwd / "keys").mkdir()
        (cwd / "fir.yaml").write_text(CASE_FILE, encoding="utf-8")
        if shared is not None:
            (home / "shared").mkdir()
            (home / "shared" / "data").symlink_to(shared.resolve(), target_is_directory=True)
        env = _environment(home)
        places = {  # longest first: the data folder is inside the temporary one
            str(home / "data"): "~/.local/share/forensics",
            str((cwd / "sample_data").resolve()): str(Path("…") / "sample_data"),
            str(cwd): "…",
        }
        for block in BLOCKS:
            if block.text is not None:
                blocks[block.name] = block.text
                continue
            if shared is None and any(s.needs_shared for s in block.steps):
                continue
            lines: list[str] = []
            for step in block.steps:
                got = [_mask(line, places) for line in run_step(step, cwd, env)]
                if not raw:
                    got = step.keep([line for line in got if not (line.strip() and BOX_ONLY.match(line))])
                lines += [f"$ {step.command}", *got]
            blocks[block.name] = "\n".join(lines) + "\n"
    return blocks


def readme_blocks(text: str) -> dict[str, tuple[int, int]]:
    """NAME -> (first, last) line index of the fenced block's body after each ``figures`` mark."""
    lines = text.split("\n")
    found: dict[str, tuple[int, int]] = {}
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise SystemExit(f"README.md line {i + 1}: a figures mark must be followed by a ``` block")
        end = next((j for j in range(i + 2, len(lines)) if lines[j] == "```"), None)
        if end is None:
            raise SystemExit(f"README.md line {i + 2}: the block is not closed")
        found[m.group(1)] = (i + 2, end)
    return found


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """README text with every marked block's body replaced by ``blocks[NAME]`` (when given)."""
    lines = text.split("\n")
    for name, (start, end) in sorted(readme_blocks(text).items(), key=lambda kv: -kv[1][0]):
        if name in blocks:
            lines[start:end] = blocks[name].rstrip("\n").split("\n")
    return "\n".join(lines)


def check(text: str, blocks: dict[str, str]) -> list[str]:
    """Differences between README.md's blocks and a run's (empty: they agree)."""
    marked = readme_blocks(text)
    problems = [f"README.md has no block `{n}`" for n in blocks if n not in marked]
    known = {b.name for b in BLOCKS}
    problems += [f"README.md block `{n}` is not one this script makes" for n in marked if n not in known]
    new = replace_blocks(text, blocks)
    if new != text:
        problems.append(
            "".join(
                difflib.unified_diff(text.splitlines(True), new.splitlines(True), "README.md", "from a run")
            )
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print, --check or --write the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data",
                   help="the public corpus (../shared/data) for the Sigma step")  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with README.md; exit 1 when they differ")
    mode.add_argument("--write", action="store_true", help="rewrite the blocks of README.md")
    mode.add_argument("--raw", action="store_true", help="print the commands' whole output")
    args = p.parse_args(argv)
    shared = args.shared if args.shared.is_dir() else None
    if shared is None:
        print(f"note: {args.shared} is not here: the Sigma block is left as it is", file=sys.stderr)
    blocks = generate(shared, raw=args.raw)
    text = README.read_text(encoding="utf-8")
    if args.check:
        problems = check(text, blocks)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    if args.write:
        README.write_text(replace_blocks(text, blocks), encoding="utf-8")
        print(f"README.md: {len(blocks)} block(s) written")
        return 0
    for name, body in blocks.items():
        print(f"<!-- figures: {name} -->\n```\n{body}```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
