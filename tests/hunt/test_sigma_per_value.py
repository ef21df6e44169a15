"""Big groups evaluate rules once per distinct value of the columns they read: same findings."""

from __future__ import annotations

from pathlib import Path

import pytest

import forensics.hunt.sigma.data as data
import forensics.hunt.sigma.plan as plan
from forensics.hunt.sigma import run_sigma
from forensics.ingest.runner import ingest_paths
from forensics.store import Case


def _findings(case_dir: Path, rules: Path) -> list[tuple[object, ...]]:
    # the plan cache (the session's machine cache) spares parsing the rules again for each path
    # compared: how the SQL is evaluated is decided when it runs
    with Case.open(case_dir) as case:
        result = run_sigma(case, [rules])
    assert not [s for s in result.report if s.status == "failed"]
    return sorted(
        (f.kind, f.rule_id, f.host, tuple(sorted(f.records)), f.first_ts, f.last_ts) for f in result.findings
    )


def test_per_value_evaluation_gives_the_same_findings_as_per_row(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = [shared_data / "DeepBlueCLI" / "evtx", shared_data / "EVTX-ATTACK-SAMPLES" / "Lateral Movement"]
    ingest_paths(tmp_path / "case", inputs)
    rules = shared_data / "sigma" / "rules" / "windows"
    per_row = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "DISTINCT_ROWS", 0)  # every group takes the per-value path
    monkeypatch.setattr(data, "TUPLE_ROWS", 0)  # each group one job, as a big group is
    per_value = _findings(tmp_path / "case", rules)
    assert len(per_row) > 50
    assert per_value == per_row


def test_per_tuple_evaluation_gives_the_same_findings_as_per_row(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mid-sized groups read their rows once and evaluate per distinct tuple of derived columns."""
    inputs = [shared_data / "DeepBlueCLI" / "evtx", shared_data / "EVTX-ATTACK-SAMPLES" / "Lateral Movement"]
    ingest_paths(tmp_path / "case", inputs)
    rules = shared_data / "sigma" / "rules" / "windows"
    monkeypatch.setattr(plan, "TUPLE_ROWS", 10**12)  # nothing per tuple
    per_row = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "TUPLE_ROWS", 0)  # every group below DISTINCT_ROWS per tuple ...
    monkeypatch.setattr(data, "TUPLE_ROWS", 0)
    monkeypatch.setattr(plan, "TUPLE_GAIN", 0)  # ... however little its rows repeat
    per_tuple = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "TUPLE_GAIN", 10**9)  # materialised once, then per row
    per_row_once = _findings(tmp_path / "case", rules)
    assert len(per_row) > 50
    assert per_tuple == per_row
    assert per_row_once == per_row


def test_rules_are_split_by_the_columns_they_read() -> None:
    group = plan.Group("TRUE", [], 10, plan.Schema({}))
    group.schema.derived.update({'"CommandLine"': 0, 'concat_ws(\' \', "a", "b")': 1})  # type: ignore[union-attr]
    terms = [(1, "(\"__l0\" LIKE '%x%')"), (2, "(\"__l1\" LIKE '%y%')"), (3, "FALSE"), (4, '("Other" = 1)')]
    per_value, per_row = plan.split_by_columns(group, terms)
    assert per_value == {("__l0",): [terms[0]]}
    assert per_row == terms[1:]  # keyword (concatenated text), constant, and non-derived rules stay per row
