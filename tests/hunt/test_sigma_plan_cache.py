"""The Sigma plan cache: a re-hunt reads the planned rule set instead of loading and converting the
rules, finds byte-identical results, and any change to what the plan depends on is a miss.

Bounded: 190 SigmaHQ rule files and a Hayabusa count rule over the 14 EVTX files of
EVTX-ATTACK-SAMPLES/Execution (about 40 s in all).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.hunt.sigma import engine, plancache, run_sigma
from forensics.hunt.sigma.tuning import Tuning
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

RUN_FILES = ("findings.parquet", "finding_records.parquet", "rule_report.parquet")


@pytest.fixture(scope="module")
def setup(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("plan")
    rules = root / "rules"
    src = shared_data / "sigma" / "rules" / "windows"
    picked = sorted((src / "process_creation").glob("*.yml"))[:150] + sorted((src / "builtin").rglob("*.yml"))[:40]
    for f in picked:
        dest = rules / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    count = next((shared_data / "hayabusa-rules" / "hayabusa").rglob("*LogonFail_UserGuessing_Correlation.yml"))
    shutil.copyfile(count, rules / count.name)  # a correlation: pySigma objects in the plan
    case = root / "case"
    ingest_paths(case, [shared_data / "EVTX-ATTACK-SAMPLES" / "Execution"])
    return case, rules


def _hunt(case_dir: Path, rules: Path, tuning: Tuning | None = None) -> tuple[dict[str, str], dict[str, bytes]]:
    options = HuntOptions(sigma=[rules], default_queries=False, default_iocs=False)
    if tuning is not None:
        options.sigma_tuning = tuning
    with Case.open(case_dir) as case:
        summary = run_hunt(case, options, argv=["test"])
    assert summary.run_dir is not None
    return summary.sigma_cache, {n: (summary.run_dir / n).read_bytes() for n in RUN_FILES}


def _same_as_uncached(case_dir: Path, rules: Path) -> None:
    """The plan now cached gives what a hunt with no cache at all finds."""
    tuning = HuntOptions().sigma_tuning  # as the hunt runs them (forensics' default tuning)
    with Case.open(case_dir) as c:
        fresh = run_sigma(c, [rules], use_cache=False, tuning=tuning)
        cached = run_sigma(c, [rules], tuning=tuning)
    assert cached.cache == {"rules": "hit", "converted": "hit"}
    assert fresh.cache == {}
    assert cached.findings == fresh.findings and cached.report == fresh.report


def _plans(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("FORENSICS_CACHE_DIR", str(cache))
    return cache / "sigma-plan"


def test_a_rehunt_from_the_plan_gives_byte_identical_results(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, rules = setup
    plans = _plans(monkeypatch, tmp_path)
    first_notes, first = _hunt(case, rules)
    assert first_notes == {"rules": "miss", "converted": "miss"}
    assert len(list(plans.glob("*.plan"))) == 3  # the rules plan, its conditions, the converted plan
    again_notes, again = _hunt(case, rules)
    assert again_notes == {"rules": "hit", "converted": "hit"}
    assert again == first
    _same_as_uncached(case, rules)  # and exactly what a hunt without any cache finds
    with Case.open(case) as c:
        fresh = run_sigma(c, [rules], use_cache=False)
    assert len(fresh.findings) >= 3
    assert any(r.logsource == "correlation" and r.status == "converted" for r in fresh.report)


def test_any_change_the_plan_depends_on_is_a_miss(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, rules_src = setup
    rules = tmp_path / "rules"
    shutil.copytree(rules_src, rules)
    _plans(monkeypatch, tmp_path)
    _hunt(case, rules)
    assert _hunt(case, rules)[0] == {"rules": "hit", "converted": "hit"}
    # a rule file changed (one byte): the rules plan misses, the findings are those of the new rules
    one = sorted(rules.rglob("*.yml"))[3]
    one.write_text(one.read_text() + "\n# edited\n")
    assert _hunt(case, rules)[0] == {"rules": "miss", "converted": "miss"}
    _same_as_uncached(case, rules)
    # a rule removed
    gone = sorted((rules / "process_creation").glob("*.yml"))[0]
    gone.unlink()
    assert _hunt(case, rules)[0] == {"rules": "miss", "converted": "miss"}
    _same_as_uncached(case, rules)
    # the tuning: another selection of statuses
    assert _hunt(case, rules, Tuning(statuses=("stable",)))[0]["rules"] == "miss"
    # the code (the stamp hashes the Sigma sources, pipelines and forensics.schema)
    monkeypatch.setattr(plancache, "PLAN_STAMP", "another code version")
    assert _hunt(case, rules)[0] == {"rules": "miss", "converted": "miss"}
    assert _hunt(case, rules)[0] == {"rules": "hit", "converted": "hit"}


def test_another_case_layout_reuses_the_rules_plan_only(
    setup: tuple[Path, Path], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, rules = setup
    _plans(monkeypatch, tmp_path)
    case = tmp_path / "other"
    ingest_paths(case, [shared_data / "EVTX-ATTACK-SAMPLES" / "Lateral Movement"])
    _hunt(setup[0], rules)
    assert _hunt(case, rules)[0] == {"rules": "hit", "converted": "miss"}
    _same_as_uncached(case, rules)


def test_a_plan_without_its_conditions_loads_the_rules_again(
    setup: tuple[Path, Path], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, rules = setup
    _plans(monkeypatch, tmp_path)
    case = tmp_path / "other"
    ingest_paths(case, [shared_data / "EVTX-ATTACK-SAMPLES" / "Lateral Movement"])
    _hunt(setup[0], rules)
    monkeypatch.setattr(engine, "_conds_key", lambda key: "0" * 64)  # the conditions' entry is gone
    notes, _ = _hunt(case, rules)
    assert notes == {"rules": "hit; conditions miss, rules loaded again", "converted": "miss"}
    monkeypatch.undo()
    _plans(monkeypatch, tmp_path)
    _same_as_uncached(case, rules)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_a_recorded_miss_never_a_wrong_result(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    case, rules = setup
    plans = _plans(monkeypatch, tmp_path)
    _, base = _hunt(case, rules)
    for entry in plans.glob("*.plan"):
        data = entry.read_bytes()
        if damage == "truncate":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            entry.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
        elif damage == "garbage":
            entry.write_bytes(b"not a plan at all")
        else:
            entry.write_bytes(b"")
    notes, got = _hunt(case, rules)
    assert notes["rules"].startswith("corrupt: ") and notes["converted"].startswith("corrupt: ")
    assert got == base
    assert _hunt(case, rules)[0] == {"rules": "hit", "converted": "hit"}  # written again


def test_no_user_cache_no_plan(setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    case, rules = setup
    monkeypatch.setenv("FORENSICS_CACHE_DIR", "")
    assert _hunt(case, rules)[0] == {}
