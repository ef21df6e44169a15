"""Spark sessions for the engine: Spark Connect (a thin client, no Java here) or a classic session.

``--spark-remote sc://HOST:PORT`` talks to a Spark Connect server (Spark 3.4+; 4.x tested): the
analyst's machine needs only the ``pyspark-client`` package. ``--spark-master URL`` starts a
classic session (``local[N]``, ``spark://…``, ``yarn``, ``k8s://…``), which needs Java and the full
``pyspark`` package where this runs (the driver). With neither, a classic ``local[*]`` session.

Whatever the session, the settings that decide answers are fixed here, not left to the cluster's
defaults: the session time zone is UTC (timestamps read and written as UTC instants, as DuckDB
does with ``SET TimeZone = 'UTC'``) and identifiers resolve case-insensitively (as in DuckDB; the
dataset reader gives each column one spelling, so nothing is ambiguous).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forensics.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Settings every session runs with (runtime SQL settings: also settable on a Spark Connect session).
ANSWER_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.caseSensitive": "false",
    # Parquet TIMESTAMP(NANOS) columns are read as their integer and turned into microseconds by
    # the dataset reader (Spark refuses them otherwise)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
# Settings of a classic session this tool starts itself (the cluster's own apply to a remote one).
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=error",
}
DEFAULT_MASTER = "local[*]"
SIGMA_MODES = ("sql", "duckdb")
INSTALL_HINT = (
    "install the Spark extra: pip install 'forensics[spark]' (a classic session; needs Java 17+), "
    "or 'forensics[spark-connect]' for --spark-remote only"
)


@dataclass(frozen=True)
class SparkOptions:
    """Where the Spark engine runs.

    ``remote``: a Spark Connect URL (``sc://host:15002``). ``master``: a classic master URL.
    ``conf``: extra settings (``spark.executor.memory`` …) as (key, value) pairs.
    ``driver_memory``: for a classic session started here (the JVM's heap is fixed at start).
    ``sigma``: how a hunt's Sigma scans run: ``sql`` (the plan transpiled to Spark SQL) or
    ``duckdb`` (Spark tasks each running DuckDB over a share of the parts: ``forensics.spark.tasks``).
    """

    remote: str | None = None
    master: str | None = None
    conf: tuple[tuple[str, str], ...] = ()
    driver_memory: str | None = None
    app_name: str = "forensics"
    shuffle_partitions: int | None = None  # default: 2 per local core, the cluster's otherwise
    sigma: str = "sql"

    def __post_init__(self) -> None:
        if self.sigma not in SIGMA_MODES:
            raise EngineError(f"--spark-sigma {self.sigma!r}: one of {', '.join(SIGMA_MODES)}")
        if self.remote and self.master:
            raise EngineError("give either --spark-remote (Spark Connect) or --spark-master, not both")
        if self.remote and not self.remote.startswith("sc://"):
            raise EngineError(
                f"--spark-remote must be a Spark Connect URL sc://HOST:PORT, not {self.remote!r}"
            )

    @property
    def mode(self) -> str:
        """``connect`` or ``classic``."""
        return "connect" if self.remote else "classic"

    def describe(self) -> dict[str, Any]:
        """What a run record says of the session (no secrets: tokens in the URL are cut off)."""
        remote = self.remote.split(";", 1)[0] if self.remote else None
        return {
            "mode": self.mode,
            "remote": remote,
            "master": None if self.remote else (self.master or DEFAULT_MASTER),
            "conf": {k: v for k, v in self.conf if "secret" not in k.lower() and "token" not in k.lower()},
            "sigma": self.sigma,
        }


def parse_conf(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings (``--spark-conf``) as pairs; a malformed one is an error."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EngineError(f"--spark-conf wants KEY=VALUE, not {item!r}")
        out.append((key.strip(), value))
    return tuple(out)


def open_session(options: SparkOptions) -> SparkSession:
    """A Spark session as ``options`` say, with the answer-deciding settings applied."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(f"Spark is not installed here: {INSTALL_HINT}") from exc
    builder: Any = SparkSession.builder.appName(options.app_name)
    if options.remote:
        builder = builder.remote(options.remote)
    else:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter's package
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        # under spark-submit the master and resources come from it (PYSPARK_GATEWAY_PORT is its JVM)
        submitted = options.master is None and "PYSPARK_GATEWAY_PORT" in os.environ
        master = options.master or DEFAULT_MASTER
        if not submitted:
            builder = builder.master(master)
        conf = dict(LOCAL_CONF)
        if options.driver_memory:
            conf["spark.driver.memory"] = options.driver_memory
        if master.startswith("local") and not submitted:
            conf["spark.sql.shuffle.partitions"] = str(options.shuffle_partitions or 2 * _local_cores(master))
        elif options.shuffle_partitions:
            conf["spark.sql.shuffle.partitions"] = str(options.shuffle_partitions)
        for key, value in conf.items():
            builder = builder.config(key, value)
    for key, value in options.conf:
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, server unreachable: one line for the responder
        raise EngineError(f"cannot start the Spark session ({options.mode}): {_one_line(exc)}") from exc
    if not options.remote:  # the JVM's own log on a local session: errors only (the tool reports the rest)
        spark.sparkContext.setLogLevel("ERROR")
        _quiet_codegen(spark)
    _quiet_python_errors()
    apply_answer_conf(spark)
    return spark


def _quiet_python_errors() -> None:
    """pyspark logs every refused query with its whole Java stack on stderr before raising it; the
    engine reports each refusal itself (a rule ``failed`` with the reason), so those loggers are off."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # an older client without that logger logs nothing of the kind
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True  # its own class: it is called with extra keywords


def _quiet_codegen(spark: SparkSession) -> None:
    """Silence the code generator's log: a group of hundreds of rules exceeds Java's 64 KB method
    limit, and Spark logs the whole generated class before it falls back to interpreted evaluation
    (same rows, no error to report)."""
    jvm = getattr(spark.sparkContext, "_jvm", None)
    if jvm is None:
        return
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.catalyst.expressions.codegen", log4j.Level.OFF
    )
    log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.execution.WholeStageCodegenExec", log4j.Level.OFF
    )


def apply_answer_conf(spark: SparkSession) -> None:
    """Set the settings that decide answers on a session (ours or one handed in)."""
    for key, value in ANSWER_CONF.items():
        spark.conf.set(key, value)


@contextmanager
def session(options: SparkOptions) -> Iterator[SparkSession]:
    """A session for one command: stopped afterwards (a Connect session is released on the server).

    A classic session already running in this process (a notebook's, a test suite's) is used and
    left running: it belongs to whoever started it.
    """
    existing = None if options.remote else _active_classic()
    spark = open_session(options)
    try:
        yield spark
    finally:
        if existing is None:
            spark.stop()


def _active_classic() -> SparkSession | None:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _local_cores(master: str) -> int:
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if inside.split(",")[0] == "*":
        return os.cpu_count() or 1
    try:
        return max(1, int(inside.split(",")[0]))
    except ValueError:
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:400] if text else type(exc).__name__


def spark_version(spark: SparkSession) -> str:
    """The Spark version of the session (the server's for Spark Connect)."""
    return str(spark.version)


@dataclass
class EngineStats:
    """Where a Spark run spent its time (seconds), for the bench and the run record."""

    start: float = 0.0
    queries: int = 0
    timings: dict[str, float] = field(default_factory=dict)
