"""``forensics batch --engine spark``: the batch's work units parsed on Spark executors.

The driver plans and commits exactly as a local batch does (``forensics.batch.driver``, and the
ingest runner for collections): it lists nothing itself, decides which image owns which file,
groups files into the same ``ParseUnit``s, skips what the case already holds, and commits every
result in one transaction with its custody entry. Only *where a unit runs* changes: instead of a
local process pool, ``SparkExecutor`` (a ``concurrent.futures.Executor``) ships lists of calls —
``run_unit(ListUnit | HashUnit | ParseUnit)`` for images, ``run_task(Task)`` for collections — to
the executors as one Spark job per list, one task per call, and hands each result back as a
future. The executors run the project's own parsers (``forensics.ingest.worker``) and write the
Parquet parts into the case's staging folder beside its dataset (a shared path: the case on NFS,
or the local folder for ``local[N]``); the driver's commit renames them into ``events/`` and
records ``inputs``/``rejects`` in one DuckDB transaction, so a job that dies leaves nothing half
committed and a re-run resumes like a local batch.

A call that raises on an executor comes back as ``UnitFailed`` with the executor's trace (the
driver records it: the image fails with the reason, its unparsed files stay unrecorded so the
re-run parses them). A Spark job that fails as a whole (an executor lost past Spark's own task
retries, a Python worker killed) is split: each of its calls is run again alone, and one that
fails alone is a ``UnitFailed`` — never a result silently lost.

Executors need the ``forensics`` package (and its dependencies) on their Python path:
docs/spark.md says how (a packed environment with ``--archives``, ``addArtifacts`` on Spark
Connect).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from forensics.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from forensics.batch.driver import BatchProgress, BatchSummary, ProblemHook
    from forensics.batch.units import ImageSpec, ScanOptions
    from forensics.ingest.base import ParseContext
    from forensics.spark.session import SparkOptions

RESULT_SCHEMA = "idx long, ok boolean, result binary, error string, seconds double, host string"
_ARROW_RESULT = pa.schema(
    [
        ("idx", pa.int64()),
        ("ok", pa.bool_()),
        ("result", pa.binary()),
        ("error", pa.string()),
        ("seconds", pa.float64()),
        ("host", pa.string()),
    ]
)
DEFAULT_REMOTE_SLOTS = 8  # Spark Connect does not tell a client its executors' cores


class UnitFailed(EngineError):
    """A call that failed on an executor (its exception and trace), or a Spark job lost whole."""


@dataclass(frozen=True)
class _Call:
    """What an executor runs: ``fn(*args)`` with relative paths taken from the driver's folder."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cwd: str  # the driver's working folder: paths as the user typed them (recorded in rows) resolve there


@dataclass
class ExecutorStats:
    """Where the time went, for the bench and the summary (seconds unless said)."""

    jobs: int = 0
    calls: int = 0
    split_jobs: int = 0  # jobs that failed whole and were split into one call each
    failed_calls: int = 0
    call_seconds: float = 0.0  # summed over calls, measured on the executors
    job_seconds: float = 0.0  # summed over jobs, measured on the driver (submit to results back)
    payload_bytes: int = 0  # pickled calls sent
    result_bytes: int = 0  # pickled results received
    hosts: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        d = {k: v for k, v in self.__dict__.items() if k != "hosts"}
        return {**d, "hosts": sorted(self.hosts)}


def slots(spark: SparkSession) -> int:
    """Tasks the session runs at once: the default parallelism of a classic session; for Spark
    Connect ``spark.default.parallelism`` when the server sets it, else ``DEFAULT_REMOTE_SLOTS``."""
    ctx = None if is_connect(spark) else spark.sparkContext
    if ctx is not None:
        return max(1, int(ctx.defaultParallelism))
    try:
        value = spark.conf.get("spark.default.parallelism", None)
    except Exception:  # a server that refuses to say: the default below is only a queue depth
        value = None
    return max(1, int(value)) if value else DEFAULT_REMOTE_SLOTS


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (no SparkContext, no RDDs on the client)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


