"""Built-in coin backends (installed as ``transient_backends``): the bitcoind-family
base class, its JSON-RPC client and the Dogecoin backend. Bitcoin and Litecoin ship
as plugins.

May import core and the chain's backend interface; only transient.plugin, the
runtime's plugin manager and the devnet import it."""
