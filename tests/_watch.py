"""Watch-only keys for tests on the shared regtest node: each call gives an account key
no other test watches (a child account of the BIP84 vector's key, as a testnet key)."""

import itertools
import uuid

from embit import base58
from embit.bip32 import HDKey

ROOT = HDKey.parse(
    bytes.fromhex("043587cf")
    + base58.decode_check(
        "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz"
        "2oz2AGutZYs"
    )[4:]
)
_accounts = itertools.count(int(uuid.uuid4().hex[:6], 16))


def fresh_tpub(version="043587cf"):
    """A never-used account key (tpub; vpub with version 045f1cf6)."""
    return base58.encode_check(bytes.fromhex(version) + ROOT.child(next(_accounts)).serialize()[4:])


def create_keyless_wallet(node, name):
    """A legacy wallet without private keys (litecoind 0.21 has no descriptor wallets)."""
    node.rpc("createwallet", name, True, True, "", False, False, True)
    return name


def watch_runtime(tmp_path, regtest, name, key, pool=6, gap_limit=3, clock=None, db="w.db"):
    """A migrated Runtime on SQLite (``db`` in ``tmp_path``) whose LTC coin watches ``key``
    in the regtest node's wallet ``name``."""
    from _api import node_runtime

    coin = 'xpub = "%s"\naddress_pool = %d\ngap_limit = %d\n' % (key, pool, gap_limit)
    return node_runtime(tmp_path, regtest, name, db=db, coin=coin, clock=clock)
