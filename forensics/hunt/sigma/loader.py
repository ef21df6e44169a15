"""Collect Sigma rules from files and folders; every document becomes a rule or an error with file:line.

One bad file or document never stops the collection: YAML errors, pySigma parse errors and
unreadable files are kept as ``LoadedRule`` entries with ``error`` set.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from forensics.hunt.sigma.cache import RuleCache, RuleMeta, meta_from, shared
from forensics.hunt.sigma.dialect import RuleInfo, correlation_docs, normalise
from forensics.progress import Step, no_progress

try:  # libyaml is ~10x faster on 2,600 rules; fall back to the pure-Python loader
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """YAML 1.2 booleans: only true/false. PyYAML's YAML 1.1 reads an unquoted ``no`` / ``off`` as
    false, which Hayabusa (a YAML 1.2 reader) and the rule authors mean as text
    (``CommandLine|contains|all: [recoveryenabled, no]``). No SigmaHQ rule writes them unquoted."""


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

RULE_SUFFIXES = (".yml", ".yaml")
_DOC_SEP = re.compile(r"^---\s*$", re.MULTILINE)


@dataclass
class LoadedRule:
    """One YAML document of a rule file: the parsed rule, or why it could not be parsed."""

    path: str  # the file (the folder given joined with ``rel_path``; a string: thousands per hunt)
    rel_path: str  # path relative to the folder it was found under (posix)
    line: int | None  # 1-based line the document starts on
    sha256: str  # of the whole file's bytes
    rule: SigmaRule | SigmaCorrelationRule | RuleMeta | None
    error: str | None = None
    skip: str | None = None  # a document that is not a detection rule (filter, ...), with why
    cached: dict[str, Any] | None = None  # the document's cache entry when it came from the cache
    info: RuleInfo = field(default_factory=RuleInfo)  # status, Hayabusa's extras and the deviations tolerated
    root: Path | None = None  # the folder or file given that the rule was found under


@dataclass(frozen=True)
class RuleFile:
    """One rule file of a hunt, hashed once: the loader, the plan cache and the run record share it."""

    root: Path  # the folder or file given
    path: str  # the file, as ``str(root / rel)``: kept a string (a Path per file is most of a walk)
    rel: str  # path relative to ``root`` (posix)
    sha256: str | None  # None when the file cannot be read (``error`` says why)
    size: int | None = None
    error: str | None = None


def rule_files(paths: Sequence[Path]) -> list[RuleFile]:
    """Every rule file under ``paths`` (as ``iter_rule_files_by_root`` walks them), read and hashed once.

    Every hunt reads and hashes every file (the SHA-256 the rule report and the plan cache key
    carry is of the bytes this hunt read): the read is plain ``os`` calls on the path string, with
    no ``Path`` or buffered file object per file (7,400 files of the two rule sets).
    """
    out = []
    for root, f, rel in _rule_paths(paths):
        try:
            data = _read(f)
        except OSError as exc:
            out.append(RuleFile(root, f, rel, None, None, str(exc)))
            continue
        out.append(RuleFile(root, f, rel, hashlib.sha256(data).hexdigest(), len(data)))
    return out


def _read(path: str) -> bytes:
    """The whole file's bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def has_rule_files(path: Path) -> bool:
    """True when ``path`` is a rule file or a folder holding one (stops at the first found)."""
    if path.is_file():
        return path.suffix.lower() in RULE_SUFFIXES
    for f in path.rglob("*"):
        if f.suffix.lower() in RULE_SUFFIXES and f.is_file():
            inside = f.relative_to(path).parents
            if not any(is_ruleset_config(path / p) for p in inside if p != Path(".")):
                return True
    return False


