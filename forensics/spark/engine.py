"""The Spark engine for one command: a session, the case's dataset on it, and what the run records.

``spark_engine(case, options)`` opens the session (``forensics.spark.session``), registers the
case's parts as ``events`` and yields a ``SparkEngine``: the DuckDB-shaped connection the SQL
hunts, the IOC sweep and ``forensics sql`` send their statements to, and the Sigma plan's data
access. The session is stopped when the command ends.

What runs where: the statistics, every group scan, the SQL hunts and the IOC joins run on Spark
(executors read the parts where they lie); the catalogue (``parts``, ``inputs``), rule loading and
conversion, grouping rows into findings, correlation windows, YARA and writing the run stay on
the driver, as they do with DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from forensics.spark.connection import SparkConnection
from forensics.spark.dataset import dataset_uri
from forensics.spark.session import SparkOptions, session, spark_version
from forensics.spark.sigma import SparkSigmaData
from forensics.spark.tasks import SparkTaskSigmaData
from forensics.store import Case


@dataclass
class SparkEngine:
    """A Spark session serving one command over one case."""

    options: SparkOptions
    conn: SparkConnection
    sigma: SparkSigmaData
    version: str
    started: float  # seconds the session took to start
    timings: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What a hunt run records of its engine (``run.json`` ``options.engine``)."""
        return {
            "name": "spark",
            **self.options.describe(),
            "spark_version": self.version,
            "dataset_uri": self.conn.dataset.base,
            "on_driver": ["catalogue", "rule conversion", "correlation windows", "yara", "findings"],
        }


@contextmanager
def spark_engine(case: Case, options: SparkOptions) -> Iterator[SparkEngine]:
    """Open a Spark session over ``case`` for one command; stopped afterwards."""
    t = time.perf_counter()
    with session(options) as spark:
        started = time.perf_counter() - t
        conn = SparkConnection(spark, case)
        try:
            sigma = SparkTaskSigmaData(conn) if options.sigma == "duckdb" else SparkSigmaData(conn)
            yield SparkEngine(options, conn, sigma, spark_version(spark), started)
        finally:
            conn.close()


def describe_dataset(case: Case) -> str:
    """Where a cluster reads the case's parts (for messages)."""
    return dataset_uri(case)
