"""Check and run Sigma rules against a case: load -> prepare -> plan -> convert -> execute -> findings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from forensics.errors import EngineError
from forensics.gcpause import gc_paused
from forensics.hunt.findings import Finding, Kind, Level, RecordRef, parse_level
from forensics.hunt.sigma import plancache, prune
from forensics.hunt.sigma.backend import ConvertContext, Unsupported, to_sql
from forensics.hunt.sigma.cache import (
    CACHE_FILE,
    CODE_STAMP,
    NotCacheable,
    RuleCache,
    RuleMeta,
    cond_to_ir,
    machine_cache_path,
    meta_of,
)
from forensics.hunt.sigma.correlation import CorrEvent, evaluate, unsupported_reason
from forensics.hunt.sigma.data import DuckData, SigmaData, plan_jobs
from forensics.hunt.sigma.loader import LoadedRule, RuleFile, load_rules, rule_files
from forensics.hunt.sigma.plan import (
    Group,
    PreparedRule,
    Schema,
    convert,
    groups_from_stats,
    needed_fields_schema,
    prepare,
    prepare_cached,
    validate,
)
from forensics.hunt.sigma.ruleset import RuleSet, load_ruleset
from forensics.hunt.sigma.selection import Decisions, decide
from forensics.hunt.sigma.tuning import Tuning
from forensics.progress import Step, no_progress
from forensics.store import Case


@dataclass
class RuleStatus:
    """What became of one rule document: converted, skipped or failed, and why."""

    path: str
    line: int | None
    rule_id: str | None
    title: str | None
    status: str  # 'converted' | 'skipped' | 'failed'
    reason: str | None
    logsource: str
    level: str | None
    source_in_case: bool | None  # with a case: does the case hold rows of the log source
    warnings: tuple[str, ...] = ()  # deviations from strict Sigma tolerated (Hayabusa style), one per kind
    rule_set: str | None = None  # 'hayabusa' for a rule of Hayabusa's set (its ruletype), else 'sigma'
    rule_status: str | None = None  # the rule's own status (stable, test, experimental, deprecated, ...)
    rule_level: str | None = None  # the level the rule states, when tuning changed ``level``
    tuning: tuple[str, ...] = ()  # what the hunt's tuning and the rule set's lists changed
    duplicate_of: str | None = None  # skipped: the other set's copy of the same rule ran (file:line)
    duplicates: tuple[str, ...] = ()  # this copy ran; the other set's copies skipped (file:line)
    details: str | None = None  # Hayabusa's details template for the rule's records


@dataclass
class SigmaResult:
    """Findings of a Sigma hunt and the per-rule report."""

    findings: list[Finding]
    report: list[RuleStatus]
    hayabusa: bool = False  # Hayabusa's rule set (or rules written for it) took part
    rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)  # folder given -> its set (record)
    min_level: str = "informational"  # findings below it are kept in the case, not shown in summaries
    cache: dict[str, str] = field(default_factory=dict)  # plan cache: rules / converted -> hit, miss, corrupt: ...


@dataclass
class _State:
    """Everything known about the rules during one check or run."""

    loaded: list[LoadedRule]
    status: dict[int, RuleStatus] = field(default_factory=dict)
    preps: dict[int, PreparedRule] = field(default_factory=dict)
    corrs: dict[int, SigmaCorrelationRule] = field(default_factory=dict)
    sql: dict[int, tuple[str, set[str]]] = field(default_factory=dict)  # converted rules: sql, columns
    groups: dict[str, Group] = field(default_factory=dict)
    rulesets: dict[Path, RuleSet] = field(default_factory=dict)  # folder given -> its set
    decisions: Decisions = field(default_factory=Decisions)  # tuning, rule-set lists, duplicates
    excl_sql: dict[tuple[int, int], str] = field(default_factory=dict)  # (rule, base) -> tuning exclusion
    needs: dict[int, prune.Need] = field(default_factory=dict)  # converted rules: what they need of the text

    def ruleset(self, lr: LoadedRule) -> RuleSet | None:
        """The rule set a rule was found in."""
        return self.rulesets.get(lr.root) if lr.root is not None else None


def _level(rule: SigmaRule | SigmaCorrelationRule | RuleMeta | None) -> Level | None:
    lvl = getattr(rule, "level", None)
    if lvl is None:
        return None
    return parse_level(getattr(lvl, "name", str(lvl)))


def _logsource_label(rule: Any) -> str:
    ls = getattr(rule, "logsource", None)
    if ls is None:
        return "correlation" if isinstance(rule, SigmaCorrelationRule) else "-"
    return "/".join(p or "-" for p in (ls.product, ls.category, ls.service))


def _status(lr: LoadedRule, status: str, reason: str | None, in_case: bool | None = None,
            notes: Sequence[str] = ()) -> RuleStatus:  # fmt: skip
    r = lr.rule
    return RuleStatus(
        path=str(lr.path),
        line=lr.line,
        rule_id=str(r.id) if r is not None and r.id is not None else None,
        title=r.title if r is not None else None,
        status=status,
        reason=reason,
        logsource=_logsource_label(r),
        level=_level(r),
        source_in_case=in_case,
        warnings=tuple(str(d) for d in lr.info.deviations) + tuple(notes),
    )


def _prepare_all(
    loaded: list[LoadedRule],
    roots: Sequence[Path] = (),
    rulesets: Mapping[Path, RuleSet] | None = None,
    progress: Step = no_progress,
) -> _State:
    st = _State(loaded)
    st.rulesets = _rulesets(roots, rulesets)
    for i, lr in enumerate(loaded):
        progress("preparing rules", i + 1, len(loaded))
        if lr.error is not None:
            st.status[i] = _status(lr, "failed", lr.error)
        elif lr.skip is not None:
            st.status[i] = _status(lr, "skipped", lr.skip)
        elif lr.cached is not None:
            st.preps[i] = prepare_cached(lr, i)
        elif isinstance(lr.rule, SigmaCorrelationRule):
            st.corrs[i] = lr.rule
        elif isinstance(lr.rule, SigmaRule):
            try:
                got = prepare(lr, i)
            except Exception as exc:  # one rule pySigma chokes on must not stop the others
                got = f"cannot prepare rule: {type(exc).__name__}: {exc}"
            if isinstance(got, str):
                st.status[i] = _status(lr, "skipped", got)
            else:
                st.preps[i] = got
    for i, p in st.preps.items():
        rs = st.ruleset(st.loaded[i])
        if rs is not None and rs.is_hayabusa:
            p.aliases, p.ruleset_key = rs.field_aliases, rs.fingerprint
    return st


def _rulesets(roots: Sequence[Path], given: Mapping[Path, RuleSet] | None) -> dict[Path, RuleSet]:
    """Each folder's rule set: as given (a replay's record), else read from its configuration."""
    known = given or {}
    return {Path(r): known.get(Path(r)) or load_ruleset(Path(r)) for r in roots}


def _by_pred(st: _State) -> dict[str, list[PreparedRule]]:
    by_pred: dict[str, list[PreparedRule]] = {}
    for p in st.preps.values():
        by_pred.setdefault(p.logsource.predicate or "", []).append(p)
    return by_pred


def _case_groups(st: _State, case: Case, data: SigmaData, preds: Iterable[str]) -> None:
    """The case's part files and columns for each log-source group (columns kept per case,
    keyed by the files' names, sizes and times: a part file is never rewritten)."""
    st.groups = groups_from_stats(data.stats(), data.parts(), case.root, preds, case.con)
    known = _SchemaCache(case.root / ".cache" / "sigma-schemas.json", data.name)
    for pred in sorted(st.groups):
        group = st.groups[pred]
        if group.files:
            group.schema = known.schema(group.files, data)
    known.save()


