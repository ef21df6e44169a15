"""SigmaHQ regression data: each labelled EVTX fires its rule with the expected match count.

All EVTX go into ONE case and are hunted once with the rules the labels name; each label is then
checked against the records of its own file (by the file's SHA-256).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from forensics.hunt.sigma import run_sigma
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

_ID = re.compile(r"^id:\s*([0-9a-fA-F-]{36})\s*$", re.MULTILINE)


def _labels(reg: Path) -> list[tuple[Path, str, int | None]]:
    """(evtx, rule id, expected match count or None) for every regression folder."""
    out = []
    for info in sorted(reg.rglob("info.yml")):
        meta = yaml.safe_load(info.read_text())
        rule_id = meta["rule_metadata"][0]["id"]
        for test in meta.get("regression_tests_info") or []:
            if test.get("type") != "evtx":
                continue
            evtx = info.parent / Path(test["path"]).name
            out.append((evtx, rule_id, test.get("match_count")))
    return out


def _rule_files(rules: Path) -> dict[str, Path]:
    """Rule id -> rule file, by a text scan of the corpus (no YAML parse needed)."""
    by_id: dict[str, Path] = {}
    for f in sorted(rules.rglob("*.yml")):
        m = _ID.search(f.read_text(errors="replace"))
        if m:
            by_id.setdefault(m.group(1).lower(), f)
    return by_id


@pytest.mark.slow
def test_regression_data_fires_expected_rules(shared_data: Path, tmp_path: Path) -> None:
    reg = shared_data / "sigma" / "regression_data"
    by_id = _rule_files(shared_data / "sigma" / "rules")
    labels = [(e, r, n) for e, r, n in _labels(reg) if r.lower() in by_id]
    assert len(labels) >= 100  # the data README promises 106 for rules in the corpus
    summary = ingest_paths(tmp_path / "case", [e for e, _, _ in labels])
    assert summary.files_parsed >= len({e for e, _, _ in labels}) - summary.by_status.get("duplicate", 0)
    rule_files = sorted({by_id[r.lower()] for _, r, _ in labels})
    with Case.open(tmp_path / "case", read_only=True) as case:
        res = run_sigma(case, rule_files)
    status = {r.rule_id: r for r in res.report}
    counts: dict[tuple[str, str], int] = {}
    for f in res.findings:
        for rec in f.records:
            counts[(f.rule_id, rec.input_sha256)] = counts.get((f.rule_id, rec.input_sha256), 0) + 1
    problems = []
    for evtx, rule_id, expected in labels:
        sha = hashlib.sha256(evtx.read_bytes()).hexdigest()
        got = counts.get((rule_id, sha), 0)
        st = status.get(rule_id)
        if st is None or st.status != "converted":
            problems.append(f"{evtx.name}: rule {rule_id} not converted: {st and st.reason}")
        elif (expected is not None and got != expected) or (expected is None and got < 1):
            problems.append(
                f"{evtx.parent.name}: rule {rule_id} matched {got}, expected {expected or '>= 1'}"
            )
    assert not problems, "\n".join(problems)
