"""Rows as CSV (safe to open in a spreadsheet) or JSON lines, as chunks of bytes.

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula. Such a cell is written with a leading
apostrophe (``'=1+1``), which every spreadsheet shows as text and none runs (OWASP's
advice); a plain number such as ``-1`` (a conflicted receipt's confirmations) is no
formula and is written as it is.
"""

import csv
import io
import json
import re

from . import columns as columns_module

CSV, JSON = "csv", "json"
CONTENT_TYPES = {CSV: "text/csv; charset=utf-8", JSON: "application/x-ndjson; charset=utf-8"}
SUFFIXES = {CSV: "csv", JSON: "jsonl"}
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value):
    """Return ``value`` as a CSV cell no spreadsheet runs: None is empty, booleans are
    true/false, text that starts like a formula gets an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def fmt(name):
    """Return the format ``name`` (csv, the default, or json); raise ValueError."""
    name = (name or CSV).lower()
    if name not in CONTENT_TYPES:
        raise ValueError(name)
    return name


def _cell_writers(columns):
    """Per column, how CSV writes a value (None: as it is; csv writes None as empty)."""
    from_text, flag, listed = columns_module.TEXT, columns_module.BOOLEAN, columns_module.LISTS
    return [safe_cell if name in from_text or name in listed else (_flag if name in flag else None) for name in columns]


def _flag(value):
    return "" if value is None else ("true" if value else "false")


def _parsed(row, indexes):
    row = list(row)
    for i in indexes:
        if row[i] is not None:
            row[i] = json.loads(row[i])
    return row


def encode(chunks, columns, format):
    """Yield bytes: the header line (CSV) and then each chunk of rows (tuples in the
    order of ``columns``) as one piece, so the first byte goes out before any query."""
    if format == CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
        writer.writerow(columns)
        yield buffer.getvalue().encode()
        converted = [(i, w) for i, w in enumerate(_cell_writers(columns)) if w is not None]
        for rows in chunks:
            buffer.seek(0)
            buffer.truncate()
            for row in rows:
                row = list(row)
                for i, write in converted:
                    row[i] = write(row[i])
                writer.writerow(row)
            yield buffer.getvalue().encode()
        return
    lists = [i for i, name in enumerate(columns) if name in columns_module.LISTS]
    for rows in chunks:
        if lists:
            rows = [_parsed(row, lists) for row in rows]
        lines = [json.dumps(dict(zip(columns, row)), ensure_ascii=False, separators=(",", ":")) for row in rows]
        if lines:
            yield ("\n".join(lines) + "\n").encode()
