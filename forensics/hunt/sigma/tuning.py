"""Choosing and tuning rules at hunt time: statuses, exclusion lists, a tuning file, the level shown.

What a responder decides for one hunt, all recorded in the run record:

* ``--status``: which rule statuses run. Default: stable, test and experimental; deprecated and
  unsupported rules are reported as skipped with the reason (Hayabusa loads them only on request).
* ``--exclude-rules FILE``: rule ids not to run, one per line, ``#`` comments (the format of
  Hayabusa's ``exclude_rules.txt`` and ``noisy_rules.txt``).
* ``--tuning FILE``: per rule, by id — ``disable``, a new ``level`` (demote or promote), or
  ``exclude`` conditions in Sigma detection syntax (events matching any item are dropped: a known
  admin host, a scanner's account); and a ``noisy`` list demoted to informational in one place.
* ``--min-level``: findings below it are kept in the case but not shown in the summary. Default:
  ``low`` when Hayabusa's rule set is in use (its informational rules fire on normal logons and
  service starts), else ``informational``.

A Hayabusa rule set's own lists apply to its own rules: ``exclude_rules.txt`` (not run),
``noisy_rules.txt`` (not run unless ``--enable-noisy-rules``, then demoted to informational)
and ``level_tuning.txt`` (new levels), as Hayabusa applies them.

The tuning file (YAML)::

    noisy:                       # demoted to informational: still run, kept in the case
      - 0266af4f-8825-495e-959c-bff801094349
    rules:
      - id: 5b0e1c3a-7d1e-4f4b-8a35-0a1b2c3d4e01
        disable: true
        reason: replaced by our own SQL hunt
      - id: a4e05f05-ff88-48b9-8524-a88c1c32fe19
        level: low
        reason: RDP is the admins' daily tool here
      - id: 9f5663ce-6205-4753-b486-fb8498d1fae5
        exclude:                 # Sigma detection items; an event matching any of them is dropped
          - Computer: ADMIN-PC01.dims.local
          - SubjectUserName|endswith: _scanner
        reason: the vulnerability scanner
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forensics.errors import ForensicsError
from forensics.hunt.sigma.dialect import LEVEL_NAMES, SIGMA_LEVELS

STATUSES = ("stable", "test", "experimental", "deprecated", "unsupported")
# forensics' own tuning of public rules (known false positives, each with its reason)
DEFAULT_TUNING = Path(__file__).resolve().parents[2] / "data" / "sigma-tuning.yml"
DEFAULT_STATUSES = ("stable", "test", "experimental")
HAYABUSA_MIN_LEVEL = "low"


class TuningError(ForensicsError):
    """A tuning or exclusion file that cannot be used as written (file and line say where)."""


@dataclass(frozen=True)
class RuleTuning:
    """What the responder decided for one rule."""

    rule: str  # the rule id (a Hayabusa rewrite also answers to the SigmaHQ id it derives from)
    disable: bool = False
    level: str | None = None
    exclude: tuple[dict[str, Any], ...] = ()  # Sigma detection items, OR-ed
    reason: str = ""
    source: str = ""  # file:line it came from

    def describe(self) -> str:
        """One line for the rule report."""
        parts = []
        if self.disable:
            parts.append("disabled")
        if self.level:
            parts.append(f"level {self.level}")
        if self.exclude:
            parts.append(f"{len(self.exclude)} exclusion(s)")
        why = f" ({self.reason})" if self.reason else ""
        return f"{', '.join(parts) or 'no change'} by {self.source}{why}"


@dataclass(frozen=True)
class Tuning:
    """Every choice about which rules run and how their findings are shown, for one hunt.

    The bare ``Tuning()`` applies no tuning file at all; ``build_tuning`` (what ``hunt`` uses) adds
    forensics' default tuning unless told not to.
    """

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    min_level: str | None = None  # None: the default (low with Hayabusa's set, else informational)
    excluded: Mapping[str, str] = field(default_factory=dict)  # rule id -> where it was listed
    rules: Mapping[str, RuleTuning] = field(default_factory=dict)
    enable_noisy: bool = False
    ruleset_config: bool = True  # apply a Hayabusa set's own exclude/noisy/level lists
    files: tuple[tuple[str, str], ...] = ()  # (path, SHA-256) of the files read

    def effective_min_level(self, hayabusa: bool) -> str:
        """The level below which findings are kept but not shown."""
        if self.min_level is not None:
            return self.min_level
        return HAYABUSA_MIN_LEVEL if hayabusa else "informational"

    def for_rule(self, ids: Sequence[str | None]) -> RuleTuning | None:
        """The tuning entry naming any of a rule's ids."""
        for i in ids:
            if i and i in self.rules:
                return self.rules[i]
        return None

    def excluded_by(self, ids: Sequence[str | None]) -> str | None:
        """Where the exclusion list named any of a rule's ids, or None."""
        for i in ids:
            if i and i in self.excluded:
                return self.excluded[i]
        return None

    def to_record(self) -> dict[str, Any]:
        """The choices as the run record keeps them (enough to replay the same selection)."""
        return {
            "statuses": list(self.statuses),
            "min_level": self.min_level,
            "enable_noisy_rules": self.enable_noisy,
            "ruleset_config": self.ruleset_config,
            "excluded_rules": dict(sorted(self.excluded.items())),
            "rules": {
                k: {"disable": t.disable, "level": t.level, "exclude": list(t.exclude), "reason": t.reason,
                    "source": t.source}
                for k, t in sorted(self.rules.items())
            },
            "files": [{"path": p, "sha256": s} for p, s in self.files],
        }  # fmt: skip


