"""YARA with yara-python: compile rule files one by one, scan files and long event text.

Each rule file is compiled on its own (with the external variables LOKI-style rule sets such as
signature-base use: ``filename``, ``filepath``, ``extension``, ``filetype``, ``owner``), so one
broken or include-dependent file is reported with yara's reason and the others still run. The
good files are then compiled together, one namespace per file, for scanning.

Scanning only reads bytes: regular files under the folders given to ``hunt`` (symlinks and
special files are skipped, files above the size limit are reported, each scan has a timeout),
and the distinct values of long text columns of events (script blocks, command lines), each
value scanned once and its hits mapped back to every row holding it.

A file hit is a fact about bytes: its finding id comes from the rule and the file's SHA-256, size
and matched strings, never from the path the file was reached by (``sample_data/``, ``./sample_data``
and an absolute path give the same ids, so do a copy of the evidence elsewhere and a replay). The
same bytes at several places are one finding whose ``details.paths`` lists each place. The
``filepath`` external variable is the file's resolved absolute path, whatever the spelling.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import orjson
import yara

from forensics.archives import READ_ERRORS, Refused, is_archive, walk_archive
from forensics.hostnames import host_spellings
from forensics.hunt.findings import Finding, Level, RecordRef, parse_level
from forensics.hunt.writer import Outcome
from forensics.store import Case

RULE_SUFFIXES = (".yar", ".yara")
EXTERNALS: dict[str, str] = {"filename": "", "filepath": "", "extension": "", "filetype": "", "owner": ""}
TEXT_COLUMNS = ("ScriptBlockText", "process_cmdline", "parent_cmdline", "Payload", "ContextInfo")
MIN_TEXT = 64  # shorter values are not "long text"; Sigma and IOC joins cover them
DEFAULT_MAX_SIZE = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 30  # seconds per file or value


@dataclass
class YaraRules:
    """The compiled rule set and what happened to every rule file."""

    rules: yara.Rules | None
    files: dict[str, str] = field(default_factory=dict)  # namespace → rule file path
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def compiled(self) -> int:
        """Number of rule files compiled."""
        return len(self.files)


@dataclass
class _FileHit:
    """One rule over one file content, wherever that content was met."""

    title: str
    level: Level
    rule_path: str | None
    size: int
    strings: list[str]
    paths: set[str] = field(default_factory=set)


@dataclass
class YaraResult:
    """Findings and outcomes of a YARA pass."""

    findings: list[Finding] = field(default_factory=list)
    # file hits by (namespace, rule, file SHA-256), turned into findings once every file is scanned
    file_hits: dict[tuple[str, str, str], _FileHit] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)


def rule_files(paths: Sequence[Path]) -> Iterator[Path]:
    """``.yar``/``.yara`` files under ``paths`` (or the paths themselves), sorted per folder."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix.lower() in RULE_SUFFIXES and f.is_file())
        elif p.is_file():
            yield p


def compile_rules(paths: Sequence[Path]) -> YaraRules:
    """Compile every rule file on its own, report failures, then build one rule set of the good ones."""
    good: dict[str, str] = {}
    outcomes: list[Outcome] = []
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        outcomes.append(Outcome("yara", str(p), None, "failed", "no such file or folder"))
    for i, f in enumerate(rule_files([p for p in paths if p.exists()])):
        try:
            single = yara.compile(filepath=str(f), externals=EXTERNALS, includes=True)
        except yara.Error as exc:
            outcomes.append(Outcome("yara", str(f), None, "failed", str(exc)))
            continue
        count = sum(1 for _ in single)
        namespace = f"f{i:05d}_{f.stem}"
        good[namespace] = str(f)
        outcomes.append(Outcome("yara", str(f), None, "loaded", f"{count} rules", count=count))
    if not good:
        return YaraRules(None, {}, outcomes)
    try:
        rules = yara.compile(filepaths=good, externals=EXTERNALS, includes=True)
    except yara.Error as exc:
        # Each file compiled alone; together they can still clash (e.g. duplicate global names).
        outcomes.append(Outcome("yara", "(combined rule set)", None, "failed", str(exc)))
        return YaraRules(None, {}, outcomes)
    return YaraRules(rules, good, outcomes)


