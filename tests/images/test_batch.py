"""``forensics batch`` over 24 generated images (two of them broken): killed with kill -9 at
several points and re-run, it ends with exactly the rows of an uninterrupted run.

Cost: building the images ~10 s; one uninterrupted batch and one killed-and-resumed series on
2 workers, ~60-90 s together on 2 busy cores (marked slow; runs in CI).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from imagekit import LINUX_LOGS, WINDOWS_LOGS, signature

from forensics.batch.manifest import specs_from
from forensics.store import Case
from forensics.testing import disk_images as di

KINDS = ("raw", "qcow2", "vmdk", "vhdx", "e01", "vhd")


@pytest.fixture(scope="session")
def image_folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """22 good images (Linux and Windows, every container kind, overlapping logs) and 2 broken ones."""
    work = tmp_path_factory.mktemp("batch-build")
    out = tmp_path_factory.mktemp("batch-images")
    linux = [(name, shared_data / src) for name, src in LINUX_LOGS]
    windows = [shared_data / p for p in WINDOWS_LOGS]
    for i in range(22):
        own = work / f"messages-{i}"
        own.write_text(
            f"Jan {i + 1:2d} 10:00:0{i % 10} host{i:02d} sshd[{100 + i}]: Accepted password for user{i}\n"
        )
        if i % 2 == 0:  # Linux: two shared logs (so several images hold the same bytes) and one of its own
            logs = [linux[i % 4], linux[(i + 1) % 4], ("messages", own)]
            vol = di.linux_volume(logs, hostname=f"lnx-{i:02d}", zone="Asia/Kolkata", work=work)
        else:
            vol = di.windows_volume(
                [windows[i % 4]], computer_name=f"WIN-{i:02d}", time_zone_key="India Standard Time",
                bias_minutes=-330, work=work,
            )  # fmt: skip
        raw = di.build_disk([vol], work / f"disk{i:02d}.raw")
        kind = KINDS[i % len(KINDS)]
        name = f"host{i:02d}." + {"raw": "raw", "e01": "E01"}.get(kind, kind)
        if kind == "raw":
            raw.rename(out / name)
        else:
            di.convert(raw, "ewf" if kind == "e01" else kind, out / name)
            raw.unlink()
    (out / "broken.E01").write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + os.urandom(70_000))
    mbr = bytearray(1 << 20)
    mbr[446:462] = (
        bytes([0, 0xFE, 0xFF, 0xFF, 0x83, 0xFE, 0xFF, 0xFF])
        + (2048).to_bytes(4, "little")
        + (1024).to_bytes(4, "little")
    )
    mbr[510:512] = b"\x55\xaa"
    (out / "garbage.raw").write_bytes(bytes(mbr))  # a partition table over nothing readable
    return out


def _parts(case: Path) -> int:
    return len(list((case / "events").glob("*/*/*.parquet"))) if (case / "events").is_dir() else 0


def _batch(folder: Path, case: Path, kill: Callable[[float], bool] | None = None) -> dict | None:
    """Run ``forensics batch`` as a process; kill -9 its process group once ``kill(seconds)`` says so."""
    cmd = [
        sys.executable,
        "-m",
        "forensics",
        "batch",
        str(folder),
        "--case",
        str(case),
        "--workers",
        "2",
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    start = time.monotonic()
    while kill is not None and proc.poll() is None:
        if kill(time.monotonic() - start):
            os.killpg(proc.pid, signal.SIGKILL)  # kill -9, workers included
            proc.communicate()
            return None
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode in (0, 3), stderr.decode()
    return json.loads(stdout.decode().splitlines()[-1])


def _done_images(case: Path) -> int:
    if not (case / "case.duckdb").exists():
        return 0
    with Case.open(case, read_only=True) as c:
        tables = {r[0] for r in c.con.execute("SHOW TABLES").fetchall()}
        if "images" not in tables:
            return 0
        return int(
            c.con.execute("SELECT count(*) FROM images WHERE status IN ('done', 'failed')").fetchone()[0]
        )


def _inputs(case: Path) -> list[tuple[object, ...]]:
    with Case.open(case, read_only=True) as c:
        return c.con.execute(
            "SELECT path, member, sha256, status, rows, rejects FROM inputs ORDER BY path, member"
        ).fetchall()


@pytest.mark.slow
def test_killed_batch_resumes_to_the_uninterrupted_rows(image_folder: Path, tmp_path: Path) -> None:
    specs = specs_from(image_folder)
    assert len(specs) == 24
    whole = _batch(image_folder, tmp_path / "whole")
    assert whole is not None
    by_name = {Path(i["path"]).name: i for i in whole["images"]}
    assert by_name["broken.E01"]["status"] == "failed" and by_name["garbage.raw"]["status"] == "failed"
    good = [i for n, i in by_name.items() if n.startswith("host")]
    assert len(good) == 22 and all(i["status"] == "done" for i in good)
    assert by_name["host01.qcow2"]["host"] == "WIN-01" and by_name["host00.raw"]["host"] == "lnx-00"
    assert whole["totals"]["rows"] > 0

    resumed = tmp_path / "resumed"
    kills = []
    # kill -9 early (starting up, listing), then each time a few more parts have been moved into the case
    triggers: list[Callable[[float], bool]] = [lambda t: t > 2.0]
    for more in (1, 3, 5):
        triggers.append(lambda t, more=more: _parts(resumed) >= _parts_at_start[0] + more)
    got = None
    _parts_at_start = [0]
    for trigger in triggers:
        _parts_at_start[0] = _parts(resumed)
        got = _batch(image_folder, resumed, trigger)
        if got is not None:
            break
        kills.append(_done_images(resumed))
    if got is None:
        got = _batch(image_folder, resumed)
    assert got is not None
    # killed more than once in the middle of the batch: some images done, some not
    assert len(kills) >= 3 and sum(1 for after in kills if 0 < after < len(specs)) >= 2, kills
    assert signature(resumed) == signature(tmp_path / "whole")
    assert _inputs(resumed) == _inputs(tmp_path / "whole")
    with Case.open(resumed, read_only=True) as c:
        dupes = c.con.execute(
            "SELECT count(*) FROM (SELECT input_sha256, rec_index FROM events GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
        assert dupes == 0
    assert {i["path"]: i["status"] for i in got["images"]} == {
        i["path"]: i["status"] for i in whole["images"]
    }


def test_manifest_hints_and_expected_hash(shared_data: Path, tmp_path: Path, built: dict) -> None:
    from forensics.batch.driver import run_batch

    img = built["linux"].images["e01"]
    with Case.open(tmp_path / "probe", create=True):
        pass
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,host,tz,collector,collected,hash\n"
        f"{img},hint-host,UTC,Insp. Rao,2026-01-05T10:00:00+05:30,{'0' * 32}\n"
    )
    specs = specs_from(manifest)
    summary = run_batch(tmp_path / "case", specs, workers=1)
    (line,) = summary.images
    assert line.status == "done" and line.host == "lnx-img01"  # the image's own name wins over the hint
    assert line.verification == "mismatch"  # the manifest's (wrong) expected MD5
    with Case.open(tmp_path / "case", read_only=True) as c:
        row = c.con.execute("SELECT collector, host_source, tz_source FROM images").fetchone()
    assert row == ("Insp. Rao", "p1:/etc/hostname", "p1:/etc/timezone")


@pytest.mark.slow
def test_batch_cli_hunts_over_e01_and_ex01_and_reports_a_broken_one(built: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forensics.cli import app

    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "lin.E01").symlink_to(built["linux"].images["e01"])
    (folder / "win.Ex01").symlink_to(built["windows"].images["ex01"])
    (folder / "broken.Ex01").write_bytes(b"EVF2\r\n\x81\x00" + bytes(4096))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "user_created.yml").write_text(USER_CREATED_RULE)
    case = tmp_path / "case"
    res = CliRunner().invoke(
        app,
        ["batch", str(folder), "--case", str(case), "--workers", "1", "--json", "--hunt",
         "--sigma", str(rules), "--no-default-queries", "--yara-timeout", "7", "--top", "0"],
    )  # fmt: skip
    assert res.exit_code == 3, res.output  # the broken Ex01 failed: a problem, not an error
    summary = json.loads(next(line for line in res.stdout.splitlines() if line.startswith('{"case"')))
    by_name = {Path(i["path"]).name: i for i in summary["images"]}
    assert by_name["lin.E01"]["status"] == "done" and by_name["lin.E01"]["rows"] > 0
    assert by_name["win.Ex01"]["status"] == "done" and by_name["win.Ex01"]["rows"] > 0
    assert by_name["win.Ex01"]["host"] == "WIN-IMG01"
    assert by_name["broken.Ex01"]["status"] == "failed" and "libewf" in by_name["broken.Ex01"]["error"]
    assert (case / "findings" / "runs" / "0001" / "findings.parquet").exists()
    # the hunt ran with the options given to the batch, and its run says so like any hunt's
    options = json.loads((case / "findings" / "runs" / "0001" / "run.json").read_text())["options"]
    assert options["sigma"] == [str(rules)] and options["default_queries"] is False
    assert options["yara_timeout"] == 7
    with Case.open(case, read_only=True) as c:
        sources = c.con.execute(
            "SELECT DISTINCT e.input_path FROM findings f JOIN finding_records r USING (finding_id) "
            "JOIN events e ON e.input_sha256 = r.input_sha256 AND e.rec_index = r.rec_index WHERE f.rule_id = ?",
            ["9d1c1e0a-5b6f-4f4e-9a51-16a1b2c3d4e5"],
        ).fetchall()
    assert sources == [(str(folder / "win.Ex01"),)]  # event 4720 in the Security log inside the Ex01


def test_batch_hunt_options_are_checked_before_the_batch_runs(built: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forensics.cli import app

    image = built["linux"].images["e01"]
    case = tmp_path / "case"
    res = CliRunner().invoke(app, ["batch", str(image), "--case", str(case), "--hunt", "--sigma", "nope/"])
    assert res.exit_code == 2 and "--sigma nope" in res.output
    res = CliRunner().invoke(app, ["batch", str(image), "--case", str(case), "--iocs", str(image)])
    assert res.exit_code == 2 and "--iocs" in res.output and "without --hunt" in res.output
    assert not case.exists()  # nothing ingested, nothing written


USER_CREATED_RULE = """title: A user account was created (batch hunt test)
id: 9d1c1e0a-5b6f-4f4e-9a51-16a1b2c3d4e5
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4720
    condition: selection
level: high
"""
