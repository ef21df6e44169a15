"""Match the IOC table against the case's events with joins, never one query per indicator.

Each event column that can hold an observable is projected into one long table of
``(row key, kind, value, field)`` — IP addresses, DNS names (with their parent domains, so an
indicator ``evil.example`` matches ``a.b.evil.example``), URLs (canonicalised once per distinct
value), hashes, file names and paths, and the addresses, URLs, domains, file names and hashes
found inside command lines and script blocks — and joined to the indicators on ``(kind, value)``.
One finding per (indicator, host) lists every matching row and keeps the indicator's TLP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from forensics.hostnames import host_spellings
from forensics.hunt.findings import Finding, Level, RecordRef
from forensics.hunt.iocs import TLP_ORDER, canonical_url
from forensics.store import Case

IP_COLUMNS = ("src_ip", "dst_ip", "IpAddress", "SourceIp", "DestinationIp", "SourceAddress", "DestAddress",
              "ClientAddress", "ClientIP", "RemoteIP", "RemoteIp", "LocalIP", "Param3")  # fmt: skip
DOMAIN_COLUMNS = ("QueryName", "DestinationHostname", "SourceHostname", "RemoteUrl_host", "HostName_remote")
URL_COLUMNS = ("RemoteUrl", "Url", "URL", "url", "RequestUrl", "request_url", "TargetUrl")
HASH_COLUMNS = ("hash_md5", "hash_sha1", "hash_sha256", "MD5", "SHA1", "SHA256", "Imphash_sha256")
PATH_COLUMNS = ("file_path", "process_image", "parent_image", "TargetFilename", "ImageLoaded", "Image",
                "ParentImage", "ServiceFileName", "ImagePath", "SourceImage", "TargetImage")  # fmt: skip
NAME_COLUMNS = ("OriginalFileName",)
TEXT_COLUMNS = ("process_cmdline", "parent_cmdline", "ScriptBlockText", "CommandLine", "ParentCommandLine")
MESSAGE_COLUMN = "message"

# Regexes used inside DuckDB (RE2): tokens inside command lines and messages.
RE_IPV4 = r"(?:^|[^0-9.])((?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3})(?:$|[^0-9.])"
RE_URL = r"""((?i)(?:https?|ftp)://[^\s"'<>|)\]]+)"""
RE_DOMAIN = r"(?i)(?:^|[^a-z0-9_.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62})(?:$|[^a-z0-9_.-])"
RE_FILE = r"""(?i)(?:^|[\s"'\\/=])([^\s"'\\/|<>:*?=]{1,200}\.[a-z0-9]{2,5})(?:$|[\s"',;])"""
RE_HASH = r"(?i)(?:^|[^0-9a-f])([0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?:$|[^0-9a-f])"


@dataclass(frozen=True)
class _Cols:
    present: dict[str, str]  # lower → spelling

    def pick(self, names: Sequence[str]) -> list[str]:
        seen: set[str] = set()
        out: list[str] = []
        for n in names:
            real = self.present.get(n.lower())
            if real is not None and real.lower() not in seen:
                seen.add(real.lower())
                out.append(real)
        return out


SRC = "ioc_events"  # the case's events, only the columns matching reads, materialised once


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _key() -> str:
    return "input_sha256, rec_index, host, ts"


@dataclass
class _Field:
    """One event column matched against the IOCs: the value SELECTs over its distinct values."""

    column: str
    row_cond: str = "TRUE"  # extra condition on the event row (``s.`` prefixed)
    values: list[str] = field(default_factory=list)  # SELECT colval, kind, value
    urls: list[str] = field(default_factory=list)  # SELECT colval, raw


def _distinct(col: str, cond: str) -> str:
    return f"(SELECT DISTINCT {_q(col)} AS v FROM {SRC} WHERE {cond})"


def _plain_fields(cols: _Cols, fields: dict[str, _Field]) -> None:
    """IPs, DNS names, hashes, paths and file names held in their own columns."""

    def add(c: str, kind: str, expr: str, cond: str) -> None:
        fields.setdefault(c, _Field(c)).values.append(
            f"SELECT v AS colval, '{kind}' AS kind, {expr} AS value FROM {_distinct(c, cond)}"
        )

    for c in cols.pick(IP_COLUMNS):
        add(
            c,
            "ip",
            "lower(regexp_replace(trim(v), '^::ffff:', ''))",
            f"{_q(c)} IS NOT NULL AND {_q(c)} NOT IN ('', '-')",
        )
    for c in cols.pick(DOMAIN_COLUMNS):
        add(c, "domain", "rtrim(lower(trim(v)), '.')", f"{_q(c)} IS NOT NULL AND {_q(c)} <> ''")
    for c in cols.pick(HASH_COLUMNS):
        add(c, "hash", "lower(trim(v))", f"{_q(c)} IS NOT NULL AND {_q(c)} <> ''")
    for c in cols.pick(PATH_COLUMNS):
        cond = f"{_q(c)} IS NOT NULL AND {_q(c)} <> ''"
        add(c, "filepath", "CASE WHEN v LIKE '/%' THEN v ELSE lower(v) END", cond)
        add(c, "filename", "lower(regexp_extract(v, '([^\\\\/]+)$', 1))", cond)
    for c in cols.pick(NAME_COLUMNS):
        add(c, "filename", "lower(trim(v))", f"{_q(c)} IS NOT NULL AND {_q(c)} <> ''")
    for c in cols.pick(URL_COLUMNS):
        fields.setdefault(c, _Field(c)).urls.append(
            f"SELECT v AS colval, v AS raw FROM {_distinct(c, f'{_q(c)} IS NOT NULL')}"
        )


def _text_fields(cols: _Cols, fields: dict[str, _Field]) -> None:
    """Tokens (ip, domain, filename, hash) and URLs inside command lines, script blocks and messages.

    The regexes run once per distinct text: command lines and log lines repeat a lot.
    """
    sources: list[tuple[str, list[str]]] = [(c, []) for c in cols.pick(TEXT_COLUMNS)]
    if MESSAGE_COLUMN in cols.present:
        # log lines (sshd, syslog, EDR messages): only where no parsed address column says it
        sources.append((MESSAGE_COLUMN, [f"{_q(c)} IS NULL" for c in cols.pick(("src_ip", "dst_ip"))]))
    for col, extra in sources:
        cond = " AND ".join([f"{_q(col)} IS NOT NULL", *extra])
        f = fields.setdefault(col, _Field(col))
        f.row_cond = " AND ".join(f"s.{c}" for c in extra) or "TRUE"
        texts = _distinct(col, cond)
        for kind, rx in (("ip", RE_IPV4), ("domain", RE_DOMAIN), ("filename", RE_FILE), ("hash", RE_HASH)):
            if col == MESSAGE_COLUMN and kind not in ("ip", "domain", "hash"):
                continue
            f.values.append(
                f"SELECT v AS colval, '{kind}' AS kind, lower(unnest(regexp_extract_all(v, '{_sql(rx)}', 1))) "
                f"AS value FROM {texts}"
            )
        f.urls.append(
            f"SELECT v AS colval, unnest(regexp_extract_all(v, '{_sql(RE_URL)}', 1)) AS raw FROM {texts} "
            "WHERE regexp_matches(v, '(?i)(https?|ftp)://')"
        )


_IPNUM = (
    "(CAST(split_part({v}, '.', 1) AS BIGINT) * 16777216 + CAST(split_part({v}, '.', 2) AS BIGINT) * 65536"
    " + CAST(split_part({v}, '.', 3) AS BIGINT) * 256 + CAST(split_part({v}, '.', 4) AS BIGINT))"
)


def _sql(s: str) -> str:
    return s.replace("'", "''")


def _ioc_keys(con: Any, table: pa.Table) -> None:
    """One row per (kind, value) with the strictest TLP, highest confidence and all sources."""
    con.register("ioc_all_arrow", table)
    tlp_case = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(TLP_ORDER))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ioc_keys AS
        SELECT CASE WHEN type IN ('ipv4', 'ipv6') THEN 'ip' WHEN type IN ('md5', 'sha1', 'sha256') THEN 'hash'
                    ELSE type END AS kind,
               value, min(type) AS type, max(confidence) AS confidence,
               max(CASE tlp {tlp_case} END) AS tlp_rank,
               list_sort(list_distinct(list(source))) AS sources,
               list_sort(list_distinct(flatten(list(tags)))) AS tags
        FROM ioc_all_arrow
        GROUP BY 1, 2
        """
    )
    con.unregister("ioc_all_arrow")


def _url_map(con: Any, url_selects: list[str]) -> None:
    """Canonicalise every distinct raw URL of the case once (Python's URL parser, not SQL)."""
    raws: list[str] = []
    if url_selects:
        q = " UNION ALL ".join(f"SELECT raw FROM ({s})" for s in url_selects)
        raws = [r[0] for r in con.execute(f"SELECT DISTINCT raw FROM ({q}) WHERE raw IS NOT NULL").fetchall()]
    canon = [canonical_url(r.rstrip(".,;")) for r in raws]
    hosts = [
        (c.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].split("@")[-1] if c else None) for c in canon
    ]
    con.register(
        "url_map_arrow",
        pa.table(
            {"raw": raws, "canon": canon, "host": hosts},
            schema=pa.schema([("raw", pa.string()), ("canon", pa.string()), ("host", pa.string())]),
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE url_map AS SELECT * FROM url_map_arrow")
    con.unregister("url_map_arrow")


def ioc_columns(present: dict[str, str]) -> list[str]:
    """The event columns IOC matching reads, given the case's columns (lower → spelling)."""
    return _Cols(present).pick(
        (*IP_COLUMNS, *DOMAIN_COLUMNS, *URL_COLUMNS, *HASH_COLUMNS, *PATH_COLUMNS, *NAME_COLUMNS, *TEXT_COLUMNS,
         MESSAGE_COLUMN)
    )  # fmt: skip


def match_iocs(case: Case, table: pa.Table, con: Any = None) -> list[Finding]:
    """Findings for every indicator of ``table`` (``iocs.IOC_SCHEMA``) seen in the case's events.

    ``con`` runs the statements instead of the case's DuckDB connection (the Spark engine's
    ``forensics.spark.connection.SparkConnection``).
    """
    con = case.con if con is None else con
    if table.num_rows == 0:
        return []
    present = {r[0].lower(): r[0] for r in con.execute("DESCRIBE events").fetchall()}
    cols = _Cols(present)
    _ioc_keys(con, table)
    wanted = ioc_columns(present)
    # One scan of the (possibly many-file) events view; every projection below reads this table.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SRC} AS SELECT input_sha256, rec_index, host, ts"
        + "".join(f", {_q(c)}" for c in wanted)
        + " FROM events"
    )
    fields: dict[str, _Field] = {}
    _plain_fields(cols, fields)
    _text_fields(cols, fields)
    _url_map(con, [u for f in fields.values() for u in f.urls])
    values = []
    for f in fields.values():
        lit = _sql(f.column)
        values += [f"SELECT '{lit}' AS field, colval, kind, value FROM ({v})" for v in f.values]
        values += [
            f"SELECT '{lit}' AS field, u.colval, 'url' AS kind, m.canon AS value FROM ({v}) u "
            f"JOIN url_map m ON u.raw = m.raw WHERE m.canon IS NOT NULL"
            for v in f.urls
        ]
        values += [
            f"SELECT '{lit}' AS field, u.colval, 'domain' AS kind, m.host AS value FROM ({v}) u "
            f"JOIN url_map m ON u.raw = m.raw WHERE m.host IS NOT NULL"
            for v in f.urls
        ]
    if not values:
        return []
    # Distinct values are matched first; only values that hit are joined back to the event rows.
    # Three small steps rather than one big statement: the optimizer's cost on one statement of
    # dozens of unions outweighed the work on small cases.
    con.execute(f"CREATE OR REPLACE TEMP TABLE ioc_vals AS {' UNION ALL '.join(values)}")
    # DNS names also match their parent domains: a.b.evil.example matches evil.example.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ioc_hits AS
        WITH expanded AS (
            SELECT field, colval, kind, value, value AS seen FROM ioc_vals
            UNION ALL
            SELECT field, colval, kind, regexp_extract(value, '^[^.]+\\.(.+\\..+)$', 1), value
            FROM ioc_vals WHERE kind = 'domain'
            UNION ALL
            SELECT field, colval, kind, regexp_extract(value, '^[^.]+\\.[^.]+\\.(.+\\..+)$', 1), value
            FROM ioc_vals WHERE kind = 'domain'
            UNION ALL
            SELECT field, colval, kind, regexp_extract(value, '^[^.]+\\.[^.]+\\.[^.]+\\.(.+\\..+)$', 1), value
            FROM ioc_vals WHERE kind = 'domain'
        )
        SELECT DISTINCT k.type, k.value AS ioc_value, k.confidence, k.tlp_rank, k.sources, k.tags,
               e.field, e.colval, e.seen, 0 AS part
        FROM expanded e JOIN ioc_keys k ON e.kind = k.kind AND e.value = k.value
        WHERE e.value IS NOT NULL AND e.value <> ''
        UNION ALL
        -- IPv4 ranges: a range join on the address as a number
        SELECT DISTINCT k.type, k.value, k.confidence, k.tlp_rank, k.sources, k.tags,
               e.field, e.colval, e.value, 1 AS part
        FROM (SELECT *, {_IPNUM.format(v="value")} AS ipnum FROM ioc_vals
              WHERE kind = 'ip' AND regexp_matches(value, '^[0-9]{{1,3}}(\\.[0-9]{{1,3}}){{3}}$')) e
        JOIN (SELECT *, {_IPNUM.format(v="split_part(value, '/', 1)")} AS lo,
                     {_IPNUM.format(v="split_part(value, '/', 1)")}
                     + CAST(pow(2, 32 - CAST(split_part(value, '/', 2) AS INTEGER)) AS BIGINT) - 1 AS hi
              FROM ioc_keys WHERE kind = 'cidr') k
          ON e.ipnum BETWEEN k.lo AND k.hi
        """
    )
    hit_fields = {r[0] for r in con.execute("SELECT DISTINCT field FROM ioc_hits").fetchall()}
    back = " UNION ALL ".join(
        f"SELECT h.*, s.input_sha256, s.rec_index, s.host, s.ts FROM ioc_hits h JOIN {SRC} s "
        f"ON h.field = '{_sql(f.column)}' AND s.{_q(f.column)} = h.colval WHERE {f.row_cond}"
        for f in fields.values()
        if f.column in hit_fields
    )
    sql = (
        "SELECT DISTINCT type, ioc_value, confidence, tlp_rank, sources, tags, "
        f"input_sha256, rec_index, host, ts, field, seen, part FROM ({back})"
        if back
        else "SELECT * FROM ioc_hits WHERE false"
    )
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS ioc_keys")
        con.execute("DROP TABLE IF EXISTS ioc_vals")
        con.execute("DROP TABLE IF EXISTS ioc_hits")
        con.execute("DROP TABLE IF EXISTS url_map")
        con.execute(f"DROP TABLE IF EXISTS {SRC}")
    return _group([r[:12] for r in rows])


def _level(ioc_type: str, confidence: int | None) -> Level:
    if confidence is not None and confidence < 30:
        return "low"
    if ioc_type in ("filename", "cidr") or (confidence is not None and confidence < 60):
        return "medium"
    return "high"


def _group(rows: list[tuple[Any, ...]]) -> list[Finding]:
    groups: dict[tuple[str, str, str | None], list[tuple[Any, ...]]] = {}
    for r in rows:  # one finding per indicator and host (host names compared case-insensitively)
        groups.setdefault((r[0], r[1], r[8].lower() if r[8] else None), []).append(r)
    findings: list[Finding] = []
    for (ioc_type, value, _), grp in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        first = grp[0]
        host = next(iter(host_spellings(r[8] for r in grp)), None)
        tlp = TLP_ORDER[first[3]] if first[3] is not None else None
        times = sorted(_utc(r[9]) for r in grp if r[9] is not None)
        fields = sorted({r[10] for r in grp})
        seen = sorted({str(r[11]) for r in grp})
        details = {
            "ioc_type": ioc_type,
            "value": value,
            "fields": fields,
            "seen": seen[:20],
            "sources": list(first[4] or []),
            "confidence": first[2],
            "tags": list(first[5] or []),
        }
        findings.append(
            Finding(
                kind="ioc",
                rule_id=f"ioc:{ioc_type}:{value}"[:300],
                title=f"IOC {ioc_type} {value}"[:300],
                level=_level(ioc_type, first[2]),
                host=host,
                first_ts=times[0] if times else None,
                last_ts=times[-1] if times else None,
                records=sorted({RecordRef(str(r[6]), int(r[7])) for r in grp}),
                attack=[],
                summary=f"{ioc_type} {value} in {', '.join(fields)} ({len({(r[6], r[7]) for r in grp})} rows)",
                rule_path=", ".join(first[4] or [])[:1000] or None,
                tlp=tlp,
                details=orjson.dumps(details, option=orjson.OPT_SORT_KEYS).decode(),
            )
        )
    return findings


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
