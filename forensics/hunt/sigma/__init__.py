"""Sigma hunting: convert SigmaHQ rules to DuckDB SQL over the case and run them in planned scans.

Public API::

    check_rules(rule_paths, case=None) -> list[RuleStatus]     convert only, report per rule
    converted_sql(rule_paths, case=None) -> {(file, line): sql}  the SQL each rule became
    run_sigma(case, rule_paths) -> SigmaResult                 findings + the same report
    write_rule_report(folder, report) -> Path                  <run folder>/rule_report.parquet

Modules: ``loader`` (files -> pySigma rules, errors with file:line), ``pipeline`` (log sources
and field names -> our columns), ``backend`` (condition trees -> SQL), ``plan`` (grouping,
partition pruning, one scan per log source), ``correlation`` (sliding windows), ``cache``
(parsed rules kept in the case as JSON, keyed by rule-file SHA-256), ``engine`` (the flow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forensics.hunt.sigma.engine import (
        RuleStatus,
        SigmaResult,
        check_rules,
        converted_sql,
        run_sigma,
        write_rule_report,
    )

__all__ = ["RuleStatus", "SigmaResult", "check_rules", "converted_sql", "run_sigma", "write_rule_report"]


def __getattr__(name: str) -> Any:
    """The engine (and pySigma under it: a third of the CLI's start-up) loads on first use, so
    importing ``forensics.hunt.sigma.tuning`` or ``.ruleset`` does not pull it in."""
    if name in __all__:
        from forensics.hunt.sigma import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