# ---- externals for files -----------------------------------------------------------------
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "EXE"),
    (b"\x7fELF", "ELF"),
    (b"\xfe\xed\xfa\xce", "MACH-O"),
    (b"\xfe\xed\xfa\xcf", "MACH-O"),
    (b"\xce\xfa\xed\xfe", "MACH-O"),
    (b"\xcf\xfa\xed\xfe", "MACH-O"),
    (b"PK\x03\x04", "ZIP"),
    (b"%PDF", "PDF"),
    (b"\xd0\xcf\x11\xe0", "OLE"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7Z"),
    (b"\x1f\x8b", "GZIP"),
)


def file_type(head: bytes) -> str:
    """The LOKI-style ``filetype`` of a file from its first bytes ("EXE", "ELF", ... or "")."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return ""


def _owner(st: os.stat_result) -> str:
    try:
        import pwd

        return pwd.getpwuid(st.st_uid).pw_name
    except (ImportError, KeyError):
        return str(st.st_uid)


def file_externals(path: Path, head: bytes, st: os.stat_result) -> dict[str, str]:
    """External variable values for scanning ``path``."""
    return {
        "filename": path.name,
        "filepath": _resolved(path),  # the same whatever spelling of the path reached the file
        "extension": path.suffix.lower(),
        "filetype": file_type(head),
        "owner": _owner(st),
    }


# ---- scanning -----------------------------------------------------------------------------
def _resolved(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def _level(meta: dict[str, Any]) -> Level:
    for key in ("level", "severity"):
        if v := parse_level(meta.get(key)):
            return v
    score = meta.get("score")
    if isinstance(score, int):
        return "critical" if score >= 90 else "high" if score >= 70 else "medium" if score >= 40 else "low"
    return "high"


def _strings(match: Any, limit: int = 10) -> list[str]:
    """A few matched string identifiers with offsets (yara-python 4.3+ StringMatch objects)."""
    out: list[str] = []
    for s in match.strings:
        for inst in getattr(s, "instances", [])[:3]:
            out.append(f"{s.identifier}@{inst.offset}")
            if len(out) >= limit:
                return out
    return out


def scan_files(rules: YaraRules, paths: Sequence[Path], *, max_size: int = DEFAULT_MAX_SIZE,
               timeout: int = DEFAULT_TIMEOUT, expected: Mapping[str, str] | None = None,
               names: Mapping[str, str] | None = None) -> YaraResult:  # fmt: skip
    """Scan regular files under ``paths`` and the members of archives among them.

    Never follows links or opens special files (a FIFO would block); archive members are read
    from the shared archive walk (``forensics.archives``: its bounds on expansion and depth apply),
    one at a time, never written out; nested archives are spooled to a temporary folder.
    ``expected`` maps a path to the SHA-256 its bytes must have (what ingest recorded): a file
    that changed since is reported, not scanned. ``names`` maps a path opened to the name
    findings and outcomes give it (the path ingest recorded, when the file is opened by its
    absolute path); a path not in it is named as given.
    """
    result = YaraResult()
    if rules.rules is None:
        return result
    with tempfile.TemporaryDirectory(prefix="forensics-yara-") as scratch:
        for f in _walk(paths):
            key = str(f)
            shown = (names or {}).get(key, key)
            _scan_path(rules, f, max_size, timeout, result, Path(scratch), (expected or {}).get(key), shown)
    result.findings.extend(_file_findings(result.file_hits))
    return result


def _file_findings(hits: dict[tuple[str, str, str], _FileHit]) -> list[Finding]:
    """One finding per rule and file content; its id from the content alone (module docstring)."""
    out = []
    for (_, rule, sha), hit in sorted(hits.items(), key=lambda kv: (kv[0][:2], min(kv[1].paths))):
        what = {"sha256": sha, "size": hit.size, "strings": hit.strings, "target": "file"}
        paths = sorted(hit.paths)
        base = Finding(
            kind="yara", rule_id=rule, title=hit.title, level=hit.level, host=None, first_ts=None, last_ts=None,
            records=[], summary=_file_summary(rule, paths), rule_path=hit.rule_path,
            details=orjson.dumps(what, option=orjson.OPT_SORT_KEYS).decode(),
        )  # fmt: skip
        # the places the content was met are shown, not identity: ``replace`` keeps the content's id
        details = orjson.dumps({**what, "paths": paths}, option=orjson.OPT_SORT_KEYS).decode()
        out.append(replace(base, details=details))
    return out


def _file_summary(rule: str, paths: list[str]) -> str:
    if len(paths) == 1:
        return f"{rule} matched file {paths[0]}"
    return f"{rule} matched {len(paths)} copies of one file: {', '.join(paths[:3])}" + (
        f" (+{len(paths) - 3} more)" if len(paths) > 3 else ""
    )


def _walk(paths: Sequence[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_symlink():
            continue
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield p


def _scan_path(
    rules: YaraRules,
    f: Path,
    max_size: int,
    timeout: int,
    result: YaraResult,
    scratch: Path,
    expected: str | None = None,
    shown: str | None = None,
) -> None:
    where = str(f) if shown is None else shown
    try:
        st = f.lstat()
    except OSError as exc:
        result.outcomes.append(Outcome("yara-scan", where, None, "failed", f"cannot stat: {exc}"))
        return
    if not stat.S_ISREG(st.st_mode):
        return  # FIFOs, devices, sockets and links: opening them could block or read elsewhere
    if st.st_size > max_size:
        result.outcomes.append(
            Outcome("yara-scan", where, None, "skipped", f"{st.st_size} bytes > limit {max_size}")
        )
        return
    try:
        data = f.read_bytes()
    except OSError as exc:
        result.outcomes.append(Outcome("yara-scan", where, None, "failed", f"cannot read: {exc}"))
        return
    # hashed once, when there is something to check: the finding's content id reuses it
    sha = hashlib.sha256(data).hexdigest() if expected is not None else None
    if expected is not None and sha != expected:
        result.outcomes.append(
            Outcome(
                "yara-scan",
                where,
                None,
                "skipped",
                f"not scanned: changed since ingest (SHA-256 was {expected})",
            )
        )
        return
    _scan_bytes(rules, where, data, file_externals(f, data[:16], st), timeout, result, sha)
    if is_archive(data[:8]):
        _scan_members(rules, f, max_size, timeout, result, scratch, where)


def _scan_members(rules: YaraRules, archive: Path, max_size: int, timeout: int, result: YaraResult,
                  scratch: Path, shown: str | None = None) -> None:  # fmt: skip
    named = str(archive) if shown is None else shown
    for member, stream in walk_archive(archive, scratch=scratch):
        where = f"{named}!/{member.name}" if member.name else named
        if stream is None:
            result.outcomes.append(Outcome("yara-scan", where, None, "skipped", member.refused or "refused"))
            continue
        if member.size is not None and member.size > max_size:
            result.outcomes.append(
                Outcome("yara-scan", where, None, "skipped", f"{member.size} bytes > limit {max_size}")
            )
            continue
        try:
            data = stream.read(max_size + 1)
        except Refused as exc:
            result.outcomes.append(Outcome("yara-scan", where, None, "skipped", str(exc)))
            continue
        except READ_ERRORS as exc:
            result.outcomes.append(Outcome("yara-scan", where, None, "failed", f"unreadable member: {exc}"))
            continue
        if len(data) > max_size:
            result.outcomes.append(
                Outcome("yara-scan", where, None, "skipped", f"more than {max_size} bytes")
            )
            continue
        name = PurePosixPath(member.chain[-1])
        ext = {"filename": name.name, "filepath": f"{_resolved(archive)}!/{member.name}",
               "extension": name.suffix.lower(), "filetype": file_type(data[:16]), "owner": ""}  # fmt: skip
        _scan_bytes(rules, where, data, ext, timeout, result)


def _scan_bytes(rules: YaraRules, where: str, data: bytes, externals: dict[str, str], timeout: int,
                result: YaraResult, sha: str | None = None) -> None:  # fmt: skip
    """Scan one file's or member's bytes (``sha``: their SHA-256 when the caller has it)."""
    assert rules.rules is not None
    try:
        matches = rules.rules.match(data=data, externals=externals, timeout=timeout)
    except yara.TimeoutError:
        result.outcomes.append(
            Outcome("yara-scan", where, None, "failed", f"scan timed out after {timeout}s")
        )
        return
    except yara.Error as exc:
        result.outcomes.append(Outcome("yara-scan", where, None, "failed", str(exc)))
        return
    if not matches:
        return
    if sha is None:  # only a hit needs the content's id
        sha = hashlib.sha256(data).hexdigest()
    for m in sorted(matches, key=lambda m: (m.namespace, m.rule)):
        hit = result.file_hits.setdefault(
            (m.namespace, m.rule, sha),
            _FileHit(
                str(m.meta.get("description") or m.rule), _level(m.meta), rules.files.get(m.namespace), len(data),
                _strings(m),
            ),
        )  # fmt: skip
        hit.paths.add(where)


def scan_event_text(case: Case, rules: YaraRules, *, timeout: int = DEFAULT_TIMEOUT,
                    min_length: int = MIN_TEXT) -> YaraResult:  # fmt: skip
    """Scan each distinct long value of the text columns of events once; a finding per (rule, host)."""
    result = YaraResult()
    if rules.rules is None:
        return result
    con = case.con
    present = {r[0].lower(): r[0] for r in con.execute("DESCRIBE events").fetchall()}
    cols = [present[c.lower()] for c in TEXT_COLUMNS if c.lower() in present]
    if not cols:
        return result
    selects = " UNION ALL ".join(
        f"SELECT input_sha256, rec_index, host, ts, '{c}' AS field, \"{c}\" AS text FROM events "
        f'WHERE length("{c}") >= {int(min_length)}'
        for c in cols
    )
    rows = con.execute(f"SELECT * FROM ({selects}) ORDER BY text, input_sha256, rec_index").fetchall()
    by_text: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_text.setdefault(r[5], []).append(r)
    hits: dict[tuple[str, str, str | None], list[tuple[Any, ...]]] = {}
    meta: dict[tuple[str, str], Any] = {}
    failures = 0
    for text, holders in by_text.items():
        try:
            matches = rules.rules.match(
                data=text.encode("utf-8", "surrogatepass"), externals=EXTERNALS, timeout=timeout
            )
        except yara.Error:
            failures += 1
            continue
        for m in matches:
            meta[(m.namespace, m.rule)] = m.meta
            for h in holders:
                host_key = h[2].lower() if h[2] else None  # host names are case-insensitive
                hits.setdefault((m.namespace, m.rule, host_key), []).append((*h, _strings(m, 5)))
    if failures:
        result.outcomes.append(
            Outcome("yara-scan", "events", None, "failed", f"{failures} values timed out or failed")
        )
    result.outcomes.append(
        Outcome("yara-scan", "events", None, "ran", f"{len(by_text)} distinct values scanned")
    )
    for (ns, rule, _), grp in sorted(hits.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        result.findings.append(_text_finding(rules, ns, rule, grp, meta[(ns, rule)]))
    return result


def _text_finding(rules: YaraRules, ns: str, rule: str, grp: list[tuple[Any, ...]],
                  meta: dict[str, Any]) -> Finding:  # fmt: skip
    times = sorted(r[3] for r in grp if r[3] is not None)
    fields = sorted({r[4] for r in grp})
    host = next(iter(host_spellings(r[2] for r in grp)), None)
    details = {"fields": fields, "strings": grp[0][6], "target": "events"}
    return Finding(
        kind="yara",
        rule_id=rule,
        title=str(meta.get("description") or rule),
        level=_level(meta),
        host=host,
        first_ts=times[0] if times else None,
        last_ts=times[-1] if times else None,
        records=sorted({RecordRef(str(r[0]), int(r[1])) for r in grp}),
        summary=f"{rule} matched {', '.join(fields)} of {len({(r[0], r[1]) for r in grp})} rows",
        rule_path=rules.files.get(ns),
        details=orjson.dumps(details, option=orjson.OPT_SORT_KEYS).decode(),
    )
