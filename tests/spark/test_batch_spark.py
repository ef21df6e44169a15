"""``forensics batch --engine spark``: the same units parsed on Spark executors give the case a
local batch gives — events, inputs, rejects, parts and image lines — and a unit lost on an
executor is recorded, then parsed by the re-run.

Inputs are generated: an ext4 disk image with dated and yearless Linux logs and a file no parser
reads, a broken E01, and a zip collection with EVTX logs (one with a damaged record), a syslog
and a text file. Cost (2 busy cores): the local reference ~10 s; the Spark batches on the shared
local[1] session ~40 s and ~15 s (the first pays the Python worker's imports); the Connect one
(slow) ~60 s plus the server's start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.batch.driver import run_batch
from forensics.batch.manifest import specs_from
from forensics.batch.units import ParseUnit, run_unit
from forensics.store import Case
from forensics.testing import disk_images as di
from forensics.testing.evtx_writer import WinEvent, write_evtx

pytestmark = pytest.mark.xdist_group("spark")

SEC = "Microsoft-Windows-Security-Auditing"
T0 = datetime(2024, 3, 5, 4, 10, tzinfo=UTC)


def _evtx(path: Path, n: int, computer: str) -> Path:
    events = [
        WinEvent(SEC, 4625 if i % 3 else 4624, T0 + timedelta(seconds=7 * i), "Security", computer,
                 event_data=(("TargetUserName", f"user{i % 5}"), ("IpAddress", f"203.0.113.{i % 250}")))
        for i in range(n)
    ]  # fmt: skip
    return write_evtx(path, events)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A batch folder: a Linux disk image, a broken E01 and a zip collection."""
    missing = di.tools_missing(["ext4"])
    if missing:
        pytest.skip(f"image tools missing: {missing}")
    root = tmp_path_factory.mktemp("sparkbatch")
    work = root / "work"
    work.mkdir()
    auth = work / "auth.log"
    auth.write_text(
        "".join(
            f"Mar  5 09:4{i % 10}:0{i % 10} lnx01 sshd[20{i}]: Failed password for root from 198.51.100.{i} port 5{i:03d} ssh2\n"
            for i in range(40)
        )
    )
    audit = work / "audit.log"
    audit.write_text(
        "".join(
            f"type=USER_LOGIN msg=audit(17096310{i:02d}.123:{400 + i}): pid=20{i} uid=0 auid=4294967295 "
            f'ses=4294967295 msg=\'op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 '
            "terminal=sshd res=failed'\n"
            for i in range(30)
        )
    )
    junk = work / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 8)
    vol = di.linux_volume(
        [("auth.log", auth), ("audit/audit.log", audit), ("junk.bin", junk)],
        hostname="lnx01", zone="Asia/Kolkata", work=work,
    )  # fmt: skip
    target = root / "evidence"
    target.mkdir()
    di.build_disk([vol], target / "lnx01.raw")
    # an E01 by its magic whose sections are garbage: the image fails, the others go on
    (target / "broken.E01").write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + b"\x01" * 4096)
    col = work / "host2"
    _evtx(col / "Security.evtx", 300, "WIN-HOST2")
    good = _evtx(work / "System.evtx", 50, "WIN-HOST2").read_bytes()
    damaged = bytearray(good)
    damaged[4096 + 512 + 40 : 4096 + 512 + 140] = b"\xa5" * 100  # inside the first records
    (col / "Damaged.evtx").write_bytes(bytes(damaged))
    (col / "syslog").write_text(
        "".join(f"Mar  5 10:0{i % 10}:1{i % 10} host2 cron[{300 + i}]: (root) CMD (run-parts /etc/cron.hourly)\n"
                for i in range(25))
    )  # fmt: skip
    (col / "notes.txt").write_text("handover notes, not a log\n")
    with zipfile.ZipFile(target / "host2.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(col.iterdir()):
            zf.writestr(zipfile.ZipInfo(f"logs/{f.name}", (2024, 3, 5, 10, 15, 0)), f.read_bytes())
    return target


def _state(case_dir: Path) -> dict[str, Any]:
    """Everything a local and a Spark batch must agree on (times of the run left out)."""
    with Case.open(case_dir, read_only=True) as case:
        con = case.con
        cols = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
        listed = ", ".join(f'"{c}"' for c in sorted(cols))
        events = con.execute(f"SELECT {listed} FROM events ORDER BY input_sha256, rec_index").fetchall()
        keep = [r[0] for r in con.execute("DESCRIBE inputs").fetchall() if r[0] not in ("seq", "ingested_at")]
        inputs = con.execute(
            f"SELECT {', '.join(keep)} FROM inputs ORDER BY path, member NULLS FIRST, sha256"
        ).fetchall()
        rejects = con.execute("SELECT * FROM rejects ORDER BY input_sha256, rec_index").fetchall()
        parts = con.execute("SELECT path, batch, source, channel, rows FROM parts ORDER BY path").fetchall()
        images = con.execute(
            "SELECT path, kind, status, error, host, tz, files, rows, rejects, verification, reference_year "
            "FROM images ORDER BY path"
        ).fetchall()
    return {"events": events, "inputs": inputs, "rejects": rejects, "parts": parts, "images": images}


@pytest.fixture(scope="module")
def local_case(evidence: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference: the same folder through the local batch."""
    case = tmp_path_factory.mktemp("local") / "case"
    run_batch(case, specs_from(evidence), workers=1)
    return _state(case)


def test_spark_batch_gives_the_rows_of_a_local_batch(
    spark: Any, evidence: Path, local_case: dict[str, Any], tmp_path: Path
) -> None:
    from forensics.spark.batch import SparkExecutor

    executor = SparkExecutor(spark)
    try:
        summary = run_batch(
            tmp_path / "case", specs_from(evidence), workers=executor.width, executor=executor
        )
    finally:
        executor.shutdown()
    got = _state(tmp_path / "case")
    # the inputs are what a responder checks: every file, its status and counts
    assert got["inputs"] == local_case["inputs"]
    assert got["images"] == local_case["images"]
    assert got["rejects"] == local_case["rejects"]
    assert got["parts"] == local_case["parts"]
    assert got["events"] == local_case["events"]
    statuses = {(Path(r[0]).name, r[2]) for r in got["images"]}
    assert ("broken.E01", "failed") in statuses and ("lnx01.raw", "done") in statuses
    assert len(got["events"]) == 300 + 25 + 30 + 40  # Security.evtx, syslog, audit.log, auth.log
    assert len(got["rejects"]) == 50  # the damaged EVTX's chunk fails its CRC: each record kept as a reject
    assert not summary.clean  # the broken image and the unread files need the analyst's eye
    assert executor.stats.calls >= 4 and executor.stats.failed_calls == 0


class _LoseFirstParse(Executor):
    """Spark's executor, except that the first parse unit dies on its executor."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.lost: list[ParseUnit] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn is run_unit and isinstance(args[0], ParseUnit) and not self.lost:
            self.lost.append(args[0])
            return self.inner.submit(int, f"parse unit {args[0].unit_id} lost on purpose")  # raises there
        return self.inner.submit(fn, *args, **kwargs)


def test_a_unit_lost_on_an_executor_is_recorded_and_the_rerun_parses_it(
    spark: Any, evidence: Path, local_case: dict[str, Any], tmp_path: Path
) -> None:
    from forensics.spark.batch import SparkExecutor

    case = tmp_path / "case"
    specs = specs_from(evidence)
    inner = SparkExecutor(spark)
    lossy = _LoseFirstParse(inner)
    try:
        first = run_batch(case, specs, workers=inner.width, executor=lossy)
        (lost,) = lossy.lost
        line = next(i for i in first.images if i.path == lost.spec.path)
        assert line.status == "failed" and "lost on purpose" in (line.error or "")
        assert "run the batch again" in (line.error or "")
        with Case.open(case, read_only=True) as c:
            members = {
                r[0]
                for r in c.con.execute(
                    "SELECT member FROM inputs WHERE path = ?", [lost.spec.path]
                ).fetchall()
            }
        assert not members & {f.member for f in lost.files}, "a lost unit's files are not recorded as parsed"
        again = run_batch(case, specs, workers=inner.width, executor=inner)
    finally:
        inner.shutdown()
    assert next(i for i in again.images if i.path == lost.spec.path).status == "done"
    got = _state(case)
    assert got["inputs"] == local_case["inputs"]
    assert got["events"] == local_case["events"]
    assert got["rejects"] == local_case["rejects"]
    assert got["parts"] == local_case["parts"]


@pytest.mark.slow  # ~60 s here beyond the Connect server's start (shared with the hunt's Connect test)
def test_batch_through_spark_connect(
    connect_url: str, evidence: Path, local_case: dict[str, Any], tmp_path: Path
) -> None:
    """The CLI with --spark-remote: units run on the Connect server's executors (this package is on
    their Python path: the test's server runs this interpreter), the same case results."""
    case = tmp_path / "case"
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "batch", str(evidence), "--case", str(case),
         "--spark-remote", connect_url, "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-3000:]  # the broken image and the unread files: attention
    summary = json.loads(proc.stdout)
    assert summary["engine"]["mode"] == "connect" and summary["engine"]["failed_calls"] == 0
    assert summary["engine"]["calls"] >= 4
    got = _state(case)
    assert got["inputs"] == local_case["inputs"]
    assert got["events"] == local_case["events"]
    assert got["rejects"] == local_case["rejects"]
    assert got["parts"] == local_case["parts"]
