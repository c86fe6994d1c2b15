"""The coins the end-to-end cases run on, each on its own real node in regtest.

A test parametrised over ``coin`` (``@pytest.mark.parametrize("coin", COINS, indirect=True,
scope="module")``, or :data:`EVERY_COIN`) gets a :class:`Coin`; the ``coin_node`` fixture
(tests/conftest.py) is that coin's node, shared by the module: LTC and BTC share one per
session (a fresh wallet per test), DOGE one per module (Dogecoin Core 1.14 has one wallet per
node: the tests of a module share it, and tell their payments apart by address, as the
daemon does).
"""

import dataclasses

import pytest


@dataclasses.dataclass(frozen=True)
class Coin:
    kind: str  # the node: LTC, BTC (Bitcoin Core 30), BTC28, DOGE
    currency: str
    backend: str  # the [coins.X] backend
    uri_scheme: str
    node_label: str  # for the reports: which node it ran on

    @property
    def multiwallet(self):
        return self.kind != "DOGE"

    def __str__(self):
        return self.kind


COIN_SPECS = {
    "LTC": Coin("LTC", "LTC", "litecoin", "litecoin", "Litecoin Core 0.21 (Debian litecoind)"),
    "BTC": Coin("BTC", "BTC", "bitcoin", "bitcoin", "Bitcoin Core 30.0"),
    "BTC28": Coin("BTC28", "BTC", "bitcoin", "bitcoin", "Bitcoin Core 28.3"),
    "DOGE": Coin("DOGE", "DOGE", "dogecoin", "dogecoin", "Dogecoin Core 1.14.9"),
}
COINS = ["LTC", "BTC", "DOGE"]  # each coin on its newest node
#: The parametrisation over every coin, a node (and wallet set-up) per coin per module.
EVERY_COIN = pytest.mark.parametrize("coin", COINS, indirect=True, scope="module")


def keyless_wallet(node, name):
    """A wallet without private keys for a watch-only key: a descriptor wallet on Bitcoin
    Core, a legacy one on Litecoin Core 0.21 (no sqlite), and on Dogecoin Core the node's
    one wallet (None), which holds keys of its own but none to the watched addresses."""
    if not node.MULTIWALLET:
        return None
    descriptors = node.CURRENCY == "BTC"
    # createwallet name disable_private_keys blank passphrase avoid_reuse descriptors load_on_startup
    node.rpc("createwallet", name, True, True, "", False, descriptors, True)
    return name