def tuning_from_record(rec: Mapping[str, Any] | None) -> Tuning:
    """The ``Tuning`` a run record kept (``Tuning.to_record``); the default for none."""
    if not rec:
        return Tuning()
    rules = {
        k: RuleTuning(k, bool(v.get("disable")), v.get("level"), tuple(v.get("exclude") or ()),
                      str(v.get("reason") or ""), str(v.get("source") or ""))
        for k, v in (rec.get("rules") or {}).items()
    }  # fmt: skip
    return Tuning(
        statuses=tuple(rec.get("statuses") or DEFAULT_STATUSES),
        min_level=rec.get("min_level"),
        excluded=dict(rec.get("excluded_rules") or {}),
        rules=rules,
        enable_noisy=bool(rec.get("enable_noisy_rules")),
        ruleset_config=bool(rec.get("ruleset_config", True)),
        files=tuple((f["path"], f["sha256"]) for f in rec.get("files") or []),
    )


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--status`` values (repeatable, comma-separated, or ``all``) -> statuses; error on unknown."""
    if not values:
        return DEFAULT_STATUSES
    out: list[str] = []
    for v in values:
        for s in v.split(","):
            s = s.strip().lower()
            if not s:
                continue
            if s == "all":
                out.extend(STATUSES)
            elif s in STATUSES:
                out.append(s)
            else:
                raise TuningError(f"unknown rule status {s!r}; one of: {', '.join(STATUSES)}, all")
    return tuple(dict.fromkeys(out))


def parse_level(value: str | None, what: str = "--min-level") -> str | None:
    """A level name as given (Sigma's five, or Hayabusa's ``emergency`` and short forms)."""
    if value is None:
        return None
    level = LEVEL_NAMES.get(value.strip().lower())
    if level is None:
        raise TuningError(f"{what}: unknown level {value!r}; one of: {', '.join(SIGMA_LEVELS)}")
    return level


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TuningError(f"cannot read {path}: {exc.strerror or exc}") from exc


def load_exclude_list(path: Path) -> tuple[dict[str, str], str]:
    """Rule ids listed in an exclusion file -> ``file:line comment``; and the file's SHA-256."""
    data = _read(path)
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        body, _, comment = line.partition("#")
        rid = body.strip()
        if not rid:
            continue
        if " " in rid or "," in rid:
            raise TuningError(f"{path}:{n}: expected one rule id per line, got {rid!r}")
        out.setdefault(rid, f"{path}:{n}" + (f" ({comment.strip()})" if comment.strip() else ""))
    return out, _sha(data)