class _SchemaCache:
    """Columns of a set of part files, remembered in the case (``.cache/sigma-schemas.json``)."""

    def __init__(self, path: Path, engine: str) -> None:
        self.path, self.engine, self.dirty = path, engine, False
        self.entries: dict[str, list[list[str]]] = {}
        try:
            got = orjson.loads(path.read_bytes())
            if isinstance(got, dict) and got.get("stamp") == plancache.PLAN_STAMP:
                self.entries = got.get("groups") or {}
        except (OSError, orjson.JSONDecodeError):
            pass

    def schema(self, files: Sequence[str], data: SigmaData) -> Schema:
        """The files' schema, from the case's memory or asked of the engine."""
        try:
            ident = [(f, st.st_size, st.st_mtime_ns) for f in files for st in [os.stat(f)]]
        except OSError:
            return data.schema(files)
        key = plancache.digest(self.engine, ident)
        pairs = self.entries.get(key)
        if pairs is None:
            schema = data.schema(files)
            self.entries[key] = [[spelling, typ] for spelling, typ in schema.columns.values()]
            self.dirty = True
            return schema
        return Schema.from_pairs((n, t) for n, t in pairs)

    def save(self) -> None:
        """Write the memory back atomically; a memory that cannot be written is not kept."""
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(orjson.dumps({"stamp": plancache.PLAN_STAMP, "groups": self.entries}))
            tmp.replace(self.path)
        except OSError:
            return


def _convert_all(st: _State, case: Case | None, placeholders: dict[str, list[str]] | None,
                 check_sql: bool = True, sql_cache: Path | None = None,
                 data: SigmaData | None = None, progress: Step = no_progress,
                 grouped: bool = False) -> None:  # fmt: skip
    """Convert every prepared rule for the schema of its group; validate the SQL in DuckDB.

    A hunt skips the separate validation: running the group's query validates it (a rejected
    query is bisected to the failing rule there). ``grouped``: ``st.groups`` already holds the
    case's groups with their schemas (``_case_groups``).
    """
    by_pred = _by_pred(st)
    if case is not None and not grouped:
        data = data or DuckData(case.con, case.root)
        _case_groups(st, case, data, by_pred)
    scratch = duckdb.connect()
    done, total = 0, len(st.preps)
    for pred in sorted(by_pred):
        preps = by_pred[pred]
        progress("converting rules", done, total)
        done += len(preps)
        group = st.groups.get(pred)
        if group is not None and group.files:
            assert group.schema is not None
            schema = group.schema
        else:
            schema = needed_fields_schema(preps)
        in_case = None if case is None else bool(group and group.files)
        key = _group_key(pred, schema, preps, placeholders) if sql_cache is not None else None
        if (
            key is not None
            and sql_cache is not None
            and _from_sql_cache(st, sql_cache, key, preps, schema, in_case)
        ):
            continue
        terms: list[tuple[int, str]] = []
        for p in preps:
            conv = convert(p, schema, placeholders)
            if conv.sql is None:
                st.status[p.index] = _status(p.loaded, "skipped", conv.error, in_case, p.notes)
                continue
            st.sql[p.index] = (conv.sql, conv.columns)
            terms.append((p.index, conv.sql))
        failed = validate(scratch, schema, terms) if check_sql or not (group and group.files) else {}
        for p in preps:
            if p.index in failed:
                st.sql.pop(p.index, None)
                st.status[p.index] = _status(p.loaded, "failed", failed[p.index], in_case, p.notes)
            elif p.index in st.sql:
                st.status[p.index] = _status(p.loaded, "converted", None, in_case, p.notes)
        if key is not None and sql_cache is not None:
            _to_sql_cache(st, sql_cache, key, preps, schema)
    scratch.close()
    progress("converting rules", total, total)
    _check_correlations(st, case is not None)


