"""Yearless, zoneless logs take zone and year from the collection they arrived in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx


def test_zone_from_etc_timezone_and_year_from_dated_evidence(tmp_path: Path) -> None:
    host = tmp_path / "collection" / "LNX-ES01"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "timezone").write_text("Asia/Kolkata\n")
    (host / "var" / "log").mkdir(parents=True)
    (host / "var" / "log" / "auth.log").write_text(
        "Nov 23 07:40:05 lnx-es01 sshd[2211]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2\n"
    )
    win = tmp_path / "collection" / "DC01" / "Security.evtx"
    when = datetime(2022, 11, 23, 1, 0, tzinfo=UTC)
    write_evtx(win, [WinEvent("Microsoft-Windows-Security-Auditing", 4624, when, "Security", "DC01")])
    ingest_paths(tmp_path / "case", [tmp_path / "collection"])
    with Case.open(tmp_path / "case", read_only=True) as case:
        row = case.con.execute(
            "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), ts_zone, ts_assumed, ts_year_inferred "
            "FROM events WHERE source = 'syslog'"
        ).fetchall()
    assert row == [("2022-11-23 02:10:05", "Asia/Kolkata", True, True)]


def test_the_analysts_own_zone_is_never_used(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 23 07:40:05 h sshd[1]: Accepted password for a from 10.0.0.1 port 1 ssh2\n")
    ingest_paths(tmp_path / "case", [log])
    with Case.open(tmp_path / "case", read_only=True) as case:
        zone = case.con.execute("SELECT ts_zone, ts_assumed FROM events").fetchall()
    assert zone == [("UTC", True)]


def _hosts(case_dir: Path) -> list[tuple[str, str]]:
    with Case.open(case_dir, read_only=True) as case:
        return case.con.execute("SELECT DISTINCT input_member, host FROM events ORDER BY 1").fetchall()


AUTH_NO_HOST = b"Nov 23 07:40:05 sshd[2211]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2\n"


def test_host_from_velociraptor_client_info_and_uac_name(tmp_path: Path) -> None:
    import io
    import json
    import tarfile
    import zipfile

    velo = tmp_path / "Collection-lnx-es01.zip"
    with zipfile.ZipFile(velo, "w") as zf:
        zf.writestr("client_info.json", json.dumps({"Hostname": "LNX-ES01", "Fqdn": "lnx-es01.dims.local"}))
        zf.writestr("uploads/auto/var/log/auth.log", AUTH_NO_HOST)
    uac = tmp_path / "uac-lnx-bkp01-linux-20221123091500.tar.gz"
    with tarfile.open(uac, "w:gz") as tf:
        info = tarfile.TarInfo("[root]/var/log/secure")
        info.size = len(AUTH_NO_HOST.replace(b"07:40", b"07:41"))
        tf.addfile(info, io.BytesIO(AUTH_NO_HOST.replace(b"07:40", b"07:41")))
    ingest_paths(tmp_path / "case", [velo, uac])
    assert _hosts(tmp_path / "case") == [
        ("[root]/var/log/secure", "lnx-bkp01"),
        ("uploads/auto/var/log/auth.log", "LNX-ES01"),
    ]


def test_host_from_etc_hostname_in_a_collected_folder(tmp_path: Path) -> None:
    host = tmp_path / "image"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "hostname").write_text("lnx-bkp01\n")
    (host / "var" / "log").mkdir(parents=True)
    (host / "var" / "log" / "auth.log").write_bytes(AUTH_NO_HOST)
    ingest_paths(tmp_path / "case", [host])
    with Case.open(tmp_path / "case", read_only=True) as case:
        assert case.con.execute("SELECT DISTINCT host FROM events").fetchall() == [("lnx-bkp01",)]
