"""JSON whose numbers stay as they came: a Decimal is written as its exact text (3.20 as
3.20, no float or int in between) and non-integers are read back as Decimals. What a
merchant sent (Greenfield's metadata) is echoed in answers and webhook bodies this way.

``parse_json`` reads a request body (both APIs' and the AMQP commands') this way, with
the limits every body has."""

import json
import re
from decimal import Decimal

# Writes a Decimal as its exact text (use_decimal); the standard library cannot.
import simplejson

from .errors import BadRequest, ValidationError
from .text import check_tree, text_problem

MAX_METADATA_DEPTH = 16  # levels of objects and arrays, the metadata object being the first
MAX_JSON_DEPTH = 32  # levels of any request body


def dumps(value, separators=None):
    """JSON text of ``value``, whose numbers may be Decimals (written exactly)."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=separators)


def loads(text):
    """The object of JSON text written by ``dumps``: its non-integers read back as Decimals."""
    return json.loads(text, parse_float=Decimal)


def parse_json(raw):
    """Return the bytes ``raw`` parsed as JSON with exact decimals, or raise.

    BadRequest when it is not JSON (or its numbers cannot be read as decimals); a
    ValidationError naming the object's key when a string holds a lone surrogate or
    NUL, or the body nests more than MAX_JSON_DEPTH levels."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        key = _deep_key(raw)
        limit = MAX_METADATA_DEPTH if key == "metadata" else MAX_JSON_DEPTH
        raise ValidationError("is nested too deeply (at most %d levels)" % limit, key) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the request body is not valid JSON: %s" % exc) from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent beyond what Decimal holds
        raise BadRequest("the request body holds a number too large to read") from None
    if not isinstance(body, dict):
        check_tree(body, None, MAX_JSON_DEPTH)
        return body
    for key, value in body.items():
        if text_problem(key):
            raise BadRequest("a field name is not valid Unicode text")
        check_tree(value, key, MAX_JSON_DEPTH - 1)
    return body


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:]')


def _deep_key(raw):
    """The top-level key under which ``raw`` nests too deeply (None if it is not an object's)."""
    depth, last, key = 0, None, None
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        elif token in (b"}", b"]"):
            depth -= 1
        elif token == b":" and depth == 1 and last and last[:1] == b'"':
            key = last
        last = token
    try:
        key = json.loads(key) if key else None
    except ValueError:
        return None
    return key if isinstance(key, str) and key.isascii() and key.isprintable() and len(key) <= 64 else None


def _no_constant(name):
    raise ValueError("%s is not allowed" % name)
