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
    monkeypatch.setattr(plan, "FOLD_INTO_ROWS", 0)  # per value even where the group has a per-row scan
    assert _findings(tmp_path / "case", rules) == per_row
    monkeypatch.setattr(plan, "FOLD_INTO_ROWS", 10**9)  # every rule into the per-row scan there is one
    assert _findings(tmp_path / "case", rules) == per_row


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
    monkeypatch.setattr(plan, "TUPLE_GAIN", 10**9)  # per row, on the rows as read (one chunk or few)
    per_row_read = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "CHUNK", 7)  # many chunks: the rows kept once with the columns they read
    monkeypatch.setattr(data, "CHUNK", 7)
    per_row_once = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "TUPLE_ROWS", 10**12)  # small chunks each reading what its rules read
    per_row_chunks = _findings(tmp_path / "case", rules)
    assert len(per_row) > 50
    assert per_tuple == per_row
    assert per_row_read == per_row
    assert per_row_once == per_row
    assert per_row_chunks == per_row


def test_rules_are_split_by_the_columns_they_read() -> None:
    group = plan.Group("TRUE", [], 10, plan.Schema({}))
    group.schema.derived.update({'"CommandLine"': 0, 'concat_ws(\' \', "a", "b")': 1})  # type: ignore[union-attr]
    terms = [(1, "(\"__l0\" LIKE '%x%')"), (2, "(\"__l1\" LIKE '%y%')"), (3, "FALSE"), (4, '("Other" = 1)')]
    per_value, per_row = plan.split_by_columns(group, terms)
    assert per_value == {("__l0",): [terms[0]]}
    assert per_row == terms[1:]  # keyword (concatenated text), constant, and non-derived rules stay per row


def test_identifiers_in_string_literals_are_not_columns() -> None:
    sql = """(regexp_matches("__l3", '(?s)"a"|b''"c') AND ("__c4" = 'x"__l9"'))"""
    assert plan.idents_of(sql) == {"__l3", "__c4"}
    assert plan.derived_of([(1, sql), (2, "(\"__l5\" LIKE '%q%')")]) == {"__l3", "__c4", "__l5"}
    assert plan.derived_of([(1, sql), (2, '("Other" = 1)')]) is None  # then a query gets every column


def test_a_query_computes_only_the_derived_columns_its_rules_read() -> None:
    schema = plan.Schema.from_pairs([("CommandLine", "VARCHAR"), ("Image", "VARCHAR"), ("Other", "VARCHAR")])
    schema.derived.update({'"CommandLine"': 0, 'concat_ws(\' \', "CommandLine", "Image", "Other")': 1, '"Image"': 2})
    schema.sources.update({"CommandLine", "Image", "Other"})
    group = plan.Group("TRUE", ["/x.parquet"], 10, schema)
    src = plan.group_from(group, set(), derived={"__l2"})
    assert '"__l2"' in src and '"__c2"' not in src and "concat_ws" not in src and '"CommandLine"' not in src
    assert '"Image"' in src and '"Other"' not in src
    full = plan.group_from(group, set())
    assert all(f'"__{x}{k}"' in full for x in "cl" for k in range(3))
