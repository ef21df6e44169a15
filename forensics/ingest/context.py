"""The context each input was parsed with, recorded per input so a replay can repeat it.

A parser reads some facts from outside the record: the zone of zone-less timestamps, the year
of yearless ones, the host of records that name none. They come from the user (``--tz``,
``--year``, ``--host``), from the collection the file arrived in (its ``etc/timezone``,
``etc/hostname``, the archive's name or client info), from the rest of the case (the
collection year) or from the file itself (its modification time, which yearless formats fall
back on). Each ingested input's ``inputs.context`` holds one ``InputContext`` as JSON, saying
what was used and where it came from; the bundle's manifest carries it per source and
``verify --reproduce`` parses each original again with exactly its recorded context.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from forensics.ingest.base import InputFile, ParseContext
from forensics.timeutil import iso_utc, parse_iso_utc

# "image": stated by the disk image the input was read from (its SYSTEM hive, etc/hostname,
# etc/timezone; the images table says which file and key); "image's logs": the latest year the
# image's other logs state (forensics.batch.driver)
TzFrom = Literal["--tz", "etc/timezone", "default UTC", "recorded", "image", "manifest"]
YearFrom = Literal["--year", "collection year", "none", "recorded", "image's logs"]
HostFrom = Literal["--host", "collection", "etc/hostname", "none", "recorded", "image", "manifest"]


@dataclass(frozen=True)
class InputContext:
    """What one input was parsed with, and where each value came from."""

    tz: str | None  # zone given to the parser for zone-less timestamps (None: UTC)
    tz_from: TzFrom
    year: int | None  # collection year given to the parser for yearless timestamps
    year_from: YearFrom
    host: str | None  # host for records that name none
    host_from: HostFrom
    mtime: datetime | None  # the input's modification time (yearless formats fall back on it)
    # tz_from "etc/timezone": which zone file (relative to the folder named, or the member name in
    # the archive); left out of the JSON when None, so contexts recorded before it read the same
    tz_file: str | None = None

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, times as ISO-8601 UTC)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["mtime"] = iso_utc(self.mtime) if self.mtime is not None else None
        if d["tz_file"] is None:
            del d["tz_file"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputContext:
        """Read a recorded context back; ``ValueError`` when it is not one."""
        if not isinstance(d, dict):
            raise ValueError("recorded input context is not a JSON object")
        year = d.get("year")
        if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
            raise ValueError(f"recorded year {year!r} is not a year")
        mtime = d.get("mtime")
        when = parse_iso_utc(mtime) if isinstance(mtime, str) else None
        if mtime is not None and when is None:
            raise ValueError(f"recorded mtime {mtime!r} is not an ISO-8601 time")
        out = cls(
            tz=_opt_str(d.get("tz")), tz_from=_label(d.get("tz_from"), TzFrom),
            year=year, year_from=_label(d.get("year_from"), YearFrom),
            host=_opt_str(d.get("host")), host_from=_label(d.get("host_from"), HostFrom), mtime=when,
            tz_file=_opt_str(d.get("tz_file")),
        )  # fmt: skip
        return out

    @classmethod
    def from_json(cls, text: str) -> InputContext:
        """``from_dict`` of a JSON string."""
        return cls.from_dict(json.loads(text))

    def parse_context(self, ctx: ParseContext) -> ParseContext:
        """The run's context with this input's recorded zone, year and host in place."""
        return dataclasses.replace(ctx, tz=self.tz, reference_year=self.year, host=self.host)

    def hints(self, src: InputFile) -> InputFile:
        """The input with its recorded hints and modification time (what a replay parses)."""
        return dataclasses.replace(src, tz_hint=self.tz, host_hint=self.host, mtime=self.mtime, decided=self)


def _opt_str(v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"recorded value {v!r} is not text")
    return v


def _label(v: Any, allowed: Any) -> Any:
    if v not in get_args(allowed):
        raise ValueError(f"recorded source {v!r} is not one of {', '.join(get_args(allowed))}")
    return v


def effective(src: InputFile, ctx: ParseContext) -> ParseContext:
    """The context a parser gets for ``src``: the recorded one in a replay, else the run's with
    the collection's zone when the user gave none (``--tz`` always wins)."""
    if src.decided is not None:
        return src.decided.parse_context(ctx)
    if src.tz_hint and not ctx.tz:
        return dataclasses.replace(ctx, tz=src.tz_hint)
    return ctx


def decide(
    src: InputFile, given: ParseContext, used: ParseContext, *, host_from_archive: bool
) -> InputContext:
    """What ``src`` was parsed with: ``given`` is the user's context, ``used`` the one its phase ran
    with (the yearless phase adds the collection year), ``host_from_archive`` whether the host
    hint came from the collection's archive (else from an ``etc/hostname`` in its tree)."""
    if src.decided is not None:
        return src.decided
    eff = effective(src, used)
    tz_from: TzFrom = "--tz" if given.tz else "etc/timezone" if src.tz_hint else "default UTC"
    year_from: YearFrom = (
        "--year" if given.reference_year else "collection year" if eff.reference_year else "none"
    )
    host = eff.host or src.host_hint
    host_from: HostFrom = (
        "--host" if eff.host else "none" if not src.host_hint else "collection" if host_from_archive
        else "etc/hostname"
    )  # fmt: skip
    tz_file = src.tz_source if tz_from == "etc/timezone" else None
    return InputContext(eff.tz, tz_from, eff.reference_year, year_from, host, host_from, src.mtime, tz_file)


__all__ = ["InputContext", "decide", "effective"]
