"""Which BIP32 library derives the watch-only addresses: correctness on the BIP44/49/84
vectors and the time to derive N receive-chain public keys, each candidate that is
installed (pip install embit bip-utils hdwallet python-bitcoinlib), in the same run.
The baseline is embit, the one Transient uses (transient/chain/hdkeys.py).

    python bench/hdkeys_libraries.py            # 10 000 keys
    python bench/hdkeys_libraries.py --smoke    # 200 keys
"""

import argparse
import time

from embit import base58

from transient.chain import hdkeys

ZPUB84 = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
WANT = ["bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"]
XPUB = base58.encode_check(bytes.fromhex("0488b21e") + base58.decode_check(ZPUB84)[4:])


def embit_keys(n):
    from embit.bip32 import HDKey

    chain = HDKey.from_string(XPUB).child(0)
    return [chain.child(i).key.sec() for i in range(n)]


def bip_utils_keys(n):
    from bip_utils import Bip32Secp256k1

    chain = Bip32Secp256k1.FromExtendedKey(XPUB).ChildKey(0)
    return [chain.ChildKey(i).PublicKey().RawCompressed().ToBytes() for i in range(n)]


def hdwallet_keys(n):
    from hdwallet import HDWallet
    from hdwallet.cryptocurrencies import Bitcoin
    from hdwallet.derivations import CustomDerivation
    from hdwallet.hds import BIP32HD

    wallet = HDWallet(cryptocurrency=Bitcoin, hd=BIP32HD, public_key_type="compressed").from_xpublic_key(XPUB)
    out = []
    for i in range(n):
        wallet.update_derivation(CustomDerivation(path="m/0/%d" % i))
        out.append(bytes.fromhex(wallet.public_key()))
    return out


CANDIDATES = [("embit", embit_keys), ("bip-utils", bip_utils_keys), ("hdwallet", hdwallet_keys)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--smoke", action="store_true", help="200 keys: checks the script runs")
    args = parser.parse_args()
    count = 200 if args.smoke else args.count
    rows = []
    for name, derive in CANDIDATES:
        try:
            first = derive(2)
        except ImportError:
            rows.append((name, "not installed", None))
            continue
        right = [hdkeys.encode_address("BTC", "main", "wpkh", k) for k in first] == WANT
        start = time.perf_counter()
        derive(count)
        rows.append((name, "right" if right else "WRONG", time.perf_counter() - start))
    base = rows[0][2]
    print("%-10s %-14s %10s %12s %10s" % ("library", "BIP84 vector", "seconds", "keys/s", "vs embit"))
    for name, verdict, seconds in rows:
        if seconds is None:
            print("%-10s %-14s" % (name, verdict))
            continue
        print("%-10s %-14s %10.2f %12.0f %9.2fx" % (name, verdict, seconds, count / seconds, seconds / base))
    print("(%d receive-chain public keys each; python-bitcoinlib 0.12 has no BIP32 and is not listed)" % count)


if __name__ == "__main__":
    main()
