"""Rules left out before binding (``prune``): only rules that cannot match, so the findings are the same.

The property test converts generated Sigma detections (hostile values: LIKE and regex metacharacters,
quotes, backslashes, case-folding oddities) with the real backend, evaluates them in DuckDB on
generated rows, and checks that every row a rule matches satisfies what ``prune`` says the rule
needs. Cost: ~20 s (200 generated rules) plus ~30 s for the corpus comparison.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import forensics.hunt.sigma.data as data
import forensics.hunt.sigma.plan as plan
from forensics.hunt.sigma import prune, run_sigma
from forensics.hunt.sigma.loader import load_file
from forensics.hunt.sigma.plan import PreparedRule, Schema, convert, prepare
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

FIELDS = ("CommandLine", "Image", "ParentImage", "User")
# characters that mean something to LIKE, RE2, SQL quoting, Sigma wildcards, and case folding
ALPHABET = "aAbB\\%_'\".*?|^$()[]{}+ -/İıßẞKkΣσςé\n"
MODIFIERS = ("", "|contains", "|startswith", "|endswith", "|contains|all", "|cased", "|contains|cased",
             "|windash", "|contains|windash", "|re")  # fmt: skip

texts = st.text(alphabet=ALPHABET, min_size=0, max_size=6)
values = st.one_of(texts, st.lists(texts, min_size=1, max_size=4))
items = st.dictionaries(st.tuples(st.sampled_from(FIELDS), st.sampled_from(MODIFIERS)), values,
                        min_size=1, max_size=3)  # fmt: skip
CONDITIONS = ("sel", "sel and not filter", "sel or filter", "1 of sel*", "all of sel*", "not filter",
              "sel and filter")  # fmt: skip


def _flat(d: dict[tuple[str, str], Any]) -> list[str]:
    return [x for v in d.values() for x in ([v] if isinstance(v, str) else v)]


def _cell(draw: st.DrawFn, seeds: list[str]) -> str | None:
    """A field value: absent, random, or a rule's value with random text around and random case."""
    kind = draw(st.sampled_from(("none", "random", "seeded", "seeded")))
    if kind == "none":
        return None
    if kind == "random" or not seeds:
        return draw(st.text(alphabet=ALPHABET, max_size=12))
    core = draw(st.sampled_from(seeds)).replace("*", draw(texts)).replace("?", draw(st.sampled_from("ab?")))
    core = "".join(c.upper() if draw(st.booleans()) else c for c in core)
    return draw(texts) + core + draw(texts)


