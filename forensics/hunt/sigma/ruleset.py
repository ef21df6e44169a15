"""Rule sets: which set a rule folder belongs to, and what its own configuration says.

Hayabusa's rule set ships a ``config/`` folder beside its rules: field aliases
(``eventkey_alias.txt``: the name a rule uses -> where the value sits in the event), default
details per provider and event id (``default_details.txt``), value renderings per channel and
event id (``data_mapping/*.yaml``), rules it replaces or finds too noisy (``exclude_rules.txt``,
``noisy_rules.txt``) and level changes (``level_tuning.txt``). These are facts about its rules;
they are read here at run time from the rule set's own folder (never copied into this project)
and re-expressed in our terms: an event path becomes our column name (``docs/schema.md``).

A folder given to a hunt belongs to a Hayabusa set when a ``config/`` folder with
``eventkey_alias.txt`` sits in it or in one of its three nearest parents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forensics.schema import CORE_NAMES

_CORE_LOWER = {c.lower() for c in CORE_NAMES}
# System fields as the EVTX reader names them (path below Event.System) -> our column
_SYSTEM: dict[str, str] = {
    "Computer": "host",
    "Channel": "channel",
    "EventID": "event_id",
    "EventRecordID": "record_id",
    "Provider_attributes.Name": "provider",
    "Provider_Name": "provider",
    "Provider_attributes.Guid": "Provider_Guid",
    "Execution_attributes.ProcessID": "Execution_ProcessID",
    "Execution_attributes.ThreadID": "Execution_ThreadID",
    "Security_attributes.UserID": "Security_UserID",
    "TimeCreated_attributes.SystemTime": "ts",
}


@dataclass(frozen=True)
class RuleSet:
    """A folder of rules and what its configuration says (empty for a plain Sigma folder)."""

    root: Path
    config: Path | None = None  # Hayabusa's config/ folder, when found
    field_aliases: Mapping[str, str] = field(default_factory=dict)  # lower-case rule field -> column
    default_details: Mapping[tuple[str, int], str] = field(default_factory=dict)  # (provider, eid)
    value_maps: Mapping[tuple[str, int], Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)  # rule id -> the list's comment
    noisy: Mapping[str, str] = field(default_factory=dict)
    level_tuning: Mapping[str, str] = field(default_factory=dict)  # rule id -> new level
    files: Mapping[str, str] = field(default_factory=dict)  # config file (relative) -> SHA-256

    @property
    def is_hayabusa(self) -> bool:
        """True when the folder comes with Hayabusa's configuration."""
        return self.config is not None

    @property
    def fingerprint(self) -> str:
        """A short hash of the configuration read (empty for a plain folder)."""
        if not self.files:
            return ""
        h = hashlib.sha256()
        for name, sha in sorted(self.files.items()):
            h.update(f"{name}\x00{sha}\x00".encode())
        return h.hexdigest()[:16]

    def to_record(self) -> dict[str, Any]:
        """What the run record says about the set: where its configuration came from, and what of
        it decides findings (field aliases, excluded, noisy, level tuning), so a replay from the
        record uses the same."""
        return {
            "kind": "hayabusa" if self.is_hayabusa else "sigma",
            "config": str(self.config) if self.config else None,
            "config_files": dict(sorted(self.files.items())),
            "field_aliases": dict(sorted(self.field_aliases.items())),
            "excluded": dict(sorted(self.excluded.items())),
            "noisy": dict(sorted(self.noisy.items())),
            "level_tuning": dict(sorted(self.level_tuning.items())),
        }

    @classmethod
    def from_record(cls, root: Path, rec: Mapping[str, Any]) -> RuleSet:
        """The set as a run record kept it (details templates and value maps are not part of it)."""
        if rec.get("kind") != "hayabusa":
            return cls(root)
        return cls(
            root,
            Path(str(rec.get("config") or root)),
            field_aliases=dict(rec.get("field_aliases") or {}),
            excluded=dict(rec.get("excluded") or {}),
            noisy=dict(rec.get("noisy") or {}),
            level_tuning=dict(rec.get("level_tuning") or {}),
            files=dict(rec.get("config_files") or {}),
        )


