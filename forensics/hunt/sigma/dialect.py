"""Rules as Hayabusa reads them: the deviations from strict Sigma it tolerates, tolerated here too.

Hayabusa's rule set (and rules written for it) bends Sigma in ways a responder does not care
about: tags without a namespace (``sysmon``), ids that are not UUIDs, ``references`` given as
one string, numbers under ``contains``, a rule with one selection and no condition, the
deprecated aggregation ``condition: selection | count(X) by Y > N`` with ``timeframe``, and
Hayabusa's own keys (``details``, ``ruletype``). pySigma refuses all of these. ``normalise``
rewrites one YAML document into what pySigma accepts and says what it changed, one
``Deviation`` per kind, so ``rules check`` reports every tolerance (never silently).

It also collects what the engine needs beside the Sigma rule itself (``RuleInfo``): the
rule's status, its ``details`` template, the SigmaHQ rule a Hayabusa rewrite derives from
(its last ``related: derived`` entry), and the level as written when it had to be mapped.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

# Our namespace for ids derived from rules whose id is not a UUID (uuid5 over file name and id).
DERIVED_ID_NS = uuid.UUID("6c1e3f4a-2b7d-5e8f-9a0b-1c2d3e4f5a6b")

# Sigma's levels, and the names other rule sets use for them. Hayabusa's ``emergency`` sits
# above critical; Sigma has nothing higher than critical, so it maps there (and says so).
SIGMA_LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_NAMES: dict[str, str] = {
    **{lvl: lvl for lvl in SIGMA_LEVELS},
    "emergency": "critical",
    "info": "informational",
    "med": "medium",
    "crit": "critical",
}

# Modifiers after which a value is text: a number or boolean there is read as its spelling.
_TEXT_MODIFIERS = {"contains", "startswith", "endswith", "re", "base64", "base64offset", "wide", "utf16",
                   "utf16le", "utf16be", "windash", "cased", "all"}  # fmt: skip
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# ``<expression> | count([field]) [by field] <op> <number>`` (Sigma 1's aggregation)
_COUNT = re.compile(
    r"^(?P<expr>.*?)\|\s*count\(\s*(?P<field>[^)\s]*)\s*\)\s*(?:by\s+(?P<by>[\w.\- ,]+?))?\s*"
    r"(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<value>\d+)\s*$",
    re.DOTALL,
)
_OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq", "!=": "neq"}


@dataclass(frozen=True)
class Deviation:
    """One way a rule departs from strict Sigma, and what was done about it."""

    kind: str  # short stable code: tag-namespace, id-not-uuid, references-string, ...
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class CountSpec:
    """A deprecated ``| count()`` aggregation, to be evaluated as a correlation."""

    field: str | None  # count distinct values of this field; None counts events
    group_by: tuple[str, ...]
    op: str  # gt, gte, lt, lte, eq, neq
    value: int
    timespan: str  # Sigma timespan (5m, 24h, ...)


@dataclass(frozen=True)
class RuleInfo:
    """What the engine reads of a rule besides the Sigma rule: status, Hayabusa's extras, deviations."""

    status: str | None = None  # the rule's own status (stable, test, experimental, deprecated, ...)
    ruletype: str | None = None  # Hayabusa's ``ruletype`` (Hayabusa / Sigma); None for plain Sigma
    details: str | None = None  # Hayabusa's ``details`` template (``Cmdline: %CommandLine% ¦ ...``)
    derived_from: str | None = None  # the SigmaHQ rule id a rewrite derives from
    level: str | None = None  # the level as written, when it was mapped to a Sigma level
    original_id: str | None = None  # the id as written, when it was not a UUID
    deviations: tuple[Deviation, ...] = ()
    internal: bool = False  # the selection part of a count rule (reported through the count rule)

    def to_json(self) -> dict[str, Any]:
        """JSON form (for the rule cache)."""
        return {
            "status": self.status, "ruletype": self.ruletype, "details": self.details,
            "derived_from": self.derived_from, "level": self.level, "original_id": self.original_id,
            "deviations": [[d.kind, d.message] for d in self.deviations], "internal": self.internal,
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> RuleInfo:
        """The ``RuleInfo`` of a JSON form (an empty one for None)."""
        if not d:
            return cls()
        return cls(
            status=d.get("status"), ruletype=d.get("ruletype"), details=d.get("details"),
            derived_from=d.get("derived_from"), level=d.get("level"), original_id=d.get("original_id"),
            deviations=tuple(Deviation(k, m) for k, m in d.get("deviations") or []),
            internal=bool(d.get("internal")),
        )  # fmt: skip


@dataclass(frozen=True)
class Normalised:
    """A document made acceptable to pySigma, what it carries besides, and a count to split off."""

    doc: dict[str, Any]
    info: RuleInfo
    count: CountSpec | None = None
    error: str | None = None  # a deviation that cannot be tolerated, with why


def derived_id(file_name: str, written_id: str) -> str:
    """A stable UUID for a rule whose id is not one: the same file name and id give the same UUID."""
    return str(uuid.uuid5(DERIVED_ID_NS, f"{file_name}\x00{written_id}"))


def normalise(doc: dict[str, Any], file_name: str) -> Normalised:
    """``doc`` rewritten where Hayabusa tolerates what pySigma refuses; each change is a Deviation.

    ``doc`` is not modified. Correlation documents get the metadata fixes only.
    """
    d = dict(doc)
    devs: list[Deviation] = []
    level = _level(d, devs)
    original_id = _id(d, file_name, devs)
    _tags(d, devs)
    _references(d, devs)
    for key in ("details", "details_jp", "ruletype", "sample-evtx", "sample-message"):
        d.pop(key, None)  # Hayabusa's own keys; kept in RuleInfo where they matter
    count = None
    error = None
    if isinstance(d.get("detection"), dict):
        det = dict(d["detection"])
        _numbers_as_text(det, devs)
        _channel_in_detection(det, devs)
        count, error = _condition(det, d, devs)
        d["detection"] = det
    info = RuleInfo(
        status=str(doc["status"]).lower() if isinstance(doc.get("status"), str) else None,
        ruletype=str(doc["ruletype"]) if doc.get("ruletype") else None,
        details=str(doc["details"]) if isinstance(doc.get("details"), str) and doc["details"].strip() else None,
        derived_from=_derived_from(doc),
        level=level,
        original_id=original_id,
        deviations=tuple(devs),
    )  # fmt: skip
    return Normalised(d, info, count, error)


def _level(d: dict[str, Any], devs: list[Deviation]) -> str | None:
    raw = d.get("level")
    if not isinstance(raw, str):
        return None
    low = raw.strip().lower()
    mapped = LEVEL_NAMES.get(low)
    if mapped is None:
        return None  # pySigma reports the unknown level
    if mapped != low:
        devs.append(Deviation("level-mapped", f"level '{raw}' read as Sigma level '{mapped}'"))
        d["level"] = mapped
        return low
    if raw != low:
        d["level"] = low
    return None


def _id(d: dict[str, Any], file_name: str, devs: list[Deviation]) -> str | None:
    raw = d.get("id")
    if raw is None or _UUID.match(str(raw)):
        return None
    new = derived_id(file_name, str(raw))
    devs.append(
        Deviation(
            "id-not-uuid", f"id '{raw}' is not a UUID; using {new}, derived from the file name and that id"
        )
    )
    d["id"] = new
    return str(raw)


def _tags(d: dict[str, Any], devs: list[Deviation]) -> None:
    tags = d.get("tags")
    if tags is None:
        d.pop("tags", None)
        return
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        return
    kept = [t for t in tags if isinstance(t, str) and "." in t.strip(".")]
    dropped = [str(t) for t in tags if t not in kept]
    if dropped:
        devs.append(Deviation("tag-namespace", f"tags without a namespace ignored: {', '.join(dropped)}"))
    d["tags"] = kept


def _references(d: dict[str, Any], devs: list[Deviation]) -> None:
    refs = d.get("references")
    if refs is None:
        d.pop("references", None)
    elif isinstance(refs, str):
        devs.append(Deviation("references-string", "references given as one string; read as a list of one"))
        d["references"] = [refs]
    for key in ("falsepositives", "fields"):
        if key in d and d[key] is None:
            d.pop(key)
        elif isinstance(d.get(key), str):
            d[key] = [d[key]]


def _derived_from(doc: dict[str, Any]) -> str | None:
    """The SigmaHQ rule a Hayabusa rewrite derives from: its last ``related: derived`` id.

    Hayabusa's converter appends the original's id after the related entries it copies, so the
    last derived entry is the original (checked against SigmaHQ's titles: 3,765 of 3,829 rewrites
    whose original is in the set have that title, the rest were renamed since).
    """
    if str(doc.get("ruletype") or "").lower() != "sigma":
        return None
    related = doc.get("related")
    if not isinstance(related, list):
        return None
    ids = [
        str(r["id"]) for r in related if isinstance(r, dict) and r.get("type") == "derived" and r.get("id")
    ]
    return ids[-1] if ids else None


def _key_modifiers(key: str) -> set[str]:
    return {m.lower() for m in key.split("|")[1:]}


def _numbers_as_text(det: dict[str, Any], devs: list[Deviation]) -> None:
    """Numbers and booleans under text modifiers (``contains: 1833``) become their spelling."""
    changed: list[str] = []

    def fix_map(m: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in m.items():
            if isinstance(k, str) and _key_modifiers(k) & _TEXT_MODIFIERS:
                nv = _as_text(v)
                if nv != v:
                    changed.append(k)
                v = nv
            out[k] = v
        return out

    for name, body in list(det.items()):
        if name in ("condition", "timeframe"):
            continue
        if isinstance(body, dict):
            det[name] = fix_map(body)
        elif isinstance(body, list):
            det[name] = [fix_map(x) if isinstance(x, dict) else x for x in body]
    if changed:
        devs.append(
            Deviation(
                "number-as-text",
                f"numbers under text modifiers read as text: {', '.join(sorted(set(changed)))}",
            )
        )


def _as_text(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list):
        return [_as_text(x) for x in v]
    return v


def _channel_in_detection(det: dict[str, Any], devs: list[Deviation]) -> None:
    names: set[str] = set()
    for name, body in det.items():
        maps = body if isinstance(body, list) else [body]
        for m in maps:
            if isinstance(m, dict) and any(isinstance(k, str) and k.split("|")[0] == "Channel" for k in m):
                names.add(str(name))
    if names:
        devs.append(Deviation("channel-in-detection",
                              "the log's Channel is named in the detection (Hayabusa style); matched against "
                              "the event's channel"))  # fmt: skip


def _condition(
    det: dict[str, Any], d: dict[str, Any], devs: list[Deviation]
) -> tuple[CountSpec | None, str | None]:
    """Fill a missing condition, split off a deprecated count aggregation. (count, error)."""
    timeframe = det.pop("timeframe", None)
    cond = det.get("condition")
    if cond is None:
        names = [k for k in det if k != "condition"]
        if len(names) != 1:
            return None, f"rule has no condition and {len(names)} detections (Hayabusa needs one to imply it)"
        det["condition"] = names[0]
        devs.append(
            Deviation(
                "no-condition", f"rule has no condition; its only detection '{names[0]}' is the condition"
            )
        )
        return None, None
    conds = cond if isinstance(cond, list) else [cond]
    if not any(isinstance(c, str) and "|" in c for c in conds):
        if timeframe is not None:
            devs.append(
                Deviation(
                    "timeframe-unused", f"timeframe {timeframe} ignored: the condition has no aggregation"
                )
            )
        return None, None
    if len(conds) != 1:
        return None, "an aggregation (| count) in one of several conditions is not supported"
    m = _COUNT.match(str(conds[0]).strip())
    if m is None:
        agg = str(conds[0]).split("|", 1)[1].strip()
        return None, f"aggregation '{agg}' is not supported (only count() with a comparison)"
    span = str(timeframe).strip() if timeframe is not None else None
    if span is None:
        # Sigma 1: an aggregation without timeframe counts over all the events given
        span = "36500d"
        devs.append(Deviation("count-no-timeframe", "count without timeframe: counted over the whole case"))
    by = tuple(b.strip() for b in (m.group("by") or "").split(",") if b.strip())
    det["condition"] = m.group("expr").strip()
    spec = CountSpec(m.group("field") or None, by, _OPS[m.group("op")], int(m.group("value")), span)
    devs.append(Deviation("count-deprecated",
                          f"deprecated aggregation 'count({spec.field or ''}){' by ' + ', '.join(by) if by else ''} "
                          f"{m.group('op')} {spec.value}' within {span} evaluated as a Sigma correlation"))  # fmt: skip
    return spec, None


def correlation_docs(
    doc: dict[str, Any], count: CountSpec, file_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base rule, correlation) documents for a rule with a deprecated count aggregation.

    The correlation keeps the rule's id, title, level and tags, so its findings name the rule;
    the base rule (the selection) gets a derived id and a name the correlation refers to.
    """
    rid = str(doc.get("id") or derived_id(file_name, str(doc.get("title"))))
    name = f"count_base_{rid}"
    base = dict(doc)
    base["id"] = str(uuid.uuid5(DERIVED_ID_NS, f"count-base\x00{rid}"))
    base["name"] = name
    base["title"] = f"{doc.get('title')} (selection)"
    correlation: dict[str, Any] = {
        "type": "value_count" if count.field else "event_count",
        "rules": [name],
        "timespan": count.timespan,
        "condition": {count.op: count.value, **({"field": count.field} if count.field else {})},
    }
    if count.group_by:
        correlation["group-by"] = list(count.group_by)
    corr: dict[str, Any] = {k: doc[k] for k in ("title", "id", "status", "description", "author", "date", "modified",
                                "references", "tags", "falsepositives", "level") if k in doc}  # fmt: skip
    corr["id"] = rid
    corr["correlation"] = correlation
    return base, corr
