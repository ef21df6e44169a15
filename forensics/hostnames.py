"""Host names, addresses and accounts as the case's sources spell them, normalised for matching.

Sources disagree on how they write one machine (``EHOSP-DB01.dims.local`` in EVTX,
``ehosp-db01.dims.local`` in a Defender export, ``ehosp-db01`` in syslog), an address
(``::ffff:10.0.0.5``) or an account (``CORP\\bob``, ``bob@corp``). The hunt merges findings of one
rule on one host under one name; integrity, the timeline and the story name each host once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from forensics.store import Case

_NO_IP = {"", "-", "::1", "127.0.0.1", "0.0.0.0", "localhost"}
_IP_LIKE = re.compile(r"[0-9.]+|[0-9a-f:]+")


def host_spellings(names: Iterable[str | None]) -> list[str]:
    """Distinct host names, case-insensitively, each as its first spelling in sorted order."""
    by_lower: dict[str, str] = {}
    for h in sorted(n for n in names if n is not None):
        by_lower.setdefault(h.lower(), h)
    return sorted(by_lower.values())


def short_host(name: str | None) -> str:
    """Host key for matching: lower case, domain suffix and ``\\\\`` prefix removed (IPs kept whole)."""
    if not name:
        return ""
    s = name.strip().strip("\\").lower()
    if _IP_LIKE.fullmatch(s):
        return s
    return s.split(".")[0]


def usable_ip(ip: str | None) -> bool:
    """False for empty, loopback and placeholder addresses."""
    if ip is None:
        return False
    s = ip.strip().lower()
    if s.startswith("::ffff:"):
        s = s[7:]
    return s not in _NO_IP and not s.startswith("127.")


def norm_ip(ip: str) -> str:
    """IPv4-mapped IPv6 addresses as plain IPv4."""
    s = ip.strip().lower()
    return s[7:] if s.startswith("::ffff:") else s


def norm_user(user: str | None) -> str:
    """Account key: lower case, without domain (``CORP\\bob`` and ``bob@corp`` → ``bob``)."""
    if not user:
        return ""
    s = user.strip().lower()
    s = s.rsplit("\\", 1)[-1]
    return s.split("@", 1)[0]


def case_hosts(case: Case) -> dict[str, str]:
    """short host key → the host's display name (see ``HostNames``)."""
    names = HostNames.from_case(case)
    out: dict[str, str] = {}
    for h, disp in names.spellings().items():
        out.setdefault(short_host(h), disp)
    return out


class HostNames:
    """One display name per host, whatever spelling a source used.

    Sources disagree on how they write a host: ``EHOSP-DB01.dims.local`` in EVTX,
    ``ehosp-db01.dims.local`` in a Defender export, ``lnx-es01`` in syslog. Spellings are one host
    when they match case-insensitively, and ``name`` joins ``name.domain`` when only one domain
    uses that short name (two ``web01``s in different domains stay apart). The display name is the
    spelling with capitals (how Windows writes its own name) and the most events, so the
    story and report list each machine once.
    """

    def __init__(self, counts: dict[str, int]) -> None:
        by_short: dict[str, set[str]] = defaultdict(set)
        for h in counts:
            by_short[short_host(h)].add(h.strip().lower())
        groups: dict[str, list[str]] = defaultdict(list)
        for h in sorted(counts):
            groups[self._group_key(h, by_short)].append(h)
        self._display: dict[str, str] = {}
        self._by_key: dict[str, str] = {}
        for key, names in sorted(groups.items()):
            best = sorted(names, key=lambda n: (n == n.lower(), -counts[n], n))[0]
            self._by_key[key] = best
            for n in names:
                self._display[n] = best
        self._by_short = by_short

    @staticmethod
    def _group_key(name: str, by_short: dict[str, set[str]]) -> str:
        low = name.strip().lower()
        if _IP_LIKE.fullmatch(low):
            return low
        fqdns = {n for n in by_short.get(short_host(low), set()) if "." in n}
        return short_host(low) if len(fqdns) <= 1 else low

    @classmethod
    def from_case(cls, case: Case) -> HostNames:
        """Host spellings of the case's events, weighted by their event counts."""
        return cls(host_counts(case.con))

    def display(self, name: str | None) -> str | None:
        """The host's display name; names the events never use come back as given."""
        if name is None:
            return None
        hit = self._display.get(name)
        if hit is not None:
            return hit
        key = self._group_key(name, self._by_short)
        return self._by_key.get(key, name)

    def same(self, a: str | None, b: str | None) -> bool:
        """True when two spellings name one host."""
        return a is not None and b is not None and self.display(a) == self.display(b)

    def spellings(self) -> dict[str, str]:
        """Every spelling in the case → its display name."""
        return dict(sorted(self._display.items()))


def host_counts(con: Any) -> dict[str, int]:
    """Events per host spelling of ``con``'s ``events`` (hosts named only), sorted by spelling;
    ``con`` is the case's connection or another engine's (Spark's)."""
    rows = con.execute(
        "SELECT host, count(*) FROM events WHERE host IS NOT NULL GROUP BY host ORDER BY host"
    ).fetchall()
    return {h: int(n) for h, n in rows}
