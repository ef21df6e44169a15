"""Sigma runs in a thread on a second connection while the SQL hunts, the IOC sweep and YARA's scan
of the event text run on the case's own: the run's files, its outcomes and the progress lines are what running the kinds one
after the other gives (issue 13: both cores in the hunt)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from forensics.hunt import engine
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import attack_case

# A case of 60-odd events and two rules: each hunt well under a second.

FILES = (
    "findings.parquet",
    "finding_records.parquet",
    "iocs.parquet",
    "hunt_report.parquet",
    "rule_report.parquet",
)

RULES = {
    "failed_logon.yml": """title: Failed logon
id: 5f1c8a62-0d1e-4c43-9b7e-6f4e1d2a9a01
status: test
level: medium
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
""",
    "process.yml": """title: Any process creation
id: 5f1c8a62-0d1e-4c43-9b7e-6f4e1d2a9a02
status: test
level: low
logsource: {product: windows, category: process_creation}
detection:
  sel: {EventID: 4688}
  condition: sel
""",
}


def _options(tmp_path: Path) -> HuntOptions:
    rules = tmp_path / "sigma"
    rules.mkdir(exist_ok=True)
    for name, text in RULES.items():
        (rules / name).write_text(text, encoding="utf-8")
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("TLP:AMBER\n203.0.113[.]50\n198.51.100(.)7\n")
    yara = tmp_path / "yara"
    yara.mkdir(exist_ok=True)
    (yara / "broken.yar").write_text("rule x { condition: nope }")
    (yara / "encoded.yar").write_text(
        'rule encoded_powershell { strings: $a = "powershell -enc" condition: $a }'
    )
    return HuntOptions(sigma=[rules], iocs=[iocs], yara=[yara], default_iocs=False)


@contextmanager
def _one_after_the_other(case: Case, spark: Any, sigma: Callable[[Case], None]) -> Iterator[None]:
    sigma(case)  # Sigma first, on the case's connection, then the block
    yield


def _hunt(case_dir: Path, options: HuntOptions) -> tuple[dict[str, bytes], list[str], engine.HuntSummary]:
    said: list[str] = []
    with Case.open(case_dir) as case:
        summary = run_hunt(case, options, said.append, argv=["hunt"])
    assert summary.run_dir is not None
    return {f: (summary.run_dir / f).read_bytes() for f in FILES}, said, summary


def test_side_by_side_gives_the_files_of_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    options = _options(tmp_path)
    beside, said, summary = _hunt(case_dir, options)
    monkeypatch.setattr(engine, "_sigma_beside", _one_after_the_other)
    alone, said_alone, summary_alone = _hunt(case_dir, options)
    assert beside == alone
    assert said == said_alone  # Sigma's lines, then the SQL hunts' and the IOC sweep's
    assert [s.split(":")[0] for s in said if s.split(":")[0] in ("sigma", "sql", "ioc", "yara")] == [
        "sigma",
        "sql",
        "ioc",
        "yara",
    ]
    assert [f.finding_id for f in summary.findings] == [f.finding_id for f in summary_alone.findings]
    assert summary.outcomes == summary_alone.outcomes
    assert summary.by_kind().keys() >= {"sigma", "sql", "ioc", "yara"}
    assert summary.ioc_count == summary_alone.ioc_count == 2


def test_each_side_gets_half_the_threads_then_the_setting_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's cores are not given up: side by side each kind's statements get half of them."""
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    seen: list[int] = []
    run_sql = engine._sql

    def sql_noting_threads(case: Case, *args: Any) -> None:
        seen.append(int(case.con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
        run_sql(case, *args)

    monkeypatch.setattr(engine, "_sql", sql_noting_threads)
    with Case.open(case_dir) as case:
        case.con.execute("SET threads = 6").fetchall()
        run_hunt(case, _options(tmp_path), argv=["hunt"])
        after = int(case.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    assert seen == [3]
    assert after == 6
