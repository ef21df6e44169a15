"""The case's Parquet dataset as Spark reads it: where it lies, and the same columns DuckDB sees.

Where: the case records the URI of its event dataset (``meta.dataset_uri``; by default its own
``events/`` folder as a ``file://`` URI). Part paths in the ``parts`` table are relative to the case
(``events/<source>/<channel>/<part>.parquet``), so the same catalogue names the parts wherever
the dataset was copied to — an NFS mount, ``hdfs://``, ``s3a://`` — as long as the cluster reads
that URI.

What: DuckDB reads the parts with ``read_parquet([...], union_by_name = true)``: columns matched by
name case-insensitively (the first file's spelling wins), in order of first appearance, types
unified (integers widened, anything mixed with text becomes text). Spark's own schema merging
differs (it keeps ``Url`` and ``URL`` apart, refuses mixed types), so the union schema is worked
out here from the parts' footers (read once, kept in ``.cache/spark/``) and each part is read
against it — Spark matches a file's ``URL`` to the requested ``Url`` when identifiers are
case-insensitive. Core columns a part lacks come back as typed NULLs, as in the ``events`` view.
Parquet ``TIMESTAMP(NANOS)`` (Spark has microseconds only) is read as its integer and floored to
microseconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from forensics.errors import EngineError
from forensics.schema import CORE, CORE_NAMES
from forensics.store import EVENTS_DIR, Case

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

META_KEY = "dataset_uri"
CACHE_FILE = Path(".cache") / "spark" / "part-schemas.json"

# type codes kept in the cache: (DuckDB name, Spark DDL name)
_TYPES: dict[str, tuple[str, str]] = {
    "string": ("VARCHAR", "STRING"),
    "bool": ("BOOLEAN", "BOOLEAN"),
    "int8": ("TINYINT", "TINYINT"),
    "int16": ("SMALLINT", "SMALLINT"),
    "int32": ("INTEGER", "INT"),
    "int64": ("BIGINT", "BIGINT"),
    "float": ("FLOAT", "FLOAT"),
    "double": ("DOUBLE", "DOUBLE"),
    "date": ("DATE", "DATE"),
    "ts_tz": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP"),
    "ts": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "ts_ns_tz": ("TIMESTAMPTZ_NS", "TIMESTAMP"),
    "ts_ns": ("TIMESTAMP_NS", "TIMESTAMP_NTZ"),
    "map_ss": ("MAP(VARCHAR, VARCHAR)", "MAP<STRING, STRING>"),  # extra_fields: native fields past the cap
}
_INTS = ("int8", "int16", "int32", "int64")
_NS = ("ts_ns", "ts_ns_tz")


def dataset_uri(case: Case) -> str:
    """Where the case's event parts lie (the folder holding ``<source>/<channel>/*.parquet``)."""
    rows = case.con.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchall()
    if rows and rows[0][0]:
        return str(rows[0][0]).rstrip("/")
    return case.events_dir.resolve().as_uri()


def set_dataset_uri(case: Case, uri: str) -> None:
    """Record where a cluster reads the case's parts (a copy of ``events/`` at ``uri``)."""
    if case.read_only:
        raise EngineError("the case is open read-only: cannot record its dataset URI")
    case.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [META_KEY, uri.rstrip("/")])


def part_uri(base: str, rel: str) -> str:
    """URI of a part named ``events/…`` (relative to the case) under the dataset ``base``."""
    prefix = EVENTS_DIR + "/"
    inner = rel[len(prefix) :] if rel.startswith(prefix) else rel
    return f"{base.rstrip('/')}/{inner}"


def type_code(t: pa.DataType) -> str:
    """The cache's code for an Arrow type of a part's column."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    for code in _INTS:
        if t == getattr(pa, code)():
            return code
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_map(t):
        assert isinstance(t, pa.MapType)
        if _is_text(t.key_type) and _is_text(t.item_type):
            return "map_ss"
    if pa.types.is_timestamp(t):
        assert isinstance(t, pa.TimestampType)
        base = "ts_ns" if t.unit == "ns" else "ts"
        return base + ("_tz" if t.tz else "")
    return f"other:{t}"


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def unify(a: str, b: str) -> str:
    """The type DuckDB's ``union_by_name`` gives a column of types ``a`` and ``b``."""
    if a == b:
        return a
    if a in _INTS and b in _INTS:
        return _INTS[max(_INTS.index(a), _INTS.index(b))]
    numeric = (*_INTS, "float", "double")
    if a in numeric and b in numeric:
        return "double"
    stamps = ("ts", "ts_tz", "ts_ns", "ts_ns_tz")
    if a in stamps and b in stamps:
        ns = a in _NS or b in _NS
        tz = a.endswith("_tz") and b.endswith("_tz")
        return ("ts_ns" if ns else "ts") + ("_tz" if tz else "")
    return "string"


