"""``verify --reproduce``: rebuild the case from the originals, re-run the recorded hunt with the
rule files kept in the bundle, and compare the findings with the bundle's.

What it uses from the bundle: the hunt's own record of its run (the ``hunt`` step of
``provenance/commands.jsonl``, i.e. the ``run.json`` of the hunt run the bundle pins: every Sigma, SQL,
IOC and YARA file the hunt read, in order, with kind and SHA-256), the copies of those files
(``provenance/rules/``, indexed by ``RULES.json``) and the manifest's sources, each with the
context it was parsed with (zone, year, host, modification time and where each came from, see
``forensics.ingest.context``): every original is parsed again with exactly that. Bundles made
before sources carried a context fall back on the recorded ``ingest`` commands' ``--tz``,
``--host`` and ``--year``. The originals come from ``--sources``. Every recorded file must be in the bundle with its recorded hash; a reproduction
that was asked for and cannot be done fails and says why, it never passes.

The re-run reads copies under a temporary folder; ``forensics.hunt.engine.replay`` names the
recorded paths in its findings, so a faithful re-run gives the same finding ids.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from forensics.bundle import manifest as mf

# What two hunts must agree on: ids are content-derived (rule, host, records, details), so equal
# ids mean the same rule fired on the same records.
COMPARED = ("finding_id", "kind", "rule_id", "level", "host", "first_utc", "last_utc", "rule_sha256")
KINDS = ("sigma", "sql", "ioc", "yara")
MAX_NAMED = 3  # differing findings named in the detail line


def projection(findings: list[dict[str, Any]]) -> bytes:
    """Canonical bytes of the parts of findings a re-run must reproduce exactly."""
    return mf.canonical(sorted((_row(f) for f in findings), key=lambda r: str(r["finding_id"])))


def _row(f: dict[str, Any]) -> dict[str, Any]:
    row = {k: f.get(k) for k in COMPARED}
    row["records"] = sorted(r["ref"] for r in f.get("records", []))
    return row


def _hunt_step(bundle: Any) -> dict[str, Any] | None:
    for line in (bundle.get(mf.COMMANDS) or b"").decode("utf-8").splitlines():
        step = json.loads(line)
        if step.get("step") == "hunt" and isinstance(step.get("run"), dict):
            return step
    return None


def _ingest_steps(bundle: Any) -> list[list[str]]:
    """argv of the recorded ingest commands (custody ``hashed`` steps)."""
    out = []
    for line in (bundle.get(mf.COMMANDS) or b"").decode("utf-8").splitlines():
        step = json.loads(line)
        if step.get("step") == "hashed" and isinstance(step.get("argv"), list):
            out.append([str(a) for a in step["argv"]])
    return out


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in argv (the last one wins, as in the CLI)."""
    value = None
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def ingest_context(bundle: Any) -> tuple[Any, list[str]]:
    """The ``ParseContext`` the recorded ingest used, and problems that stop a faithful re-ingest."""
    from forensics.ingest.base import ParseContext

    found: dict[str, set[str]] = {"--tz": set(), "--host": set(), "--year": set(), "--mapping": set()}
    for argv in _ingest_steps(bundle):
        for name, seen in found.items():
            value = _option(argv, name)
            if value is not None:
                seen.add(value)
    problems = [
        f"the recorded ingests used different {name} values ({', '.join(sorted(v))}): not replayable as one"
        for name, v in found.items()
        if len(v) > 1
    ]
    if found["--mapping"]:
        problems.append("the recorded ingest used a --mapping file, which the bundle does not carry")
    year = next(iter(found["--year"]), None)
    try:
        reference_year = int(year) if year is not None else None
    except ValueError:
        problems.append(f"recorded --year {year!r} is not a year")
        reference_year = None
    ctx = ParseContext(
        tz=next(iter(found["--tz"]), None),
        host=next(iter(found["--host"]), None),
        reference_year=reference_year,
    )
    return ctx, problems


PARSED = ("ok", "rejects")  # statuses of sources a parser read (and so a context was decided for)


