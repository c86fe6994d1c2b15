"""What the API and the CLI ask for: a report's parameters checked (errors name the
field) before a byte is written, then the file as an iterator of bytes."""

import re
from dataclasses import dataclass

from ..core import status as st
from ..core.errors import NotFound, ValidationError
from ..core.text import text_problem
from ..payouts import states as payout_states
from ..store.models import Receipt
from . import columns, formats, rows
from .period import period

_CURRENCY = re.compile(r"[A-Z0-9]{2,10}")
STATES = {
    "payments": st.STATUSES,
    "receipts": (Receipt.PENDING, Receipt.CONFIRMED, Receipt.CONFLICTED, Receipt.REMOVED),
    "payouts": payout_states.STATES,
}


@dataclass
class Report:
    kind: str
    format: str
    content_type: str
    filename: str
    body: object  # an iterator of bytes


class Reports:
    """Makes reports; ``decimals`` maps a currency code to its coin's decimals (8 if unknown)."""

    def __init__(self, decimals=None, chunk=rows.CHUNK):
        self.decimals = dict(decimals or {})
        self.chunk = chunk

    def kinds(self):
        return sorted(columns.KINDS)

    def open(self, kind, params):
        """Return the :class:`Report` ``kind`` for ``params`` (from, to, tz, currency,
        status, format: strings or None). Raises NotFound for an unknown kind and
        ValidationError naming the field; reads nothing until the body is iterated."""
        if kind not in columns.KINDS:
            raise NotFound("no report %r (reports: %s)" % (kind, ", ".join(self.kinds())), "report")
        for name, value in params.items():
            if value is not None and (not isinstance(value, str) or text_problem(value)):
                raise ValidationError("must be text", name)
        try:
            format = formats.fmt(params.get("format"))
        except ValueError:
            raise ValidationError("must be csv or json", "format") from None
        span = period(params.get("from"), params.get("to"), params.get("tz"))
        currency = _currency(params.get("currency"))
        states = _states(kind, params.get("status"))
        reader = getattr(rows, kind)
        chunks = reader(span, currency, states, self.decimals, self.chunk)
        name = "transient-%s%s%s.%s" % (
            kind,
            "-" + params["from"][:10] if params.get("from") else "",
            "-to-" + params["to"][:10] if params.get("to") else "",
            formats.SUFFIXES[format],
        )
        body = formats.encode(chunks, columns.names(kind), format)
        return Report(kind, format, formats.CONTENT_TYPES[format], name, body)


def _currency(value):
    if value is None or value == "":
        return None
    code = value.strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise ValidationError("must be a currency code such as LTC", "currency")
    return code


def _states(kind, value):
    """The comma-separated statuses of ``value``, each one of the report's."""
    if value is None or value == "":
        return ()
    known = STATES[kind]
    given = [v.strip() for v in value.split(",") if v.strip()]
    wanted = [v.upper() if kind == "payments" else v.lower() for v in given]
    for v in wanted:
        if v not in known:
            raise ValidationError("must be one of %s (or several, comma-separated)" % ", ".join(known), "status")
    return tuple(dict.fromkeys(wanted))
