"""The doctor's checks of one coin node (reachable, credentials, wallet, chain and
network, walletnotify/blocknotify, the notify round trip on regtest) and what a check
is; ``doctor`` runs them after the config and the database."""

import datetime
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass

from ..core.clock import utcnow
from ..core.errors import ConfigError, NodeAuthError, NodeError, NodeUnreachable, RPCError
from ..core.redact import redact
from ..runtime.build import build_pool, watch_key
from ..store.models import ChainState, Payment

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


# What each built-in backend's node calls itself in getnetworkinfo's subversion.
# A plugin can say the same with a ``node_agent`` class attribute.
NODE_AGENTS = {"bitcoin": "Satoshi", "litecoin": "LitecoinCore", "dogecoin": "Shibetoshi"}


WALLET_NOT_FOUND, WALLET_NOT_SPECIFIED, METHOD_NOT_FOUND = -18, -19, -32601


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = None
    config_error: bool = False  # a failure of the config itself: exit code 2

    def as_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "config_error"}


class CoinDoctor:
    """The checks of one coin's node, through its backend's JSON-RPC client."""

    def __init__(self, config, code, backend, db, roundtrip, notify_timeout):
        self.config = config
        self.code = code
        self.backend = backend
        self.opts = config.coins[code]
        self.db = db
        self.roundtrip = roundtrip
        self.notify_timeout = notify_timeout
        self.rpc = getattr(backend, "rpc", None)
        self.chain = self.tip = None

    def check(self, what, status, detail, fix=None):
        return Check("%s %s" % (self.code, what), status, detail, fix)

    def checks(self):
        if self.rpc is None:  # not a bitcoind-family backend: what its interface says
            yield from self._ping_only()
            return
        if not (yield from self._reachable()):
            return
        yield from self._chain()
        if (yield from self._wallet()):
            yield from self._addresses()
            yield from self._watch_only()
        yield from self._sync()
        if not (yield from self._notify_endpoint()):
            return
        if self.chain == "regtest" and self.roundtrip:
            yield from self._roundtrip()
        else:
            why = "--no-roundtrip" if self.chain == "regtest" else "only on regtest: it needs a new block"
            yield self.check("round trip", SKIP, "walletnotify and blocknotify not tested (%s)" % why)

    def _ping_only(self):
        try:
            info = self.backend.ping()
        except NodeError as exc:
            yield self.check("node", FAIL, exc.message, "start the node, or fix coins.%s.rpc_url" % self.code)
            return
        self.chain = info.get("chain")
        yield self.check("node", OK, "reachable; chain %s, tip %s" % (info.get("chain"), info.get("blocks")))

    def _reachable(self):
        url = redact(self.opts["rpc_url"])
        try:
            info = self.rpc.call("getblockchaininfo")
        except NodeUnreachable as exc:
            yield self.check(
                "node",
                FAIL,
                "not reachable at %s: %s" % (url, exc.message),
                "start the node, or fix coins.%s.rpc_url" % self.code,
            )
            return False
        except NodeAuthError as exc:
            cookie = self.opts["rpc_cookie_file"]
            if cookie and not os.path.exists(cookie) and not _listening(self.opts["rpc_url"]):
                # The node writes its cookie when it starts: no file and no listener is a stopped node.
                yield self.check(
                    "node",
                    FAIL,
                    "not reachable at %s: nothing listens there, and the cookie file %s does not exist" % (url, cookie),
                    "start the node (it writes the cookie file), or fix coins.%s.rpc_url" % self.code,
                )
                return False
            yield self.check("node", OK, "reachable at %s" % url)
            yield self.check(
                "credentials",
                FAIL,
                exc.message,
                "correct coins.%s.rpc_user/rpc_password, or rpc_cookie_file (readable by this user)" % self.code,
            )
            return False
        except NodeError as exc:
            yield self.check(
                "node",
                FAIL,
                "%s answers, but not as a node: %s" % (url, exc.message),
                "point coins.%s.rpc_url at the node's RPC port" % self.code,
            )
            return False
        self.chain, self.tip = info["chain"], (info["blocks"], info["bestblockhash"])
        yield self.check("node", OK, "reachable at %s" % url)
        yield self.check(
            "credentials", OK, "accepted (%s)" % ("cookie file" if self.opts["rpc_cookie_file"] else "rpc_user")
        )
        if info.get("initialblockdownload"):
            yield self.check(
                "chain sync",
                WARN,
                "the node is still downloading the chain (height %d)" % info["blocks"],
                "wait for it to catch up: payments show up late until then",
            )
        return True

    def _chain(self):
        net = self.rpc.call("getnetworkinfo")
        subversion = net.get("subversion", "")
        agent = subversion.strip("/").split(":")[0]
        expected = getattr(type(self.backend), "node_agent", None) or NODE_AGENTS.get(self.backend.name)
        detail = "%s on %s, tip %d" % (
            subversion.strip("/") or "version %s" % net.get("version"),
            self.chain,
            self.tip[0],
        )
        if expected and agent != expected:
            yield self.check(
                "chain",
                FAIL,
                "%s, but backend %r expects a %s node" % (detail, self.backend.name, expected),
                "point coins.%s.rpc_url at the right node, or set coins.%s.backend to this node's coin"
                % (self.code, self.code),
            )
        else:
            yield self.check("chain", OK, detail)

    def _wallet(self):
        name = self.opts["wallet"]
        try:
            info = self.rpc.call("getwalletinfo")
        except RPCError as exc:
            yield self.check("wallet", FAIL, *self._wallet_problem(exc, name))
            return False
        shown = info.get("walletname", name)
        yield self.check(
            "wallet",
            OK,
            "%s loaded, %d transaction(s)"
            % ("the node's one wallet" if shown is None else repr(shown), info.get("txcount", 0)),
        )
        return True

    def _wallet_problem(self, exc, name):
        if exc.rpc_code == WALLET_NOT_FOUND:
            return (
                "wallet %r is not loaded on the node" % name,
                "load it (`%s-cli loadwallet %s`) and add `wallet=%s` to the node's config so it loads at start,"
                " or fix coins.%s.wallet" % (self._cli(), name, name, self.code),
            )
        if exc.rpc_code == WALLET_NOT_SPECIFIED:
            loaded = self._base_rpc().call("listwallets")
            return (
                "the node has several wallets loaded (%s) and coins.%s.wallet is not set"
                % (", ".join(loaded), self.code),
                "set coins.%s.wallet to the wallet that receives payments" % self.code,
            )
        if exc.rpc_code == METHOD_NOT_FOUND:
            return "the node runs without a wallet", "start the node without disablewallet"
        return exc.message, "see the node's log"

    def _addresses(self):
        """The newest payment's address must be valid on this network and owned by the wallet."""
        if self.db is None:
            return
        try:
            payment = (
                Payment.select(Payment.id, Payment.address)
                .where(Payment.currency == self.code)
                .order_by(Payment.created_at.desc())
                .first()
            )
        except Exception:  # noqa: BLE001 - an unmigrated database: reported above
            return
        if payment is None:
            yield self.check("network", SKIP, "no %s payments yet to compare with the node's network" % self.code)
            return
        info = self.rpc.call("validateaddress", payment.address)
        if not info.get("isvalid"):
            yield self.check(
                "network",
                FAIL,
                "payment %s's address %s is not an address of this node's %s network"
                % (payment.id, payment.address, self.chain),
                "this database's %s payments come from another coin or network: point coins.%s.rpc_url"
                " at the node that made them" % (self.code, self.code),
            )
            return
        if info.get("ismine") is None:  # newer nodes moved ismine to getaddressinfo
            info = self.rpc.call("getaddressinfo", payment.address)
        if not (info.get("ismine") or info.get("iswatchonly")):  # watch-only wallets own no key
            yield self.check(
                "network",
                FAIL,
                "the wallet does not own the address of payment %s" % payment.id,
                "set coins.%s.wallet to the wallet that made the payments' addresses" % self.code,
            )
            return
        yield self.check("network", OK, "the wallet owns the payments' addresses (checked payment %s)" % payment.id)

    def _watch_only(self):
        """A watch-only key: its network, the node's own derivation of it, and the gap."""
        pool = (
            build_pool(self.code, self.backend, self.db, self.opts, utcnow) if watch_key(self.code, self.opts) else None
        )
        if pool is None or self.db is None:
            return
        try:
            pool.check_network()
            pool.check_wallet()
            report = pool.gap_report()
            keyless = pool.check_watch_only()
        except ConfigError as exc:
            yield self.check(
                "watch-only key",
                FAIL,
                exc.message,
                "check coins.%s.xpub against the wallet that exported it, or run "
                "`transient wallet init %s`" % (self.code, self.code),
            )
            return
        yield self.check(
            "watch-only key",
            OK,
            "fingerprint %s; the node %s the same addresses; next index %d, registered up to %d"
            % (
                report["fingerprint"],
                # A node without descriptors (Dogecoin 1.14) watches what Transient imported.
                "watches" if self.backend.watch_import() == "addresses" else "derives",
                report["next_index"],
                report["registered"][1] - 1,
            ),
        )
        yield self.check("watch-only", OK, keyless)
        if report["gap_ok"]:
            yield self.check("gap", OK, "longest unused run %d (gap limit %d)" % (report["gap"], report["gap_limit"]))
        else:
            yield self.check(
                "gap",
                WARN,
                report["advice"],
                "raise the restoring wallet's gap limit above %d, or shorten coins.%s.expires_in"
                % (report["gap"], self.code),
            )

    def _sync(self):
        if self.db is None:
            return
        try:
            state = ChainState.get_or_none(ChainState.currency == self.code)
        except Exception:  # noqa: BLE001 - an unmigrated database: reported above
            return
        if state is None or state.cursor_height is None:
            yield self.check("sync", WARN, "never synced", "start transientd (or run `transient sync %s`)" % self.code)
        elif state.last_error:
            yield self.check("sync", WARN, "last sync failed: %s" % state.last_error, "see the transientd log")
        else:
            yield self.check("sync", OK, "ledger at height %d of %d" % (state.cursor_height, self.tip[0]))

    # -- walletnotify / blocknotify ---------------------------------------------

    def _notify_endpoint(self):
        """Ping the daemon as the node's notify commands do; return True when it answered."""
        url = "%s/notify/%s/block/%s" % (daemon_url(self.config), self.code, self.tip[1])
        status, body = post(url, self.config["notify.token"])
        if status is None:
            yield self.check(
                "notify",
                WARN,
                "transientd is not running at %s (%s)" % (daemon_url(self.config), body),
                "start transientd, then run doctor again to check walletnotify and blocknotify",
            )
            return False
        if status != 202:
            yield self.check(
                "notify",
                FAIL,
                "the daemon refused a ping: HTTP %d %s" % (status, body),
                _NOTIFY_FIX[status] if status in _NOTIFY_FIX else "see the transientd log",
            )
            return False
        yield self.check("notify", OK, "the daemon at %s accepts pings for %s" % (daemon_url(self.config), self.code))
        return True

    def _roundtrip(self):
        """Make the node fire blocknotify alone (a block paying no wallet), then walletnotify
        alone (a wallet learns that block's coinbase with no new block): each through the
        RPCs its node has (the backend's ``mine_test_block`` and ``wallet_test_transaction``)."""
        since = utcnow()
        try:
            block = self.backend.mine_test_block()
        except RPCError as exc:
            yield self.check("blocknotify", SKIP, "cannot mine a test block here: %s" % exc.message)
            return
        yield self._pinged("blocknotify", since, "mined regtest block %s" % block["hash"][:16], "block")
        since = utcnow()
        try:
            wallet = self.backend.wallet_test_transaction(block)
        except RPCError as exc:
            yield self.check("walletnotify", SKIP, "cannot make a wallet transaction here: %s" % exc.message)
        else:
            yield self._pinged("walletnotify", since, "a wallet transaction (%s)" % wallet, "transaction")

    def _pinged(self, what, since, trigger, kind):
        health = daemon_url(self.config) + "/healthz"
        deadline = time.monotonic() + self.notify_timeout
        while True:
            # Each worker process knows its own pings: ask on fresh connections until one says so.
            seen = _last_notify(health, self.code)
            if seen is not None and seen >= since:
                return self.check(what, OK, "round trip: %s, and the daemon was pinged" % trigger)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        line = "%snotify=curl -s -X POST %s/notify/%s/%s/%%s" % (
            "wallet" if kind == "transaction" else "block",
            daemon_url(self.config),
            self.code,
            kind,
        )
        poll = self.opts["poll_interval"]
        # While polling is on, pings only make syncs sooner: the poll still sees everything.
        return self.check(
            what,
            WARN if poll > 0 else FAIL,
            "round trip: %s, but no ping reached the daemon in %gs%s"
            % (trigger, self.notify_timeout, "; payments are still seen by the poll every %ds" % poll if poll else ""),
            "add `%s` to the node's config and restart it" % line,
        )

    def _client(self, wallet):
        return type(self.backend)._client(dict(self.opts, wallet=wallet))

    def _base_rpc(self):
        return self._client(None)

    def _cli(self):
        return self.backend.name if self.backend.name in NODE_AGENTS else "bitcoin"


_NOTIFY_FIX = {
    401: "ping from the loopback, or set [notify] token and send it (?token= or X-Transient-Token)",
    422: "the running daemon does not know this coin: restart transientd after changing the config",
}


def _listening(url, timeout=2.0):
    """True when something accepts a TCP connection at ``url``'s host and port."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    return True


def daemon_url(config):
    """Return the base URL of the daemon's API from ``server.bind`` (a wildcard bind: loopback)."""
    host, _, port = config["server.bind"].rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return "http://%s:%s" % ("[%s]" % host if ":" in host else host, port)


def post(url, token=None, timeout=3.0):
    """POST an empty body; return ``(status, text)``, or ``(None, reason)`` when nothing answered."""
    request = urllib.request.Request(url, data=b"", method="POST")
    if token:
        request.add_header("X-Transient-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, _error_message(exc.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))


def _error_message(text):
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200]


def _last_notify(url, code):
    try:
        request = urllib.request.Request(url, headers={"Connection": "close"})
        try:
            with urllib.request.urlopen(request, timeout=3) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:  # 503 when a coin is down: the body still reports
            body = exc.read()
        at = json.loads(body)["coins"][code].get("last_notify_at")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return datetime.datetime.fromisoformat(at.rstrip("Z")) if at else None