# The SQL of a group depends on this code, the rules (by file hash and place), the group's columns
# and the placeholders; a change to any of them is a different key, so a stale entry is never used.


def _group_key(
    pred: str, schema: Schema, preps: list[PreparedRule], placeholders: dict[str, list[str]] | None
) -> str:
    h = hashlib.sha256(f"{CODE_STAMP}\x00{pred}\x00".encode())
    h.update(orjson.dumps(sorted(schema.columns.items())))
    h.update(orjson.dumps(sorted((placeholders or {}).items())))
    for p in preps:
        h.update(f"{p.loaded.sha256}:{p.loaded.line}:{p.loaded.rel_path}:{p.ruleset_key}\x00".encode())
    return h.hexdigest()[:32]


def _from_sql_cache(
    st: _State, folder: Path, key: str, preps: list[PreparedRule], schema: Schema, in_case: bool | None
) -> bool:
    """Fill the group's SQL and statuses from the cache; False when there is no usable entry."""
    entry = None
    for where in (folder, _machine_sql_cache()):
        try:
            entry = orjson.loads((where / f"{key}.json").read_bytes()) if where is not None else None
            if entry is not None and len(entry["rules"]) == len(preps):
                break
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            pass
        entry = None
    if entry is None:
        return False
    schema.derived.update(entry["derived"])
    schema.sources.update(entry["sources"])
    for p, (sql, cols, status, reason) in zip(preps, entry["rules"], strict=True):
        if sql is not None:
            st.sql[p.index] = (sql, set(cols))
        st.status[p.index] = _status(p.loaded, status, reason, in_case, p.notes)
    return True


def _to_sql_cache(st: _State, folder: Path, key: str, preps: list[PreparedRule], schema: Schema) -> None:
    """Keep the group's converted SQL for the next hunt; a cache that cannot be written is not kept."""
    rules = []
    for p in preps:
        sql = st.sql.get(p.index)
        status = st.status[p.index]
        rules.append([sql[0] if sql else None, sorted(sql[1]) if sql else [], status.status, status.reason])
    data = orjson.dumps({"derived": schema.derived, "sources": sorted(schema.sources), "rules": rules},
                        option=orjson.OPT_SORT_KEYS)  # fmt: skip
    for where in (folder, _machine_sql_cache()):
        if where is None:
            continue
        try:
            where.mkdir(parents=True, exist_ok=True)
            tmp = where / f"{key}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(where / f"{key}.json")
        except OSError:
            continue


def _machine_sql_cache() -> Path | None:
    """Converted SQL shared by every case on this machine (the key is content, so this is safe)."""
    rules = machine_cache_path()
    return rules.parent / "sigma-sql" if rules is not None else None


def _rule_index(st: _State) -> dict[str, int]:
    """Reference (name or id) -> index of the converted base rule."""
    idx: dict[str, int] = {}
    for i, p in st.preps.items():
        if p.rule.name:
            idx.setdefault(str(p.rule.name), i)
        if p.rule.id is not None:
            idx.setdefault(str(p.rule.id), i)
    return idx


def _check_correlations(st: _State, with_case: bool) -> None:
    refs = _rule_index(st)
    for i, corr in st.corrs.items():
        lr = st.loaded[i]
        reason = unsupported_reason(corr)
        if reason is None:
            for r in corr.rules or []:
                j = refs.get(r.reference)
                if j is None:
                    reason = (
                        f"base rule '{r.reference}' is not among the rules given (or is itself a correlation)"
                    )
                    break
                if j not in st.sql:
                    reason = f"base rule '{r.reference}' was not converted: {st.status[j].reason}"
                    break
        in_case = None
        if with_case and reason is None:
            in_case = any(st.status[refs[r.reference]].source_in_case for r in corr.rules or [])
        st.status[i] = _status(lr, "skipped" if reason else "converted", reason, in_case)


def _fill_cache(st: _State, cache: RuleCache) -> int:
    """Store every freshly parsed file whose documents all have a JSON form; how many were stored."""
    by_file: dict[str, list[int]] = {}
    stored = 0
    for i, lr in enumerate(st.loaded):
        by_file.setdefault(lr.sha256, []).append(i)
    for sha, idxs in by_file.items():
        if not sha or any(st.loaded[i].cached is not None for i in idxs):
            continue
        try:
            docs = [_cache_doc(st, i) for i in idxs]
        except NotCacheable:
            continue
        cache.put(sha, docs)
        stored += 1
    return stored