def recorded_contexts(bundle: Any) -> tuple[dict[str, Any], list[str], list[str]]:
    """The context each source was parsed with (SHA-256 → ``InputContext``), problems reading them,
    and the parsed sources that carry none (a bundle made before contexts were recorded)."""
    from forensics.ingest.context import InputContext

    out: dict[str, InputContext] = {}
    problems: list[str] = []
    missing: list[str] = []
    for s in (bundle.manifest or {}).get("sources") or []:
        if not isinstance(s, dict) or not s.get("acquisition_sha256"):
            continue
        where = str(s.get("original_path")) + (f" [{s['member']}]" if s.get("member") else "")
        if s.get("context") is None:
            if s.get("status") in PARSED:
                missing.append(where)
            continue
        try:
            out[str(s["acquisition_sha256"])] = InputContext.from_dict(s["context"])
        except ValueError as exc:
            problems.append(f"source {where}: {exc}")
    return out, problems, missing


def _rules_index(bundle: Any) -> dict[tuple[str, str], dict[str, Any]]:
    raw = bundle.get(mf.RULES_INDEX)
    entries = json.loads(raw) if raw else []
    return {(str(e.get("kind")), str(e.get("path"))): e for e in entries if isinstance(e, dict)}


def lay_out_rules(
    bundle: Any, run: dict[str, Any], dest: Path
) -> tuple[list[tuple[str, Path]], dict[str, str], list[str]]:
    """Write the recorded rule files from the bundle under ``dest`` as the hunt read them.

    Returns ``(kind, path)`` pairs in recorded order for ``replay`` (a Sigma folder once, laid
    out as the recorded one, since Sigma findings name a rule's path inside its folder), the
    copy → recorded path aliases, and problems (files not in the bundle or not as recorded).
    """
    index = _rules_index(bundle)
    files: list[tuple[str, Path]] = []
    aliases: dict[str, str] = {}
    problems: list[str] = []
    sigma_roots: dict[str, Path] = {}
    for n, item in enumerate(run.get("files") or []):
        kind, path, sha = str(item.get("kind")), str(item.get("path")), item.get("sha256")
        if kind not in KINDS:
            problems.append(f"{path}: unknown rule file kind {kind!r}")
            continue
        entry = index.get((kind, path)) or {}
        data = bundle.get(str(entry.get("member"))) if entry.get("member") else None
        if sha is None:
            continue  # the hunt could not read it either: it contributed nothing
        if data is None:
            problems.append(
                f"{kind} file {path} is not in the bundle ({entry.get('status') or 'not indexed'})"
            )
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            problems.append(f"bundled {kind} file {path} differs from the hunt's recorded SHA-256")
            continue
        if kind == "sigma":
            copy, root = _place_sigma(item, data, dest, sigma_roots, files)
            aliases[str(copy)] = path  # so the re-run's own run.json names the recorded files too
            aliases[str(root)] = str(item.get("root") or path)
            continue
        name = PurePosixPath(path.replace("\\", "/")).name
        if name in ("", ".", ".."):
            problems.append(f"{kind} file {path!r}: no file name to lay the copy out under")
            continue
        copy = dest / kind / f"{n:05d}" / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
        files.append((kind, copy))
        aliases[str(copy)] = path
    return files, aliases, problems


def _place_sigma(
    item: dict[str, Any], data: bytes, dest: Path, roots: dict[str, Path], files: list[tuple[str, Path]]
) -> tuple[Path, Path]:
    """A Sigma rule at its recorded place inside a copy of its recorded folder (or alone when given alone).

    Returns the copy and the folder (or file) handed to the re-run.
    """
    path, root = str(item["path"]), str(item.get("root") or item["path"])
    rel = PurePosixPath(str(item.get("rel") or PurePosixPath(path).name))
    if ".." in rel.parts or rel.is_absolute():
        rel = PurePosixPath(rel.name)  # a hostile index must not write outside the temporary folder
    if root == path:  # the rule file was given on its own
        copy = dest / "sigma" / f"f{len(roots):04d}" / rel.name
        roots[f"file:{path}"] = copy
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
        files.append(("sigma", copy))
        return copy, copy
    if root not in roots:
        roots[root] = dest / "sigma" / f"d{len(roots):04d}"
        roots[root].mkdir(parents=True, exist_ok=True)
        files.append(("sigma", roots[root]))
    copy = roots[root].joinpath(*rel.parts)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(data)
    return copy, roots[root]


