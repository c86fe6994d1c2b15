"""A report's range: ``from`` and ``to`` dates (or times) in an IANA time zone, as the
half-open UTC range the queries use, and the zone the file's times are written in."""

import datetime
import zoneinfo
from dataclasses import dataclass

from ..core.errors import ValidationError

UTC = datetime.timezone.utc


@dataclass(frozen=True)
class Period:
    """``start`` <= t < ``end``, naive UTC as the database keeps times (None: open)."""

    start: datetime.datetime | None
    end: datetime.datetime | None
    zone: datetime.tzinfo

    def render(self, value):
        """Return a stored (naive UTC) time as ISO 8601 in the period's zone: ``Z`` in
        UTC, the offset elsewhere (2026-03-29T03:00:00.000+02:00); None stays None.
        ``value`` may be the text SQLite keeps ("2026-01-01 10:00:00.5")."""
        if value is None:
            return None
        if isinstance(value, str):
            if self.zone is UTC and len(value) in (19, 26) and value[10] == " ":
                # SQLite's text of a naive UTC time, rewritten without parsing it (a third
                # of a report's time went to parsing and formatting its times).
                return "%sT%s.%sZ" % (value[:10], value[11:19], value[20:23] if len(value) == 26 else "000")
            value = datetime.datetime.fromisoformat(value)
        if self.zone is UTC:
            return value.isoformat(timespec="milliseconds") + "Z"
        local = value.replace(tzinfo=UTC).astimezone(self.zone)
        text = local.isoformat(timespec="milliseconds")  # as the API writes times
        return text[:-6] + "Z" if self.zone is UTC else text


def zone(name):
    """Return the tzinfo of the IANA name ``name`` (None or "UTC": UTC); raise
    ValidationError naming ``tz``."""
    if name in (None, "", "UTC", "Z"):
        return UTC
    if len(name) > 64 or not all(c.isalnum() or c in "/_+-" for c in name):
        raise ValidationError("must be an IANA time zone such as Europe/Berlin", "tz")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError("is not a known IANA time zone: %r" % name, "tz") from None


def _moment(text, tz, field, end):
    """A date (the day's start; the next day's for ``end``: ``to`` includes its day)
    or a time (with its own offset, or in ``tz``) as naive UTC."""
    if len(text) > 40:
        raise ValidationError("must be a date (2026-01-31) or an ISO 8601 time", field)
    try:
        if len(text) == 10:
            day = datetime.date.fromisoformat(text)
            local = datetime.datetime.combine(day + datetime.timedelta(days=1 if end else 0), datetime.time())
            moment = local.replace(tzinfo=tz)
        else:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
    except ValueError:
        raise ValidationError("must be a date (2026-01-31) or an ISO 8601 time", field) from None
    return moment.astimezone(UTC).replace(tzinfo=None)


def period(start=None, end=None, tz=None):
    """Return the Period of the ``from`` date ``start`` and the ``to`` date ``end``
    (both included, in the IANA zone ``tz``; either may be left out). Raises
    ValidationError naming the field."""
    where = zone(tz)
    lo = _moment(start, where, "from", False) if start else None
    hi = _moment(end, where, "to", True) if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise ValidationError("must not be before from", "to")
    return Period(lo, hi, where)


def since(now, seconds):
    """The Period of the last ``seconds`` before ``now`` (naive UTC), open at its end."""
    return Period(now - datetime.timedelta(seconds=seconds), None, UTC)