@dataclass(frozen=True)
class Column:
    """One column of a union: its spelling and type code."""

    name: str
    code: str

    @property
    def duck(self) -> str:
        """The DuckDB type name (what ``DESCRIBE`` says)."""
        return _TYPES[self.code][0] if self.code in _TYPES else self.code

    @property
    def spark(self) -> str:
        """The Spark DDL type the column has once read (nanoseconds become microseconds)."""
        if self.code not in _TYPES:
            raise EngineError(f"column {self.name!r} has a Parquet type Spark is not given here: {self.code}")
        return _TYPES[self.code][1]


def union_columns(schemas: Iterable[Sequence[tuple[str, str]]]) -> list[Column]:
    """Union by name of part schemas in file order: first spelling, first appearance, unified types."""
    order: dict[str, Column] = {}
    for schema in schemas:
        for name, code in schema:
            key = name.lower()
            have = order.get(key)
            order[key] = Column(name, code) if have is None else Column(have.name, unify(have.code, code))
    return list(order.values())


class PartSchemas:
    """The columns of each part file, read from its footer once and kept in the case's cache."""

    def __init__(self, case: Case, base: str) -> None:
        self.case = case
        self.base = base
        self.path = case.root / CACHE_FILE
        self._known: dict[str, list[tuple[str, str]]] = {}
        self._dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("base") == base:
                self._known = {k: [tuple(c) for c in v] for k, v in data["parts"].items()}  # type: ignore[misc]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._known = {}

    def get(self, rels: Sequence[str]) -> list[list[tuple[str, str]]]:
        """Schemas of ``rels`` (paths relative to the case), in the same order."""
        missing = [r for r in rels if r not in self._known]
        if missing:
            for rel, schema in zip(
                missing, _read_footers([part_uri(self.base, r) for r in missing]), strict=True
            ):
                self._known[rel] = [(f.name, type_code(f.type)) for f in schema]
            self._dirty = True
        return [self._known[r] for r in rels]

    def save(self) -> None:
        """Keep what was read (not on a read-only case: the cache is then rebuilt next time)."""
        if not self._dirty or self.case.read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"base": self.base, "parts": self._known}, sort_keys=True), encoding="utf-8"
        )
        tmp.replace(self.path)
        self._dirty = False


