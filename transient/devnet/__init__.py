"""The devnet: a private Litecoin Core regtest node, used by `transient devnet` and the tests.

May import core and the built-in RPC client (transient_backends.rpc); only the CLI and
the tests import it."""
