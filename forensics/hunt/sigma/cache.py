"""A conversion cache: parsed rules kept as compact JSON, keyed by the rule file's SHA-256.

Loading 2,600 SigmaHQ rules through YAML and pySigma costs seconds, more than scanning a case.
The first hunt stores, per rule file, each document's metadata and its parsed condition trees
(our own small JSON form of pySigma's condition and value objects); later hunts rebuild the
same pySigma objects from it without YAML or pySigma parsing, and the backend converts them as
before, so cached and uncached runs produce the same SQL (a test compares them over the corpus).

A file is cached only when every document in it could be represented; files with correlation
rules or anything unusual are simply parsed each time. The cache lives in the case
(``.cache/sigma-rules.json``); a version stamp (ours and pySigma's) invalidates it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from forensics import __version__
from forensics.usercache import user_cache_dir

CACHE_FILE = "sigma-rules.json"
# The cached form depends on this package's code as much as on pySigma: hash the sources, so an
# edited converter never reads entries an older one wrote.
CODE_STAMP = hashlib.sha256(
    # the code and the log-source / field pipelines it reads
    b"".join(
        f.read_bytes()
        for f in sorted([*Path(__file__).parent.glob("*.py"), *Path(__file__).parent.glob("pipelines/*.yml")])
    )
).hexdigest()[:16]
STAMP = f"forensics {__version__} / pySigma {version('pysigma')} / ir 1 / code {CODE_STAMP}"


def machine_cache_path() -> Path | None:
    """The per-user cache of parsed rules, shared by every case on this machine.

    ``$FORENSICS_CACHE_DIR`` (empty: no machine cache), else ``$XDG_CACHE_HOME/forensics``, else
    ``~/.cache/forensics``. Entries are keyed by rule-file SHA-256, so cases never see each other's
    data, only the same rule files parsed once.
    """
    root = user_cache_dir()
    return root / CACHE_FILE if root is not None else None


class NotCacheable(Exception):
    """A condition or value this cache has no JSON form for."""


@dataclass(frozen=True)
class Level:
    """Stand-in for pySigma's SigmaLevel: only ``name`` is read."""

    name: str


@dataclass(frozen=True)
class Tag:
    """Stand-in for SigmaRuleTag."""

    namespace: str
    name: str


@dataclass(frozen=True)
class LogSourceMeta:
    """Stand-in for SigmaLogSource."""

    product: str | None
    category: str | None
    service: str | None


@dataclass(frozen=True)
class RuleMeta:
    """What the engine reads of a rule besides its conditions (duck-types SigmaRule there)."""

    id: str | None
    name: str | None
    title: str
    level: Level | None
    tags: tuple[Tag, ...]
    logsource: LogSourceMeta


# ---- rules <-> JSON -------------------------------------------------------------------------
def meta_of(rule: Any) -> dict[str, Any]:
    """JSON form of a rule's metadata."""
    ls = rule.logsource
    return {
        "id": str(rule.id) if rule.id is not None else None,
        "name": str(rule.name) if getattr(rule, "name", None) else None,
        "title": rule.title,
        "level": rule.level.name if rule.level is not None else None,
        "tags": [[t.namespace, t.name] for t in rule.tags or []],
        "logsource": [ls.product, ls.category, ls.service],
    }


# One instance per distinct level, tag and log source (they are frozen): 7,400 rules share a few
# hundred, and the plan cache (a pickle, which keeps a shared object once) reads back that many.
_SHARED: dict[Any, Any] = {}


def shared(obj: Any) -> Any:
    """The one instance equal to ``obj`` (a frozen, hashable value)."""
    return _SHARED.setdefault(obj, obj)


def meta_from(d: dict[str, Any]) -> RuleMeta:
    """A ``RuleMeta`` from its JSON form."""
    p, c, s = d["logsource"]
    return RuleMeta(
        id=d["id"],
        name=d["name"],
        title=d["title"],
        level=shared(Level(d["level"])) if d["level"] else None,
        tags=tuple(shared(Tag(ns, n)) for ns, n in d["tags"]),
        logsource=shared(LogSourceMeta(p, c, s)),
    )


def cond_to_ir(node: Any) -> Any:
    """JSON form of a parsed condition tree."""
    if isinstance(node, ConditionAND | ConditionOR):
        return ["and" if isinstance(node, ConditionAND) else "or", [cond_to_ir(a) for a in node.args]]
    if isinstance(node, ConditionNOT):
        return ["not", cond_to_ir(node.args[0])]
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return ["fv", node.field, value_to_ir(node.value)]
    if isinstance(node, ConditionValueExpression):
        return ["kw", value_to_ir(node.value)]
    raise NotCacheable(type(node).__name__)


def cond_from_ir(ir: Any) -> Any:
    """The pySigma condition tree of a JSON form."""
    kind = ir[0]
    if kind in ("and", "or"):
        cls = ConditionAND if kind == "and" else ConditionOR
        return cls(args=[cond_from_ir(a) for a in ir[1]])
    if kind == "not":
        return ConditionNOT(args=[cond_from_ir(ir[1])])
    if kind == "fv":
        return ConditionFieldEqualsValueExpression(ir[1], value_from_ir(ir[2]))
    if kind == "kw":
        return ConditionValueExpression(value_from_ir(ir[1]))
    raise NotCacheable(kind)


