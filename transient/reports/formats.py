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

CSV, JSON = "csv", "json"
CONTENT_TYPES = {CSV: "text/csv; charset=utf-8", JSON: "application/x-ndjson; charset=utf-8"}
SUFFIXES = {CSV: "csv", JSON: "jsonl"}
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value):
    """Return ``value`` as a CSV cell no spreadsheet runs: None is empty, booleans are
    true/false, lists and dicts JSON, text that starts like a formula gets an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
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


def encode(chunks, columns, format):
    """Yield bytes: the header line (CSV) and then each chunk of rows (tuples in the
    order of ``columns``) as one piece, so the first byte goes out before any query."""
    if format == CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
        writer.writerow(columns)
        yield buffer.getvalue().encode()
        for rows in chunks:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows([safe_cell(v) for v in row] for row in rows)
            yield buffer.getvalue().encode()
        return
    for rows in chunks:
        lines = [json.dumps(dict(zip(columns, row)), ensure_ascii=False, separators=(",", ":")) for row in rows]
        if lines:
            yield ("\n".join(lines) + "\n").encode()