def load_tuning_file(path: Path) -> tuple[dict[str, RuleTuning], str]:
    """The per-rule entries of a tuning file (see the module doc) and the file's SHA-256."""
    data = _read(path)
    try:
        doc = yaml.safe_load(data) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise TuningError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(doc, dict) or set(doc) - {"rules", "noisy"}:
        raise TuningError(f"{path}: a tuning file has 'rules' and/or 'noisy' at its top, nothing else")
    out: dict[str, RuleTuning] = {}
    for rid in doc.get("noisy") or []:
        out[str(rid)] = RuleTuning(
            str(rid), level="informational", reason="listed as noisy", source=f"{path} noisy"
        )
    for n, entry in enumerate(doc.get("rules") or [], 1):
        t = _entry(entry, f"{path} rules[{n}]")
        out[t.rule] = t
    return out, _sha(data)


def _entry(entry: Any, where: str) -> RuleTuning:
    if not isinstance(entry, dict) or "id" not in entry:
        raise TuningError(f"{where}: each entry needs an 'id'")
    unknown = set(entry) - {"id", "disable", "level", "exclude", "reason"}
    if unknown:
        raise TuningError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))} (id, disable, level, exclude, reason)"
        )
    level = parse_level(str(entry["level"]), f"{where} level") if entry.get("level") is not None else None
    exclude = entry.get("exclude") or []
    if isinstance(exclude, dict):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(x, dict) and x for x in exclude):
        raise TuningError(f"{where}: 'exclude' is a list of Sigma detection maps (field: value)")
    if not (entry.get("disable") or level or exclude):
        raise TuningError(f"{where}: says neither disable, level nor exclude")
    if exclude:
        _check_exclusion(exclude, where)
    return RuleTuning(str(entry["id"]), bool(entry.get("disable")), level, tuple(exclude),
                      str(entry.get("reason") or ""), where)  # fmt: skip


def _check_exclusion(maps: list[dict[str, Any]], where: str) -> None:
    """Exclusion items parse as Sigma detections (so a typo fails here, not half way into a hunt)."""
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    det: dict[str, Any] = {f"exclusion{k}": m for k, m in enumerate(maps)}
    det["condition"] = "1 of exclusion*"
    try:
        rule = SigmaRule.from_dict({"title": "t", "logsource": {"product": "windows"}, "detection": det})
        for c in rule.detection.parsed_condition:
            _ = c.parsed
    except SigmaError as exc:
        raise TuningError(f"{where}: exclusion is not a Sigma detection: {str(exc).split(' in file ')[0]}") from exc


def build_tuning(
    statuses: Sequence[str] | None = None,
    min_level: str | None = None,
    exclude_files: Sequence[Path] = (),
    tuning_files: Sequence[Path] = (),
    enable_noisy: bool = False,
    ruleset_config: bool = True,
    default_tuning: bool = True,
) -> Tuning:
    """A ``Tuning`` from command-line choices; files are read (and hashed) now.

    ``default_tuning`` applies forensics' own tuning (``forensics/data/sigma-tuning.yml``) first;
    the responder's tuning files override it rule by rule.
    """
    excluded: dict[str, str] = {}
    rules: dict[str, RuleTuning] = {}
    files: list[tuple[str, str]] = []
    for p in exclude_files:
        got, sha = load_exclude_list(Path(p))
        for k, v in got.items():
            excluded.setdefault(k, v)
        files.append((str(p), sha))
    for p in [*([DEFAULT_TUNING] if default_tuning else []), *tuning_files]:
        got_rules, sha = load_tuning_file(Path(p))
        rules.update(got_rules)
        files.append((str(p), sha))
    return Tuning(parse_statuses(statuses), parse_level(min_level), excluded, rules, enable_noisy,
                  ruleset_config, tuple(files))  # fmt: skip
