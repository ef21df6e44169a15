"""Our Sigma processing pipeline: which rows a log source means, and which column a field is.

A Sigma rule names its log source as (product, category, service). Here each becomes a SQL
predicate over the core columns ``source``, ``channel``, ``provider``, ``category`` and
``event_id`` — the columns every parser fills — so a rule for ``process_creation`` sees Sysmon 1,
Security 4688, auditd EXECVE and EDR process rows alike. Field names map to columns by name
(case-insensitive, as DuckDB resolves them), plus a few aliases: Sigma's ``EventID`` is our
``event_id``, and for the generic process fields a Security 4688 or EDR row that lacks the Sysmon
spelling falls back to the core column every source fills.

The mapping is data: two pySigma processing pipelines, ``pipelines/logsources.yml`` and
``pipelines/fields.yml``, loaded with pySigma's own loader. pySigma decides which of their items
apply to a log source (its log-source conditions); this module turns what they add into the
predicate and column lists our planner and SQL backend use (docs/architecture.md says why the
backend is ours). What a pipeline item cannot express is here, named in logsources.yml's header.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation, FieldMappingTransformation
from sigma.rule import SigmaRule

from forensics.hunt.sigma.sqlutil import quote_str

PIPELINES = Path(__file__).parent / "pipelines"
# the columns a log-source predicate may test (plan.PREDICATE_COLUMNS reads them from every part)
PREDICATE_COLUMNS = ("source", "channel", "category", "provider", "event_id")


@dataclass(frozen=True)
class LogSource:
    """A rule's log source turned into a row predicate (or the reason it cannot be)."""

    label: str  # product/category/service as the report shows it
    predicate: str | None  # SQL over core columns; None when unsupported
    reason: str | None = None  # why unsupported
    # per-row conditions on event fields, ANDed to every rule of the log source:
    # (field, lower-case prefix, True = must start with it / False = must not)
    field_prefixes: tuple[tuple[str, str, bool], ...] = ()


@cache
def load_pipeline(name: str) -> ProcessingPipeline:
    """One of our pipelines (``logsources`` or ``fields``), parsed by pySigma."""
    path = PIPELINES / f"{name}.yml"
    return ProcessingPipeline.from_yaml(path.read_text(encoding="utf-8"), source_path=str(path))


def _probe(product: str | None, category: str | None, service: str | None) -> SigmaRule:
    """A rule with only this log source, for pySigma to match the pipelines' conditions against."""
    ls = {k: v for k, v in (("product", product), ("category", category), ("service", service)) if v}
    return SigmaRule.from_dict(
        {"title": "log source", "logsource": ls, "detection": {"x": {"x": 1}, "condition": "x"}}
    )


@dataclass(frozen=True)
class _Added:
    """What the log-source pipeline adds for one log source, split by kind."""

    columns: dict[str, tuple[Any, ...]]  # predicate column -> values it must be one of
    prefixes: tuple[tuple[str, str, bool], ...]  # event-field prefix tests


def _values(v: object) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, list) else (v,)


@cache
def _added(product: str | None, category: str | None, service: str | None) -> _Added:
    rule = _probe(product, category, service)
    columns: dict[str, tuple[Any, ...]] = {}
    prefixes: list[tuple[str, str, bool]] = []
    for item in load_pipeline("logsources").items:
        t = item.transformation
        if not isinstance(t, AddConditionTransformation) or not item.match_rule_conditions(rule):
            continue
        for fld, value in t.conditions.items():
            name, _, modifier = fld.partition("|")
            if modifier == "startswith" and isinstance(value, str):
                prefixes.append((name, value.lower(), not t.negated))
            elif not modifier and not t.negated and name in PREDICATE_COLUMNS and name not in columns:
                columns[name] = _values(value)
            else:  # a pipeline edit our predicate cannot carry: fail loudly, never map it wrongly
                raise ValueError(f"pipeline item {item.identifier}: condition {fld!r} is not supported here")
    return _Added(columns, tuple(prefixes))


def _in(column: str, values: tuple[Any, ...]) -> str:
    return f"{column} IN ({', '.join(str(v) if isinstance(v, int) else quote_str(v) for v in values)})"


def _label(product: str | None, category: str | None, service: str | None) -> str:
    return "/".join(p or "-" for p in (product, category, service))


def map_logsource(product: str | None, category: str | None, service: str | None) -> LogSource:
    """The row predicate for a Sigma log source."""
    product = product.lower() if product else None
    category = category.lower() if category else None
    service = service.lower() if service else None
    label = _label(product, category, service)
    pvars = load_pipeline("logsources").vars
    parts: list[str] = []
    prefixes: tuple[tuple[str, str, bool], ...] = ()
    if category:
        if category == "antivirus":  # an OR over two columns: not one add_condition item
            chans = _added("windows", None, "windefend").columns["channel"]
            ids = tuple(pvars["defender_detection_ids"])
            parts.append(f"(category = 'antivirus' OR ({_in('channel', chans)} AND {_in('event_id', ids)}))")
        else:
            got = _added(None, category, None)
            prefixes = got.prefixes
            parts.append(_in("category", got.columns.get("category", (category,))))
    if service:
        # a service without a product is a Windows one, as SigmaHQ writes them
        got = _added(product or "windows", None, service)
        if product in (None, "windows") and "channel" in got.columns:
            parts.append(_in("channel", got.columns["channel"]))
        elif product == "linux" and got.columns:
            parts.append("(" + " OR ".join(_in(c, v) for c, v in got.columns.items()) + ")")
        else:
            return LogSource(
                label, None, f"log source service '{service}' of product '{product}' is not mapped"
            )
    if product == "windows":
        if not service:
            win, lin = tuple(pvars["windows_sources"]), tuple(pvars["linux_channels"])
            parts.append(f"({_in('source', win)} OR NOT {_in('channel', lin)})")
    elif product == "linux":
        if not service:
            parts.append(f"NOT {_in('source', tuple(pvars['windows_sources']))}")
    elif product is not None and not category:
        return LogSource(label, None, f"log source product '{product}' is not collected by any parser")
    if not parts:
        return LogSource(label, None, "log source names neither product, category nor service")
    return LogSource(label, " AND ".join(parts), field_prefixes=prefixes)


@cache
def _field_maps(category: str | None) -> dict[str, tuple[str, ...]]:
    """Sigma field (lower-case) -> columns, from the field pipeline's items that apply to ``category``."""
    # a log source cannot be empty: without a category only the items without conditions apply
    rule = _probe(None, category, None) if category else None
    out: dict[str, tuple[str, ...]] = {}
    for item in load_pipeline("fields").items:
        t = item.transformation
        applies = (
            item.match_rule_conditions(rule)
            if rule
            else not (item.rule_conditions or item.rule_condition_expression)
        )
        if isinstance(t, FieldMappingTransformation) and applies:
            for fld, cols in t.mapping.items():
                if fld is not None:  # pySigma types a keyword (field-less) item's field as None
                    out.setdefault(fld.lower(), _values(cols))
    return out


def field_candidates(field: str, category: str | None) -> tuple[str, ...]:
    """Columns a Sigma field may live in, most specific first (the first present non-null wins)."""
    return _field_maps(category).get(field.lower(), (field,))
