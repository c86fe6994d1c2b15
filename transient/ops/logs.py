"""One log format for every line: the daemon's own and gunicorn's (error and access).

``[log] format = "text"``: one readable line per record (a traceback's newlines are
written as ``\\n``, so a line is a record); ``"json"``: one JSON object per line with
``time``, ``level``, ``logger``, ``message`` and the fields a call passes with
``extra=`` (``payment_id``, ``currency``, ``txid``, ``status``, ``delivery_id``, ...).

:func:`config` is the ``logging.config.dictConfig`` dict of both the daemon (the
master) and gunicorn (``logconfig_dict``, applied again in each worker): the same
formatter and the redaction filter (core.redact) on its one handler.
:class:`Transition` makes a down/up line once per daemon, not once per worker.
"""

import datetime
import json
import logging
import os
import threading

from ..core import redact
from . import rundir

FORMATS = ("text", "json")
# The record attributes a call may pass with extra= (and the access log's, below): shown
# in this order. Anything else on a record (logging's own attributes) is not a field.
FIELDS = (
    "event",
    "payment_id",
    "currency",
    "status",
    "cause",
    "amount",
    "txid",
    "vout",
    "delivery_id",
    "target",
    "attempts",
    "error",
    "method",
    "path",
    "http_status",
    "duration_ms",
    "remote_addr",
    "worker_pid",
)
# gunicorn's access-log atoms copied into fields (path without its query: no token leaks).
ACCESS_ATOMS = {"method": "m", "path": "U", "http_status": "s", "duration_ms": "M", "remote_addr": "h"}
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def _time(record):
    stamp = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fields(record):
    """The ``extra=`` fields of ``record`` in FIELDS order (None values left out)."""
    return {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z INFO transient.payments: payment created payment_id=... currency=LTC``"""

    def format(self, record):
        line = "%s %s %s: %s" % (_time(record), record.levelname, record.name, record.getMessage())
        extra = fields(record)
        if extra:
            line += " " + " ".join("%s=%s" % (k, _text_value(v)) for k, v in extra.items())
        trace = _trace(self, record)
        if trace:
            line += " " + trace
        return line.replace("\r", "\\r").replace("\n", "\\n")


def _text_value(value):
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=') else text


def _trace(formatter, record):
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or ""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, pid, the fields, exc."""

    def format(self, record):
        out = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name, value in fields(record).items():
            out[name] = value if isinstance(value, (int, float, bool, str)) else str(value)
        trace = _trace(self, record)
        if trace:
            out["exc"] = trace
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


class AccessFields(logging.Filter):
    """gunicorn's access record carries its atoms as the message's arguments: copy the
    few that make fields, before the redaction filter formats the message."""

    def filter(self, record):
        atoms = record.args
        if record.name == "gunicorn.access" and isinstance(atoms, dict):
            for name, atom in ACCESS_ATOMS.items():
                try:
                    value = atoms[atom]
                except (KeyError, TypeError):
                    continue
                if value not in (None, "-"):
                    setattr(record, name, int(value) if name in ("http_status", "duration_ms") else value)
        return True


class Redacted(redact.ScrubFilter):
    """The redaction filter, also over the string fields a record carries. A field
    without a URL or a known secret in it (ids, txids, statuses) is left as it is
    without a scrub: a block's thousands of lines stay cheap (bench/observability_cost.py)."""

    def __init__(self, secrets=()):
        super().__init__(secrets)
        values = (redact.secrets_in(s) if "://" in str(s) else [str(s)] for s in self.secrets)
        self.values = tuple({v for found in values for v in found if len(v) >= redact.MIN_SECRET})

    def filter(self, record):
        super().filter(record)
        for name in FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str) and ("://" in value or any(v in value for v in self.values)):
                setattr(record, name, redact.scrub(value, *self.secrets))
        return True


def config(fmt="text", level="INFO", secrets=(), access_log=False):
    """The dictConfig dict of the daemon and of gunicorn: one stderr handler with the
    ``fmt`` formatter and the redaction filter, every logger through it."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    quiet = max(logging.WARNING, logging.getLevelName(level))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"access": {"()": AccessFields}, "redact": {"()": Redacted, "secrets": tuple(secrets)}},
        "formatters": {"transient": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "transient",
                "filters": ["access", "redact"],  # the atoms are read before the message is scrubbed
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Off unless [log] access_log: gunicorn logs each request at INFO.
            "gunicorn.access": {"level": "INFO" if access_log else "WARNING", "handlers": [], "propagate": True},
            # APScheduler logs every run of every job at INFO: one line per coin every few seconds.
            "apscheduler": {"level": logging.getLevelName(quiet)},
            # pika logs each failed connection attempt as an error; transient.amqp logs the changes.
            "pika": {"level": "WARNING" if level == "DEBUG" else "CRITICAL"},
        },
    }


# -- lines said once per daemon -------------------------------------------------------


class Transition:
    """A condition (a node down, the database down) that every worker may see: only the
    first process to see it go down, and the first to see it come back, says so.

    Under transientd the mark is a file in the daemon's run directory (ops.rundir,
    fresh at each start), made with O_EXCL and removed by whoever sees
    the recovery first; elsewhere (the CLI, tests) it is this process's memory.
    """

    _local = set()
    _lock = threading.Lock()

    def __init__(self, name):
        self.name = name

    def _path(self):
        run = rundir.path()
        return os.path.join(run, "down-" + self.name) if run else None

    def down(self):
        """Mark the condition down; True when this call made the change."""
        path = self._path()
        if path is None:
            with self._lock:
                if self.name in self._local:
                    return False
                self._local.add(self.name)
                return True
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            return False
        except OSError:
            return True  # cannot tell: better a line twice than none

    def up(self):
        """Mark the condition up again; True when this call made the change."""
        path = self._path()
        if path is None:
            with self._lock:
                if self.name not in self._local:
                    return False
                self._local.discard(self.name)
                return True
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False
        except OSError:
            return True
