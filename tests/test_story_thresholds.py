"""The story holds no detection thresholds: what counts as a brute force is the hunts' to say.

Issue 13 item 3's plain check, two ways: ``story.py`` itself (no numeric limit in a comparison,
no numeric constant, no SQL with a count or time threshold), and what a user sees (a brute force
just under the hunts' threshold is in neither the findings nor the story; just over it, in both).

Cost: two small synthetic cases and the project's SQL hunts over them; a few seconds.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import forensics.story as story_module
from forensics.story import build_story

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib puts no test folder on sys.path
from casekit import at, build_case, hunt_sql

SOURCE = Path(story_module.__file__).read_text(encoding="utf-8")
TREE = ast.parse(SOURCE)
# 0 and 1 define things ("more than one account" is a spray); any other number is a tuning knob
DEFINITIONAL = {0, 1}


def _numbers(node: ast.AST) -> list[object]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and type(n.value) in (int, float)]


def test_no_numeric_limit_in_any_comparison() -> None:
    bad = [
        (ast.unparse(node), node.lineno)
        for node in ast.walk(TREE)
        if isinstance(node, ast.Compare)
        for v in _numbers(node)
        if v not in DEFINITIONAL
    ]
    assert bad == [], f"story.py compares against numeric limits (move them into a hunt): {bad}"


def test_no_numeric_constants_or_time_windows() -> None:
    consts = [
        ast.unparse(node)
        for node in TREE.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
        and isinstance(node.value, ast.Constant) and type(node.value.value) in (int, float)
    ]  # fmt: skip
    windows = [
        ast.unparse(node)
        for node in ast.walk(TREE)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "timedelta"
        and _numbers(node)
    ]  # fmt: skip
    assert consts == [] and windows == [], (consts, windows)


def test_no_sql_threshold() -> None:
    texts = [n.value for n in ast.walk(TREE) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sql = [t for t in texts if any(k in t.upper() for k in ("HAVING", "INTERVAL", "QUALIFY"))]
    assert sql == [], f"story.py filters on counts or time spans in SQL: {sql}"


def _failures(n: int, host: str = "DC09") -> list[dict[str, object]]:
    return [
        {"host": host, "source": "evtx", "channel": "Security", "ts": at(i), "event_id": 4625, "record_id": i + 1,
         "TargetUserName": f"user{i % 4}", "LogonType": "3", "IpAddress": "198.51.100.9", "src_ip": "198.51.100.9"}
        for i in range(n)
    ]  # fmt: skip


def test_the_story_tells_the_brute_force_the_hunts_found_and_no_other(tmp_path: Path) -> None:
    # one under the never-succeeded hunt's 20 failures within an hour: no finding, so no brute force told
    under = build_case(tmp_path / "under", _failures(19))
    assert not [f for f in hunt_sql(under) if "brute" in f.rule_id]
    s = build_story(under)
    assert s.brute_force == [] and s.held == []
    under.close()
    # at the threshold: the finding, and the story tells exactly its records
    over = build_case(tmp_path / "over", _failures(20))
    found = [f for f in hunt_sql(over) if "brute" in f.rule_id]
    assert len(found) == 1 and len(found[0].records) == 20
    s = build_story(over)
    (b,) = s.brute_force
    assert (b["target"], b["source_ip"], b["failures"], b["accounts"], b["succeeded"]) == (
        "DC09", "198.51.100.9", 20, 4, False,
    )  # fmt: skip
    assert [h["host"] for h in s.held] == ["DC09"]
    over.close()
