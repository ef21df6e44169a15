"""Which loaded rules run, at which level, and which copy of a rule two sets both hold.

``decide`` applies a hunt's ``Tuning`` and each rule set's own lists to the rules that loaded,
and de-duplicates between sets: Hayabusa's set rewrites SigmaHQ rules (one copy for Sysmon, one
for Security 4688, each with a new id and ``related: derived`` naming the original). When the
SigmaHQ original is among the rules given, it runs — our pipeline maps its log source to every
source (Sysmon, 4688, EDR) — and the rewrites are skipped with the reason, so the same rule
raises one finding, not two. Every decision is kept with its reason for the rule report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from forensics.hunt.sigma.loader import LoadedRule
from forensics.hunt.sigma.ruleset import RuleSet
from forensics.hunt.sigma.tuning import Tuning


@dataclass
class Decisions:
    """Per rule index: skipped with why, the level findings get, what tuning applied, duplicates."""

    skipped: dict[int, str] = field(default_factory=dict)
    levels: dict[int, str] = field(default_factory=dict)
    tuned: dict[int, list[str]] = field(default_factory=dict)
    exclusions: dict[int, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    duplicate_of: dict[int, str] = field(default_factory=dict)  # skipped copy -> the copy that ran
    duplicates: dict[int, list[str]] = field(default_factory=dict)  # the copy that ran -> skipped copies


def rule_ids(lr: LoadedRule) -> list[str | None]:
    """Every id a rule answers to: its own, the SigmaHQ id it derives from, the id as written."""
    rid = getattr(lr.rule, "id", None)
    return [str(rid) if rid is not None else None, lr.info.derived_from, lr.info.original_id]


def decide(
    loaded: list[LoadedRule],
    candidates: Iterable[int],
    ruleset_of: Callable[[LoadedRule], RuleSet | None],
    tuning: Tuning,
) -> Decisions:
    """Apply statuses, exclusion lists, rule-set lists and the tuning file; then de-duplicate."""
    d = Decisions()
    idxs = sorted(candidates)
    for i in idxs:
        lr = loaded[i]
        if lr.info.internal:
            continue  # a count rule's selection follows its rule (see _follow_parents)
        why = _skip_reason(lr, ruleset_of(lr), tuning, d, i)
        if why is not None:
            d.skipped[i] = why
    _dedup(loaded, [i for i in idxs if i not in d.skipped], d)
    return d


def _skip_reason(lr: LoadedRule, rs: RuleSet | None, tuning: Tuning, d: Decisions, i: int) -> str | None:
    ids = rule_ids(lr)
    status = lr.info.status
    if status is not None and status not in tuning.statuses:
        return f"status '{status}' not selected (--status; selected: {', '.join(tuning.statuses)})"
    listed = tuning.excluded_by(ids)
    if listed is not None:
        return f"excluded by --exclude-rules {listed}"
    if rs is not None and rs.is_hayabusa and tuning.ruleset_config:
        cfg = rs.config
        for rid in ids:
            if rid and rid in rs.excluded:
                note = f" ({rs.excluded[rid]})" if rs.excluded[rid] else ""
                return f"excluded by the rule set's {cfg}/exclude_rules.txt{note}"
        for rid in ids:
            if rid and rid in rs.noisy:
                if not tuning.enable_noisy:
                    return (f"noisy: listed in the rule set's {cfg}/noisy_rules.txt (not run by default, "
                            "as Hayabusa; --enable-noisy-rules runs it as informational)")  # fmt: skip
                d.levels[i] = "informational"
                d.tuned.setdefault(i, []).append(
                    f"level informational: noisy, listed in {cfg}/noisy_rules.txt"
                )
        for rid in ids:
            if rid and rid in rs.level_tuning and i not in d.levels:
                d.levels[i] = rs.level_tuning[rid]
                d.tuned.setdefault(i, []).append(f"level {rs.level_tuning[rid]} by {cfg}/level_tuning.txt")
    t = tuning.for_rule(ids)
    if t is not None:
        if t.disable:
            return f"disabled by --tuning {t.source}" + (f" ({t.reason})" if t.reason else "")
        if t.level:
            d.levels[i] = t.level
        if t.exclude:
            d.exclusions[i] = t.exclude
        d.tuned.setdefault(i, []).append(t.describe())
    return None


def _dedup(loaded: list[LoadedRule], running: list[int], d: Decisions) -> None:
    """Skip a rewrite whose SigmaHQ original runs too: the original's id is the rewrite's
    derived_from, or the rewrite's own id (Hayabusa keeps the id of a rule it copies unchanged,
    e.g. ``sigma/builtin/win_alert_mimikatz_keywords.yml``)."""
    originals: dict[str, int] = {}
    for i in running:
        lr = loaded[i]
        rid = getattr(lr.rule, "id", None)
        if lr.info.ruletype is None and rid is not None:
            originals.setdefault(str(rid), i)
    for i in running:
        info = loaded[i].info
        src = info.derived_from
        if not src and info.ruletype is not None:
            own = getattr(loaded[i].rule, "id", None)
            src = str(own) if own is not None else None
        j = originals.get(src) if src else None
        if j is None or j == i:
            continue
        here, there = loaded[i], loaded[j]
        d.skipped[i] = (f"same SigmaHQ rule as {there.rel_path} (id {src}), which runs instead: "
                        "one rule, one finding")  # fmt: skip
        d.duplicate_of[i] = f"{there.path}:{there.line or 1}"
        d.duplicates.setdefault(j, []).append(f"{here.path}:{here.line or 1}")
