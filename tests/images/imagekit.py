"""Shared pieces of the image tests: which ../shared/data logs go into the images, and a row signature."""

from __future__ import annotations

from pathlib import Path

from forensics.schema import CORE_NAMES
from forensics.store import Case

PROVENANCE = ("input_path", "input_member")

WINDOWS_LOGS = (
    "DeepBlueCLI/evtx/metasploit-psexec-native-target-security.evtx",
    "DeepBlueCLI/evtx/mimikatz-privesc-hashdump.evtx",
    "DeepBlueCLI/evtx/new-user-security.evtx",
    "DeepBlueCLI/evtx/psattack-security.evtx",
)
DELETED_LOG = "DeepBlueCLI/evtx/eventlog-dac.evtx"
LINUX_LOGS = (
    ("auth.log", "loghub/OpenSSH/OpenSSH_2k.log"),
    ("syslog", "plaso-testdata/test_data/syslog/syslog"),
    ("audit/audit.log", "go-libaudit/auparse/testdata/audit-rhel7.log"),
    ("journal/0123/system.journal.gz", "velociraptor-journal/system.journal.gz"),
)


def signature(case_dir: Path) -> list[tuple[object, ...]]:
    """(input_sha256, rec_index, record_id, hash of every other core column) for every row."""
    cols = [c for c in CORE_NAMES if c not in PROVENANCE]
    cells = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '<null>')" for c in cols)
    with Case.open(case_dir, read_only=True) as case:
        rows = case.con.execute(
            f"SELECT input_sha256, rec_index, record_id, md5(concat_ws('|', {cells})) FROM events ORDER BY 1, 2"
        ).fetchall()
        rejects = case.con.execute(
            "SELECT input_sha256, rec_index, 'reject', md5(concat_ws('|', reason, raw)) FROM rejects ORDER BY 1, 2"
        ).fetchall()
    return rows + rejects