def _selection(d: dict[tuple[str, str], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (fld, mod), v in d.items():
        if mod == "|re":  # a regular expression the engine compiles (literal text, escaped for RE2)
            v = "".join("\\" + c if not c.isalnum() and c != " " else c for c in (v if isinstance(v, str) else v[0]))
        out[fld + mod] = v
    return out


def _sql(sel: dict[str, Any], filt: dict[str, Any], condition: str) -> tuple[str, Schema] | None:
    doc = {"title": "t", "id": "0d4a1b8e-2c1f-4b8e-9a6e-1f2e3d4c5b6a", "status": "test", "level": "high",
           "logsource": {"product": "windows", "category": "process_creation"},
           "detection": {"sel": sel, "filter": filt, "condition": condition}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.yml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        (loaded,) = load_file(path, "r.yml")
    if loaded.rule is None:
        return None  # pySigma refuses the generated value: nothing to check
    prep = prepare(loaded, 0)
    if not isinstance(prep, PreparedRule):
        return None
    schema = Schema.from_pairs([(f, "VARCHAR") for f in FIELDS])
    conv = convert(prep, schema)
    return (conv.sql, schema) if conv.sql is not None else None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items, items, st.sampled_from(CONDITIONS), st.data())
def test_a_row_a_rule_matches_has_what_prune_says_the_rule_needs(
    sel: dict[tuple[str, str], Any], filt: dict[tuple[str, str], Any], condition: str, draw: st.DataObject
) -> None:
    got = _sql(_selection(sel), _selection(filt), condition)
    if got is None:
        return
    seeds = _flat(sel) + _flat(filt)
    n = draw.draw(st.integers(1, 8))
    data_rows = [{f: _cell(draw.draw, seeds) for f in FIELDS} for _ in range(n)]
    sql, schema = got
    need = prune.requirement(sql)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (" + ", ".join(f'"{f}" VARCHAR' for f in FIELDS) + ")")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [[r[f] for f in FIELDS] for r in data_rows])
    lowers = sorted(prune.needed_columns([need]))
    derived = ", ".join(["*", *schema.derived_select()])
    picked = ", ".join([f"coalesce({sql}, FALSE)", *lowers])
    matched = con.execute(f"SELECT {picked} FROM (SELECT {derived} FROM t) AS g").fetchall()
    for hit, *vals in matched:
        one_row = {c: v for c, v in zip(lowers, vals, strict=True)}
        if hit:
            assert prune.can_match(need, one_row), (sql, need, one_row)
    if any(hit for hit, *_ in matched):  # the group's texts (values joined) as the engine builds them
        joined: dict[str, str | None] = {}
        for k, c in enumerate(lowers, start=1):
            vs = sorted({row[k] for row in matched if row[k] is not None})
            joined[c] = "\n".join(vs) if vs else None
        assert prune.can_match(need, joined)


def test_requirements_read_from_the_backends_sql() -> None:
    need = prune.requirement(
        "((regexp_matches(\"__l0\", '(?s)\\\\net\\.exe$|^who.*mi\\.exe$') AND (\"__l1\" LIKE '%50\\%\\_x%' "
        "ESCAPE '\\')) AND NOT coalesce((\"__l2\" = 'x'), FALSE))"
    )
    assert need == prune.all_of(
        prune.any_of(
            prune.has('"__l0"', "\\net.exe"),
            prune.all_of(prune.has('"__l0"', "who"), prune.has('"__l0"', "mi.exe")),
        ),
        prune.has('"__l1"', "50%_x"),
    )
    assert prune.requirement("(\"__l1\" LIKE '%a_b%')") == prune.all_of(
        prune.has('"__l1"', "a"), prune.has('"__l1"', "b")
    )
    assert prune.requirement("((\"__l1\" = 'a') OR (\"__c2\" = 3))") is None  # a branch says nothing
    assert prune.requirement("NOT coalesce((\"__l1\" = 'a'), FALSE)") is None
    # a regular expression of the rule's own is never read: the rule is never left out, so the engine
    # still reports a pattern it rejects
    assert prune.requirement("((\"__l1\" = 'a') AND regexp_matches(\"__c2\", '(?i)x['))") is False
    assert prune.requirement("((\"__l1\" = 'a') AND NOT coalesce(regexp_matches(\"__c2\", 'x'), FALSE))") is False
    assert prune.requirement("(\"__l1\" = 'it''s')") == prune.has('"__l1"', "it's")


def test_can_match_on_the_groups_text() -> None:
    need = prune.requirement("((\"__l1\" LIKE '%\\\\wusa.exe' ESCAPE '\\') AND (\"__l3\" LIKE '%/extract:%'))")
    assert not prune.can_match(need, {'"__l1"': "c:\\windows\\wusa.exe", '"__l3"': "wusa /quiet"})
    assert prune.can_match(need, {'"__l1"': "c:\\windows\\wusa.exe", '"__l3"': "wusa /extract:x"})
    assert not prune.can_match(need, {'"__l1"': None, '"__l3"': "/extract:"})  # no value at all
    assert prune.can_match(need, {'"__l3"': "/extract:"})  # a column not read counts as having the text
    assert prune.can_match(False, {}) and prune.can_match(None, {})


def _findings(case_dir: Path, rules: list[Path]) -> list[tuple[object, ...]]:
    with Case.open(case_dir) as case:
        result = run_sigma(case, rules)
    return sorted((f.kind, f.rule_id, f.host, tuple(sorted(f.records)), f.first_ts, f.last_ts)
                  for f in result.findings) + sorted((r.path, r.line, r.status, r.reason) for r in result.report)  # type: ignore[return-value]  # fmt: skip


def test_pruned_hunt_finds_what_the_full_hunt_finds(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = [shared_data / "DeepBlueCLI" / "evtx", shared_data / "EVTX-ATTACK-SAMPLES" / "Lateral Movement"]
    ingest_paths(tmp_path / "case", inputs)
    rules = [shared_data / "sigma" / "rules" / "windows"]
    pruned = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(data, "PRUNE_MIN_RULES", 10**9)  # every rule bound and run
    full = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(data, "PRUNE_MIN_RULES", 0)  # every group asked, however few its rules
    everywhere = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "TUPLE_ROWS", 0)  # every group one job, asked of its tuple table ...
    monkeypatch.setattr(data, "TUPLE_ROWS", 0)
    monkeypatch.setattr(plan, "TUPLE_GAIN", 0)  # ... evaluated per tuple
    in_run = _findings(tmp_path / "case", rules)
    monkeypatch.setattr(plan, "TUPLE_GAIN", 10**9)  # ... evaluated per row after all
    in_run_per_row = _findings(tmp_path / "case", rules)
    assert len([f for f in full if f[0] == "sigma"]) > 50
    assert pruned == full
    assert everywhere == full
    assert in_run == full
    assert in_run_per_row == full


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abc\\\n", max_size=30), max_size=8), st.lists(st.text(alphabet="abc\\", max_size=7), min_size=1, max_size=6))
def test_matchable_through_grams_is_a_plain_search(values: list[str], literals: list[str]) -> None:
    """Long texts are searched through their 4-grams first: the same answer as ``in`` (gram path forced)."""
    joined = "\n".join(values) or None
    texts = {'"__l1"': joined, '"__l2"': None}
    old = prune._GRAMS_FROM
    prune._GRAMS_FROM = 0
    try:
        ok = prune.matchable(texts)
        for lit in literals:
            for need in (prune.has('"__l1"', lit), prune.all_of(prune.has('"__l1"', lit), prune.has('"__l3"', lit)),
                         prune.any_of(prune.has('"__l2"', lit), prune.has('"__l1"', lit))):  # fmt: skip
                assert ok(need) == (joined is not None and lit in joined), (need, joined)
                assert ok(need) == ok(need)  # asked again: the remembered answer
    finally:
        prune._GRAMS_FROM = old


def test_rules_folded_to_false_are_not_sent() -> None:
    """A rule whose fields the group lacks is FALSE: never run (still reported converted by the hunt)."""
    group = plan.Group("p", ["x.parquet"], 10, Schema({}))
    sql = {1: ("FALSE", set()), 2: ("(\"__l0\" = 'a')", {"Image"}), 3: ("FALSE", set())}
    jobs = data.plan_jobs({"p": [1, 2, 3], "q": [3]}, {"p": group, "q": group}, sql)
    assert [t for j in jobs for t in j.terms] == [(2, "(\"__l0\" = 'a')")]
