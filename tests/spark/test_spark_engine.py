"""The Spark engine gives the findings DuckDB gives: the demo case, EVTX-ATTACK-SAMPLES with the
SigmaHQ corpus (in Spark SQL and as DuckDB tasks), and the same through Spark Connect.

Cost (measured on the 2-core dev machine while other suites ran): the shared local[1] session
starts in 10-20 s; the demo hunt on Spark ~1.5 min (20 SQL hunts and the IOC joins: Spark's floor
is ~1 s per query here), the whole SigmaHQ corpus (3,000+ rules) over the 8,248 events of
EVTX-ATTACK-SAMPLES ~2 min, the Connect test ~1.5 min plus the server's start.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.hunt.sigma import run_sigma
from forensics.ingest.runner import ingest_paths
from forensics.spark.session import SparkOptions
from forensics.store import Case

pytestmark = pytest.mark.xdist_group("spark")

REPO = Path(__file__).resolve().parents[2]

# RE2 reads (?U) as "ungreedy"; Java has no such flag: the rule must be reported, not run as something else
UNGREEDY_RULE = """
title: Ungreedy regex (no Java equivalent)
id: 6b0b4c1e-2f5d-4b59-9a55-0d1f3b8e2a11
status: test
level: low
logsource:
    product: windows
    service: security
detection:
    sel:
        SubjectUserName|re: '(?U)zz+q'
    condition: sel
"""
LOGON_RULE = """
title: Successful logon (a rule that runs on both engines beside the one that cannot)
id: 0f0c7e0a-8d54-4c4e-a8f3-3a6f1f0b9e21
status: test
level: informational
logsource:
    product: windows
    service: security
detection:
    sel:
        EventID: 4624
    condition: sel
"""


def _files(run_dir: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        for name in ("findings.parquet", "finding_records.parquet")
    }


def _rule_report(case: Case) -> dict[str, tuple[str, str | None]]:
    rows = case.con.execute("SELECT path, status, reason FROM rule_report").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _hunt(
    case_dir: Path, options: HuntOptions
) -> tuple[dict[str, str], Any, dict[str, tuple[str, str | None]]]:
    with Case.open(case_dir) as case:
        summary = run_hunt(case, options, argv=["test"])
        case.refresh_views()
        report = _rule_report(case) if options.sigma else {}
    assert summary.run_dir is not None
    return _files(summary.run_dir), summary, report


def test_demo_hunt_on_spark_writes_the_findings_duckdb_writes(
    spark: Any, demo_case: Path, shared_data: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ungreedy.yml").write_text(UNGREEDY_RULE)
    (rules / "logon.yml").write_text(LOGON_RULE)
    sigma = [shared_data / "sigma" / "rules" / "windows" / "builtin", rules]
    iocs = [REPO / "sample_data" / "iocs"]
    duck_files, duck, duck_report = _hunt(demo_case, HuntOptions(sigma=sigma, iocs=iocs))
    spark_files, on_spark, spark_report = _hunt(
        demo_case, HuntOptions(sigma=sigma, iocs=iocs, spark=SparkOptions(master="local[1]"))
    )
    assert len(duck.findings) > 40 and {"sql", "ioc", "sigma"} <= set(duck.by_kind())
    # the same findings files, byte for byte: ids, levels, times, record references
    assert spark_files == duck_files
    assert on_spark.engine is not None and on_spark.engine["name"] == "spark"
    # every rule has the same outcome, except the one that cannot mean the same on Spark: reported
    ungreedy = next(p for p in duck_report if p.endswith("ungreedy.yml"))
    assert duck_report.pop(ungreedy)[0] == "converted"
    status, reason = spark_report.pop(ungreedy)
    assert status == "failed" and "not run on Spark" in (reason or "") and "ungreedy" in (reason or "")
    assert spark_report == duck_report
    assert [o.status for o in on_spark.outcomes] == [o.status for o in duck.outcomes]


@pytest.mark.slow
def test_sigmahq_over_evtx_attack_samples_same_findings_on_spark(
    spark: Any, shared_data: Path, tmp_path: Path
) -> None:
    from forensics.spark.connection import SparkConnection
    from forensics.spark.sigma import SparkSigmaData
    from forensics.spark.tasks import SparkTaskSigmaData

    ingest_paths(tmp_path / "case", [shared_data / "EVTX-ATTACK-SAMPLES"])
    rules = [shared_data / "sigma" / "rules"]  # the whole SigmaHQ corpus
    with Case.open(tmp_path / "case") as case:
        duck = run_sigma(case, rules, use_cache=False)
        on_spark = run_sigma(case, rules, use_cache=False, data=SparkSigmaData(SparkConnection(spark, case)))
        # --spark-sigma duckdb, with units small enough that the big groups are cut into slices
        tasks = SparkTaskSigmaData(SparkConnection(spark, case), unit_rows=1_000)
        in_tasks = run_sigma(case, rules, use_cache=False, data=tasks)

    def key(result: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (
                f.finding_id,
                f.kind,
                f.rule_id,
                f.level,
                f.host,
                f.first_ts,
                f.last_ts,
                tuple(sorted(f.records)),
            )
            for f in result.findings
        )

    assert len(duck.findings) > 300
    assert key(on_spark) == key(duck)
    assert [(r.path, r.status) for r in on_spark.report] == [(r.path, r.status) for r in duck.report]
    assert tasks.units > 10
    assert key(in_tasks) == key(duck)
    assert [(r.path, r.status, r.reason) for r in in_tasks.report] == [
        (r.path, r.status, r.reason) for r in duck.report
    ]


@pytest.mark.parametrize("mode", ["sql", "duckdb"])
def test_hunt_through_spark_connect(connect_url: str, demo_case: Path, shared_data: Path, mode: str) -> None:
    """The analyst's side of Spark Connect is the CLI (a thin client; pyspark refuses a remote session
    in a process that already runs a classic one, as this test process does); the Sigma scans in
    Spark SQL, and as DuckDB tasks on the server's executors (``--spark-sigma duckdb``)."""
    sigma = shared_data / "sigma" / "rules" / "windows" / "builtin" / "security"
    duck_files, duck, _ = _hunt(demo_case, HuntOptions(sigma=[sigma], default_iocs=False))
    cmd = [sys.executable, "-m", "forensics", "hunt", str(demo_case), "--sigma", str(sigma), "--no-default-iocs",
           "--no-outputs", "--json", "--spark-remote", connect_url, "--spark-sigma", mode]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "CI": "true"})
    assert done.returncode == 0, done.stderr[-3000:]
    with Case.open(demo_case, read_only=True) as case:
        run = case.runs()[-1]
        run_dir = case.run_dir(run)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["engine"]["mode"] == "connect" and record["engine"]["remote"] == connect_url
    assert record["engine"]["sigma"] == mode
    assert len(duck.findings) > 20
    assert _files(run_dir) == duck_files
    assert len(done.stdout.splitlines()) == len(duck.findings)
