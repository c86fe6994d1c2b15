"""What the ``transient`` commands share: errors to exit codes, the runtime, output."""

import contextlib
import json
import os
import re
import shlex
import shutil
import sys
import urllib.error
import urllib.request
from decimal import Decimal

from .. import settings
from ..core.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    NotMigrated,
    PluginError,
    TransientError,
    UnknownCurrency,
    ValidationError,
)
from ..runtime import Runtime

OK, FAILURE, USAGE = 0, 1, 2

# The API names fields as in JSON bodies; the CLI user typed these options.
FLAGS = {
    "currency": "--currency",
    "amount": "--amount",
    "account": "--account",
    "metadata": "--metadata",
    "price": "--price",
    "price_currency": "--price-currency",
    "confirmations": "--confirmations",
    "underpayment_tolerance": "--tolerance",
    "expires_in": "--expires-in",
    "expires_at": "--expires-at",
    "callback_url": "--callback-url",
    "redirect_url": "--redirect-url",
    "Idempotency-Key": "--idempotency-key",
    "status": "--status",
    "limit": "--limit",
    "cursor": "--cursor",
    "from_height": "--from-height",
}


class CommandError(Exception):
    """A command could not do its job: one line for the user, and an exit code."""

    def __init__(self, message, code=FAILURE):
        super().__init__(message)
        self.message = message
        self.code = code


def usage(message):
    """Return a CommandError for a bad argument (exit code 2)."""
    return CommandError(message, USAGE)


def exit_code(exc):
    """Return the exit code for a domain error: 2 for what the user can fix in the
    command or the config, 1 for everything else (the node is down, not found...)."""
    if isinstance(exc, CommandError):
        return exc.code
    if isinstance(exc, (ConfigError, PluginError, NotMigrated, ValidationError, BadRequest)):
        return USAGE
    return FAILURE


def describe(exc):
    """Return the one-line message for a domain error, naming the option at fault."""
    if isinstance(exc, (ValidationError, BadRequest, Conflict)) and not isinstance(exc, UnknownCurrency):
        if exc.field:
            return "%s %s" % (FLAGS.get(exc.field, exc.field), exc.message)
    return exc.message


def load_config(args):
    """Return the Config for ``--config`` (or TRANSIENT_CONFIG, ./config.toml)."""
    return settings.load(getattr(args, "config", None))


@contextlib.contextmanager
def open_runtime(config):
    """Yield a :class:`transient.runtime.Runtime` with a ready schema; close it after.

    The CLI uses the same runtime (database, backends, payments service, syncers)
    as the daemon, without its scheduler.
    """
    runtime = Runtime(config)
    try:
        runtime.prepare_schema()
        yield runtime
    finally:
        runtime.close()


def currency_arg(coins, value):
    """Return ``value`` upper-cased if it is a key of ``coins`` (the configured
    currencies), else raise a usage error."""
    code = value.upper()
    if code not in coins:
        raise usage("unknown currency %r (configured: %s)" % (value, ", ".join(sorted(coins)) or "none"))
    return code


# -- arguments ----------------------------------------------------------------

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text):
    """Return the seconds in ``15m``, ``2h``, ``1d``, ``1h30m`` or a plain number of
    seconds; raise ValueError for anything else."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("expected a duration such as 90s, 15m, 2h, 1d or 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in parts)


# -- output ---------------------------------------------------------------------


def print_json(value, stream=None):
    print(json.dumps(value, indent=2, default=_json_default), file=stream or sys.stdout)


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def table(rows, headers, stream=None):
    """Print ``rows`` (lists of cells) under ``headers``, columns aligned."""
    cells = [[("" if c is None else str(c)) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths))
        print(line.rstrip(), file=stream or sys.stdout)


def fields(pairs, stream=None):
    """Print ``(label, value)`` pairs as an aligned two-column block, skipping None values."""
    pairs = [(k, v) for k, v in pairs if v is not None]
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print("%s  %s" % (key.ljust(width), value), file=stream or sys.stdout)


class ProgressBar:
    """A one-line progress bar on a terminal (``stream`` is a TTY); silent otherwise,
    so logs and pipes get only the final summary."""

    def __init__(self, total, label="", stream=None, width=None, tty=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = max(total, 1)
        self.label = label
        self.width = width or max(10, min(40, shutil.get_terminal_size((80, 24)).columns - 40))
        self.shown = False

    def update(self, done, note=""):
        if not self.tty:
            return
        done = min(max(done, 0), self.total)
        filled = self.width * done // self.total
        self.stream.write(
            "\r%s [%s%s] %3d%% %s\x1b[K"
            % (self.label, "#" * filled, "-" * (self.width - filled), 100 * done // self.total, note)
        )
        self.stream.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def fail_line(exc):
    """Return ``(message, exit code)`` for an exception a command may raise."""
    if isinstance(exc, CommandError):
        return exc.message, exc.code
    if isinstance(exc, TransientError):
        return describe(exc), exit_code(exc)
    raise exc


# -- the daemon -----------------------------------------------------------------

START_HINT = "./scripts/run"


def daemon_url(config):
    """Return the base URL the CLI reaches the daemon at: the config's ``[server] bind``,
    with a wildcard host (0.0.0.0, ::) read as this machine's loopback."""
    host, _, port = config["server.bind"].rpartition(":")
    host = host.strip("[]")
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return "http://%s:%s" % ("[%s]" % host if ":" in host else host, port)


def daemon_answers(url, timeout=2.0):
    """True when something answers HTTP at ``url``/healthz (200 healthy, 503 degraded:
    both are a running daemon); False when nothing listens there or it does not answer."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def start_hint(config):
    """How to start the daemon on ``config``: the one way, ``./scripts/run``, given the
    config file when it is not the one scripts/run finds by itself (./config.toml)."""
    source = config.source
    if source and os.path.abspath(source) != os.path.abspath("config.toml"):
        return "TRANSIENT_CONFIG=%s %s" % (shlex.quote(os.path.abspath(source)), START_HINT)
    return START_HINT


def require_daemon(config, what):
    """Raise a usage error (exit 2) unless transientd answers at the config's address: a
    payment made or paid with no daemon running is watched by nobody until one starts.
    ``what`` names the option that skips the check (the caller's ``--offline``)."""
    url = daemon_url(config)
    if daemon_answers(url):
        return url
    raise usage(
        "transientd is not answering at %s: start it with `%s` (or pass %s)"
        % (url.removeprefix("http://"), start_hint(config), what)
    )