def _originals(bundle: Any, sources_dir: Path) -> list[Path]:
    """Files under ``sources_dir`` that are the bundle's sources (by hash, or archives by name).

    Only those are ingested: anything else in the folder would add findings the hunt never saw.
    """
    sources = (bundle.manifest or {}).get("sources", [])
    shas = {s.get("acquisition_sha256") for s in sources if not s.get("member")}
    archives = {
        PurePosixPath(str(s.get("original_path")).replace("\\", "/")).name for s in sources if s.get("member")
    }
    sizes = {s.get("size") for s in sources if not s.get("member")}
    walk = (
        [sources_dir] if sources_dir.is_file() else sorted(p for p in sources_dir.rglob("*") if p.is_file())
    )
    out = []
    for p in walk:
        # hash only files of a source's size: an evidence folder can be large
        if p.name in archives or (p.stat().st_size in sizes and _file_sha256(p) in shas):
            out.append(p)
    return out


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def reproduce_findings(bundle: Any, sources_dir: Path | None) -> tuple[bool, str]:
    """(reproduced?, why) for a bundle read by ``forensics.bundle.verify.open_bundle``."""
    if sources_dir is None:
        return False, "cannot reproduce without the originals: give --sources DIR"
    step = _hunt_step(bundle)
    if step is None:
        return (
            False,
            "the bundle records no replayable hunt run (the case was never hunted, or hunted before hunts recorded their run)",
        )
    run = step["run"]
    recorded, problems, missing = recorded_contexts(bundle)
    ctx, argv_problems = ingest_context(bundle)
    # sources with a recorded context replay with it; the ingest commands' options matter only
    # for sources without one (and a --mapping file, which no bundle carries, for all)
    problems += [p for p in argv_problems if missing or "--mapping" in p]
    if problems:
        return False, "cannot reproduce: " + "; ".join(problems)
    originals = _originals(bundle, Path(sources_dir))
    if not originals:
        return False, f"cannot reproduce: no file under {sources_dir} is one of the bundle's sources"
    with tempfile.TemporaryDirectory(prefix="forensics-reproduce-") as tmpname:
        tmp = Path(tmpname)
        files, aliases, problems = lay_out_rules(bundle, run, tmp / "rules")
        if problems:
            more = f" (+{len(problems) - MAX_NAMED} more)" if len(problems) > MAX_NAMED else ""
            return False, "cannot reproduce: " + "; ".join(problems[:MAX_NAMED]) + more
        again = _rerun(tmp, originals, ctx, files, aliases, run, recorded)
    return compare(json.loads(bundle.get(mf.FINDINGS_JSON) or b"[]"), again)


def _rerun(
    tmp: Path, originals: list[Path], ctx: Any, files: list[tuple[str, Path]], aliases: dict[str, str],
    run: dict[str, Any], recorded: dict[str, Any],
) -> list[dict[str, Any]]:  # fmt: skip
    """Ingest the originals into a temporary case, replay the hunt there, read its findings."""
    from forensics.bundle.members import findings_dicts
    from forensics.hunt.engine import DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, replay
    from forensics.hunt.findings import read_findings
    from forensics.ingest.runner import ingest_paths
    from forensics.store import Case

    options: dict[str, Any] = run.get("options") or {}
    case_dir = tmp / "case"
    ingest_paths(case_dir, originals, ctx, workers=1, recorded=recorded)
    with Case.open(case_dir) as case:
        replay(
            case, files, aliases=aliases, argv=["forensics", "verify", "--reproduce"],
            yara_max_size=int(options.get("yara_max_size") or DEFAULT_MAX_SIZE),
            yara_timeout=int(options.get("yara_timeout") or DEFAULT_TIMEOUT),
            scan_paths=originals if options.get("scan_paths") else [],  # the hunt scanned the evidence files
            record=run,  # the Sigma tuning and rule-set lists the hunt used
        )  # fmt: skip
    with Case.open(case_dir, read_only=True) as case:
        return findings_dicts(read_findings(case))


