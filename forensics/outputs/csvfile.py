"""CSV that is safe to open in Excel.

Log fields are attacker-controlled: a cell such as ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0``
would run as a formula when the CSV is opened in a spreadsheet. Every text cell that begins with
``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe, which spreadsheets
show as text and never evaluate (the OWASP "CSV injection" advice). Numbers we computed are
written as numbers. UTF-8 with a byte-order mark so Excel reads non-ASCII text correctly.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics.outputs.cells import rows
from forensics.timeutil import iso_utc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a cell that a spreadsheet would take as a formula with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str | int | float:
    """One CSV cell: '' for null, ISO UTC for times, '; '-joined lists, neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, list):
        return neutralise("; ".join("" if v is None else str(v) for v in value))
    return neutralise(str(value))


def write(table: pa.Table, out: Path) -> None:
    """Write the table as Excel-safe CSV with a header row."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow([neutralise(n) for n in table.column_names])
        for row in rows(table):
            w.writerow([cell(v) for v in row.values()])
