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

from forensics.hunt.sigma.engine import (
    RuleStatus,
    SigmaResult,
    check_rules,
    converted_sql,
    run_sigma,
    write_rule_report,
)

__all__ = ["RuleStatus", "SigmaResult", "check_rules", "converted_sql", "run_sigma", "write_rule_report"]