def _read_footers(uris: Sequence[str]) -> list[pa.Schema]:
    """Arrow schemas of Parquet files at ``uris`` (any file system pyarrow reaches)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    out = []
    for uri in uris:
        try:
            fs, path = pafs.FileSystem.from_uri(uri)
            out.append(pq.read_schema(path, filesystem=fs))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise EngineError(f"cannot read the footer of part {uri}: {exc}") from exc
    return out


class Dataset:
    """The case's parts for one Spark session: the union schema and DataFrames over any set of parts."""

    def __init__(self, spark: SparkSession, case: Case) -> None:
        self.spark = spark
        self.case = case
        self.base = dataset_uri(case)
        self.schemas = PartSchemas(case, self.base)
        self.parts = case.part_files()  # sorted: the order DuckDB's glob reads them in

    def rel(self, path: str | Path) -> str:
        """A part's path relative to the case, from an absolute path or a relative one."""
        p = Path(path)
        if p.is_absolute():
            return p.resolve().relative_to(self.case.root.resolve()).as_posix()
        return p.as_posix()

    def columns(self, rels: Sequence[str]) -> list[Column]:
        """Union columns of the parts ``rels`` (in the given order)."""
        cols = union_columns(self.schemas.get(rels))
        self.schemas.save()
        return cols

    def frame(
        self, rels: Sequence[str], columns: Sequence[Column] | None = None, only: Iterable[str] | None = None
    ) -> DataFrame:
        """The parts' rows with the union's columns (read case-insensitively by name).

        ``only``: just these columns of the union (names, any case). A group's scan reads a few
        dozen of the hundreds of columns its parts hold; Spark would prune the rest at the scan
        anyway, but analysing and optimising a plan of hundreds of columns (and one read per type
        signature of them) costs seconds per query, and each chunk of rules is a query.
        """
        cols = list(columns) if columns is not None else self.columns(rels)
        if only is not None:
            keep = {n.lower() for n in only}
            cols = [c for c in cols if c.name.lower() in keep]
        schemas = self.schemas.get(rels)
        # parts whose present columns all have the union's type read together; others apart, then cast
        by_types: dict[tuple[tuple[str, str], ...], list[str]] = {}
        wanted = {c.name.lower(): c for c in cols}
        for rel, schema in zip(rels, schemas, strict=True):
            own = {n.lower(): code for n, code in schema}
            sig = tuple((c.name, own.get(c.name.lower(), c.code)) for c in wanted.values())
            by_types.setdefault(sig, []).append(part_uri(self.base, rel))
        frames = [self._read(sig, uris, cols) for sig, uris in by_types.items()]
        out = frames[0]
        for f in frames[1:]:
            out = out.unionByName(f)
        return out

    def _read(self, sig: tuple[tuple[str, str], ...], uris: list[str], cols: Sequence[Column]) -> DataFrame:
        from pyspark.sql import functions as F

        fields = []
        for name, code in sig:
            read_as = "BIGINT" if code in _NS else Column(name, code).spark
            fields.append(f"{_ddl_name(name)} {read_as}")
        df = self.spark.read.schema(", ".join(fields)).parquet(*uris)
        sel = []
        for (name, code), col in zip(sig, cols, strict=True):
            c = F.col(_ddl_name(name))
            if code in _NS:  # nanoseconds since the epoch -> microseconds, floored
                c = F.timestamp_micros(F.floor(c / F.lit(1000)))
                if col.code == "ts_ns":
                    c = c.cast("TIMESTAMP_NTZ")
            if code != col.code and not (code in _NS and col.code in _NS):
                c = c.cast(col.spark)
            sel.append(c.alias(col.name))
        return df.select(*sel)

    def events(self) -> DataFrame:
        """Every part, as the ``events`` view: core columns first (typed NULL where no part has
        them), then the others in union order."""
        from pyspark.sql import functions as F

        if not self.parts:
            return self.spark.createDataFrame([], _core_ddl())
        cols = self.columns(self.parts)
        df = self.frame(self.parts, cols)
        have = {c.name.lower(): c for c in cols}
        sel: list[Any] = []
        for c in CORE:
            col = have.get(c.name)
            want = _core_column(c.name, col)
            if col is None:
                sel.append(F.lit(None).cast(want.spark).alias(c.name))
            elif want.code != col.code:
                sel.append(F.col(_ddl_name(col.name)).cast(want.spark).alias(c.name))
            else:
                sel.append(F.col(_ddl_name(col.name)).alias(c.name))
        core = set(CORE_NAMES)
        sel += [F.col(_ddl_name(c.name)) for c in cols if c.name.lower() not in core]
        return df.select(*sel)

    def event_columns(self) -> list[tuple[str, str]]:
        """(name, DuckDB type) of the ``events`` view, in its order (what ``DESCRIBE events`` says)."""
        cols = self.columns(self.parts) if self.parts else []
        by = {c.name.lower(): c for c in cols}
        out = []
        for c in CORE:
            out.append((c.name, _core_column(c.name, by.get(c.name)).duck))
        core = set(CORE_NAMES)
        out += [(c.name, c.duck) for c in cols if c.name.lower() not in core]
        return out


def _ddl_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _core_column(name: str, part: Column | None) -> Column:
    """A core column as the view has it: the core type unified with the parts' (UNION ALL BY NAME)."""
    code = type_code(next(c.type for c in CORE if c.name == name))
    return Column(name, code if part is None else unify(part.code, code))


def _core_spark(name: str) -> str:
    return _core_column(name, None).spark


def _core_ddl() -> str:
    return ", ".join(f"{_ddl_name(c.name)} {_core_spark(c.name)}" for c in CORE)
