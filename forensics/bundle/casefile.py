"""Case details for a bundle: FIR, police station / agency, sections, proceeding date, operator, TLP.

They come from options or a small case file (YAML, JSON or TOML, chosen by extension) with
the same keys; options win over the file. Device particulars for the certificate (class,
make, model, serial, MAC / IP / cloud id) may be given under ``device``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from forensics.errors import BundleError

TLP_LEVELS: tuple[str, ...] = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")


def tlp_rank(tlp: str) -> int:
    """0 (CLEAR, shared widest) .. 4 (RED); WHITE is the old name of CLEAR."""
    t = normalise_tlp(tlp)
    return TLP_LEVELS.index(t)


def normalise_tlp(tlp: str) -> str:
    """``amber`` / ``TLP:Amber`` / ``white`` → ``TLP:AMBER`` / ``TLP:CLEAR``; unknown values refused."""
    t = tlp.strip().upper()
    if not t.startswith("TLP:"):
        t = "TLP:" + t
    if t == "TLP:WHITE":
        t = "TLP:CLEAR"
    if t not in TLP_LEVELS:
        raise BundleError(f"unknown TLP {tlp!r}; one of {', '.join(TLP_LEVELS)}")
    return t


@dataclass
class CaseDetails:
    """Who the bundle is for and under what proceeding."""

    fir_number: str | None = None
    police_station: str | None = None
    agency: str | None = None
    sections: list[str] = field(default_factory=list)
    proceeding_date: date | None = None
    operator: str | None = None
    organisation: str | None = None  # the affected organisation (for CERT-In)
    place: str | None = None
    tlp: str = "TLP:AMBER"
    incident_type: str | None = None
    device: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tlp = normalise_tlp(self.tlp)
        if isinstance(self.proceeding_date, str):
            self.proceeding_date = parse_date(self.proceeding_date)
        if isinstance(self.sections, str):
            self.sections = [s.strip() for s in self.sections.split(",") if s.strip()]

    @property
    def tlp_is_red(self) -> bool:
        """True when the bundle itself is TLP:RED (nothing is withheld)."""
        return self.tlp == "TLP:RED"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the manifest's ``case``)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["proceeding_date"] = self.proceeding_date.isoformat() if self.proceeding_date else None
        d["device"] = dict(sorted(self.device.items()))
        return d

    def merged(self, **overrides: Any) -> CaseDetails:
        """A copy with the non-empty ``overrides`` applied (options over the case file)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k, v in overrides.items():
            if v not in (None, "", [], ()):
                d[k] = v
        return CaseDetails(**d)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY`` (as Indian forms write it)."""
    t = text.strip()
    try:
        if "/" in t:
            d, m, y = t.split("/")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(t)
    except ValueError as exc:
        raise BundleError(f"proceeding date {text!r} is not YYYY-MM-DD or DD/MM/YYYY") from exc


def load_case_file(path: Path) -> CaseDetails:
    """Case details from a YAML / JSON / TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        elif p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise BundleError(f"cannot read case file {p}: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"case file {p} must hold a mapping of case details")
    known = {f.name for f in fields(CaseDetails)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BundleError(
            f"case file {p}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if isinstance(data.get("proceeding_date"), date):
        data["proceeding_date"] = data["proceeding_date"].isoformat()
    if data.get("device") is not None:
        data["device"] = {str(k): str(v) for k, v in dict(data["device"]).items()}
    return CaseDetails(**data)
