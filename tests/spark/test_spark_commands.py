"""``sql`` and ``search`` with ``--engine spark`` answer what they answer on DuckDB; the Sigma plan's
per-value path (groups of 50k+ rows) gives the same findings on Spark.

All on the shared local[1] session and the demo case (2,310 events); cost here ~1-2 min, most of
it Spark's per-query floor (~1 s) and one Sigma hunt of the builtin Security rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import QueryError
from forensics.search import SearchQuery, search
from forensics.store import Case

pytestmark = pytest.mark.xdist_group("spark")

SPARK = ["--engine", "spark", "--spark-master", "local[1]"]

QUERIES = [
    "SELECT host, count(*) AS n, min(ts) AS first, max(ts) AS last FROM events GROUP BY host ORDER BY host",
    "SELECT event_id, count(*) AS n FROM events WHERE regexp_matches(process_cmdline, '(?i)vssadmin|wmic') "
    "GROUP BY event_id ORDER BY event_id",
    # a table of the case beside the events: handed to Spark from the case's database
    "SELECT i.parser, count(*) AS n FROM events e JOIN inputs i ON e.input_sha256 = i.sha256 "
    "GROUP BY i.parser ORDER BY i.parser",
    "WITH x AS (SELECT lower(host) AS h, ts FROM events WHERE ts IS NOT NULL) "
    "SELECT h, count(*) FROM x GROUP BY h HAVING count(*) > 10 ORDER BY 1",
]


@pytest.mark.parametrize("query", QUERIES)
def test_sql_on_spark_gives_the_rows_duckdb_gives(spark: Any, demo_case: Path, query: str) -> None:
    from forensics.spark.connection import SparkConnection
    from forensics.spark.query import run_query

    with Case.open(demo_case, read_only=True) as case:
        case.con.execute("SET TimeZone = 'UTC'")
        want = case.con.execute(query).fetchall()
        got = run_query(case, SparkConnection(spark, case), query).fetchall()
    assert want and got == want


def test_sql_on_spark_refuses_what_duckdb_refuses(spark: Any, demo_case: Path) -> None:
    from forensics.spark.connection import SparkConnection
    from forensics.spark.query import run_query

    with Case.open(demo_case, read_only=True) as case:
        conn = SparkConnection(spark, case)
        for text in ("COPY events TO '/tmp/x.csv'", "SELECT 1; SELECT 2", "SELECT checkpoint()"):
            with pytest.raises(QueryError, match=r"refused|statements given"):
                run_query(case, conn, text)
        with pytest.raises(QueryError, match="refused: not run on Spark"):
            run_query(case, conn, "SELECT count(*) FROM events WHERE regexp_matches(host, '(?U)a+')")
        with pytest.raises(QueryError, match="query failed"):
            run_query(case, conn, "SELECT no_such_column FROM events")


def test_sql_cli_json_is_the_same_on_both_engines(spark: Any, demo_case: Path) -> None:
    runner = CliRunner()
    q = QUERIES[0]
    duck = runner.invoke(app, ["sql", str(demo_case), q, "--json"])
    on_spark = runner.invoke(app, ["sql", str(demo_case), q, "--json", *SPARK])
    assert duck.exit_code == 0 and on_spark.exit_code == 0, on_spark.output
    assert on_spark.stdout == duck.stdout and len(duck.stdout.splitlines()) > 3
    refused = runner.invoke(app, ["sql", str(demo_case), "DROP VIEW events", *SPARK])
    assert refused.exit_code == 2 and "refused" in refused.output


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(keywords=("vssadmin",), regexes=("(?i)mimi.*z",)),
        SearchQuery(keywords=("adm.sharma",), case_sensitive=True, fields=("TargetUserName", "user_name")),
        SearchQuery(regexes=(r"\\temp\\", r"\.exe\b"), match_all=True),
    ],
    ids=["any", "fields-case-sensitive", "all-regex"],
)
def test_search_on_spark_gives_the_hits_duckdb_gives(spark: Any, demo_case: Path, query: SearchQuery) -> None:
    from forensics.spark.connection import SparkConnection

    with Case.open(demo_case, read_only=True) as case:
        want = search(case, query)
        got = search(case, query, SparkConnection(spark, case))
    assert len(want) > 0
    assert got.columns == want.columns
    assert got.table.to_pylist() == want.table.to_pylist()


def test_search_cli_json_is_the_same_on_both_engines(spark: Any, demo_case: Path) -> None:
    runner = CliRunner()
    args = ["search", str(demo_case), "vssadmin", "-e", "(?i)psexe[cs]", "--json"]
    duck = runner.invoke(app, args)
    on_spark = runner.invoke(app, [*args, *SPARK])
    assert duck.exit_code == 0 and on_spark.exit_code == 0, on_spark.output
    assert [json.loads(x) for x in on_spark.stdout.splitlines()] == [
        json.loads(x) for x in duck.stdout.splitlines()
    ]
    assert duck.stdout.strip()
    ungreedy = runner.invoke(app, ["search", str(demo_case), "-e", "(?U)a+", *SPARK])
    assert ungreedy.exit_code == 1 and "not run on Spark" in ungreedy.output


@pytest.mark.parametrize(("gain", "max_columns"), [(2, 60), (0, 2)])
def test_per_value_path_on_spark_finds_what_duckdb_finds(
    spark: Any,
    demo_case: Path,
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    gain: int,
    max_columns: int,
) -> None:
    """Big groups evaluate rules once per distinct value tuple of the columns each reads (all column
    sets in one GROUPING SETS pass, the tuples with hits joined back); the demo's groups are
    smaller, so the thresholds are lowered for both engines. ``gain`` 2: sets whose tuples hardly
    repeat run per row (as on DuckDB), 0: every set per value; ``max_columns`` 2: the sets in
    several batches (grouping_id's 64-bit mask)."""
    import forensics.hunt.sigma.plan as plan
    import forensics.spark.sigma as spark_sigma
    from forensics.hunt.sigma import run_sigma
    from forensics.spark.connection import SparkConnection

    windows = shared_data / "sigma" / "rules" / "windows"
    # Security rules (sets big and small), process-creation rules with regexes and literal lists
    rules = [
        windows / "builtin" / "security",
        *sorted((windows / "process_creation").glob("proc_creation_win_s*.yml")),
    ]
    monkeypatch.setattr(plan, "DISTINCT_ROWS", 1)
    monkeypatch.setattr(spark_sigma, "TUPLE_ROWS", 200)  # Security (705 rows), process creations (586)
    monkeypatch.setattr(spark_sigma, "TUPLE_GAIN", gain)
    monkeypatch.setattr(spark_sigma, "VALUE_MIN_RULES", 0)
    monkeypatch.setattr(spark_sigma, "VALUE_COLUMNS_MAX", max_columns)
    joined: list[int] = []
    join_back = spark_sigma.SparkSigmaData._join_back

    def counted(self: Any, *args: Any) -> Any:
        joined.append(1)
        return join_back(self, *args)

    monkeypatch.setattr(spark_sigma.SparkSigmaData, "_join_back", counted)
    with Case.open(demo_case, read_only=True) as case:
        duck = run_sigma(case, rules, use_cache=False)
        conn = SparkConnection(spark, case)
        on_spark = run_sigma(case, rules, use_cache=False, data=spark_sigma.SparkSigmaData(conn))

    def key(result: Any) -> list[tuple[Any, ...]]:
        return sorted((f.finding_id, f.level, f.first_ts, tuple(sorted(f.records))) for f in result.findings)

    assert len(duck.findings) > 5
    assert key(on_spark) == key(duck)
    assert joined  # hits found per value and joined back
    # every rule ran on Spark as on DuckDB (none refused for a dialect slip on this path)
    assert [(r.path, r.status) for r in on_spark.report] == [(r.path, r.status) for r in duck.report]
