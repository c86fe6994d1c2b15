#!/usr/bin/env -S python3 -I -S
"""transient-notify: the walletnotify/blocknotify command. Pings transientd, never waits long.

    walletnotify=/opt/transient/scripts/transient-notify transaction DOGE %s
    blocknotify=/opt/transient/scripts/transient-notify block DOGE %s

Options (before the three arguments): ``--url http://HOST:PORT`` (default
http://127.0.0.1:8080), ``--token TOKEN`` (the [notify] token, needed from another
host), ``--timeout SECONDS`` (default 5), ``--nice N`` (default 19, 0 to keep the
node's priority), ``--turn-fd FD`` (the wiring line took the turn on FD already, see
below).

The node starts this once per event, thousands at once in a burst, so it is built
to start fast: standard library only, and of that only the socket primitives (the
http.client and urllib modules take longer to import than the whole ping). Run it
as ``python3 -I -S transient-notify ...`` (the shebang does): no site-packages, no
environment, nothing of Transient imported. Plain http only; for https use curl.

It lowers its own priority first: the node runs these in its own session, and a
block that fires thousands of them at once would otherwise starve the node's RPC
threads (and so the very sync they ask for) of CPU.

Bursts coalesce here already: a ping takes a turn (an flock on a file in a private
directory under /tmp) and gives it back just before it sends. An event whose script
finds the turn taken exits at once: the holder has not sent yet, so its ping reaches
the daemon after this event's transaction is in the wallet, and the sync it starts
lists it. On a machine drowning in notify processes most of them never connect.

For volume, the wiring line can take the turn itself, before any interpreter starts:

    walletnotify=exec 9>>LOCKFILE; flock -n 9 && exec python3 -I -S transient-notify --turn-fd 9 ...

An event whose ping is covered then costs the node a shell and flock(1), about 1.5 ms
instead of 11 ms; a flock dies with its process, so a crashed ping never holds the turn.

Exit codes: 0 accepted, 1 the daemon is down, slow or failing (its poll and start-up
catch-up cover the event), 2 a bad ping (usage, not a 64-hex hash, a currency the
daemon does not know, a refused token): a message on stderr says which.
"""

import _socket
import posix
import sys

USAGE = (
    "usage: transient-notify [--url URL] [--token TOKEN] [--timeout SECONDS] [--nice N] [--turn-fd FD]"
    " transaction|block CURRENCY HASH"
)
DEFAULT_URL = "http://127.0.0.1:8080"
HEX = frozenset("0123456789abcdefABCDEF")


