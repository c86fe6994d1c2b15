"""Time as Transient keeps it: naive datetimes in UTC inside, ISO 8601 with a Z outside."""

import calendar
import datetime

from .errors import ValidationError


def utcnow() -> datetime.datetime:
    """Return the current time as a naive datetime in UTC (how every column stores it)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def iso(moment: datetime.datetime | None) -> str | None:
    """Render a naive UTC datetime as ISO 8601 with a Z, or None."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_time(value: object, field: str) -> datetime.datetime:
    """Parse an ISO 8601 timestamp (with an offset or Z) to a naive UTC datetime.

    Raises ValidationError naming ``field``.
    """
    if not isinstance(value, str):
        raise ValidationError("must be an ISO 8601 time string", field)
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValidationError("must be an ISO 8601 time such as 2026-01-31T12:00:00Z", field) from None
    if moment.tzinfo is None:
        raise ValidationError("must include a time zone offset or Z", field)
    try:
        return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable instant
        raise ValidationError("is outside the years 1 to 9999 in UTC", field) from None


def unix(moment: datetime.datetime | None) -> int | None:
    """Unix seconds of a naive UTC datetime (None stays None)."""
    return None if moment is None else calendar.timegm(moment.utctimetuple())