def compare(kept: list[dict[str, Any]], again: list[dict[str, Any]]) -> tuple[bool, str]:
    """(equal?, detail) of the bundle's findings and a re-run's.

    TLP:RED findings the bundle withheld are left out of the re-run's side. YARA hits on files
    (no event records) name the path the file was scanned at, which differs between the
    collection and ``--sources``: they must agree on rule, level and the file's bytes instead.
    """
    ids = {f["finding_id"] for f in kept}
    again = [f for f in again if f["finding_id"] in ids or not _is_red(f)]
    hits_kept = sorted(_file_key(f) for f in kept if _file_hit(f))
    hits_again = sorted(_file_key(f) for f in again if _file_hit(f))
    kept = [f for f in kept if not _file_hit(f)]
    again = [f for f in again if not _file_hit(f)]
    problems = []
    if projection(again) != projection(kept):
        problems.append(
            f"re-run gave {len(again)} findings that differ from the bundle's {len(kept)}: {_diff(kept, again)}"
        )
    if hits_kept != hits_again:
        gone = sorted(set(hits_kept) - set(hits_again))
        problems.append(
            f"YARA file hits differ: bundle {len(hits_kept)}, re-run {len(hits_again)}"
            + (
                f" (not reproduced: {', '.join(f'{k[0]} on {k[2][:12]}' for k in gone[:MAX_NAMED])})"
                if gone
                else ""
            )
        )
    if problems:
        return False, "; ".join(problems)
    note = (
        f"; {len(hits_kept)} YARA file hits matched the same rules on the same file bytes"
        if hits_kept
        else ""
    )
    return True, f"{len(kept)} findings reproduced identically from the originals and the bundled rules{note}"


def _file_key(f: dict[str, Any]) -> tuple[str, str, str, str]:
    """What a YARA file hit is, without where the file was: rule, level, file SHA-256, rule file hash."""
    try:
        details = json.loads(f.get("details") or "{}")
    except ValueError:
        details = {}
    sha = str(details.get("sha256") if isinstance(details, dict) else "")
    return str(f.get("rule_id")), str(f.get("level")), sha, str(f.get("rule_sha256"))


def _diff(kept: list[dict[str, Any]], again: list[dict[str, Any]]) -> str:
    """Which findings differ, named by kind and rule."""
    a = {f["finding_id"]: f for f in kept}
    b = {f["finding_id"]: f for f in again}
    missing = [a[i] for i in sorted(set(a) - set(b))]
    new = [b[i] for i in sorted(set(b) - set(a))]
    changed = [a[i] for i in sorted(set(a) & set(b)) if _row(a[i]) != _row(b[i])]
    parts = []
    for label, group in (("not reproduced", missing), ("new in the re-run", new), ("changed", changed)):
        if group:
            names = ", ".join(f"{f.get('kind')} {f.get('rule_id')}" for f in group[:MAX_NAMED])
            more = f" (+{len(group) - MAX_NAMED} more)" if len(group) > MAX_NAMED else ""
            parts.append(f"{len(group)} {label}: {names}{more}")
    return "; ".join(parts) or "same ids, different order"


def _file_hit(f: dict[str, Any]) -> bool:
    return f.get("kind") == "yara" and not f.get("records")


def _is_red(f: dict[str, Any]) -> bool:
    return str(f.get("tlp") or "").upper().removeprefix("TLP:") == "RED"


__all__ = [
    "compare",
    "ingest_context",
    "lay_out_rules",
    "projection",
    "recorded_contexts",
    "reproduce_findings",
]
