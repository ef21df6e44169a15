"""Velociraptor offline collections and UAC tarballs, generated here in the layouts those tools
write, through ``forensics ingest`` and ``forensics batch``: the rows equal those of the same
files laid out as a plain folder, with the host each collection states.

Cost: two small archives of synthetic logs, ingested five times: ~10 s on 2 busy cores.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imagekit import signature
from typer.testing import CliRunner

from forensics.cli import app
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

SEC = "Microsoft-Windows-Security-Auditing"
T0 = datetime(2024, 3, 5, 4, 10, tzinfo=UTC)
VELO = "Collection-WIN-VELO01-2024-03-05T10_15_00Z.zip"
UAC = "uac-lnx-web01-linux-20240305101500.tar.gz"


def _velociraptor_files(tmp: Path) -> dict[str, bytes]:
    """What an offline collector's zip holds: uploads by accessor (auto, ntfs) with the drive
    URL-encoded, its own records (client_info, collection_context, log, results, uploads index)."""
    sec = write_evtx(
        tmp / "Security.evtx",
        [WinEvent(SEC, 4625, T0.replace(second=i), "Security", "WIN-VELO01",
                  event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45")))
         for i in range(5)],
    )  # fmt: skip
    system = write_evtx(
        tmp / "System.evtx",
        [WinEvent("Service Control Manager", 7045, T0.replace(minute=20), "System", "WIN-VELO01",
                  qualifiers=16384, event_data=(("ServiceName", "psexesvc"), ("ImagePath", "C:\\Windows\\psexesvc.exe")))],
    )  # fmt: skip
    logs = "uploads/auto/C%3A/Windows/System32/winevt/Logs"
    return {
        "client_info.json": json.dumps({"Hostname": "WIN-VELO01", "Fqdn": "win-velo01.hosp.local", "OS": "windows"}).encode(),
        "collection_context.json": json.dumps({"session_id": "F.CN3ABC", "total_uploaded_files": 2}).encode(),
        f"{logs}/Security.evtx": sec.read_bytes(),
        "uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/winevt/Logs/System.evtx": system.read_bytes(),
        "uploads.json": b'{"Components":["auto","C:","Windows"],"Size":1}\n',
        "log.json": b'{"_ts":1709613300,"level":"DEFAULT","message":"Collection started"}\n',
        "results/Windows.KapeFiles.Targets%2FAll File Metadata.json": b'{"SourceFile":"C:\\\\Windows\\\\x","Size":1}\n',
    }  # fmt: skip


def _uac_files() -> dict[str, bytes]:
    """What UAC's tarball holds: the live system under ``[root]``, its own outputs beside it."""
    auth = "".join(
        f"Mar  5 09:4{i}:0{i} lnx-web01 sshd[20{i}1]: Failed password for root from 198.51.100.7 port 5{i}000 ssh2\n"
        for i in range(4)
    )
    audit = "".join(
        f"type=USER_LOGIN msg=audit(1709631{i}00.123:{400 + i}): pid=20{i}1 uid=0 auid=4294967295 ses=4294967295 "
        f'msg=\'op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 terminal=sshd res=failed\'\n'
        for i in range(3)
    )
    return {
        "[root]/etc/hostname": b"lnx-web01\n",
        "[root]/var/log/auth.log": auth.encode(),
        "[root]/var/log/audit/audit.log": audit.encode(),
        "live_response/process/ps.txt": b"  PID TTY          TIME CMD\n    1 ?        00:00:01 systemd\n",
        "bodyfile/bodyfile.txt": b"0|/etc/passwd|1234|-rw-r--r--|0|0|1500|1709600000|1709600000|1709600000|0\n",
        "uac.log": b"2024-03-05 10:15:00 INFO UAC (Unix-like Artifacts Collector) 2.8.0\n",
    }