def _cache_doc(st: _State, i: int) -> dict[str, Any]:
    lr = st.loaded[i]
    if isinstance(lr.rule, SigmaCorrelationRule) or (
        lr.rule is None and lr.error is None and lr.skip is None
    ):
        raise NotCacheable("correlation")
    doc: dict[str, Any] = {"line": lr.line, "meta": meta_of(lr.rule) if lr.rule is not None else None,
                           "info": lr.info.to_json()}  # fmt: skip
    if lr.error is not None or lr.skip is not None:
        doc.update(error=lr.error, skip=lr.skip)
        return doc
    prep = st.preps.get(i)
    if prep is None:  # prepare() refused it: keep the reason as a skip
        doc["skip"] = st.status[i].reason
        return doc
    doc.update(conds=[cond_to_ir(c) for c in prep.conditions], kw=prep.has_keywords)
    return doc


def _open_cache(case: Case | None, use_cache: bool) -> RuleCache | None:
    if case is None or not use_cache:
        return None
    machine = machine_cache_path()
    return RuleCache(case.root / ".cache" / CACHE_FILE, RuleCache(machine) if machine is not None else None)


# ---- public entry points --------------------------------------------------------------------
def check_rules(
    rule_paths: Sequence[Path],
    case: Case | None = None,
    placeholders: dict[str, list[str]] | None = None,
    progress: Step = no_progress,
) -> list[RuleStatus]:
    """Convert every rule (without running it) and report converted / skipped / failed per rule.

    Always parses every rule afresh (no cache): a check is the place to see pySigma's own verdict.
    ``progress`` hears each stage (reading, preparing, converting rules) as it goes.
    """
    with gc_paused():
        st = _prepare_all(load_rules(rule_paths, progress=progress), rule_paths, progress=progress)
        _convert_all(st, case, placeholders, progress=progress)
        return _report(st)


def _report(st: _State) -> list[RuleStatus]:
    """One status per rule document, in load order (a count rule's selection is reported through it)."""
    d = st.decisions
    out = []
    for i in sorted(st.status):
        lr = st.loaded[i]
        if lr.info.internal:
            continue
        r = st.status[i]
        level = d.levels.get(i, r.level)
        out.append(RuleStatus(**{  # not dataclasses.replace: it inspects the fields for each of 7,400 rules
            **vars(r),
            "rule_set": "hayabusa" if lr.info.ruletype else "sigma",
            "rule_status": lr.info.status,
            "level": level,
            "rule_level": (lr.info.level or r.level) if level != r.level or lr.info.level else None,
            "tuning": tuple(d.tuned.get(i, ())),
            "duplicate_of": d.duplicate_of.get(i),
            "duplicates": tuple(d.duplicates.get(i, ())),
            "details": lr.info.details,
        }))  # fmt: skip
    return out


def _select(st: _State, tuning: Tuning) -> None:
    """Apply the hunt's tuning, the rule sets' lists and de-duplication: skipped rules leave the run."""
    st.decisions = decide(st.loaded, [*st.preps, *st.corrs], st.ruleset, tuning)
    for i, why in st.decisions.skipped.items():
        st.preps.pop(i, None)
        st.corrs.pop(i, None)
        st.status[i] = _status(st.loaded[i], "skipped", why)
    # a count rule's selection (internal) runs only for a count rule that runs
    wanted = {r.reference for c in st.corrs.values() for r in c.rules or []}
    for i in [i for i in st.preps if st.loaded[i].info.internal]:
        name = getattr(st.loaded[i].rule, "name", None)
        if name not in wanted:
            st.preps.pop(i)
            st.status[i] = _status(st.loaded[i], "skipped", "its count rule does not run")


def _exclusions(st: _State) -> None:
    """Tuning exclusions (Sigma detection items) as SQL: ANDed out of a rule's own SQL, or kept per
    base rule for a correlation, converted by the same backend for the same columns."""
    refs = _rule_index(st)
    for i, maps in sorted(st.decisions.exclusions.items()):
        try:
            if i in st.sql:
                sql, cols = _exclusion_sql(st, st.preps[i], maps)
                st.sql[i] = (f"({st.sql[i][0]} AND NOT coalesce({sql}, FALSE))", st.sql[i][1] | cols)
            elif i in st.corrs:
                for r in st.corrs[i].rules or []:
                    j = refs.get(r.reference)
                    if j is not None and j in st.sql:
                        sql, cols = _exclusion_sql(st, st.preps[j], maps)
                        st.excl_sql[(i, j)] = sql
                        st.sql[j] = (st.sql[j][0], st.sql[j][1] | cols)
        except (SigmaError, Unsupported) as exc:  # the rule does not run rather than run untuned
            st.sql.pop(i, None)
            st.corrs.pop(i, None)
            st.status[i] = _status(st.loaded[i], "failed", f"tuning exclusion cannot be converted: {exc}")


