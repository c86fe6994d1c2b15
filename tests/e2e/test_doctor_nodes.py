"""`transient doctor`'s walletnotify/blocknotify round trip on every coin's real node, each
through the RPCs it has: Litecoin Core 0.21 (a legacy doctor wallet: importaddress),
Bitcoin Core 30.0 and 28.3 (a descriptor doctor wallet: importdescriptors), Dogecoin Core
1.14.9 (generatetoaddress to a fresh P2SH, its one wallet watches it and rescans the block).
The node's notify commands ping the daemon; the doctor must see each ping, twice in a row
(the second run reuses what the first one left: the doctor's wallet, the watched scripts)."""

import json

import pytest
from _cli import run
from _daemon import Daemon, coin_config, wait_for
from _services import _missing

from transient.devnet.coins import KINDS, node_binary, regtest_node
from transient.devnet.node import find_free_port, notify_command

pytestmark = pytest.mark.regtest

# node kind -> (currency, backend)
NODES = {
    "LTC": ("LTC", "litecoin"),
    "BTC": ("BTC", "bitcoin"),
    "BTC28": ("BTC", "bitcoin"),
    "DOGE": ("DOGE", "dogecoin"),
}


@pytest.fixture(params=list(NODES))
def wired(request, tmp_path):
    """A fresh node of the kind whose walletnotify/blocknotify ping a running transientd."""
    kind = request.param
    currency, backend = NODES[kind]
    if node_binary(kind) is None:
        _missing("%s regtest node: set %s or put %s on PATH" % (kind, KINDS[kind][1], KINDS[kind][0].DAEMON))
    port = find_free_port()
    url = "http://127.0.0.1:%d" % port
    node = regtest_node(
        kind,
        tmp_path / "node",
        walletnotify=notify_command("transaction", currency, url),
        blocknotify=notify_command("block", currency, url),
    ).start()
    daemon = None
    try:
        # No coins to mature: the doctor mines its own block. None on Dogecoin: its one wallet.
        wallet = node.create_wallet("merchant")
        config = coin_config(node, wallet, currency=currency, backend=backend, poll=60)
        daemon = Daemon(str(tmp_path), "sqlite:///%s" % (tmp_path / "t.db"), config, port=port).start()
        wait_for(lambda: daemon.get("/healthz").json()["coins"][currency]["cursor_height"] is not None, timeout=30)
        yield currency, daemon
    finally:
        if daemon is not None:
            daemon.kill()
        node.stop()


def test_doctor_round_trip_on_the_coins_node(wired):
    currency, daemon = wired
    for _ in range(2):
        result = run("doctor", "--json", "--notify-timeout", "20", "--config", daemon.config_path)
        assert "Traceback" not in result.stderr, result.stderr
        report = json.loads(result.stdout)
        checks = {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}
        for what in ("blocknotify", "walletnotify"):
            status, detail = checks["%s %s" % (currency, what)]
            assert status == "ok" and detail.startswith("round trip: ") and "the daemon was pinged" in detail, checks
        # All ok but the network check, skipped: no payment yet to compare with the node.
        assert report["ok"] is True and {n for n, (s, _) in checks.items() if s != "ok"} == {currency + " network"}
        # Dogecoin Core's one wallet has no name (it was printed "None").
        shown = "the node's one wallet" if currency == "DOGE" else "'merchant'"
        assert checks["%s wallet" % currency][1].startswith(shown + " loaded"), checks
