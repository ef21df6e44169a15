"""Read-only queries over a case (``forensics sql``): what is accepted is decided by DuckDB's parser.

Three guards, each enough for what it covers:

1. **Statement type.** ``extract_statements`` (DuckDB's own parser) splits the text; exactly one
   statement is accepted and it must be a query (``SELECT``, ``FROM …``, ``WITH …``, ``VALUES``,
   ``SHOW``, ``DESCRIBE``, ``SUMMARIZE``). ``COPY … TO``, ``EXPORT DATABASE``, ``ATTACH``,
   ``INSTALL``/``LOAD``, ``SET``/``RESET``/``USE``, ``PRAGMA``, ``CALL``, ``EXPLAIN [ANALYZE]``, DDL
   and DML are refused before anything runs, so a second statement hidden after a harmless first
   one never runs either.
2. **What the query contains.** A statement DuckDB types as ``SELECT`` can still write: a
   data-modifying CTE (``WITH x AS (COPY (…) TO 'file')``, ``… AS (DELETE … RETURNING *)``) or a
   function that changes state (``checkpoint()``, ``enable_profiling()``, ``query('…')`` running
   a computed string). The statement's syntax tree (``json_serialize_sql``, again DuckDB's parser)
   is walked: every query node must be a reading one (select, set operation, CTE), a table
   function must be one known to only read, and no function may be one that writes. A query
   DuckDB cannot serialise (a ``PIVOT`` inside it) cannot be checked, so it is refused.
3. **The connection.** The case is opened read-only; extension auto-install and auto-load,
   community extensions, persistent secrets and Python replacement scans are switched off, spill
   files go to a private temporary folder (never into the case), and ``lock_configuration`` is
   set last, so no query can switch any of it back.

Reading other files stays allowed (``read_csv('indicators.csv')`` joined to ``events``): reading
changes nothing, and an analyst's own lists are part of a hunt. Network reads need the
``httpfs`` extension, which is never installed or loaded here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import QueryError
from forensics.store import Case

QUERY_FORMS = "SELECT, FROM …, WITH …, VALUES, SHOW, DESCRIBE or SUMMARIZE"

# Settings fixed before the lock; values as DuckDB names them.
LOCKED_SETTINGS: tuple[tuple[str, str], ...] = (
    ("autoinstall_known_extensions", "false"),  # INSTALL over the network, implicitly
    ("autoload_known_extensions", "false"),  # e.g. httpfs for an https:// path
    ("allow_community_extensions", "false"),
    ("allow_persistent_secrets", "false"),
    ("python_enable_replacements", "false"),  # FROM <python variable> reads the caller's objects
)

# Table functions that only read (data, files, metadata). Anything else used as a table
# function is refused until it is reviewed and added: a DuckDB upgrade cannot widen what runs.
READ_TABLE_FUNCTIONS = frozenset({
    "duckdb_approx_database_count", "duckdb_available_metrics", "duckdb_columns", "duckdb_connection_count",
    "duckdb_constraints", "duckdb_coordinate_systems", "duckdb_databases", "duckdb_dependencies",
    "duckdb_dialects", "duckdb_eviction_queues", "duckdb_extension_repositories", "duckdb_extensions",
    "duckdb_external_file_cache", "duckdb_external_resource_types", "duckdb_external_resources",
    "duckdb_functions", "duckdb_grammar_extensions", "duckdb_indexes", "duckdb_keywords",
    "duckdb_live_query_metrics", "duckdb_log_contexts", "duckdb_logs", "duckdb_logs_parsed", "duckdb_memory",
    "duckdb_optimizers", "duckdb_prepared_statements", "duckdb_profiling_settings", "duckdb_schemas",
    "duckdb_secret_type_parameters", "duckdb_secret_types", "duckdb_secrets", "duckdb_sequences",
    "duckdb_settings", "duckdb_table_sample", "duckdb_tables", "duckdb_temporary_files", "duckdb_triggers",
    "duckdb_types", "duckdb_variables", "duckdb_views",
    "generate_series", "range", "repeat", "repeat_row", "unnest", "glob", "histogram", "histogram_values",
    "icu_calendar_names", "pg_timezone_names", "json_each", "json_tree", "summary", "sniff_csv",
    "read_blob", "read_text", "read_csv", "read_csv_auto", "read_json", "read_json_auto", "read_json_objects",
    "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_parquet",
    "read_single_csv_file", "read_single_json_file", "read_single_parquet_file",
    "parquet_scan", "parquet_bloom_probe", "parquet_file_metadata", "parquet_full_metadata",
    "parquet_kv_metadata", "parquet_metadata", "parquet_page_index", "parquet_schema", "read_duckdb",
    "query_table", "pragma_collations", "pragma_database_size", "pragma_metadata_info", "pragma_platform",
    "pragma_show", "pragma_storage_info", "pragma_table_info", "pragma_user_agent", "pragma_version",
    "test_all_types", "test_vector_types", "which_secret",
})  # fmt: skip

# Functions that change the database, its settings, its logs or what it can reach, or run a
# computed SQL string the check above never sees; refused wherever they appear.
WRITING_FUNCTIONS = frozenset({
    "checkpoint", "force_checkpoint", "enable_logging", "disable_logging", "truncate_duckdb_logs",
    "write_log", "enable_profiling", "disable_profiling", "add_grammar_extension", "remove_grammar_extension",
    "register_external_resource", "register_external_resource_type", "create_external_resource",
    "destroy_external_resource", "deregister_external_resource", "query", "json_execute_serialized_sql",
    "nextval", "setval", "arrow_scan", "arrow_scan_dumb", "pandas_scan", "python_arrow_scan",
    "python_map_function", "seq_scan",
})  # fmt: skip


# Query nodes that only read; any other (COPY_QUERY_NODE, INSERT/UPDATE/DELETE_QUERY_NODE, …) is refused.
READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})


@dataclass(frozen=True)
class FunctionUse:
    """A function a query calls, as DuckDB's syntax tree names it."""

    name: str
    table: bool  # used as a table function (in FROM)