@pytest.fixture(scope="module")
def collections(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two archives in one folder, and the same files as plain folders (the twins)."""
    root = tmp_path_factory.mktemp("collections")
    velo, uac = _velociraptor_files(root), _uac_files()
    archives = root / "evidence"
    archives.mkdir()
    with zipfile.ZipFile(archives / VELO, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in velo.items():
            zf.writestr(zipfile.ZipInfo(name, (2024, 3, 5, 10, 15, 0)), data)
    with tarfile.open(archives / UAC, "w:gz") as tf:
        for name, data in uac.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(T0.timestamp())
            tf.addfile(info, io.BytesIO(data))
    twins = root / "twins"
    for top, files in (("WIN-VELO01", velo), ("lnx-web01", uac)):
        # the host each archive states for all its members (client_info.json, UAC's file name)
        # is, for a plain folder, its etc/hostname
        for name, data in {**files, "etc/hostname": f"{top}\n".encode()}.items():
            dest = twins / top / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    return {"archives": archives, "twins": twins}


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def _members(case: Path) -> dict[str, tuple[str, int]]:
    """input_member -> (host of its rows, rows), for members with rows."""
    with Case.open(case, read_only=True) as c:
        rows = c.con.execute(
            "SELECT input_member, any_value(host), count(*) FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return {m: (h, n) for m, h, n in rows}


def test_ingest_reads_each_collection_as_its_twin_folder(
    collections: dict[str, Path], tmp_path: Path
) -> None:
    code, out = _cli("ingest", str(collections["twins"]), "--case", str(tmp_path / "twin"))
    assert code in (0, 3), out
    code, out = _cli("ingest", str(collections["archives"]), "--case", str(tmp_path / "arc"))
    assert code in (0, 3), out
    assert signature(tmp_path / "arc") == signature(tmp_path / "twin")  # same records, same content
    members = _members(tmp_path / "arc")
    assert members["uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx"] == ("WIN-VELO01", 5)
    assert members["uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/winevt/Logs/System.evtx"][1] == 1
    assert members["[root]/var/log/auth.log"] == ("lnx-web01", 4)  # the host from UAC's file name
    assert members["[root]/var/log/audit/audit.log"][1] == 3


def test_batch_takes_collections_beside_images_and_resumes(
    collections: dict[str, Path], tmp_path: Path
) -> None:
    case = tmp_path / "case"
    code, out = _cli("batch", str(collections["archives"]), "--case", str(case), "--workers", "1", "--json")
    assert code in (0, 3), out
    summary = json.loads(next(line for line in out.splitlines() if line.startswith('{"case"')))
    by_name = {Path(i["path"]).name: i for i in summary["images"]}
    assert set(by_name) == {VELO, UAC}
    assert by_name[VELO]["status"] == "done" and by_name[VELO]["host"] == "WIN-VELO01"
    assert by_name[VELO]["rows"] == 6 and by_name[VELO]["files"] == 7
    assert by_name[UAC]["status"] == "done" and by_name[UAC]["host"] == "lnx-web01"
    assert by_name[UAC]["rows"] == 8 and by_name[UAC]["files"] == 6  # uac.log's own line reads as syslog
    with Case.open(case, read_only=True) as c:
        kinds = dict(c.con.execute("SELECT kind, file_sha256 IS NOT NULL FROM images").fetchall())
    assert kinds == {"velociraptor": True, "uac": True}

    # the same rows as `forensics ingest` of the same archives
    _cli("ingest", str(collections["archives"]), "--case", str(tmp_path / "ingested"))
    assert signature(case) == signature(tmp_path / "ingested")

    # run again: both are done, nothing is read or added
    before = signature(case)
    code, out = _cli("batch", str(collections["archives"]), "--case", str(case), "--workers", "1", "--json")
    assert code in (0, 3), out
    assert signature(case) == before


def test_collection_interrupted_half_way_is_finished_by_the_next_batch(
    collections: dict[str, Path], tmp_path: Path
) -> None:
    """A collection whose ingest stopped part way (its line not done) is ingested again: the
    ingest skips what the case holds, and the rows end as an uninterrupted batch's."""
    case = tmp_path / "case"
    _cli("batch", str(collections["archives"]), "--case", str(case), "--workers", "1")
    whole = signature(case)
    with Case.open(case) as c:  # as a kill during the UAC tarball leaves it: rows in, line not done
        c.con.execute("UPDATE images SET status = 'queued' WHERE kind = 'uac'")
    _cli("batch", str(collections["archives"]), "--case", str(case), "--workers", "1")
    assert signature(case) == whole
    with Case.open(case, read_only=True) as c:
        dupes = c.con.execute(
            "SELECT count(*) FROM (SELECT input_sha256, rec_index FROM events GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
        states = c.con.execute("SELECT status FROM images").fetchall()
    assert dupes == 0 and states == [("done",), ("done",)]


def test_manifest_hints_on_a_collection_are_refused(collections: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "batch.csv"
    manifest.write_text(f"path,host,tz\n{collections['archives'] / UAC},lnx-other,Asia/Kolkata\n")
    code, out = _cli("batch", str(manifest), "--case", str(tmp_path / "case"))
    assert code == 2 and "a collection states its own" in out
    assert not (tmp_path / "case").exists()


@pytest.mark.parametrize("zone_file_last", [False, True])
def test_uac_zone_from_its_etc_timezone(tmp_path: Path, zone_file_last: bool) -> None:
    """UAC's ``[root]/etc/timezone`` gives the zone of the tree's zone-less logs, wherever it lies in
    the tarball's order; the decision is recorded (zone, ``etc/timezone``, which member)."""
    files = {"[root]/etc/timezone": b"Asia/Kolkata\n", **_uac_files()}
    if zone_file_last:
        files["[root]/etc/timezone"] = files.pop("[root]/etc/timezone")
    tarball = tmp_path / UAC
    with tarfile.open(tarball, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    _cli("ingest", str(tarball), "--case", str(tmp_path / "case"))
    with Case.open(tmp_path / "case", read_only=True) as c:
        zones = c.con.execute(
            "SELECT DISTINCT ts_zone, strftime(ts AT TIME ZONE 'UTC', '%H:%M') FROM events "
            "WHERE input_member = '[root]/var/log/auth.log' ORDER BY 2"
        ).fetchall()
        context = c.con.execute(
            "SELECT context FROM inputs WHERE member = '[root]/var/log/auth.log'"
        ).fetchall()
    # 09:40 IST is 04:10 UTC
    assert zones == [("Asia/Kolkata", f"04:1{i}") for i in range(4)]
    recorded = json.loads(context[0][0])
    assert (recorded["tz"], recorded["tz_from"], recorded["tz_file"]) == (
        "Asia/Kolkata",
        "etc/timezone",
        "[root]/etc/timezone",
    )
    # --tz still wins, and says so
    _cli("ingest", str(tarball), "--case", str(tmp_path / "c2"), "--tz", "UTC")
    with Case.open(tmp_path / "c2", read_only=True) as c:
        (ctx,) = c.con.execute(
            "SELECT context FROM inputs WHERE member = '[root]/var/log/auth.log'"
        ).fetchone()
    assert (json.loads(ctx)["tz_from"], "tz_file" in json.loads(ctx)) == ("--tz", False)


def test_a_folder_zone_file_is_recorded_relative_to_the_folder_named(tmp_path: Path) -> None:
    root = tmp_path / "collection"
    (root / "lnx" / "etc").mkdir(parents=True)
    (root / "lnx" / "var" / "log").mkdir(parents=True)
    (root / "lnx" / "etc" / "timezone").write_bytes(b"Asia/Kolkata\n")
    (root / "lnx" / "var" / "log" / "auth.log").write_bytes(_uac_files()["[root]/var/log/auth.log"])
    _cli("ingest", str(root), "--case", str(tmp_path / "case"))
    with Case.open(tmp_path / "case", read_only=True) as c:
        (ctx,) = c.con.execute("SELECT context FROM inputs WHERE path LIKE '%auth.log'").fetchone()
    assert (json.loads(ctx)["tz_from"], json.loads(ctx)["tz_file"]) == ("etc/timezone", "lnx/etc/timezone")


def test_batch_quiet_still_names_each_damaged_input(tmp_path: Path) -> None:
    """`-q` hides progress, not problems: a damaged log inside a collection is printed under -q, its
    name shown as written (brackets in a member name are not console markup)."""
    velo = _velociraptor_files(tmp_path)
    damaged = "uploads/auto/C%3A/Windows/System32/winevt/Logs/[bold]Sys[/]mon.evtx"
    velo[damaged] = velo["uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx"][:5000]
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    with zipfile.ZipFile(evidence / VELO, "w") as zf:
        for name, data in velo.items():
            zf.writestr(zipfile.ZipInfo(name, (2024, 3, 5, 10, 15, 0)), data)
    res = CliRunner().invoke(
        app, ["batch", str(evidence), "--case", str(tmp_path / "case"), "--workers", "1", "-q"]
    )
    assert res.exit_code == 3, res.output
    line = next(x for x in res.stderr.splitlines() if "mon.evtx" in x)
    assert "[bold]Sys[/]mon.evtx" in line and "truncated" in line
