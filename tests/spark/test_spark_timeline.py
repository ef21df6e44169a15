"""``timeline --engine spark``: the events the timeline reads (clock offsets, the findings' records,
the context around them, every event in full mode) come from Spark, and the rows are DuckDB's.

On the shared local[1] session and a copy of the demo case hunted with the SQL hunts and IOC lists
(no Sigma: the timeline is what is tested); about a minute here, most of it Spark computing the
clock-offset facts and its per-query floor.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.integrity import assess, clock_offsets
from forensics.store import Case
from forensics.timeline import MODES, build_timeline, write_timeline

pytestmark = pytest.mark.xdist_group("spark")

REPO = Path(__file__).resolve().parents[2]
SPARK = ["--engine", "spark", "--spark-master", "local[1]"]


@pytest.fixture(scope="module")
def hunted(demo_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo case with one hunt run (SQL hunts and the demo's IOC lists)."""
    case_dir = tmp_path_factory.mktemp("spark-timeline") / "case"
    shutil.copytree(demo_case, case_dir)
    with Case.open(case_dir) as case:
        summary = run_hunt(case, HuntOptions(iocs=[REPO / "sample_data" / "iocs"]), argv=["test"])
    assert len(summary.findings) > 20
    return case_dir


def test_clock_offsets_on_spark_are_the_assessments(spark: Any, hunted: Path) -> None:
    from forensics.spark.connection import SparkConnection

    with Case.open(hunted, read_only=True) as case:
        whole = assess(case)
        on_spark = clock_offsets(case, SparkConnection(spark, case))
    # the demo's app server runs 220 s fast: found from its logons, the same on both engines
    assert whole.offsets and on_spark.spelling_offsets() == whole.spelling_offsets()
    assert on_spark.clock_pairs == whole.clock_pairs and on_spark.ip_hosts == whole.ip_hosts


@pytest.mark.parametrize("mode", MODES)
def test_timeline_on_spark_is_duckdbs_row_for_row(spark: Any, hunted: Path, mode: str, tmp_path: Path) -> None:
    from forensics.spark.connection import SparkConnection

    with Case.open(hunted, read_only=True) as case:
        want = build_timeline(case, mode)
        got = build_timeline(case, mode, on=SparkConnection(spark, case))
    assert want.num_rows > 20 and got.schema == want.schema and got.equals(want)
    relations = set(want.column("relation").to_pylist())
    assert {"finding"} <= set(want.column("row_type").to_pylist())
    if mode == "context":
        assert {"hit", "context"} <= relations
    for fmt in ("csv", "timesketch"):  # what the investigator opens: the same bytes
        a = write_timeline(want, fmt, tmp_path / f"duck.{fmt}").read_bytes()
        b = write_timeline(got, fmt, tmp_path / f"spark.{fmt}").read_bytes()
        assert a == b


def test_timeline_cli_writes_the_same_file_on_both_engines(spark: Any, hunted: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["timeline", str(hunted), "--level", "medium", "--window", "600"]
    duck = runner.invoke(app, [*base, "--out", str(tmp_path / "duck.csv")])
    on_spark = runner.invoke(app, [*base, "--out", str(tmp_path / "spark.csv"), *SPARK])
    assert duck.exit_code == 0 and on_spark.exit_code == 0, on_spark.output
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duck.csv").read_bytes()
    usage = runner.invoke(app, [*base, "--spark-master", "local[1]"])
    assert usage.exit_code == 2 and "without --engine spark" in usage.output


def test_full_timeline_filtered_on_spark_reads_a_superset_and_keeps_the_same_rows(spark: Any, hunted: Path) -> None:
    """With --host/--since/--until, full mode reads only the events that can pass (a host's
    spellings; times widened by the clock offsets) and keeps exactly the rows of the unfiltered
    timeline that pass: here the app server whose clock runs 220 s fast, near its correction."""
    from forensics.spark.connection import SparkConnection

    with Case.open(hunted, read_only=True) as case:
        whole = build_timeline(case, "full").to_pylist()
        skewed = [r for r in whole if r["clock_offset_s"] and r["ts_corrected"] is not None]
        host = skewed[0]["host"]
        since, until = skewed[len(skewed) // 3]["ts_corrected"], skewed[2 * len(skewed) // 3]["ts_corrected"]
        args = {"hosts": [host], "since": since, "until": until}
        want = build_timeline(case, "full", **args)
        got = build_timeline(case, "full", on=SparkConnection(spark, case), **args)
    assert got.equals(want) and want.num_rows > 2
    from forensics.hostnames import short_host

    kept = [r for r in whole if short_host(r["host"]) == short_host(host) and r["ts_corrected"] is not None
            and since <= r["ts_corrected"] <= until]  # fmt: skip
    assert want.to_pylist() == kept
