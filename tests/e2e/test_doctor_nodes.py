"""`transient doctor`'s walletnotify/blocknotify round trip on every coin's real node, each
through the RPCs it has: Litecoin Core 0.21 (a legacy doctor wallet: importaddress),
Bitcoin Core 30.0 and 28.3 (a descriptor doctor wallet: importdescriptors), Dogecoin Core
1.14.9 (generatetoaddress to a fresh P2SH, its one wallet watches it and rescans the block).

One transientd serves the four nodes (Bitcoin Core 28 as the coin code BTC28), whose notify
commands ping it; the doctor runs twice (the second run reuses what the first one left: the
doctor's wallet, the watched scripts) and must see each ping on each node."""

import json

import pytest
from _cli import run
from _daemon import Daemon, coin_config, wait_for
from _services import _missing

from transient.devnet.coins import KINDS, node_binary, regtest_node
from transient.devnet.node import find_free_port, notify_command

pytestmark = pytest.mark.regtest

# node kind -> (coin code in the config, backend)
NODES = {
    "LTC": ("LTC", "litecoin"),
    "BTC": ("BTC", "bitcoin"),
    "BTC28": ("BTC28", "bitcoin"),
    "DOGE": ("DOGE", "dogecoin"),
}


@pytest.fixture(scope="module")
def doctor_reports(tmp_path_factory):
    """``{code: [checks of run 1, checks of run 2]}`` for each node kind found here."""
    tmp = tmp_path_factory.mktemp("doctor-nodes")
    url = "http://127.0.0.1:%d" % find_free_port()
    nodes, wallets, coins, daemon = {}, {}, "", None
    try:
        for kind, (code, backend) in NODES.items():
            if node_binary(kind) is None:
                continue  # its test says so (tests/_services.py's rule)
            node = nodes[code] = regtest_node(
                kind,
                tmp / kind,
                walletnotify=notify_command("transaction", code, url),
                blocknotify=notify_command("block", code, url),
            ).start()
            # No coins to mature: the doctor mines its own blocks. None on Dogecoin: its one wallet.
            wallets[code] = node.create_wallet("merchant")
            coins += coin_config(node, wallets[code], currency=code, backend=backend, poll=60)
        daemon = Daemon(str(tmp), "sqlite:///%s" % (tmp / "t.db"), coins, port=int(url.rsplit(":", 1)[1])).start()
        for code, node in nodes.items():
            node.mine(1, wallet=wallets[code])  # a recent tip: a chain at its genesis block is still "downloading"
        wait_for(lambda: all(c["cursor_height"] == 1 for c in daemon.get("/healthz").json()["coins"].values()), 60)
        reports = {code: [] for code in nodes}
        for _ in range(2):
            result = run("doctor", "--json", "--notify-timeout", "20", "--config", daemon.config_path)
            assert "Traceback" not in result.stderr, result.stderr
            checks = {c["name"]: (c["status"], c["detail"]) for c in json.loads(result.stdout)["checks"]}
            for code in nodes:
                reports[code].append({n[len(code) + 1 :]: v for n, v in checks.items() if n.startswith(code + " ")})
        yield reports
    finally:
        if daemon is not None:
            daemon.kill()
        for node in nodes.values():
            node.stop()


@pytest.mark.parametrize("kind", list(NODES))
def test_doctor_round_trip_on_the_coins_node(doctor_reports, kind):
    code = NODES[kind][0]
    if code not in doctor_reports:
        _missing("%s regtest node: set %s or put %s on PATH" % (kind, KINDS[kind][1], KINDS[kind][0].DAEMON))
    for checks in doctor_reports[code]:
        for what in ("blocknotify", "walletnotify"):
            status, detail = checks[what]
            assert status == "ok" and detail.startswith("round trip: ") and "the daemon was pinged" in detail, checks
        # All ok but the network check, skipped: no payment yet to compare with the node.
        assert {name for name, (status, _) in checks.items() if status != "ok"} == {"network"}, checks
        # Dogecoin Core's one wallet has no name (the doctor printed "None").
        shown = "the node's one wallet" if kind == "DOGE" else "'merchant'"
        assert checks["wallet"][1].startswith(shown + " loaded"), checks
