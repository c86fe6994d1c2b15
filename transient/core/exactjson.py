"""JSON whose numbers stay as they came: a Decimal is written as its exact text (3.20 as
3.20, no float or int in between) and non-integers are read back as Decimals. What a
merchant sent (Greenfield's metadata) is echoed in answers and webhook bodies this way."""

import json
from decimal import Decimal

# Writes a Decimal as its exact text (use_decimal); the standard library cannot.
import simplejson


def dumps(value, separators=None):
    """JSON text of ``value``, whose numbers may be Decimals (written exactly)."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=separators)


def loads(text):
    """The object of JSON text written by ``dumps``: its non-integers read back as Decimals."""
    return json.loads(text, parse_float=Decimal)
