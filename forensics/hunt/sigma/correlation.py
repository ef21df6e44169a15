"""Sigma correlation rules over the events their base rules matched: true sliding windows.

For every group (the values of ``group-by``, through ``aliases`` per base rule) the events are
sorted by time and a window of ``timespan`` is opened at each event (an event ``span`` seconds
after the opening one is inside: the window is closed at both ends). The window's metric —
event count, distinct values, distinct base rules (temporal), the ordered prefix of base rules
(temporal_ordered), or the sum / average / percentile / median of a field — is tested against
the condition. Overlapping windows that fire merge into one finding that lists every event of
every firing window, so a responder sees each event that made the correlation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from forensics.hunt.findings import RecordRef

_OPS = {
    SigmaCorrelationConditionOperator.LT: lambda a, b: a < b,
    SigmaCorrelationConditionOperator.LTE: lambda a, b: a <= b,
    SigmaCorrelationConditionOperator.GT: lambda a, b: a > b,
    SigmaCorrelationConditionOperator.GTE: lambda a, b: a >= b,
    SigmaCorrelationConditionOperator.EQ: lambda a, b: a == b,
    SigmaCorrelationConditionOperator.NEQ: lambda a, b: a != b,
}


@dataclass(frozen=True)
class CorrEvent:
    """One event a base rule matched, with what the correlation groups and measures by."""

    ts: datetime
    ref: RecordRef
    host: str | None
    rule: str  # the reference (name or id) of the base rule, as the correlation lists it
    group: tuple[str | None, ...]
    value: Any = None  # the field a value_* / value_count correlation measures


@dataclass
class CorrHit:
    """A merged run of firing windows in one group."""

    group: tuple[str | None, ...]
    events: list[CorrEvent]
    metric: float | int


def unsupported_reason(corr: SigmaCorrelationRule) -> str | None:
    """Why a correlation rule cannot be evaluated here, or None."""
    if not isinstance(corr.condition, SigmaCorrelationCondition):
        return "extended (boolean) correlation conditions are not supported"
    if not corr.rules:
        return "correlation names no rules"
    needs_field = corr.type not in (
        SigmaCorrelationType.EVENT_COUNT,
        SigmaCorrelationType.TEMPORAL,
        SigmaCorrelationType.TEMPORAL_ORDERED,
    )
    if needs_field and not isinstance(corr.condition.fieldref, str):
        return f"{corr.type.name.lower()} correlation needs one condition field"
    return None


def evaluate(corr: SigmaCorrelationRule, events: Sequence[CorrEvent]) -> list[CorrHit]:
    """Firing windows of ``corr`` over ``events``, merged per group, in group then time order."""
    span = corr.timespan.seconds
    by_group: dict[tuple[str | None, ...], list[CorrEvent]] = {}
    for e in events:
        by_group.setdefault(e.group, []).append(e)
    hits: list[CorrHit] = []
    for key in sorted(by_group, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        evs = sorted(by_group[key], key=lambda e: (e.ts, e.ref))
        hits.extend(_windows(corr, key, evs, span))
    return hits


def _windows(
    corr: SigmaCorrelationRule, key: tuple[str | None, ...], evs: list[CorrEvent], span: int
) -> list[CorrHit]:
    cond = corr.condition
    assert isinstance(cond, SigmaCorrelationCondition)
    test = _OPS[cond.op]
    out: list[CorrHit] = []
    cur_lo = cur_hi = -1
    cur_metric: float | int = 0
    j = 0
    for i, first in enumerate(evs):
        j = max(j, i)
        while j + 1 < len(evs) and (evs[j + 1].ts - first.ts).total_seconds() <= span:
            j += 1
        metric = _metric(corr, evs[i : j + 1])
        if metric is None or not test(metric, cond.count):
            continue
        if cur_hi >= i:  # overlaps the run being built: extend it
            cur_hi = max(cur_hi, j)
            cur_metric = max(cur_metric, metric)
        else:
            if cur_lo >= 0:
                out.append(CorrHit(key, evs[cur_lo : cur_hi + 1], cur_metric))
            cur_lo, cur_hi, cur_metric = i, j, metric
    if cur_lo >= 0:
        out.append(CorrHit(key, evs[cur_lo : cur_hi + 1], cur_metric))
    return out


def _metric(corr: SigmaCorrelationRule, window: list[CorrEvent]) -> float | int | None:
    t = corr.type
    if t is SigmaCorrelationType.EVENT_COUNT:
        return len(window)
    if t is SigmaCorrelationType.VALUE_COUNT:
        return len({e.value for e in window if e.value is not None})
    refs = [r.reference for r in corr.rules or []]
    if t is SigmaCorrelationType.TEMPORAL:
        return len({e.rule for e in window})
    if t is SigmaCorrelationType.TEMPORAL_ORDERED:
        return _ordered_prefix(refs, window)
    nums = [n for n in (_num(e.value) for e in window) if n is not None]
    if not nums:
        return None
    if t is SigmaCorrelationType.VALUE_SUM:
        return sum(nums)
    if t is SigmaCorrelationType.VALUE_AVG:
        return sum(nums) / len(nums)
    if t is SigmaCorrelationType.VALUE_MEDIAN:
        return _percentile(nums, 50)
    if t is SigmaCorrelationType.VALUE_PERCENTILE:
        cond = corr.condition
        pct = getattr(cond, "percentile", None) or 50
        return _percentile(nums, pct)
    return None


def _ordered_prefix(refs: list[str], window: list[CorrEvent]) -> int:
    """How many of ``refs`` occur in order (each strictly after the previous) in the window."""
    k = 0
    last_ts: datetime | None = None
    for e in window:
        if k < len(refs) and e.rule == refs[k] and (last_ts is None or e.ts >= last_ts):
            k += 1
            last_ts = e.ts
    return k


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _percentile(nums: list[float], pct: float) -> float:
    """Linear-interpolated percentile (the common definition, as numpy's default)."""
    s = sorted(nums)
    pos = (len(s) - 1) * pct / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