def _exclusion_sql(st: _State, prep: PreparedRule, maps: tuple[dict[str, Any], ...]) -> tuple[str, set[str]]:
    """SQL true for an event matching any exclusion item, for the schema of the rule's group."""
    det: dict[str, Any] = {f"exclusion{k}": m for k, m in enumerate(maps)}
    det["condition"] = "1 of exclusion*"
    rule = SigmaRule.from_dict(
        {"title": "tuning exclusion", "logsource": {"product": "windows"}, "detection": det}
    )
    group = st.groups.get(prep.logsource.predicate or "")
    schema = group.schema if group is not None and group.schema is not None else needed_fields_schema([prep])
    used: set[str] = set()
    ctx = ConvertContext(schema.resolver(prep.category, used, prep.aliases), None, {})
    parts = [to_sql(c.parsed, ctx) for c in rule.detection.parsed_condition]
    return (parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"), used


def converted_sql(
    rule_paths: Sequence[Path], case: Case | None = None, placeholders: dict[str, list[str]] | None = None
) -> dict[tuple[str, int | None], str]:
    """(rule file, line) -> the SQL boolean expression each converted rule became (for audits and
    portability checks: the expression reads the group's columns ``__c<k>`` / ``__l<k>``)."""
    st = _prepare_all(load_rules(rule_paths), rule_paths)
    _convert_all(st, case, placeholders)
    return {(str(st.loaded[i].path), st.loaded[i].line): sql for i, (sql, _) in sorted(st.sql.items())}


def run_sigma(
    case: Case,
    rule_paths: Sequence[Path],
    placeholders: dict[str, list[str]] | None = None,
    stats: dict[str, Any] | None = None,
    use_cache: bool = True,
    data: SigmaData | None = None,
    tuning: Tuning | None = None,
    rulesets: Mapping[Path, RuleSet] | None = None,
    progress: Step = no_progress,
    files: Sequence[RuleFile] | None = None,
) -> SigmaResult:
    """Hunt the case with the rules: one finding per (rule, host), plus correlation findings.

    ``placeholders`` gives values for ``|expand`` placeholders (name without %); ``stats``,
    when given, receives seconds spent in ``load`` (YAML + pySigma), ``convert`` (planning and
    SQL generation) and ``execute`` (DuckDB scans and findings), ``execute_cpu`` (CPU seconds
    of the execution, all threads), and ``columns``: the set of event columns the rules read.
    ``use_cache`` keeps parsed rules in the case
    (``.cache/sigma-rules.json``, keyed by rule-file SHA-256) so later hunts skip YAML and pySigma.
    ``data`` is the engine the scans run on (default: the case's DuckDB connection; see ``data``).
    ``tuning`` chooses the rules that run and their levels (default: ``Tuning()``, every status
    but deprecated and unsupported; see ``forensics.hunt.sigma.tuning``); each rule set's own lists
    apply, and a rule both sets hold runs once. ``rulesets`` gives a folder's set as a run record
    kept it (a replay); otherwise each folder's set is read from its own configuration.
    ``progress`` hears each stage (reading, preparing, converting, running rules) as it goes.
    ``files`` is ``loader.rule_files(rule_paths)`` when the caller hashed the files already.
    With ``use_cache`` the planned rule set is also kept in the user's cache folder
    (``plancache``): a re-hunt with the same rules, tuning and code only hashes the files, reads
    the plan and runs the SQL; ``SigmaResult.cache`` says what the plan cache gave.
    """
    with gc_paused():
        return _run_sigma(case, rule_paths, placeholders, stats, use_cache, data, tuning, rulesets, progress,
                          files)  # fmt: skip


def _run_sigma(case: Case, rule_paths: Sequence[Path], placeholders: dict[str, list[str]] | None,
               stats: dict[str, Any] | None, use_cache: bool, data: SigmaData | None, tuning: Tuning | None,
               rulesets: Mapping[Path, RuleSet] | None, progress: Step,
               files: Sequence[RuleFile] | None) -> SigmaResult:  # fmt: skip
    data = data or DuckData(case.con, case.root)
    tuning = tuning if tuning is not None else Tuning()
    clock = time.perf_counter()
    files = list(files) if files is not None else rule_files(rule_paths)
    sets = _rulesets(rule_paths, rulesets)
    notes: dict[str, str] = {}
    cached = use_cache and plancache.cache_dir() is not None
    rkey = _rules_key(rule_paths, files, tuning, sets, placeholders) if cached else None
    st, planned = _rules_plan(case, rule_paths, files, tuning, sets, rkey, notes, use_cache, progress)
    t_load = time.perf_counter()
    _case_groups(st, case, data, _by_pred(st))
    ckey = _converted_key(rkey, st) if rkey is not None else None
    if not _converted_from_cache(st, ckey, notes):
        if planned and rkey is not None and not _attach_conditions(st, rkey, notes):
            st, _ = _rules_plan(case, rule_paths, files, tuning, sets, rkey, notes, use_cache, progress, True)
            _case_groups(st, case, data, _by_pred(st))
        sql_cache = case.root / ".cache" / "sigma-sql" if use_cache else None
        _convert_all(st, case, placeholders, check_sql=False, sql_cache=sql_cache, data=data, progress=progress,
                     grouped=True)  # fmt: skip
        _exclusions(st)
        st.needs = {i: prune.requirement(sql) for i, (sql, _) in st.sql.items()}
        if ckey is not None:
            _converted_to_cache(st, ckey, notes)
    t_conv = time.perf_counter()
    cpu_conv = time.process_time()
    roots = [Path(p) for p in rule_paths]
    refs = _rule_index(st)
    corr_bases = {refs[r.reference] for c in st.corrs.values() for r in c.rules or [] if r.reference in refs}
    matches = _execute(data, st, progress)
    notes.update(getattr(data, "cache_notes", {}))  # an engine's own caches (Spark: each rule's Spark SQL)
    findings: list[Finding] = []
    for i, rows in sorted(matches.items()):
        prep = st.preps[i]
        if i in corr_bases and not _generates(st, i, refs):
            continue
        findings.extend(
            _rule_findings(prep.loaded, prep.rule, rows, roots, parse_level(st.decisions.levels.get(i)))
        )
    for i, corr in sorted(st.corrs.items()):
        if st.status[i].status == "converted":
            try:
                findings.extend(_correlation_findings(data, st, i, corr, roots, refs))
            except (duckdb.Error, EngineError, ValueError, TypeError) as exc:  # reported, the hunt goes on
                st.status[i] = _status(st.loaded[i], "failed", f"correlation failed: {exc}", True)
    findings.sort(key=lambda f: (f.kind, f.rule_id, f.host or "", f.first_ts.isoformat() if f.first_ts else "",
                                 f.finding_id))  # fmt: skip
    if stats is not None:
        stats.update(load=t_load - clock, convert=t_conv - t_load, execute=time.perf_counter() - t_conv)
        stats["execute_cpu"] = time.process_time() - cpu_conv  # all threads' CPU: robust on a busy machine
        stats["columns"] = {c for sql_cols in st.sql.values() for c in sql_cols[1]}
        stats["plan_cache"] = dict(notes)
    hayabusa = any(lr.info.ruletype for lr in st.loaded) or any(r.is_hayabusa for r in st.rulesets.values())
    records = {str(k): r.to_record() for k, r in sorted(st.rulesets.items(), key=lambda kv: str(kv[0]))}
    return SigmaResult(findings, _report(st), hayabusa=hayabusa, rulesets=records,
                       min_level=tuning.effective_min_level(hayabusa), cache=notes)  # fmt: skip


# ---- the plan cache (see plancache) ------------------------------------------------------------
def _rules_key(roots: Sequence[Path], files: Sequence[RuleFile], tuning: Tuning,
               sets: Mapping[Path, RuleSet], placeholders: dict[str, list[str]] | None) -> str | None:  # fmt: skip
    """What the rules plan depends on (None: a file could not be read, nothing is cached)."""
    if any(f.sha256 is None for f in files):
        return None
    index = {str(r): k for k, r in enumerate(roots)}
    try:
        return plancache.digest(
            "rules",
            [str(r) for r in roots],
            [(index.get(str(f.root)), f.rel, f.sha256) for f in files],
            tuning.to_record(),
            [(str(k), sets[k].to_record()) for k in sorted(sets, key=str)],
            sorted((placeholders or {}).items()),
        )
    except (TypeError, orjson.JSONEncodeError):  # a tuning value JSON cannot say: plan without the cache
        return None


def _rules_plan(case: Case, roots: Sequence[Path], files: Sequence[RuleFile], tuning: Tuning,
                sets: dict[Path, RuleSet], key: str | None, notes: dict[str, str], use_cache: bool,
                progress: Step, again: bool = False) -> tuple[_State, bool]:  # fmt: skip
    """Rules loaded, prepared and selected, and whether they came from the plan cache (then without
    their condition trees: ``_attach_conditions`` reads them when the SQL must be converted).
    ``again``: the cached plan was unusable, compute it (and keep it) anyway."""
    if key is not None and not again:
        got = plancache.load(key)
        notes["rules"] = got.note
        if got.state == "hit":
            loaded, status, preps, corrs, decisions = got.value
            return _State(loaded, status=status, preps=preps, corrs=corrs, rulesets=sets, decisions=decisions), True
    cache = _open_cache(case, use_cache)
    st = _prepare_all(load_rules(roots, cache, progress, files), roots, sets, progress)
    stored = 0
    if cache is not None:
        stored = _fill_cache(st, cache)
        cache.save()
    _select(st, tuning)
    if key is not None:
        # kept as a warm hunt computes it (files rebuilt from the rule cache), not as parsed now
        kept = st
        if stored and cache is not None:
            kept = _prepare_all(load_rules(roots, cache, files=files), roots, sets)
            _select(kept, tuning)
        plan, conds = _split_plan(kept)
        for k, value in ((key, plan), (_conds_key(key), conds)):
            why = plancache.store(k, value)
            if why is not None:
                notes["rules"] += f"; {why}"
    return st, False


def _conds_key(rules_key: str) -> str:
    return plancache.digest("conditions", rules_key)


def _split_plan(st: _State) -> tuple[tuple[Any, ...], dict[int, tuple[Any, Any]]]:
    """The plan without the rules' condition trees (a re-hunt whose SQL is cached never reads
    them: a third of the entry), and the trees apart, by rule index."""
    loaded = [dataclasses.replace(lr, cached=None) for lr in st.loaded]
    preps: dict[int, PreparedRule] = {}
    conds: dict[int, tuple[Any, Any]] = {}
    for i, p in st.preps.items():
        conds[i] = (p.conds_ir, p.conds if p.conds_ir is None else None)
        preps[i] = dataclasses.replace(p, loaded=loaded[i], conds=None, conds_ir=None)
    return (loaded, st.status, preps, st.corrs, st.decisions), conds


def _attach_conditions(st: _State, rules_key: str, notes: dict[str, str]) -> bool:
    """Give a plan read from the cache its condition trees back; False when they cannot be read."""
    got = plancache.load(_conds_key(rules_key))
    if got.state != "hit" or set(got.value) != set(st.preps):
        notes["rules"] += f"; conditions {got.note if got.state != 'hit' else 'do not match'}, rules loaded again"
        return False
    for i, (ir, conds) in got.value.items():
        st.preps[i].conds_ir, st.preps[i].conds = ir, conds
    return True


def _converted_key(rkey: str, st: _State) -> str:
    """What the conversion read of the case: per group, whether it has rows, and its columns."""
    layout = []
    for pred in sorted(_by_pred(st)):
        group = st.groups.get(pred)
        schema = group.schema if group is not None and group.files else None
        layout.append((pred, None if schema is None else [list(v) for v in schema.columns.values()]))
    return plancache.digest("converted", rkey, layout)


def _converted_from_cache(st: _State, key: str | None, notes: dict[str, str]) -> bool:
    """Every rule's SQL, status and exclusions from the plan cache; False on a miss."""
    if key is None:
        return False
    got = plancache.load(key)
    notes["converted"] = got.note
    if got.state != "hit":
        return False
    v = got.value
    st.sql, st.status, st.excl_sql, st.needs = v["sql"], v["status"], v["excl"], v["needs"]
    st.corrs = {i: c for i, c in st.corrs.items() if i in v["corrs"]}
    for pred, (derived, sources) in v["derived"].items():
        schema = st.groups[pred].schema
        assert schema is not None
        schema.derived.update(derived)
        schema.sources.update(sources)
    return True


def _converted_to_cache(st: _State, key: str, notes: dict[str, str]) -> None:
    derived = {pred: (g.schema.derived, sorted(g.schema.sources))
               for pred, g in st.groups.items() if g.files and g.schema is not None}  # fmt: skip
    value = {"sql": st.sql, "status": st.status, "excl": st.excl_sql, "corrs": sorted(st.corrs), "derived": derived,
             "needs": st.needs}  # fmt: skip
    why = plancache.store(key, value)
    if why is not None:
        notes["converted"] += f"; {why}"


def _generates(st: _State, base: int, refs: dict[str, int]) -> bool:
    """A base rule of a correlation reports on its own only if a correlation says ``generate``."""
    return any(c.generate for c in st.corrs.values() for r in c.rules or [] if refs.get(r.reference) == base)


def _execute(
    data: SigmaData, st: _State, progress: Step = no_progress
) -> dict[int, list[tuple[str, int, str | None, Any]]]:
    """Run every group with rows in the case; rule index -> matched (sha256, rec_index, host, ts).

    Results are merged by rule index, so the order in which the engine completes groups does not matter.
    """
    by_pred: dict[str, list[int]] = {}
    for i, p in st.preps.items():
        if i in st.sql:
            by_pred.setdefault(p.logsource.predicate or "", []).append(i)
    out: dict[int, list[tuple[str, int, str | None, Any]]] = {}
    jobs = plan_jobs(by_pred, st.groups, st.sql, st.needs)
    progress("running rules", 0, len(jobs))  # the engine runs the groups side by side and returns all
    results = data.execute(jobs)
    progress("running rules", len(jobs), len(jobs))
    for rows, failed in results:
        for i, reason in failed.items():
            st.status[i] = _status(st.loaded[i], "failed", reason, True)
        for sha, rec, host, ts, hits in rows:
            for h in hits.split(","):
                out.setdefault(int(h), []).append((sha, rec, host, ts))
    return out


def _rel_path(file: str, roots: list[Path]) -> str:
    path = Path(file)
    for r in roots:
        try:
            return path.relative_to(r).as_posix() if r.is_dir() else path.name
        except ValueError:
            continue
    return path.name


def _attack(rule: SigmaRule | SigmaCorrelationRule | RuleMeta) -> tuple[list[str], list[str]]:
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in rule.tags or []:
        if tag.namespace != "attack":
            continue
        name = tag.name
        if name[:1].lower() == "t" and name[1:2].isdigit():
            techniques.append(name.upper())
        elif not (name[:1].lower() in ("g", "s") and name[1:2].isdigit()):
            tactics.append(name.lower())
    return sorted(set(techniques)), sorted(set(tactics))


def _finding(kind: Kind, lr: LoadedRule, rule: SigmaRule | SigmaCorrelationRule | RuleMeta, host: str | None,
             recs: list[tuple[RecordRef, Any]], roots: list[Path], summary: str,
             details: str | None, level: Level | None = None) -> Finding:  # fmt: skip
    techniques, tactics = _attack(rule)
    times = [t for _, t in recs if t is not None]
    return Finding(
        kind=kind,
        rule_id=str(rule.id) if rule.id is not None else _rel_path(lr.path, roots),
        title=rule.title,
        level=level or _level(rule) or "informational",
        host=host,
        first_ts=min(times) if times else None,
        last_ts=max(times) if times else None,
        records=tuple({r for r, _ in recs}),  # sorted by Finding
        attack=techniques,
        tactics=tactics,
        summary=summary,
        rule_path=_rel_path(lr.path, roots),
        rule_sha256=lr.sha256,
        details=details,
    )


def _rule_findings(lr: LoadedRule, rule: SigmaRule | RuleMeta, rows: list[tuple[str, int, str | None, Any]],
                   roots: list[Path], level: Level | None = None) -> list[Finding]:  # fmt: skip
    by_host: dict[str, list[tuple[RecordRef, Any]]] = {}
    for sha, rec, host, ts in rows:
        by_host.setdefault(host or "", []).append((RecordRef(sha, int(rec)), ts))
    out = []
    for host in sorted(by_host):
        recs = by_host[host]
        n = len({r for r, _ in recs})
        summary = f"{rule.title}: {n} event{'s' if n != 1 else ''} on {host or 'unknown host'}"
        out.append(_finding("sigma", lr, rule, host or None, recs, roots, summary, None, level))
    return out


# ---- correlations ---------------------------------------------------------------------------
def _correlation_findings(data: SigmaData, st: _State, i: int, corr: SigmaCorrelationRule,
                          roots: list[Path], refs: dict[str, int]) -> list[Finding]:  # fmt: skip
    """Findings of a correlation rule; ``refs`` is ``_rule_index(st)``."""
    events: list[CorrEvent] = []
    group_by = list(corr.group_by or [])
    fieldref = getattr(corr.condition, "fieldref", None)  # value_count's field (extended conditions: none)
    value_field = fieldref if isinstance(fieldref, str) else None
    for r in corr.rules or []:
        j = refs[r.reference]
        fields = [_alias(corr, f, r.reference) for f in group_by]
        vfield = _alias(corr, value_field, r.reference) if value_field else None
        events.extend(_base_events(data, st, j, r.reference, fields, vfield, st.excl_sql.get((i, j))))
    out = []
    for hit in evaluate(corr, events):
        hosts = {e.host for e in hit.events}
        host = next(iter(hosts)) if len(hosts) == 1 else None
        details = json.dumps(
            {"type": corr.type.name.lower(), "group_by": dict(zip(group_by, hit.group, strict=True)),
             "timespan": corr.timespan.spec, "value": hit.metric},
            sort_keys=True, separators=(",", ":"), default=str,
        )  # fmt: skip
        recs = [(e.ref, e.ts) for e in hit.events]
        summary = f"{corr.title}: {corr.type.name.lower()} = {hit.metric} within {corr.timespan.spec}"
        out.append(
            _finding(
                "correlation",
                st.loaded[i],
                corr,
                host,
                recs,
                roots,
                summary,
                details,
                parse_level(st.decisions.levels.get(i)),
            )
        )
    return out


def _alias(corr: SigmaCorrelationRule, fld: str, reference: str) -> str:
    for alias in corr.aliases or []:
        if alias.alias == fld:
            for ref, mapped in alias.mapping.items():
                if getattr(ref, "reference", ref) == reference:
                    return mapped
    return fld


def _base_events(data: SigmaData, st: _State, j: int, reference: str, fields: list[str],
                 vfield: str | None, exclusion: str | None = None) -> list[CorrEvent]:  # fmt: skip
    """Events base rule ``j`` matches, with its group-by and value fields."""
    prep = st.preps[j]
    group = st.groups.get(prep.logsource.predicate or "")
    if group is None or not group.files or group.schema is None:
        return []
    schema: Schema = group.schema
    used: set[str] = set(st.sql[j][1])
    resolve = schema.resolver(prep.category, used, prep.aliases)
    exprs = []
    for f in [*fields, *([vfield] if vfield else [])]:
        ref = resolve(f)
        exprs.append("NULL" if ref is None else f"CAST({ref.sql} AS VARCHAR)")
    where = st.sql[j][0] if exclusion is None else f"{st.sql[j][0]} AND NOT coalesce({exclusion}, FALSE)"
    out = []
    for row in data.select(group, used, exprs, where):
        sha, rec, host, ts = row[:4]
        vals = list(row[4:])
        value = vals.pop() if vfield else None
        if ts is None:
            continue  # a window needs a time; such rows are still reported by the base rule itself
        # Sigma compares group-by values as the event states them; lower-case to match Windows' case-insensitivity
        group_key = tuple(None if v is None else str(v).lower() for v in vals)
        out.append(CorrEvent(ts, RecordRef(sha, int(rec)), host, reference, group_key, value))
    return out


# ---- the report in the case -----------------------------------------------------------------
_REPORT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("line", pa.int64()),
        ("rule_id", pa.string()),
        ("title", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("logsource", pa.string()),
        ("level", pa.string()),
        ("source_in_case", pa.bool_()),
        ("warnings", pa.list_(pa.string())),
        ("rule_set", pa.string()),
        ("rule_status", pa.string()),
        ("rule_level", pa.string()),
        ("tuning", pa.list_(pa.string())),
        ("duplicate_of", pa.string()),
        ("duplicates", pa.list_(pa.string())),
        ("details", pa.string()),
    ]
)


def write_rule_report(folder: Path, report: list[RuleStatus]) -> Path:
    """Write ``rule_report.parquet`` (sorted by path, line, rule id) into a hunt run's folder."""
    rows = sorted(report, key=lambda r: (r.path, r.line or 0, r.rule_id or "", r.title or ""))
    # column by column: one dict per rule (7,400 with both rule sets) costs several times more
    columns = [[getattr(r, n) for r in rows] for n in _REPORT_SCHEMA.names]  # tuples fill list columns
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, _REPORT_SCHEMA, strict=True)],
                                 schema=_REPORT_SCHEMA)  # fmt: skip
    out = folder / "rule_report.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    return out
