"""Parse a group of inputs into staged Parquet parts (runs in a worker process).

Memory is bounded by ``BATCH_ROWS``: rows are flushed to a Parquet part per (source, channel)
whenever the buffer fills, never held for a whole input.
"""

from __future__ import annotations

import contextlib
import hashlib
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.archives import MEMBER_ERRORS, open_member, split_member
from forensics.ingest import evtx_fast, utf16
from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row, Tally
from forensics.ingest.context import effective
from forensics.ingest.registry import BY_NAME
from forensics.ingest.spill import map_from_rows, spilled_names
from forensics.schema import CORE_NAMES, SPILL, FieldNamer, arrow_type, max_native_columns
from forensics.store import StagedPart

BATCH_ROWS = 50_000
ROW_GROUP = 64_000
BIG_PART_ROWS = 5_000
_CORE_SET = frozenset(CORE_NAMES)
REJECT_SCHEMA = pa.schema(
    [
        ("input_sha256", pa.string()),
        ("rec_index", pa.int64()),
        ("rec_offset", pa.int64()),
        ("rec_line", pa.int64()),
        ("record_id", pa.int64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("raw_b64", pa.string()),
    ]
)
MAX_RAW = 1 << 20  # a reject keeps at most 1 MiB of its raw record


@dataclass
class Task:
    """Inputs to parse together; they commit together."""

    batch: str
    inputs: list[tuple[InputFile, str]]  # (file, parser name)
    ctx: ParseContext
    staging: Path
    spellings: list[str] = field(default_factory=list)


@dataclass
class InputResult:
    """What became of one input."""

    sha256: str
    rows: int = 0
    rejects: int = 0
    status: str = "ok"
    error: str | None = None
    hosts: set[str] = field(default_factory=set)
    claimed: int | None = None  # records the file's headers claim (EVTX), else None
    carved: int | None = None
    shortfall: int | None = None
    undecoded: int = 0  # records whose bytes did not decode in the input's encoding (kept as raw_b64)

    def tally(self, t: Tally) -> None:
        """Take the file's own count of its records; a file not whole gets its status."""
        self.claimed, self.carved, self.shortfall = t.claimed, t.carved, t.shortfall
        if t.status is not None:
            self.status, self.error = t.status, t.note


@dataclass
class TaskResult:
    """A parsed group, staged and ready to commit."""

    batch: str
    parts: list[StagedPart]
    results: list[InputResult]
    rejects_file: Path | None


def rows_to_table(rows: list[Row], namer: FieldNamer) -> pa.Table:
    """Rows (dicts) into an Arrow table: core columns first, then natives sorted.

    Past ``MAX_NATIVE_COLUMNS`` natives, the least set go into ``extra_fields`` (``spill``).
    """
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    core = list(CORE_NAMES)  # all-null ones are dropped when the part is written
    first_seen = [k for k in keys if k not in _CORE_SET]
    spilled = spilled_names(rows, first_seen, max_native_columns())
    natives = sorted(k for k in first_seen if k not in spilled)
    schema = pa.schema([(k, arrow_type(k)) for k in (*core, *natives)])
    try:
        table = _columnar(rows, schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        table = pa.Table.from_pylist([_coerce(r, spilled) for r in rows], schema=schema)
    if spilled:
        table = table.set_column(table.schema.get_field_index(SPILL), SPILL, map_from_rows(rows, spilled))
    return _rename(table, namer)


def _columnar(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Build the columns in one pass over the cells, then one Arrow array per column.

    Rows are wide and sparse (each event type has its own fields), so filling preallocated
    column lists costs one dict lookup per present cell; ``Table.from_pylist`` pays a lookup
    per (row, column) of the whole schema.
    """
    n = len(rows)
    wanted = set(schema.names)
    cols: dict[str, list[Any]] = {}
    for i, r in enumerate(rows):
        for k, v in r.items():
            col = cols.get(k)
            if col is None:
                if k not in wanted:  # spilled into extra_fields
                    continue
                col = cols[k] = [None] * n
            col[i] = v
    return pa.Table.from_arrays(
        [pa.array(cols[f.name], type=f.type) if f.name in cols else pa.nulls(n, f.type) for f in schema],
        schema=schema,
    )


def _coerce(row: Row, spilled: set[str]) -> Row:
    """Slow path: natives to strings, core values that do not fit their type dropped."""
    out: Row = {}
    for k, v in row.items():
        if k in spilled or k == SPILL:
            continue
        if k in _CORE_SET:
            t = arrow_type(k)
            try:
                pa.array([v], type=t)
                out[k] = v
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                out[k] = None
        else:
            out[k] = None if v is None else str(v)
    return out


def _rename(table: pa.Table, namer: FieldNamer) -> pa.Table:
    """Apply the case-insensitive naming; fields that land on one column are coalesced."""
    names = table.column_names
    target = [n if n in _CORE_SET else namer.column(n) for n in names]
    if target == names:
        return table
    cols: dict[str, pa.ChunkedArray] = {}
    import pyarrow.compute as pc

    for name, col in zip(target, table.columns, strict=True):
        cols[name] = pc.coalesce(cols[name], col) if name in cols else col
    return pa.table(cols)


class _Buffer:
    """Rows waiting to be written, per (source, channel)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.rows: dict[tuple[str, str | None], list[Row]] = {}
        self.count = 0
        self.parts: list[StagedPart] = []
        self.namer = FieldNamer(task.spellings)

    def add(self, row: Row) -> None:
        channel = row.get("channel")
        if channel is not None and not isinstance(channel, str):  # a number in a hostile log
            channel = row["channel"] = str(channel)
        key = (str(row.get("source") or "unknown"), channel)
        self.rows.setdefault(key, []).append(row)
        self.count += 1
        if self.count >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        for (source, channel), rows in sorted(self.rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            self.write(rows_to_table(rows, self.namer), source, channel)
        self.rows.clear()
        self.count = 0

    def write(self, table: pa.Table, source: str, channel: str | None) -> None:
        """Stage one part (a table already named through ``namer``).

        Core columns with no value in the part are left out: each column costs the Parquet
        writer about as much as a thousand rows, and the case's ``events`` view supplies the
        missing core columns as typed NULLs.
        """
        empty = [
            i
            for i, f in enumerate(table.schema)
            if f.name in _CORE_SET and table.column(i).null_count == table.num_rows
        ]
        if empty and len(empty) < table.num_columns:
            table = table.drop_columns([table.schema.names[i] for i in empty])
        path = self.task.staging / f"{self.task.batch}-{len(self.parts):05d}.parquet"
        pq.write_table(table, path, row_group_size=ROW_GROUP, **_parquet_options(table.num_rows))
        self.parts.append(StagedPart(path, source, channel, table.num_rows))


def _parquet_options(rows: int) -> dict[str, Any]:
    """zstd with dictionaries for big parts (a third smaller); snappy, plain, for small ones.

    Each column chunk costs the zstd writer a fresh compression context (~25 µs) and a
    dictionary (~10 µs): in a part of a few hundred rows that outweighs the rows themselves.
    """
    if rows >= BIG_PART_ROWS:
        return {"compression": "zstd"}
    return {"compression": "snappy", "use_dictionary": False}


class _Sink:
    """Where the EVTX fast path hands its tables, leftover rows and rejects."""

    def __init__(self, buf: _Buffer, rejects: _Rejects) -> None:
        self.buf = buf
        self.rejects = rejects

    def write(self, table: pa.Table, source: str, channel: str | None) -> None:
        self.buf.write(_rename(table, self.buf.namer), source, channel)

    def add_row(self, row: Row, src: InputFile, ctx: ParseContext, index: int, res: InputResult) -> None:
        _finish_row(row, src, ctx, index, res)
        self.buf.add(row)

    def reject(self, sha: str, index: int, rej: Reject) -> None:
        self.rejects.add(sha, index, rej)


class _Rejects:
    """Rejects of a group, streamed to one staged Parquet file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buf: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None

    def add(self, sha: str, index: int, rej: Reject) -> None:
        raw = rej.raw if rej.raw is None or len(rej.raw) <= MAX_RAW else rej.raw[:MAX_RAW]
        self.buf.append(
            {
                "input_sha256": sha,
                "rec_index": index,
                "rec_offset": rej.rec_offset,
                "rec_line": rej.rec_line,
                "record_id": rej.record_id,
                "raw": raw,
                "reason": rej.reason,
                "raw_b64": rej.raw_b64,
            }
        )
        if len(self.buf) >= 10_000:
            self.flush()

    def flush(self) -> None:
        if not self.buf:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, REJECT_SCHEMA, compression="zstd")
        self.writer.write_table(pa.Table.from_pylist(self.buf, schema=REJECT_SCHEMA))
        self.buf.clear()

    def close(self) -> Path | None:
        self.flush()
        if self.writer is None:
            return None
        self.writer.close()
        return self.path


def warm_up() -> None:
    """Nothing: submitted once per worker so processes start while the main process hashes."""


def run_task(task: Task) -> TaskResult:
    """Parse every input of the task; stage parts and rejects."""
    task.staging.mkdir(parents=True, exist_ok=True)
    buf = _Buffer(task)
    rejects = _Rejects(task.staging / f"{task.batch}-rejects.parquet")
    sink = _Sink(buf, rejects)
    fast = evtx_fast.EvtxBatch() if evtx_fast.available() else None
    results = []
    for src, parser in task.inputs:
        if fast is not None and parser == "evtx":
            results.append(_read_evtx(src, task.ctx, fast, sink))
            if len(fast) >= BATCH_ROWS:
                _flush_evtx(fast, sink)
        else:
            results.append(_parse_one(src, parser, task.ctx, buf, rejects, task.staging))
    if fast is not None:
        _flush_evtx(fast, sink)
    buf.flush()
    return TaskResult(task.batch, buf.parts, results, rejects.close())


def _read_evtx(src: InputFile, ctx: ParseContext, fast: evtx_fast.EvtxBatch, sink: _Sink) -> InputResult:
    """One EVTX file into the fast path's batch; its counts are final once the batch is flushed."""
    res = InputResult(src.sha256)
    try:
        fast.add(src, effective(src, ctx), res, sink)
    except FileFailed as exc:
        res.status, res.error = "failed", str(exc)
    except Exception as exc:  # a bug must not stop the run: record it with its trace
        res.status, res.error = "failed", _crash("evtx", exc, res.rows + res.rejects)
    return res


def _flush_evtx(fast: evtx_fast.EvtxBatch, sink: _Sink) -> None:
    """Flush the EVTX batch; a bug there fails the batch's inputs (with its trace), not the run.

    Rows it already staged stay (nothing is thrown away); the inputs say they failed and why.
    """
    try:
        fast.flush(sink)
    except Exception as exc:
        for f in fast.files:
            f.res.status, f.res.error = "failed", _crash("evtx", exc, f.res.rows + f.res.rejects)
        fast.discard()


def _crash(parser: str, exc: Exception, records: int) -> str:
    """A parser crash for the manifest, with its trace on one line."""
    trace = traceback.format_exc(limit=3).replace("\n", " | ")
    return f"parser {parser} crashed after {records} records: {exc!r}; {trace}"


def _finish_row(item: Row, src: InputFile, ctx: ParseContext, index: int, res: InputResult) -> None:
    """Provenance and host on a parsed row."""
    item["input_sha256"] = src.sha256
    item["input_path"] = src.path
    item["input_member"] = src.member
    item["rec_index"] = index
    if not item.get("host"):
        item["host"] = ctx.host or src.host_hint
    elif ctx.host and ctx.options.get("host_override"):
        item["host"] = ctx.host
    if item.get("host"):
        res.hosts.add(item["host"])


@contextlib.contextmanager
def _materialised(src: InputFile) -> Iterator[InputFile]:
    """``src`` with its bytes at ``src.local``: an archive member let go after hashing is read
    again from its archive (and checked against the hash taken then), deleted after parsing."""
    if src.archive is None or src.member is None or src.local.exists():
        yield src
        return
    sha = hashlib.sha256()
    try:
        with open_member(Path(src.archive), split_member(src.member)) as stream, open(src.local, "wb") as out:
            while chunk := stream.read(1 << 20):
                sha.update(chunk)
                out.write(chunk)
        if sha.hexdigest() != src.sha256:
            raise FileFailed(
                f"the archive changed since it was hashed: the member now hashes to {sha.hexdigest()}"
            )
        yield src
    except MEMBER_ERRORS as exc:
        raise FileFailed(f"the member could not be read again from {src.archive}: {exc}") from exc
    finally:
        src.local.unlink(missing_ok=True)


def _parse_one(
    src: InputFile, parser_name: str, ctx: ParseContext, buf: _Buffer, rejects: _Rejects, staging: Path
) -> InputResult:
    try:
        with _materialised(src) as ready:
            return _parse_ready(ready, parser_name, ctx, buf, rejects, staging)
    except FileFailed as exc:
        return InputResult(src.sha256, status="failed", error=str(exc))


def _take(
    item: Row | Reject,
    index: int,
    src: InputFile,
    ctx: ParseContext,
    buf: _Buffer,
    rejects: _Rejects,
    res: InputResult,
) -> None:
    """Keep one parsed item (row or reject) as record ``index`` of ``src``."""
    if isinstance(item, Reject):
        rejects.add(src.sha256, index, item)
        res.rejects += 1
        res.undecoded += item.raw_b64 is not None
    else:
        _finish_row(item, src, ctx, index, res)
        buf.add(item)
        res.rows += 1
        res.undecoded += "raw_b64" in item


def _parse_ready(
    src: InputFile, parser_name: str, ctx: ParseContext, buf: _Buffer, rejects: _Rejects, staging: Path
) -> InputResult:
    res = InputResult(src.sha256)
    ctx = effective(src, ctx)  # the collection's zone (--tz still wins), or a replay's recorded context
    parser = BY_NAME[parser_name]
    index = 0
    try:
        # a UTF-16 input is parsed as its UTF-8 copy; its rows' positions are moved back onto it
        with utf16.as_utf8(src, staging) as (view, positions):
            for item in parser.parse(view, ctx):
                if isinstance(item, Tally):
                    res.tally(item)
                    continue
                if positions is not None:
                    item = positions.fix(item)
                _take(item, index, src, ctx, buf, rejects, res)
                index += 1
    except FileFailed as exc:
        res.status, res.error = "failed", str(exc)
        return res
    except Exception as exc:  # a parser bug must not stop the run: record it with its trace
        res.status, res.error = "failed", _crash(parser_name, exc, index)
        return res
    if res.undecoded and res.status == "ok":
        res.status = "undecoded"
        res.error = (
            f"{res.undecoded} record(s) not valid {src.encoding or 'utf-8'}: their text has U+FFFD, "
            "their bytes are kept in raw_b64"
        )
    if res.rejects and res.status in ("ok", "undecoded"):
        res.status = "rejects"
    return res