def _parts_to_ir(s: SigmaString) -> list[Any]:
    out: list[Any] = []
    for p in s.iter_parts():
        if isinstance(p, str):
            out.append(p)
        elif p is SpecialChars.WILDCARD_MULTI:
            out.append(1)
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append(2)
        elif isinstance(p, Placeholder):
            out.append({"ph": p.name})
        else:
            raise NotCacheable(repr(p))
    return out


def _parts_from_ir(parts: list[Any], cased: bool) -> SigmaString:
    s: SigmaString = SigmaCasedString() if cased else SigmaString()
    items: list[Any] = []
    for p in parts:
        if isinstance(p, str):
            items.append(p)
        elif p == 1:
            items.append(SpecialChars.WILDCARD_MULTI)
        elif p == 2:
            items.append(SpecialChars.WILDCARD_SINGLE)
        else:
            items.append(Placeholder(p["ph"]))
    s.s = items
    s.original = "".join(x for x in items if isinstance(x, str))
    return s


def value_to_ir(v: Any) -> Any:
    """JSON form of a Sigma value."""
    if isinstance(v, SigmaExpansion):
        return ["exp", [value_to_ir(x) for x in v.values]]
    if isinstance(v, SigmaString):
        return ["s", _parts_to_ir(v), isinstance(v, SigmaCasedString)]
    if isinstance(v, SigmaTimestampPart):
        return ["tsp", v.timestamp_part.name, v.number]
    if isinstance(v, SigmaBool):
        return ["b", v.boolean]
    if isinstance(v, SigmaNumber):
        return ["n", v.number]
    if isinstance(v, SigmaNull):
        return ["null"]
    if isinstance(v, SigmaExists):
        return ["ex", v.exists]
    if isinstance(v, SigmaRegularExpression):
        return ["re", _parts_to_ir(v.regexp), sorted(f.name for f in v.flags)]
    if isinstance(v, SigmaCIDRExpression):
        return ["cidr", v.cidr]
    if isinstance(v, SigmaCompareExpression):
        return ["cmp", v.op.name, v.number.number]
    if isinstance(v, SigmaFieldReference):
        return ["ref", v.field, v.starts_with, v.ends_with]
    raise NotCacheable(type(v).__name__)


def value_from_ir(ir: Any) -> Any:
    """The Sigma value of a JSON form."""
    kind = ir[0]
    if kind == "exp":
        return SigmaExpansion([value_from_ir(x) for x in ir[1]])
    if kind == "s":
        return _parts_from_ir(ir[1], ir[2])
    if kind == "tsp":
        return SigmaTimestampPart(TimestampPart[ir[1]], ir[2])
    if kind == "b":
        return SigmaBool(ir[1])
    if kind == "n":
        return SigmaNumber(ir[1])
    if kind == "null":
        return SigmaNull()
    if kind == "ex":
        return SigmaExists(ir[1])
    if kind == "re":
        rx = SigmaRegularExpression(_parts_from_ir(ir[1], False))
        for f in ir[2]:
            rx.add_flag(SigmaRegularExpressionFlag[f])
        return rx
    if kind == "cidr":
        return SigmaCIDRExpression(ir[1])
    if kind == "cmp":
        return SigmaCompareExpression(SigmaNumber(ir[2]), CompareOperators[ir[1]])
    if kind == "ref":
        return SigmaFieldReference(ir[1], ir[2], ir[3])
    raise NotCacheable(kind)


# ---- the cache file -------------------------------------------------------------------------
class RuleCache:
    """File SHA-256 -> cached documents; read once, written back when something was added."""

    def __init__(self, path: Path | None, fallback: RuleCache | None = None) -> None:
        self.path = path
        self.fallback = fallback
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                data = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                data = {}
            if isinstance(data, dict) and data.get("stamp") == STAMP:
                self.entries = data.get("files", {})

    def get(self, sha: str) -> list[dict[str, Any]] | None:
        """Cached documents of the file with this SHA-256 (here, else in the fallback cache)."""
        hit = self.entries.get(sha)
        if hit is None and self.fallback is not None:
            hit = self.fallback.get(sha)
            if hit is not None:
                self.put(sha, hit)
        return hit

    def put(self, sha: str, docs: list[dict[str, Any]]) -> None:
        """Remember a file's documents (in the fallback cache too)."""
        if self.entries.get(sha) != docs:
            self.entries[sha] = docs
            self.dirty = True
        if self.fallback is not None:
            self.fallback.put(sha, docs)

    def save(self) -> None:
        """Write the cache atomically; a cache that cannot be written is simply not kept."""
        if self.fallback is not None:
            self.fallback.save()
        if self.path is None or not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(
                orjson.dumps({"stamp": STAMP, "files": self.entries}, option=orjson.OPT_SORT_KEYS)
            )
            tmp.replace(self.path)
        except OSError:
            return
        self.dirty = False
