"""The conversion cache: rules rebuilt from it convert to exactly the SQL a fresh parse gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.hunt.sigma.cache import RuleCache
from forensics.hunt.sigma.engine import _fill_cache, _prepare_all
from forensics.hunt.sigma.loader import load_rules
from forensics.hunt.sigma.plan import convert, needed_fields_schema


def _sql_by_rule(rule_dirs: list[Path], cache: RuleCache | None) -> tuple[dict[str, str | None], int]:
    st = _prepare_all(load_rules(rule_dirs, cache))
    if cache is not None:
        _fill_cache(st, cache)
    schema = needed_fields_schema(list(st.preps.values()))
    out: dict[str, str | None] = {}
    for p in st.preps.values():
        out[f"{p.loaded.path}:{p.loaded.line}"] = convert(p, schema).sql
    for i, s in st.status.items():
        out[f"{st.loaded[i].path}:{st.loaded[i].line}"] = f"{s.status}: {s.reason}"
    return out, sum(1 for lr in st.loaded if lr.cached is not None)


def _check_same(rule_dirs: list[Path], tmp_path: Path) -> int:
    fresh, _ = _sql_by_rule(rule_dirs, None)
    cache = RuleCache(tmp_path / "cache.json")
    first, hits = _sql_by_rule(rule_dirs, cache)
    assert hits == 0
    cache.save()
    again, hits = _sql_by_rule(rule_dirs, RuleCache(tmp_path / "cache.json"))
    assert fresh == first == again
    assert any(v and v.startswith("(") for v in fresh.values())  # real SQL was compared
    return hits


def test_cache_round_trip_of_every_value_type(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    det = """  a:
    CommandLine|contains|all: ['x_y', '50%']
    Image|endswith|windash: '-enc'
    User|cased: 'SYSTEM'
    Count|gte: 3
    Flag: true
    EventID: 4688
    Absent: null
    Present|exists: true
    Other|fieldref: Image
    Ip|cidr: '10.0.0.0/8'
    Data|base64offset|contains: 'evil'
    Text|re|i|m: '^a.*b$'
    Esc: 'lit\\*star\\?'
  kw: ['one', 'two*']
  condition: a or kw
"""
    (rules / "r.yml").write_text(
        "title: all types\nid: 11111111-2222-4333-8444-555555555555\nlevel: low\n"
        "tags: [attack.t1059]\nlogsource: {product: windows, category: process_creation}\n"
        f"detection:\n{det}"
    )
    (rules / "ph.yml").write_text(
        "title: ph\nlogsource: {product: windows, service: security}\n"
        "detection: {a: {User|expand: '%admins%'}, condition: a}\n"
    )
    (rules / "bad.yml").write_text("title: [broken\n")
    (rules / "zos.yml").write_text(
        "title: z\nlogsource: {product: zos}\ndetection: {a: {x: y}, condition: a}\n"
    )
    assert _check_same([rules], tmp_path) == 4


@pytest.mark.slow
def test_cache_gives_identical_sql_over_the_corpus(shared_data: Path, tmp_path: Path) -> None:
    rules = shared_data / "sigma" / "rules"
    hits = _check_same([rules / "windows", rules / "linux"], tmp_path)
    assert hits == 2617
