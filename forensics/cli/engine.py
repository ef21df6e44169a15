"""``--engine`` and the Spark options shared by the commands that can run on Spark."""

from __future__ import annotations

from typing import Annotated

import typer

from forensics.cli.guard import say
from forensics.errors import EngineError
from forensics.spark.session import SparkOptions, parse_conf

ENGINES = ("duckdb", "spark")

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="duckdb (embedded, default) or spark: scans run on a Spark session over the case's parts "
        "(docs/spark.md). Needs the spark extra: pip install 'forensics[spark]'.",
    ),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="With --engine spark: a classic session's master (local[N], spark://HOST:7077, yarn, k8s://…); "
        "default local[*]. Needs Java 17+ here.",
    ),
]
RemoteOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        help="With --engine spark: a Spark Connect server, sc://HOST:PORT (no Java here). "
        "Implies --engine spark.",
    ),
]
ConfOpt = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="With --engine spark: a Spark setting KEY=VALUE (repeatable)."),
]
SigmaOpt = Annotated[
    str,
    typer.Option(
        "--spark-sigma",
        help="With --engine spark: how the Sigma scans run. sql (default): the plan transpiled to Spark SQL, "
        "executors need only Spark. duckdb: each Spark task runs DuckDB over a share of the parts (several "
        "times less CPU; executors need this package and must read the parts as files). docs/spark.md.",
    ),
]
DriverMemOpt = Annotated[
    str | None,
    typer.Option("--spark-driver-memory", help="With --engine spark and a session started here: e.g. 4g."),
]


def spark_options(
    engine: str, master: str | None, remote: str | None, conf: list[str] | None, driver_memory: str | None,
    sigma: str = "sql",
) -> SparkOptions | None:
    """The Spark options the command line asks for (None: DuckDB); exit 2 on a usage error."""
    name = engine.strip().lower()
    if name not in ENGINES:
        say(f"--engine {engine!r}: one of {', '.join(ENGINES)}")
        raise typer.Exit(2)
    if remote:
        name = "spark"
    if name == "duckdb":
        given = [o for o, v in (("--spark-master", master), ("--spark-conf", conf),
                                ("--spark-driver-memory", driver_memory), ("--spark-sigma", sigma != "sql"))
                 if v]  # fmt: skip
        if given:
            say(f"{', '.join(given)} given without --engine spark")
            raise typer.Exit(2)
        return None
    try:
        return SparkOptions(
            remote=remote, master=master, conf=parse_conf(conf or []), driver_memory=driver_memory,
            sigma=sigma.strip().lower(),
        )
    except EngineError as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
