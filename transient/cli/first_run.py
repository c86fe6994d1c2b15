"""What ``./scripts/run`` does: the one way to start the daemon.

With a config (``--config``, ``TRANSIENT_CONFIG``, ``./config.toml``, or a coin set in the
environment or ``.env``) or a reachable node on the built-in defaults, it migrates and runs
``transientd`` on it, as it always did. With none of these (a fresh machine), it starts the
devnet's private Litecoin Core regtest node, runs the daemon on the devnet's config in the
foreground, and prints what to type next; Ctrl-C stops the daemon and the node it started.

    python -m transient.cli.first_run [transientd options...]
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time

from dotenv import dotenv_values

from .. import settings
from ..core.errors import NodeError, TransientError
from ..devnet.node import DevnetError, litecoind_available, port_free
from ..devnet.workspace import DEFAULT_DIR, INSTALL_HINT, Devnet
from ..runtime import plugins
from .devnet import DIR_ENV
from .util import daemon_answers

COIN_ENV = re.compile(r"TRANSIENT_COINS_[A-Z0-9]+_")
START_TIMEOUT = 120  # seconds for the daemon to answer /healthz (a loaded CI machine)


def config_given(argv, environ, cwd="."):
    """Return what configures the daemon (for the log line), or None on a machine with
    no config at all: no ``--config``, no ``TRANSIENT_CONFIG``, no ``./config.toml`` in the
    working directory and no ``TRANSIENT_COINS_*`` variable (the environment or ``.env``,
    which settings.load reads the same way)."""
    for arg in argv:
        if arg == "--config" or arg.startswith("--config="):
            return "--config"
    if environ.get("TRANSIENT_CONFIG"):
        return "TRANSIENT_CONFIG=%s" % environ["TRANSIENT_CONFIG"]
    if os.path.exists(os.path.join(cwd, "config.toml")):
        return "./config.toml"
    coins = sorted(name for name in environ if COIN_ENV.match(name))
    return coins[0] if coins else None


def default_node_answers(config):
    """True when every coin of the built-in defaults (a local Dogecoin Core node) answers
    RPC: a machine that has the node runs on the defaults, as before."""
    try:
        classes = plugins.collect_backends(plugins.get_plugin_manager())
        for code, opts in config.coins.items():
            backend = classes[opts["backend"]](code, opts)
            try:
                backend.ping()
            finally:
                backend.close()
    except (NodeError, TransientError, KeyError, OSError):
        return False
    return True


def ensure_litecoind(say):
    """Make litecoind available: Debian's package when root with apt-get, else raise
    with the one line that says how."""
    if litecoind_available():
        return
    if os.geteuid() != 0 or not _which("apt-get"):
        raise DevnetError(INSTALL_HINT)
    say("installing litecoind from Debian's packages (apt-get install litecoind)...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "litecoind"]
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    if subprocess.run(install, **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], **quiet)
        if subprocess.run(install, **quiet).returncode != 0 or not litecoind_available():
            raise DevnetError("apt-get install litecoind failed: " + INSTALL_HINT)


def _which(name):
    return any(os.access(os.path.join(d, name), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep) if d)


def bin_path(name):
    """The path of ``name`` next to this interpreter (the venv's transientd, transient)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def next_steps(devnet, directory_given):
    """Return the lines printed once the daemon answers: each ready to copy."""
    api = devnet.api_url
    env = "TRANSIENT_CONFIG=%s" % shlex.quote(devnet.config_path)
    if directory_given:
        env += " %s=%s" % (DIR_ENV, shlex.quote(devnet.directory))
    body = '{"currency": "%s", "amount": "1.5"}' % devnet.CURRENCY
    return [
        "",
        "Transient is running on the devnet: a private Litecoin Core regtest network (test coins, no value).",
        "  API      %s" % api,
        "  config   %s" % devnet.config_path,
        "  Ctrl-C here stops the daemon and the devnet's node.",
        "",
        "Take a first payment, in another terminal:",
        '  export PATH="%s:$PATH" %s' % (os.path.dirname(sys.executable), env),
        "  curl -s %s/healthz" % api,
        "  curl -s -X POST %s/payments -H 'Content-Type: application/json' -d '%s'" % (api, body),
        "  transient payments create --currency %s --amount 1.5   # prints the payment's ID" % devnet.CURRENCY,
        "  %s/pay/ID   # the checkout page the customer sees (open it in a browser)" % api,
        "  transient payments watch ID &   # follows the payment live",
        "  transient devnet pay ID         # the customer pays from the devnet's payer wallet: PENDING",
        "  transient devnet mine           # one confirmation: PAID",
        "",
    ]


class Stop(Exception):
    """SIGTERM or SIGINT reached this process: stop what it started."""


def _raise_stop(signum, frame):
    raise Stop(signum)


def wait_healthy(proc, url, deadline):
    """Return True once the daemon answers at ``url``, False if it exits first."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if daemon_answers(url, timeout=1):
            return True
        time.sleep(0.2)
    return False


def stop_daemon(proc, timeout=60):
    """SIGTERM (gunicorn's graceful stop: the running sync finishes), then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def api_port_wanted(environ):
    """The port of TRANSIENT_SERVER_BIND, which wins over the devnet's config as over any."""
    port = environ.get("TRANSIENT_SERVER_BIND", "").rpartition(":")[2]
    return int(port) if port.isdigit() and 0 < int(port) < 65536 else None


def devnet_of(argv, environ):
    """The devnet directory whose config.toml is the given config (``--config`` or
    TRANSIENT_CONFIG), else None: running a devnet's config starts its node too."""
    path = environ.get("TRANSIENT_CONFIG") or ""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            path = arg.partition("=")[2]
        elif arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
    directory = os.path.dirname(os.path.abspath(path)) if path else ""
    if path and os.path.basename(path) == "config.toml" and os.path.exists(os.path.join(directory, "devnet.json")):
        return directory
    return None


def _without_config(argv):
    out, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--config="):
            skip = False
            continue
        if arg == "--config":
            skip = True
            continue
        out.append(arg)
    return out


def run_devnet(argv, environ, say, directory=None):
    """Start the devnet and the daemon on it; return the exit code once both stopped."""
    directory = directory or environ.get(DIR_ENV) or DEFAULT_DIR
    ensure_litecoind(say)
    devnet = Devnet(directory)
    port = api_port_wanted(environ)
    if devnet.running and port and devnet.state["api_port"] != port:
        raise DevnetError(
            "the devnet in %s runs for the API port %d, not %d: `transient devnet down` first"
            % (devnet.directory, devnet.state["api_port"], port)
        )
    if not devnet.running and not port and devnet.state and not port_free(devnet.state["api_port"]):
        port = 0  # the saved port is taken now: up() picks a free one
    say("starting the devnet's Litecoin Core regtest node in %s..." % devnet.directory)
    state, started = devnet.up(port or None)
    if not started:
        say("the devnet's node was already running (pid %d): it stays up after Ctrl-C" % state["pid"])
    url = devnet.api_url
    if daemon_answers(url, timeout=1):
        _stop_node(devnet, started)
        raise DevnetError("something already answers at %s: stop that daemon first" % url.removeprefix("http://"))
    code = _serve(devnet, argv, environ, say, os.path.abspath(directory) != os.path.abspath(DEFAULT_DIR))
    _stop_node(devnet, started)
    return code


def _serve(devnet, argv, environ, say, directory_given):
    if "--check" in argv:  # the devnet's config and database, checked; nothing left running
        return subprocess.run([bin_path("transientd"), "--config", devnet.config_path, *argv], env=environ).returncode
    # Its own process group: Ctrl-C reaches this process alone, which stops the daemon
    # gracefully (SIGTERM: the running sync finishes) and then the node.
    command = [bin_path("transientd"), "--config", devnet.config_path, *argv]
    proc = subprocess.Popen(command, env=environ, process_group=0)
    devnet.record_daemon(proc.pid)
    try:
        if not wait_healthy(proc, devnet.api_url, time.monotonic() + START_TIMEOUT):
            code = stop_daemon(proc)
            say("transientd stopped (exit %s) before it answered at %s: see its log above" % (code, devnet.api_url))
            return code or 1
        print("\n".join(next_steps(devnet, directory_given)), flush=True)
        code = proc.wait()
        say("transientd exited with %s" % code)
        return code
    except (Stop, KeyboardInterrupt):
        say("stopping transientd...")
        stop_daemon(proc)
        return 0
    finally:
        devnet.record_daemon(None)


def _stop_node(devnet, started):
    if started:
        # The signal that ends the daemon must not cut the node's stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        devnet.down()
        print("first-run: devnet node stopped (its chain and wallets are kept in %s)" % devnet.directory, flush=True)


def run_configured(argv):
    """Today's path: migrate, then replace this process with transientd."""
    config = [a for i, a in enumerate(argv) if a.startswith("--config") or (i and argv[i - 1] == "--config")]
    if not argv_wants_help(argv) and subprocess.run([bin_path("transient"), "migrate", *config]).returncode != 0:
        print("run: 'transient migrate' failed", file=sys.stderr)
        return 1
    os.execv(bin_path("transientd"), [bin_path("transientd"), *argv])


def main(argv=None, environ=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if environ is None:
        # .env counts as configuration as settings.load reads it: the environment wins.
        environ = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}

    def say(line):
        print("first-run: %s" % line, file=sys.stderr, flush=True)

    given = config_given(argv, environ)
    if given and devnet_of(argv, environ) and not argv_wants_help(argv):
        say("running on the devnet of %s" % given)
        return _devnet_guarded(_without_config(argv), environ, say, devnet_of(argv, environ))
    if given is None and not argv_wants_help(argv):
        try:
            defaults = settings.load(environ=environ, dotenv=False)
        except TransientError as exc:
            print("transientd: %s" % exc.message, file=sys.stderr)
            return 2
        if not default_node_answers(defaults):
            say("no config file and no node on the defaults (%s): starting the devnet" % _default_node(defaults))
            return _devnet_guarded(argv, environ, say)
        say("no config file; the default node answers: running on the built-in defaults")
    elif given:
        say("running on %s" % given)
    return run_configured(argv)


def _devnet_guarded(argv, environ, say, directory=None):
    # Explicitly: a shell's background job starts with SIGINT ignored.
    before = signal.signal(signal.SIGINT, _raise_stop), signal.signal(signal.SIGTERM, _raise_stop)
    try:
        return run_devnet(argv, environ, say, directory)
    except (Stop, KeyboardInterrupt):
        say("interrupted")
        return 130
    except (DevnetError, TransientError) as exc:
        say(str(exc) if isinstance(exc, DevnetError) else exc.message)
        return 2 if isinstance(exc, DevnetError) and INSTALL_HINT in str(exc) else 1
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def argv_wants_help(argv):
    return any(a in ("-h", "--help") for a in argv)


def _default_node(config):
    return ", ".join("%s at %s" % (code, opts["rpc_url"]) for code, opts in sorted(config.coins.items()))


if __name__ == "__main__":
    sys.exit(main())
