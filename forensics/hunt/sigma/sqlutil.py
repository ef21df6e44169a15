"""Small SQL text helpers shared by the Sigma modules (portable DuckDB / Spark SQL)."""

from __future__ import annotations


def quote_str(value: str) -> str:
    """A SQL string literal (single quotes doubled; backslashes are plain in DuckDB strings)."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def like_escape(text: str) -> str:
    """Escape LIKE's own metacharacters (``\\``, ``%``, ``_``) with a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
