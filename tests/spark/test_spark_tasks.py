"""``--spark-sigma duckdb``: the Sigma scans as Spark tasks running DuckDB over slices of the parts
give the findings a local DuckDB hunt gives.

The slicing itself (work units, a slice lacking a column or holding it with another type, a rule
failing in one slice) is checked in process, without a JVM, by running every unit here; the
Spark test then runs the units on the shared ``local[1]`` session. Cost: the in-process tests a
few seconds each; the Spark test ~30 s (the demo case with Windows built-in rules).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from forensics.errors import EngineError
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.hunt.sigma import run_sigma
from forensics.hunt.sigma.data import DuckData, GroupJob, MatchRow
from forensics.spark.session import SparkOptions
from forensics.spark.tasks import file_root, merge, run_unit, split, whole_groups
from forensics.store import Case

pytestmark = pytest.mark.xdist_group("spark")

# A rule that reads a field only some of the demo's Security parts hold, typed as text there
LOGON_TYPE_RULE = """
title: Network logon with an explicit logon type
id: 4c5d9a57-9c1e-4f4a-9d7e-6f1b6a2b7c10
status: test
level: low
logsource:
    product: windows
    service: security
detection:
    sel:
        EventID: 4624
        LogonType: 3
    condition: sel
"""


class UnitsHere(DuckData):
    """DuckDB's plan with every job cut into work units of ``unit_rows`` rows, each run here as an
    executor would run it."""

    def __init__(self, case: Case, unit_rows: int) -> None:
        super().__init__(case.con, case.root)
        self.case = case
        self.unit_rows = unit_rows
        self.units = 0
        self.widest = 0  # most units one job was cut into

    def execute(self, jobs: Sequence[GroupJob]) -> list[tuple[list[MatchRow], dict[int, str]]]:
        rows_of = dict(self.case.con.execute("SELECT path, rows FROM parts").fetchall())
        root = self.case.root.resolve()

        def rel(f: str) -> str:
            return Path(f).resolve().relative_to(root).as_posix()

        per_job = [
            split(j, rel, rows_of, lambda r: str(root / r), self.unit_rows) for j in whole_groups(jobs)
        ]
        self.units = sum(len(units) for units in per_job)
        self.widest = max((len(units) for units in per_job), default=0)
        return [merge([run_unit(u) for units in per_job for u in units])]


def _key(result: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (f.finding_id, f.rule_id, f.level, f.host, f.first_ts, f.last_ts, tuple(sorted(f.records)))
        for f in result.findings
    )


@pytest.fixture()
def rules(shared_data: Path, tmp_path: Path) -> list[Path]:
    own = tmp_path / "rules"
    own.mkdir()
    (own / "logon_type.yml").write_text(LOGON_TYPE_RULE)
    windows = shared_data / "sigma" / "rules" / "windows"
    return [windows / "builtin", windows / "process_creation", own]


def test_units_in_slices_find_what_whole_groups_find(demo_case: Path, rules: list[Path]) -> None:
    with Case.open(demo_case, read_only=True) as case:
        whole = run_sigma(case, rules, use_cache=False)
        data = UnitsHere(case, unit_rows=200)  # every big group cut into many slices
        sliced = run_sigma(case, rules, use_cache=False, data=data)
    assert len(whole.findings) > 20
    assert data.units > 10 and data.widest >= 4  # groups really were cut, one part file per slice
    assert _key(sliced) == _key(whole)
    assert [(r.path, r.status, r.reason) for r in sliced.report] == [
        (r.path, r.status, r.reason) for r in whole.report
    ]


def test_a_rule_failing_in_one_unit_matches_nothing_anywhere() -> None:
    a = ([("s", 1, "h", None, "1,2"), ("s", 2, "h", None, "2")], {})
    b = ([("s", 3, "h", None, "1")], {2: "Binder Error: no such column"})
    rows, failed = merge([a, b])
    assert failed == {2: "Binder Error: no such column"}
    assert rows == [("s", 1, "h", None, "1"), ("s", 3, "h", None, "1")]


def test_a_dataset_not_readable_as_files_is_refused_with_the_reason() -> None:
    assert file_root("file:///srv/cases/dims/events") == Path("/srv/cases/dims/events")
    with pytest.raises(EngineError, match="not a file:// path"):
        file_root("s3a://bucket/cases/dims/events")


def test_spark_tasks_hunt_writes_the_findings_duckdb_writes(
    spark: Any, demo_case: Path, rules: list[Path], tmp_path: Path
) -> None:
    def hunt(options: HuntOptions) -> tuple[dict[str, str], Any]:
        with Case.open(demo_case) as case:
            summary = run_hunt(case, options, argv=["test"])
        assert summary.run_dir is not None
        digests = {
            name: hashlib.sha256((summary.run_dir / name).read_bytes()).hexdigest()
            for name in ("findings.parquet", "finding_records.parquet")
        }
        return digests, summary

    plain = {"sigma": rules, "default_queries": False, "default_iocs": False}
    duck_files, duck = hunt(HuntOptions(**plain))
    spark_files, on_spark = hunt(HuntOptions(**plain, spark=SparkOptions(master="local[1]", sigma="duckdb")))
    assert len(duck.findings) > 20
    assert spark_files == duck_files
    assert on_spark.engine is not None and on_spark.engine["sigma"] == "duckdb"
