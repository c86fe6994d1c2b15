"""Text as Transient takes it in and shows it: Unicode scalar values only (no lone
surrogates, which no UTF-8 encoder, database or browser accepts), no NUL (PostgreSQL
refuses it), JSON trees of a bounded depth, and integers of ASCII digits only."""

import re

from .errors import ValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DIGITS = 18  # any integer Transient reads fits in a signed 64-bit column
_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)


def text_problem(value: str) -> str | None:
    """Return why the string ``value`` cannot be stored and shown, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def check_tree(value, field, max_depth):
    """Raise ValidationError naming ``field`` unless every string (and object key) in the
    JSON value is clean text and no container is nested more than ``max_depth`` deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise ValidationError(problem, field)
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ValidationError("is nested too deeply (at most %d levels)" % max_depth, field)
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def clean(value):
    """Return the JSON value with every lone surrogate replaced by U+FFFD: what a row
    stored before the input checks is shown as, instead of failing to render."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def ascii_int(value: object, field: str, lo: int, hi: int) -> int:
    """Return ``value`` (an int, or a string of 1-18 ASCII digits) if ``lo <= value <= hi``.

    Raises ValidationError naming ``field`` (Unicode digits such as "²" or "٣", signs,
    spaces, booleans and longer strings are not integers here)."""
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValidationError("must be an integer written with at most %d ASCII digits" % MAX_DIGITS, field)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be an integer", field)
    if not lo <= value <= hi:
        raise ValidationError("must be between %d and %d" % (lo, hi), field)
    return value


# An address as mail servers take it: a local part of printable ASCII without spaces,
# brackets, quotes or separators, an @, and a domain of letters, digits, dots and hyphens.
# Nothing that could end a header line (CR, LF) or start another address can pass.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def email_address(value, field):
    """Return the e-mail address ``value`` (surrounding spaces dropped; None stays None);
    raise ValidationError naming ``field`` for anything else, a line break above all
    (an address goes into a message's headers)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be an e-mail address (a string)", field)
    text = value.strip(" ")
    if any(c in text for c in "\r\n\x00") or not _EMAIL.fullmatch(text) or ".." in text:
        raise ValidationError("must be one e-mail address such as customer@example.org", field)
    return text
