"""The HTTP API in-process (Falcon's TestClient): a client on a runtime, and a POST helper.
``fakes.fake_runtime`` gives one on the FakeBackend (unit layer); ``node_client`` one on
the litecoind regtest node (regtest layer)."""

import json

from falcon import testing

from transient import settings
from transient.runtime import Runtime
from transient.store import migrations


def node_runtime(tmp_path, regtest, wallet, db="api.db", extra="", coin="", clock=None):
    """A migrated Runtime on SQLite (``db`` in ``tmp_path``) and the regtest node's ``wallet``;
    ``extra`` is TOML before the coin's table, ``coin`` more lines of ``[coins.LTC]``."""
    path = tmp_path / ("%s.toml" % db)
    path.write_text(
        """
[database]
url = "sqlite:///%s"
%s
[coins.LTC]
backend = "litecoin"
rpc_url = "%s"
rpc_user = "%s"
rpc_password = "%s"
wallet = "%s"
%s"""
        % (tmp_path / db, extra, regtest.rpc_url, regtest.rpc_user, regtest.rpc_password, wallet, coin)
    )
    runtime = Runtime(settings.load(str(path), environ={}), **({"clock": clock} if clock else {}))
    migrations.apply(runtime.db)
    return runtime


def node_client(tmp_path, regtest, wallet, extra=""):
    """A TestClient and its Runtime on SQLite and the regtest node's ``wallet``."""
    runtime = node_runtime(tmp_path, regtest, wallet, extra=extra)
    return testing.TestClient(runtime.app()), runtime


def post(client, body, headers=None, raw=None):
    return client.simulate_post(
        "/payments",
        body=raw if raw is not None else json.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