def lock_down(con: duckdb.DuckDBPyConnection, temp_dir: Path) -> None:
    """Switch off what a query must not reach, send spill files to ``temp_dir``, then lock."""
    for name, value in LOCKED_SETTINGS:
        con.execute(f"SET {name} = {value}")
    con.execute("SET temp_directory = ?", [str(temp_dir)])
    con.execute("SET lock_configuration = true")


def check_query(con: duckdb.DuckDBPyConnection, text: str) -> duckdb.Statement:
    """The one query statement in ``text``; ``QueryError`` saying why when it is not only that."""
    if not text.strip():
        raise QueryError(f"empty query: give one {QUERY_FORMS} statement")
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise QueryError(f"query does not parse: {_one_line(exc)}") from exc
    if not statements:
        raise QueryError(f"no statement in the query (only comments?): give one {QUERY_FORMS} statement")
    kinds = [_kind(s) for s in statements]
    refused = [k for k in kinds if k != "SELECT"]
    if refused:
        raise QueryError(
            f"refused: {', '.join(sorted(set(refused)))} statement(s); `forensics sql` runs read-only "
            f"queries only ({QUERY_FORMS}) and never changes the case or writes files"
        )
    if len(statements) > 1:
        raise QueryError(f"{len(statements)} statements given: give one query at a time")
    statement = statements[0]
    tree = syntax_tree(con, statement.query)
    writing = sorted({n.removesuffix("_QUERY_NODE").removesuffix("_NODE") for n in _nodes(tree)} - {
        n.removesuffix("_NODE") for n in READ_NODES
    })  # fmt: skip
    if writing:
        raise QueryError(
            f"refused: the query holds a {', '.join(writing)} statement (e.g. in a WITH clause); "
            "`forensics sql` never changes the case or writes files"
        )
    for use in functions_used(tree):
        if use.name in WRITING_FUNCTIONS or (use.table and use.name not in READ_TABLE_FUNCTIONS):
            kind = "table function" if use.table else "function"
            raise QueryError(
                f"refused: the query calls the {kind} {use.name}(), which is not known to only read; "
                "`forensics sql` never changes the case, its settings or anything else"
            )
    return statement


def syntax_tree(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, Any]:
    """DuckDB's serialised syntax tree of one SELECT-typed statement; ``QueryError`` when it has none."""
    row = con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    tree = json.loads(row[0]) if row and row[0] else {"error": True, "error_message": "no syntax tree"}
    if not isinstance(tree, dict) or tree.get("error"):
        why = tree.get("error_message") if isinstance(tree, dict) else "no syntax tree"
        raise QueryError(
            f"refused: this query cannot be checked ({why}); "
            "write a PIVOT as conditional aggregation, e.g. count(*) FILTER (WHERE ...)"
        )
    return tree


def functions_used(tree: dict[str, Any]) -> list[FunctionUse]:
    """Every function a statement's syntax tree calls."""
    return sorted(set(_walk(tree, table=False)), key=lambda u: (u.name, u.table))


def _nodes(node: Any) -> Iterator[str]:
    """Types of every query node (``…_NODE``) and statement info (``info_type``) in a syntax tree."""
    if isinstance(node, list):
        for item in node:
            yield from _nodes(item)
    elif isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE"):
            yield kind
        if isinstance(node.get("info_type"), str):
            yield str(node["info_type"]).removesuffix("_INFO") + "_NODE"
        for value in node.values():
            yield from _nodes(value)


def _walk(node: Any, table: bool) -> Iterator[FunctionUse]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, table)
    elif isinstance(node, dict):
        if node.get("class") == "FUNCTION" and isinstance(node.get("function_name"), str):
            yield FunctionUse(node["function_name"].lower(), table)
        is_table_fn = node.get("type") == "TABLE_FUNCTION"
        for key, value in node.items():
            # the function of a TABLE_FUNCTION is the table function; its arguments are plain calls
            yield from _walk(value, is_table_fn and key == "function")


def _kind(statement: duckdb.Statement) -> str:
    kind = str(statement.type).rsplit(".", 1)[-1]
    return {"LOAD": "INSTALL/LOAD", "SET": "SET/RESET/USE", "MULTI": "PIVOT (a statement of its own)"}.get(
        kind, kind
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class QuerySession:
    """A case opened read-only and locked down for user queries (a context manager)."""

    def __init__(self, case_dir: Path) -> None:
        self.case = Case.open(case_dir, read_only=True)
        self.temp = Path(tempfile.mkdtemp(prefix="forensics-sql-"))
        try:
            lock_down(self.case.con, self.temp)
        except BaseException:
            self.close()
            raise

    def run(self, text: str) -> duckdb.DuckDBPyConnection:
        """Check ``text`` and run it; the cursor holds the result (``description``, ``fetchmany``)."""
        statement = check_query(self.case.con, text)
        try:
            return self.case.con.execute(statement)
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {_one_line(exc)}") from exc

    def close(self) -> None:
        """Close the case and remove the spill folder."""
        self.case.close()
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["QuerySession", "check_query", "functions_used", "lock_down", "syntax_tree"]
