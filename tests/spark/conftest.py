"""Spark fixtures: one classic ``local[1]`` session and one local Spark Connect server for the whole run.

Spark tests carry ``xdist_group("spark")`` (pytest runs with ``--dist loadgroup``), so they run on
one worker and share these: a JVM starts in 10-20 s here, a session per test would cost minutes.
Outside CI they skip with the reason when pyspark (``pip install -e '.[test,spark]'``) or Java is
missing; in CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _require(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _pyspark_home() -> Path | None:
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).parent


@pytest.fixture(scope="session")
def spark_home() -> Path:
    """The pyspark package folder (its jars and bin/spark-submit); skips when Spark cannot run here."""
    home = _pyspark_home()
    _require(home is not None, "pyspark is not installed (pip install -e '.[test,spark]')")
    _require(shutil.which("java") is not None, "no Java here (apt-get install default-jre-headless)")
    assert home is not None
    return home


@pytest.fixture(scope="session")
def spark(spark_home: Path) -> Iterator[Any]:
    """The classic local[1] session every Spark test shares (the engine uses it, never stops it)."""
    from forensics.spark.session import SparkOptions, open_session

    session = open_session(SparkOptions(master="local[1]", driver_memory="1g"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo incident (sample_data/) ingested once for the Spark tests."""
    from forensics.ingest.runner import ingest_paths

    case_dir = tmp_path_factory.mktemp("spark-demo") / "case"
    ingest_paths(case_dir, [Path(__file__).resolve().parents[2] / "sample_data"])
    return case_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def connect_url(spark_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://localhost:PORT`` of a Spark Connect server (local[1]) started for the run, stopped after."""
    port = _free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    cmd = [
        str(spark_home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name", "forensics-test-connect", "--master", "local[1]",
        "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.memory=1g",
        "spark-internal",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the Spark Connect server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Spark Connect server did not listen on {port} within 180 s")
        yield f"sc://localhost:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
