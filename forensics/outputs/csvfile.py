"""CSV that is safe to open in Excel.

Log fields are attacker-controlled: a cell such as ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0``
would run as a formula when the CSV is opened in a spreadsheet. A text cell gets a leading
apostrophe, which spreadsheets show as text and never evaluate, when it begins with what OWASP's
CSV-injection guidance lists (``=``, ``+``, ``-``, ``@``, tab, carriage return, line feed; ASVS
1.2.10 adds NUL), and also when that character comes after leading whitespace or invisible
characters (spreadsheets trim them: `` =1+1``, NBSP, ideographic space, zero-width space, BOM)
or in a full-width or small form (``＝＋－＠``, ``﹦﹢﹣﹫``, which NFKC folds to the ASCII ones,
and U+2212 MINUS SIGN), which East Asian input methods type and some spreadsheets accept.
Numbers we computed are written as numbers. UTF-8 with a byte-order mark so Excel reads
non-ASCII text correctly.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics.outputs import columns
from forensics.outputs.cells import BATCH_ROWS, rows
from forensics.timeutil import iso_utc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")  # OWASP's list, plus NUL (ASVS 1.2.10)
_TRIGGERS = frozenset("=+-@")
_MINUS_SIGNS = frozenset("\u2212")  # NFKC leaves U+2212 as it is
_SKIPPED = frozenset(("Zs", "Zl", "Zp", "Cc", "Cf"))  # spaces, controls, format (zero-width, BOM)


def is_formula(text: str) -> bool:
    """True when a spreadsheet could take ``text`` as a formula (see the module docstring)."""
    if not text:
        return False
    first = text[0]
    if first.isascii() and first.isalnum():  # the common case, decided at once
        return False
    if text.startswith(FORMULA_STARTS):
        return True
    for ch in text:
        if unicodedata.category(ch) in _SKIPPED:
            continue
        return ch in _MINUS_SIGNS or unicodedata.normalize("NFKC", ch)[:1] in _TRIGGERS
    return False


def neutralise(text: str) -> str:
    """Prefix a cell that a spreadsheet would take as a formula with an apostrophe."""
    return "'" + text if is_formula(text) else text


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
    """Write the table as Excel-safe CSV with a header row: the bytes ``write_rows`` writes, made
    column by column (``forensics.outputs.columns``)."""
    names = table.column_names
    if len(names) < 2:  # csv quotes a lone empty field; not worth a vectorised case
        write_rows(table, out)
        return
    head = io.StringIO(newline="")
    csv.writer(head, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow([neutralise(n) for n in names])
    with out.open("wb") as fh:
        fh.write(head.getvalue().encode("utf-8-sig"))
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            if batch.num_rows == 0:
                continue
            parts: list[pa.Array | str] = []
            for i, col in enumerate(batch.columns):
                if i:
                    parts.append(",")
                parts.append(columns.csv_cells(col))
            fh.write(columns.data_bytes(columns.joined(parts, "\r\n")))


def write_rows(table: pa.Table, out: Path) -> None:
    """Write the table as Excel-safe CSV with a header row, row by row (the definition ``write`` keeps)."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow([neutralise(n) for n in table.column_names])
        for row in rows(table):
            w.writerow([cell(v) for v in row.values()])