def find_config(root: Path) -> Path | None:
    """Hayabusa's ``config/`` folder for a rule folder or file, or None."""
    start = root if root.is_dir() else root.parent
    for folder in [start, *list(start.resolve().parents)[:3]]:
        cand = folder / "config"
        if (cand / "eventkey_alias.txt").is_file():
            return cand
    return None


def load_ruleset(root: Path) -> RuleSet:
    """The rule set a folder (or file) given to a hunt belongs to, with its configuration read."""
    config = find_config(root)
    if config is None:
        return RuleSet(root)
    files: dict[str, str] = {}

    def text(name: str) -> str:
        p = config / name
        try:
            data = p.read_bytes()
        except OSError:
            return ""
        files[name] = hashlib.sha256(data).hexdigest()
        return data.decode("utf-8", errors="replace")

    aliases = _aliases(text("eventkey_alias.txt"))
    details = _default_details(text("default_details.txt"))
    excluded = _id_list(text("exclude_rules.txt"))
    noisy = _id_list(text("noisy_rules.txt"))
    tuning = _level_tuning(text("level_tuning.txt"))
    maps: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
    dm = config / "data_mapping"
    for f in sorted(dm.glob("*.yaml")) if dm.is_dir() else []:
        got = _value_map(text(f"data_mapping/{f.name}"))
        if got is not None:
            maps[got[0]] = got[1]
    return RuleSet(root, config, aliases, details, maps, excluded, noisy, tuning, files)


def column_for(event_path: str) -> str | None:
    """Our column for an event path as Hayabusa writes it (``Event.EventData.Category Name``).

    EventData ``<Data Name="X">`` is column ``X``; UserData's wrapper element is lifted away and
    deeper names join with ``_``; System fields map to core columns. A name equal to a core
    column is stored with ``_native`` (docs/schema.md). None for paths that name no one field.
    """
    parts = event_path.strip().split(".")
    if parts[:1] != ["Event"] or len(parts) < 3:
        return None
    if parts[1] == "System":
        sub = ".".join(parts[2:])
        return _SYSTEM.get(sub, "_".join(p.replace("_attributes", "") for p in parts[2:]))
    if parts[1] == "EventData":
        name = "_".join(parts[2:])
    elif parts[1] == "UserData" and len(parts) >= 4:
        name = "_".join(parts[3:])
    else:
        return None
    return f"{name}_native" if name.lower() in _CORE_LOWER else name


def _aliases(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "," not in line or line.startswith("#"):
            continue
        alias, path = (x.strip() for x in line.split(",", 1))
        col = column_for(path)
        if alias and col and col.lower() != alias.lower():
            out.setdefault(alias.lower(), col)
    return out


def _default_details(text: str) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for line in text.splitlines()[1:]:
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) == 3 and parts[1].isdigit():
            out.setdefault((parts[0], int(parts[1])), parts[2])
    return out


def _id_list(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        body, _, comment = line.partition("#")
        rid = body.strip()
        if rid:
            out.setdefault(rid, comment.strip())
    return out


def _level_tuning(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        body = line.partition("#")[0]
        if "," in body:
            rid, level = (x.strip() for x in body.split(",", 1))
            if rid and level:
                out[rid] = level.lower()
    return out


# libyaml's safe loader when PyYAML has it: the rule set's value maps are read on every hunt
_FAST_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _value_map(text: str) -> tuple[tuple[str, int], dict[str, dict[str, str]]] | None:
    try:
        doc = yaml.load(text, Loader=_FAST_SAFE)  # a safe loader
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("EventID"), int):
        return None
    rewrite: dict[str, dict[str, str]] = {}
    for fld, pairs in (doc.get("RewriteFieldData") or {}).items():
        m: dict[str, str] = {}
        for pair in pairs or []:
            if isinstance(pair, dict):
                m.update({str(k): str(v) for k, v in pair.items()})
        rewrite[str(fld)] = m
    return (str(doc.get("Channel")), int(doc["EventID"])), rewrite
