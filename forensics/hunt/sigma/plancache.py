"""The planned rule set kept between hunts, so a re-hunt only hashes its rule files and runs the SQL.

Two entries per hunt, in the user's cache folder (``machine_cache_path().parent / "sigma-plan"``):

- the **rules plan**: every rule document loaded, prepared, selected by the tuning and the rule
  sets' lists and de-duplicated (what ``_prepare_all`` + ``_select`` compute), keyed by
  ``rules_key``: the code (this package's Sigma sources and pipelines, ``forensics.schema``, the
  forensics and pySigma versions), the folders given, every rule file's path in its folder and
  SHA-256, the tuning as the run record keeps it, each rule set's configuration (its files'
  SHA-256) and the ``--placeholder`` values;
- the **converted plan**: every rule's SQL, status and tuning exclusions for one case layout,
  keyed by the rules key plus, per log-source group, whether the case holds rows of it and the
  columns (and types) of its part files — all the conversion reads of a case.

Any change to a rule file, the tuning, a rule set's configuration, the placeholders, the code or
the case's columns is a different key, so an entry is never used for anything but what made it.
Entries are written atomically (a temporary file renamed in place) and carry the SHA-256 of their
payload: an entry that cannot be read, is truncated or does not match its digest is a miss, and
the hunt says so (``Lookup.note``) and plans afresh. The entries are pickles of our own dataclasses
(and pySigma's rule objects for correlation rules); the folder is the user's own, trusted as the
installed code is — the digest guards against damage, not against someone who can write there.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from forensics.hunt.sigma.cache import STAMP, machine_cache_path

_MAGIC = b"forensics sigma plan 1\n"
_SCHEMA_SOURCE = Path(__file__).resolve().parents[2] / "schema.py"
# what the plan depends on beyond STAMP (the Sigma code, pipelines and versions): the core columns
PLAN_STAMP = hashlib.sha256(STAMP.encode() + _SCHEMA_SOURCE.read_bytes()).hexdigest()[:16]


@dataclass
class Lookup:
    """What one cache lookup found: ``hit``, ``miss``, or ``corrupt: why`` (then planned afresh)."""

    state: str = "miss"
    value: Any = None

    @property
    def note(self) -> str:
        """One line for the hunt's record."""
        return self.state


def cache_dir() -> Path | None:
    """Where plans are kept (None when the user's cache is switched off: ``FORENSICS_CACHE_DIR=``)."""
    rules = machine_cache_path()
    return rules.parent / "sigma-plan" if rules is not None else None


def digest(*parts: Any) -> str:
    """A key: SHA-256 over the canonical JSON of ``parts`` (after PLAN_STAMP)."""
    return hashlib.sha256(
        orjson.dumps([PLAN_STAMP, *parts], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    ).hexdigest()


def load(key: str, folder: Path | None = None) -> Lookup:
    """The entry under ``key``; a missing one is a miss, a damaged one ``corrupt: ...`` (never used)."""
    folder = folder if folder is not None else cache_dir()
    if folder is None:
        return Lookup("off")
    try:
        data = (folder / f"{key}.plan").read_bytes()
    except FileNotFoundError:
        return Lookup("miss")
    except OSError as exc:
        return Lookup(f"corrupt: cannot read ({exc.strerror or exc})")
    head = len(_MAGIC) + 65
    if not data.startswith(_MAGIC) or len(data) < head:
        return Lookup("corrupt: not a plan entry")
    want = data[len(_MAGIC) : head - 1].decode("ascii", errors="replace")
    payload = data[head:]
    if hashlib.sha256(payload).hexdigest() != want:
        return Lookup("corrupt: digest does not match (truncated or damaged)")
    try:
        return Lookup("hit", pickle.loads(payload))  # our own entry, digest checked
    except Exception as exc:  # an entry that unpickles badly is a miss, planned afresh
        return Lookup(f"corrupt: cannot be read back ({type(exc).__name__})")


def store(key: str, value: Any, folder: Path | None = None) -> str | None:
    """Keep ``value`` under ``key`` atomically; returns why it was not kept (None when it was)."""
    folder = folder if folder is not None else cache_dir()
    if folder is None:
        return None
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        return f"not kept: {type(exc).__name__}: {exc}"
    data = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    tmp = folder / f"{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(folder / f"{key}.plan")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return f"not kept: {exc.strerror or exc}"
    return None