def iter_rule_files(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """(file, path relative to the given folder) for every rule file, sorted, deduplicated."""
    for _, f, rel in iter_rule_files_by_root(paths):
        yield f, rel


def iter_rule_files_by_root(paths: Sequence[Path]) -> Iterator[tuple[Path, Path, str]]:
    """(folder or file given, file, path relative to it) for every rule file, sorted, deduplicated.

    A Hayabusa rule set's ``config/`` folder is not searched: its YAML files are mappings.
    """
    for root, f, rel in _rule_paths(paths):
        yield root, Path(f), rel


def _rule_paths(paths: Sequence[Path]) -> Iterator[tuple[Path, str, str]]:
    """``iter_rule_files_by_root`` with each file as ``str(root / rel)`` (no ``Path`` per file)."""
    seen: set[str] = set()
    for root in paths:
        root = Path(root)
        single = root.is_file()
        if single:
            files = [(str(root), root.name)]
        else:
            text = str(root)
            prefix = "" if text == "." else text.rstrip("/") + "/"  # as Path.joinpath spells it
            files = [(prefix + rel, rel) for rel in ("/".join(parts) for parts in _walk(root))]
        base = str(root.resolve())
        for f, rel in files:
            # the same file reached twice (overlapping folders) is loaded once; resolving the
            # root once is enough for files found under it (links inside are not followed here)
            key = base if single else f"{base}/{rel}"
            if key not in seen:
                seen.add(key)
                yield root, f, rel


def _walk(root: Path) -> list[tuple[str, ...]]:
    """Parts (relative to ``root``) of every rule file under it, in ``sorted(root.rglob("*"))``
    order, with a Hayabusa set's ``config/`` folders left out. ``os.scandir`` rather than
    ``rglob``: no ``Path`` per entry and per parent, and the directory's own file types instead
    of a ``stat`` per file (7,400 Hayabusa files). As ``rglob``, it does not descend into linked
    folders, keeps linked files, and passes over folders it cannot read."""
    found: list[tuple[str, ...]] = []
    todo: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while todo:
        folder, prefix = todo.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            name = e.name
            try:
                if e.is_dir() and not e.is_symlink():
                    if not (name == "config" and is_ruleset_config(Path(e.path))):
                        todo.append((e.path, (*prefix, name)))
                    continue
                dot = name.rfind(".")
                suffix = name[dot:].lower() if 0 < dot < len(name) - 1 else ""  # as Path.suffix
                if suffix in RULE_SUFFIXES and e.is_file():
                    found.append((*prefix, name))
            except OSError:
                continue
    found.sort()
    return found


def is_ruleset_config(folder: Path) -> bool:
    """True for a Hayabusa rule set's ``config/`` folder: its YAML files are field mappings, not rules."""
    return folder.is_dir() and folder.name == "config" and (folder / "eventkey_alias.txt").is_file()


def _doc_lines(text: str) -> list[int]:
    """1-based first line of each YAML document in ``text`` (in load_all order)."""
    starts = [1]
    for m in _DOC_SEP.finditer(text):
        starts.append(text.count("\n", 0, m.start()) + 2)
    # a leading '---' opens the first document rather than ending an empty one
    if len(starts) > 1 and text[: text.find("---")].strip() == "":
        starts.pop(0)
    return starts


def _error_text(err: Exception) -> str:
    msg = str(err)
    # pySigma appends the absolute source path; the report already has path and line
    return msg.split(" in file ")[0].strip() if isinstance(err, SigmaError) else msg


def load_file(path: str | Path, rel: str) -> list[LoadedRule]:
    """Parse one rule file into one ``LoadedRule`` per YAML document."""
    path = str(path)
    try:
        data = _read(path)
    except OSError as exc:
        return [LoadedRule(path, rel, None, "", None, error=f"cannot read file: {exc}")]
    sha = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8", errors="replace")
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [LoadedRule(path, rel, line, sha, None, error=f"YAML error: {exc}".splitlines()[0])]
    lines = _doc_lines(text)
    out: list[LoadedRule] = []
    if any(isinstance(d, dict) and "action" in d for d in docs):
        return _load_collection(path, rel, sha, docs)
    for i, doc in enumerate(docs):
        line = lines[i] if i < len(lines) else None
        if doc is None:
            continue
        out.extend(_load_doc(path, rel, line, sha, doc))
    return out


def _load_doc(path: str, rel: str, line: int | None, sha: str, doc: Any) -> list[LoadedRule]:
    if not isinstance(doc, dict):
        return [LoadedRule(path, rel, line, sha, None, error="document is not a mapping")]
    if "filter" in doc and "detection" not in doc:
        return [
            LoadedRule(path, rel, line, sha, None, skip="Sigma meta filter document (not a detection rule)")
        ]
    name = os.path.basename(path)
    norm = normalise(doc, name)
    if norm.error is not None:
        return [LoadedRule(path, rel, line, sha, None, error=norm.error, info=norm.info)]
    if norm.count is not None:
        base, corr = correlation_docs(norm.doc, norm.count, name)
        internal = RuleInfo(status=norm.info.status, internal=True)
        return [
            _parse(path, rel, line, sha, base, internal),
            _parse(path, rel, line, sha, corr, norm.info),
        ]
    return [_parse(path, rel, line, sha, norm.doc, norm.info)]


def _parse(
    path: str, rel: str, line: int | None, sha: str, doc: dict[str, Any], info: RuleInfo
) -> LoadedRule:
    try:
        rule: SigmaRule | SigmaCorrelationRule
        if "correlation" in doc:
            rule = SigmaCorrelationRule.from_dict(doc, collect_errors=True)
        else:
            rule = SigmaRule.from_dict(doc, collect_errors=True)
    except Exception as exc:  # pySigma raises many kinds; one bad rule must not stop the run
        return LoadedRule(path, rel, line, sha, None, error=_error_text(exc), info=info)
    if rule.errors:
        err = "; ".join(_error_text(e) for e in rule.errors)
        return LoadedRule(path, rel, line, sha, rule, error=err, info=info)
    return LoadedRule(path, rel, line, sha, rule, info=info)


def _load_collection(path: str, rel: str, sha: str, docs: list[Any]) -> list[LoadedRule]:
    """Files using Sigma collection actions (global/repeat/reset): let pySigma merge them."""
    try:
        col = SigmaCollection.from_dicts(docs, collect_errors=True, resolve_references=False)
    except Exception as exc:
        return [LoadedRule(path, rel, 1, sha, None, error=_error_text(exc))]
    out = []
    for r in col.rules:
        if isinstance(r, SigmaRule | SigmaCorrelationRule):
            err = "; ".join(_error_text(e) for e in r.errors) or None
            out.append(LoadedRule(path, rel, 1, sha, r, error=err))
    for e in col.errors:
        out.append(LoadedRule(path, rel, 1, sha, None, error=_error_text(e)))
    return out


def load_rules(
    paths: Sequence[Path],
    cache: RuleCache | None = None,
    progress: Step = no_progress,
    files: Sequence[RuleFile] | None = None,
) -> list[LoadedRule]:
    """Every rule document under ``paths`` (files or folders), in path order.

    With a ``cache``, a file whose SHA-256 is cached is rebuilt from it instead of parsed.
    ``files`` is ``rule_files(paths)`` when the caller hashed them already (read once per hunt).
    ``progress`` hears ("reading rules", files done, files) as the files are read.
    """
    out: list[LoadedRule] = []
    walked = files if files is not None else [RuleFile(r, f, rel, None) for r, f, rel in _rule_paths(paths)]
    todo = list(walked)
    for done, rf in enumerate(todo, 1):
        hit = _from_cache(rf.path, rf.rel, cache, rf.sha256) if cache is not None else None
        for lr in hit if hit is not None else load_file(rf.path, rf.rel):
            lr.root = rf.root
            out.append(lr)
        progress("reading rules", done, len(todo))
    return out


def _from_cache(f: str, rel: str, cache: RuleCache, sha: str | None = None) -> list[LoadedRule] | None:
    """The file's documents rebuilt from the cache, or None when it is not cached."""
    if sha is None:
        try:
            sha = hashlib.sha256(_read(f)).hexdigest()
        except OSError:
            return None
    docs = cache.get(sha)
    if docs is None:
        return None
    out = []
    for d in docs:
        rule = meta_from(d["meta"]) if d.get("meta") else None
        out.append(
            LoadedRule(f, rel, d.get("line"), sha, rule, error=d.get("error"), skip=d.get("skip"), cached=d,
                       info=shared(RuleInfo.from_json(d.get("info"))))
        )  # fmt: skip
    return out