class SparkExecutor(Executor):
    """Runs submitted calls on a Spark session's executors, a list of them per Spark job.

    ``width``: calls per job (one task each; default: the session's slots). ``max_jobs``: jobs
    running at once, so the next list starts while the driver commits the last one's results.
    Calls are pickled (functions by reference: the executors import them from ``forensics``).
    """

    def __init__(self, spark: SparkSession, width: int | None = None, *, max_jobs: int = 2) -> None:
        self.spark = spark
        self.width = width or slots(spark)
        self.max_jobs = max(1, max_jobs)
        self.stats = ExecutorStats()
        self.tag = f"forensics-batch-{os.getpid()}-{id(self):x}"
        self._pending: list[tuple[Future[Any], bytes, bool]] = []  # (future, pickled call, alone)
        self._cv = threading.Condition()
        self._running = 0
        self._closed = False
        self._cwd = os.getcwd()
        self._thread = threading.Thread(target=self._dispatch, name="spark-batch", daemon=True)
        self._thread.start()

    # ---- Executor ------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args)`` for the executors; its future completes when its job is back."""
        if kwargs:
            raise TypeError("SparkExecutor.submit takes positional arguments only")
        fut: Future[Any] = Future()
        payload = pickle.dumps(_Call(fn, args, self._cwd), protocol=pickle.HIGHEST_PROTOCOL)
        with self._cv:
            if self._closed:
                raise RuntimeError("the Spark executor is shut down")
            self._pending.append((fut, payload, False))
            self._cv.notify_all()
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; with ``cancel_futures`` drop the queued ones and interrupt running jobs."""
        with self._cv:
            self._closed = True
            if cancel_futures:
                for fut, _, _ in self._pending:
                    fut.cancel()
                self._pending.clear()
            self._cv.notify_all()
        if cancel_futures:
            with contextlib.suppress(Exception):  # the session may already be gone
                self.spark.interruptTag(self.tag)
        if wait:
            self._thread.join()

    # ---- driver side ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while True:
            with self._cv:
                while not (self._pending and self._running < self.max_jobs):
                    if self._closed and not self._pending and not self._running:
                        return
                    self._cv.wait()
                batch = self._take()
                if not batch:  # all cancelled
                    continue
                self._running += 1
            threading.Thread(target=self._job, args=(batch,), name="spark-batch-job", daemon=True).start()

    def _take(self) -> list[tuple[Future[Any], bytes, bool]]:
        """The next list of calls: a call to be run alone (its job failed) goes alone."""
        live = [p for p in self._pending if not p[0].cancelled()]
        batch = live[:1] if live and live[0][2] else [p for p in live if not p[2]][: self.width]
        taken = {id(p) for p in batch}
        self._pending = [p for p in live if id(p) not in taken]
        return batch

    def _job(self, batch: list[tuple[Future[Any], bytes, bool]]) -> None:
        start = time.perf_counter()
        try:
            rows = self._run_job([payload for _, payload, _ in batch])
        except Exception as exc:  # the job failed whole: split it, or fail the call it ran alone
            self._job_failed(batch, exc)
        else:
            self._deliver(batch, rows)
        finally:
            with self._cv:
                self.stats.job_seconds += time.perf_counter() - start
                self._running -= 1
                self._cv.notify_all()

    def _run_job(self, payloads: list[bytes]) -> list[Any]:
        spark = self.spark
        # local rows are split into min(rows, default parallelism) partitions, in order (classic:
        # parallelize; Connect: the local relation's scan), so a list no longer than the slots runs
        # one call per task with no shuffle (a repartition would cost a sampling job per list)
        df = spark.createDataFrame(list(enumerate(payloads)), "idx long, payload binary")
        spark.addTag(self.tag)
        try:
            rows = df.mapInArrow(_execute, RESULT_SCHEMA).collect()
        finally:
            spark.removeTag(self.tag)
        with self._cv:
            self.stats.jobs += 1
            self.stats.payload_bytes += sum(len(p) for p in payloads)
        return rows

    def _deliver(self, batch: list[tuple[Future[Any], bytes, bool]], rows: list[Any]) -> None:
        got = {int(r["idx"]): r for r in rows}
        for i, (fut, _, _) in enumerate(batch):
            row = got.get(i)
            with self._cv:
                self.stats.calls += 1
            if row is None:  # cannot happen unless Spark drops a row: say so rather than wait forever
                _settle(fut, error=UnitFailed("the Spark job returned no result for this call"))
                continue
            with self._cv:
                self.stats.call_seconds += float(row["seconds"] or 0.0)
                if row["host"]:
                    self.stats.hosts.add(row["host"])
            if row["ok"]:
                data = bytes(row["result"])
                with self._cv:
                    self.stats.result_bytes += len(data)
                _settle(fut, pickle.loads(data))
            else:
                with self._cv:
                    self.stats.failed_calls += 1
                _settle(fut, error=UnitFailed(f"failed on executor {row['host']}: {row['error']}"))

    def _job_failed(self, batch: list[tuple[Future[Any], bytes, bool]], exc: Exception) -> None:
        with self._cv:
            if self._closed and not self._pending and all(f.cancelled() for f, _, _ in batch):
                return
            if len(batch) > 1:  # which call killed it is unknown: each one again, alone
                self.stats.split_jobs += 1
                self._pending[:0] = [(fut, payload, True) for fut, payload, _ in batch]
                self._cv.notify_all()
                return
            self.stats.failed_calls += 1
        _settle(batch[0][0], error=UnitFailed(f"the Spark job running it failed: {_one_line(exc)}"))


def _settle(fut: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Complete a future unless its caller cancelled it meanwhile."""
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