class Failure(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def parse(argv):
    """Return ``(url, token, timeout, kind, currency, hash, nice, turn_fd)`` or raise Failure (exit 2)."""
    options = {"--url": DEFAULT_URL, "--token": None, "--timeout": "5", "--nice": "19", "--turn-fd": None}
    args = list(argv)
    while args and args[0].startswith("--"):
        name, eq, value = args.pop(0).partition("=")
        if name not in options:
            raise Failure("unknown option %s\n%s" % (name, USAGE), 2)
        if not eq:
            if not args:
                raise Failure("%s needs a value\n%s" % (name, USAGE), 2)
            value = args.pop(0)
        options[name] = value
    if len(args) != 3:
        raise Failure(USAGE, 2)
    kind, currency, value = args
    if kind not in ("transaction", "block"):
        raise Failure("the kind must be transaction or block, got %r" % kind, 2)
    if not currency.isalnum():
        raise Failure("bad currency code %r" % currency, 2)
    if len(value) != 64 or not HEX.issuperset(value):
        raise Failure(
            "%s must be 64 hexadecimal characters, got %r (is the placeholder %%s?)"
            % ("the txid" if kind == "transaction" else "the block hash", value),
            2,
        )
    try:
        timeout = float(options["--timeout"])
    except ValueError:
        raise Failure("--timeout must be a number of seconds", 2) from None
    if not options["--nice"].isdigit() or int(options["--nice"]) > 19:
        raise Failure("--nice must be a whole number from 0 to 19", 2)
    turn_fd = options["--turn-fd"]
    if turn_fd is not None and (not turn_fd.isdigit() or int(turn_fd) < 3):
        raise Failure("--turn-fd must be a file descriptor number of 3 or more", 2)
    return (
        options["--url"],
        options["--token"],
        timeout,
        kind,
        currency.upper(),
        value,
        int(options["--nice"]),
        None if turn_fd is None else int(turn_fd),
    )


def split_url(url):
    """Return ``(host, port, path prefix)`` of an http:// URL."""
    if not url.startswith("http://"):
        raise Failure("--url must start with http:// (got %r); for https use curl" % url, 2)
    rest = url[len("http://") :]
    netloc, _, path = rest.partition("/")
    if netloc.startswith("["):
        host, _, port = netloc[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = netloc.partition(":")
    if not host or (port and not port.isdigit()):
        raise Failure("bad --url %r" % url, 2)
    return host, int(port or 80), ("/" + path).rstrip("/")


def turn_path(url, currency):
    """Return the lock file of the ping turn for ``url`` and ``currency``."""
    name = "".join(c if c.isalnum() else "_" for c in "%s_%s" % (url, currency))
    return "/tmp/transient-notify-%d/%s.lock" % (posix.getuid(), name)


def take_turn(url, currency):
    """Return a file descriptor holding the ping turn, None when another ping holds it
    and has not been sent yet, or -1 when turns cannot be used here (send anyway)."""
    path = turn_path(url, currency)
    directory = path.rpartition("/")[0]
    try:
        try:
            posix.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        st = posix.lstat(directory)
        # Only a private directory of ours: anyone else could hold the turn forever.
        if st.st_uid != posix.getuid() or st.st_mode & 0o170077 != 0o040000:
            return -1
        fd = posix.open(path, posix.O_RDWR | posix.O_CREAT | posix.O_NOFOLLOW | posix.O_CLOEXEC, 0o600)
    except OSError:
        return -1
    import fcntl  # a small extension module; only here, past the checks

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        posix.close(fd)
        return None
    except OSError:
        posix.close(fd)
        return -1
    return fd


def held_turn(fd):
    """Return ``fd`` when it is an open descriptor (the shell took the turn on it before
    starting us, see --turn-fd), else -1: no turn to give back, send anyway."""
    try:
        posix.fstat(fd)
    except OSError:
        return -1
    return fd


def ping(url, token, timeout, kind, currency, value, nice=0, turn_fd=None):
    """POST the ping (at ``nice`` priority); return the HTTP status and the start of the
    answer's body, or None when another ping that is still to be sent covers this event.

    ``turn_fd``: the wiring line took the turn already, before the interpreter started
    (``exec 9>>LOCK; flock -n 9 && exec ... --turn-fd 9``), so that an event whose ping is
    covered costs the node a shell and a flock (about 1.5 ms) instead of an interpreter
    start (about 11 ms). Closing the descriptor gives the turn back."""
    if nice:
        posix.nice(nice)
    host, port, prefix = split_url(url)
    target = "%s/notify/%s/%s/%s" % (prefix, currency, kind, value)
    head = "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Length: 0\r\n" % (target, host)
    if token:
        head += "X-Transient-Token: %s\r\n" % token
    turn = take_turn(url, currency) if turn_fd is None else held_turn(turn_fd)
    if turn is None:
        return None
    try:
        # A bytes host: a str one would import the idna codec (and re with it) first.
        found = _socket.getaddrinfo(host.encode("ascii", "replace"), port, 0, _socket.SOCK_STREAM)
        family, type_, proto, _, address = found[0]
        sock = _socket.socket(family, type_, proto)
    except OSError as exc:
        _give_back(turn)
        raise Failure("cannot resolve %s: %s" % (host, exc), 1) from None
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        finally:
            _give_back(turn)  # before sending: whoever finds the turn free sends its own ping
        sock.sendall((head + "\r\n").encode("latin-1"))
        reply = b""
        while len(reply) < 4096:  # HTTP/1.0: the daemon closes after the answer
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    except _socket.timeout:
        raise Failure("transientd at %s did not answer within %gs" % (url, timeout), 1) from None
    except OSError as exc:
        raise Failure(
            "transientd is not reachable at %s (%s): is it running?" % (url, exc.strerror or exc), 1
        ) from None
    finally:
        sock.close()
    status_line, _, rest = reply.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise Failure("transientd at %s sent no HTTP answer" % url, 1)
    return int(parts[1]), rest.partition(b"\r\n\r\n")[2][:300].decode("utf-8", "replace")


def _give_back(turn):
    if turn >= 0:
        posix.close(turn)  # closing the descriptor releases the flock


def _message(body):
    import json  # only on this rare path: it costs a few milliseconds to import

    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body.strip()[:200]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        ping_args = parse(argv)
        url = ping_args[0]
        answer = ping(*ping_args)
        if answer is None or answer[0] == 202:
            return 0
        status, body = answer
        # 4xx: this ping is wrong (unknown currency, bad token); 5xx: the daemon is failing.
        raise Failure(
            "transientd at %s refused the ping: HTTP %d: %s" % (url, status, _message(body)),
            2 if 400 <= status < 500 else 1,
        )
    except Failure as exc:
        sys.stderr.write("transient-notify: %s\n" % exc)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
