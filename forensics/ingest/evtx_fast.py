"""EVTX rows without a Python dict per record.

The worker collects the ``records_json()`` items of many EVTX files, and the C flattener
(``_evtxflat``, built with the package) turns them into Arrow columns per channel in one call.
Core columns are then derived a column at a time (``windows_common.core_columns``). A record
the flattener is not sure of comes back by position and takes the per-row path
(``evtx.record_to_row``), so the rows are the same either way; ``tests/ingest/test_evtx_fast.py``
compares the two over every EVTX file of the test corpus.

Without the compiled module (a machine with no C compiler at install time) ``available()`` is
False and the worker parses EVTX row by row, as every other format.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.evtx import EvtxParser, open_file, record_to_row, reject_of, tally_of
from forensics.ingest.evtx_chunks import RecordError
from forensics.ingest.spill import map_from_sparse
from forensics.ingest.windows_common import category_column, core_columns
from forensics.schema import CORE, CORE_NAMES, SPILL, UTC_TS, max_native_columns

try:
    from forensics.ingest import _evtxflat
except ImportError:  # built without a C compiler
    _evtxflat = None  # type: ignore[assignment]

KIND_TYPES: dict[int, pa.DataType] = {0: pa.string(), 1: pa.int64(), 2: pa.int32(), 3: UTC_TS}
FROM_FLATTENER = frozenset(
    {"provider", "event_id", "record_id", "channel", "host", "ts_raw", "ts", "message"}
)


def available() -> bool:
    """True when the compiled flattener is there (and not switched off for a comparison run)."""
    return _evtxflat is not None and not os.environ.get("FORENSICS_NO_FAST_EVTX")


class Sink(Protocol):
    """Where a flushed batch goes (the worker's part buffer and rejects)."""

    def write(self, table: pa.Table, source: str, channel: str | None) -> None: ...

    def add_row(self, row: Row, src: InputFile, ctx: ParseContext, index: int, res: Any) -> None: ...

    def reject(self, sha: str, index: int, rej: Reject) -> None: ...


@dataclass
class _File:
    src: InputFile
    ctx: ParseContext
    res: Any  # the worker's InputResult, completed at flush
    default_host: str | None  # for records that name no host
    override: str | None  # --host that replaces every record's own


class EvtxBatch:
    """Records of many EVTX files, waiting to be flattened together."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.files: list[_File] = []
        self.recs: list[dict[str, Any]] = []
        self.rec_index = array("q")
        self.file_no = array("q")
        self.carved = array("b")  # 1 for a record carved from a damaged chunk

    def discard(self) -> None:
        """Forget the batch (after a failed flush)."""
        self._reset()

    def __len__(self) -> int:
        return len(self.recs)

    def add(self, src: InputFile, ctx: ParseContext, res: Any, sink: Sink) -> None:
        """Read every record of one file, chunk by chunk; unreadable ones are rejected at once."""
        f = open_file(src)
        override = ctx.host if ctx.host and ctx.options.get("host_override") else None
        self.files.append(_File(src, ctx, res, ctx.host or src.host_hint, override))
        file_no = array("q", [len(self.files) - 1])
        index = 0
        for piece in f.pieces():
            items = piece.items
            if not piece.errors:  # the common case: the whole chunk at once
                self.recs.extend(items)  # type: ignore[arg-type]
                self.rec_index.extend(range(index, index + len(items)))
                self.carved.frombytes((b"\x01" if piece.carved else b"\x00") * len(items))
                index += len(items)
                res.rows += len(items)
                continue
            for item in items:
                if isinstance(item, RecordError):
                    sink.reject(src.sha256, index, reject_of(item))
                    res.rejects += 1
                else:
                    self.recs.append(item)
                    self.rec_index.append(index)
                    self.carved.append(piece.carved)
                    res.rows += 1
                index += 1
        self.file_no.extend(file_no * (len(self.recs) - len(self.file_no)))
        res.tally(tally_of(f.acc))

    def flush(self, sink: Sink) -> None:
        """Flatten the batch into per-channel tables for ``sink``; hand back what the C path declined."""
        if not self.recs:
            self._reset()
            return
        assert _evtxflat is not None
        try:
            groups, fallback = _evtxflat.flatten(self.recs, CORE_NAMES, max_native_columns())
        except (MemoryError, UnicodeError, ValueError, TypeError):
            # the row path gives the same rows (tests/ingest/test_evtx_fast.py): slower, not less
            groups, fallback = [], list(range(len(self.recs)))
        n = len(self.recs)
        rec_index = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(self.rec_index)])
        file_no = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(self.file_no)])
        carved = None
        if self.carved.count(1):  # true where carved, null elsewhere (as the row path leaves it unset)
            flags = pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(self.carved)])
            carved = pc.if_else(pc.equal(flags, 1), True, pa.scalar(None, pa.bool_()))
        for channel, positions, spec, spilled in sorted(groups, key=lambda g: g[0] or ""):  # as the row path
            table, hosts = self._table(channel, positions, spec, rec_index, file_no, carved)
            if spilled:
                table = table.set_column(
                    table.schema.get_field_index(SPILL), SPILL, map_from_sparse(table.num_rows, spilled)
                )
            for fi, host in hosts:
                self.files[fi].res.hosts.add(host)
            sink.write(table, EvtxParser.name, channel)
        for pos in fallback:
            f = self.files[self.file_no[pos]]
            item = record_to_row(self.recs[pos])
            if isinstance(item, Reject):
                sink.reject(f.src.sha256, self.rec_index[pos], item)
                f.res.rows -= 1
                f.res.rejects += 1
            else:
                if self.carved[pos]:
                    item["carved"] = True
                sink.add_row(item, f.src, f.ctx, self.rec_index[pos], f.res)
        for f in self.files:
            if f.res.rejects and f.res.status == "ok":
                f.res.status = "rejects"
        self._reset()

    def _table(
        self, channel: str | None, positions: bytes, spec: list[Any], rec_index: pa.Array, file_no: pa.Array,
        carved: pa.Array | None,
    ) -> tuple[pa.Table, list[tuple[int, str]]]:  # fmt: skip
        n = len(positions) // 8
        pos = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(positions)])
        cols = {name: _array(kind, n, valid, b1, b2) for name, kind, valid, b1, b2 in spec}
        core: dict[str, pa.Array] = {k: cols.pop(k) for k in CORE_NAMES if k in cols}  # the System ones
        files = pc.take(file_no, pos)
        core["host"] = self._hosts(core.get("host"), files)
        core["source"] = pa.repeat(EvtxParser.name, n)
        core["ts_zone"] = pa.repeat("UTC", n)  # SystemTime is UTC by definition
        core["ts_assumed"] = pa.repeat(False, n)
        core["ts_year_inferred"] = pa.repeat(False, n)
        core["input_sha256"] = pc.take(pa.array([f.src.sha256 for f in self.files], pa.string()), files)
        core["input_path"] = pc.take(pa.array([f.src.path for f in self.files], pa.string()), files)
        core["input_member"] = pc.take(pa.array([f.src.member for f in self.files], pa.string()), files)
        core["rec_index"] = pc.take(rec_index, pos)
        if carved is not None:
            core["carved"] = pc.take(carved, pos)
        category = category_column(channel, core.get("event_id"), cols)
        if category is not None:
            core["category"] = category
        core.update(core_columns(cols, n))
        arrays = [core[c.name] if c.name in core else pa.nulls(n, c.type) for c in CORE]
        names = [*CORE_NAMES, *sorted(cols)]
        table = pa.Table.from_arrays([*arrays, *(cols[k] for k in names[len(CORE) :])], names=names)
        return table, _file_hosts(files, core["host"])

    def _hosts(self, host: pa.Array | None, files: pa.Array) -> pa.Array:
        """The record's own host; the file's default where it names none; --host over all with override."""
        defaults = pc.take(pa.array([f.default_host for f in self.files], pa.string()), files)
        if host is None:
            host = defaults
        else:
            blank = pc.fill_null(pc.equal(host, ""), True)
            host = pc.if_else(blank, defaults, host)
        overrides = [f.override for f in self.files]
        if any(overrides):
            forced = pc.take(pa.array(overrides, pa.string()), files)
            host = pc.coalesce(forced, host)
        return host


def _file_hosts(files: pa.Array, host: pa.Array) -> list[tuple[int, str]]:
    """The distinct (file number, host) pairs of the rows that name a host.

    One integer key per pair (file number × distinct hosts + the host's code) made unique by a
    kernel in this thread: a ``group_by`` goes through Acero's plan and thread pool, per table.
    """
    named = pc.fill_null(pc.not_equal(host, ""), False)
    coded = host.filter(named).dictionary_encode()
    width = len(coded.dictionary)
    if not width:
        return []
    keys = pc.unique(pc.add(pc.multiply(files.filter(named), width), coded.indices.cast(pa.int64())))
    names = coded.dictionary.to_pylist()
    return [(k // width, names[k % width]) for k in keys.to_pylist()]


def _array(kind: int, n: int, valid: bytes, b1: bytes, b2: bytes) -> pa.Array:
    validity = pa.py_buffer(valid)
    if kind == 0:
        return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(b1), pa.py_buffer(b2)])
    return pa.Array.from_buffers(KIND_TYPES[kind], n, [validity, pa.py_buffer(b1)])