# ---- executor side -------------------------------------------------------------------------------


def _execute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Run each call of the partition; its result (or its exception and trace) is one row."""
    host = socket.gethostname()
    for batch in batches:
        idxs = batch.column("idx").to_pylist()
        payloads = batch.column("payload").to_pylist()
        for idx, payload in zip(idxs, payloads, strict=True):
            start = time.perf_counter()
            try:
                call = pickle.loads(payload)
                with _in_folder(call.cwd):
                    result = call.fn(*call.args)
                data = pickle.dumps(_lighter(result), protocol=pickle.HIGHEST_PROTOCOL)
                ok, error = True, None
            except Exception as exc:  # goes back to the driver as this call's failure, with its trace
                data, ok = None, False
                error = f"{exc!r} | " + traceback.format_exc(limit=6).replace("\n", " | ")
            yield pa.RecordBatch.from_pylist(
                [{"idx": idx, "ok": ok, "result": data, "error": error,
                  "seconds": time.perf_counter() - start, "host": host}],
                schema=_ARROW_RESULT,
            )  # fmt: skip


@contextlib.contextmanager
def _in_folder(path: str) -> Iterator[None]:
    """Run in the driver's folder when the executor sees it (local and shared-path clusters), so
    relative input and case paths mean what they meant to the user; otherwise where it is."""
    before = os.getcwd()
    moved = False
    if path != before and os.path.isdir(path):
        os.chdir(path)
        moved = True
    try:
        yield
    finally:
        if moved:
            os.chdir(before)


def _lighter(result: Any) -> Any:
    """A result without what the driver does not read: the 64 KiB sniffing head of each parsed
    input (a parse unit of 512 files would carry 32 MiB of them back)."""
    units = sys.modules.get("forensics.batch.units")  # not imported: no parse outcome (and no dissect import)
    if units is not None and isinstance(result, units.ParseOutcome):
        return replace(result, inputs=tuple(replace(src, head=b"") for src in result.inputs))
    return result


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


# ---- one batch on Spark --------------------------------------------------------------------------


@dataclass
class SparkBatch:
    """A batch run on Spark: the batch's own summary, and where Spark's time went."""

    summary: BatchSummary
    stats: ExecutorStats
    session_seconds: float  # starting (or joining) the session
    spark_version: str
    options: dict[str, Any]


def spark_batch(
    case_dir: Path,
    specs: list[ImageSpec],
    ctx: ParseContext | None = None,
    *,
    options: SparkOptions,
    scan: ScanOptions | None = None,
    width: int | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    on_problem: ProblemHook | None = None,
) -> SparkBatch:
    """``forensics batch --engine spark``: ``run_batch`` with its units run on a Spark session's
    executors (``width`` calls per job, default the session's slots); the session is stopped
    afterwards unless it was already running in this process."""
    from forensics.batch.driver import run_batch
    from forensics.spark.session import session, spark_version

    start = time.perf_counter()
    with session(options) as spark:
        started = time.perf_counter() - start
        executor = SparkExecutor(spark, width)
        try:
            summary = run_batch(
                case_dir, specs, ctx, scan=scan, workers=executor.width, progress=progress,
                on_problem=on_problem, executor=executor,
            )  # fmt: skip
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return SparkBatch(summary, executor.stats, started, spark_version(spark), options.describe())


def warm_up() -> None:
    """Import what the units import (dissect, the parsers), on an executor's Python worker: the
    bench runs it once per slot to time that apart from the units."""
    import forensics.batch.units
    import forensics.ingest.worker  # noqa: F401
