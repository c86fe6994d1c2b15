import os

import pytest
from _daemon import ROOT

from transient import settings
from transient.core.errors import ConfigError


def load(tmp_path, text=None, env=None):
    path = tmp_path / "config.toml"
    path.write_text(text or "")
    return settings.load(str(path), environ=env or {})


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    config = settings.load(environ={"TRANSIENT_CONFIG": ""})
    assert config["database.url"] == "sqlite:///transient.db"
    assert config["server.bind"] == "127.0.0.1:8080"
    assert config.coins["DOGE"]["backend"] == "dogecoin"


def test_file_and_env_override(tmp_path):
    config = load(
        tmp_path,
        """
[server]
bind = "0.0.0.0:9000"
workers = 3
[coins.LTC]
backend = "litecoin"
rpc_url = "http://127.0.0.1:19443"
rpc_user = "u"
rpc_password = "p"
confirmations = 2
""",
        env={
            "TRANSIENT_SERVER_WORKERS": "5",
            "TRANSIENT_COINS_LTC_CONFIRMATIONS": "6",
            "PAYMENT_WEBHOOK_URL": "https://example.test/hook",
        },
    )
    assert config["server.bind"] == "0.0.0.0:9000"
    assert config["server.workers"] == 5
    assert config.coins["LTC"]["confirmations"] == 6
    assert config.coins["LTC"]["poll_interval"] == 5
    assert "DOGE" not in config.coins  # the default coin only applies when none is configured
    assert config["webhook.url"] == "https://example.test/hook"


def test_env_only_coin(tmp_path):
    config = load(
        tmp_path,
        env={
            "TRANSIENT_COINS_BTC_BACKEND": "bitcoin",
            "TRANSIENT_COINS_BTC_RPC_URL": "http://127.0.0.1:18443",
            "TRANSIENT_API_KEYS": "k1, k2",
        },
    )
    assert set(config.coins) == {"BTC"}
    assert config["api.keys"] == ["k1", "k2"]


@pytest.mark.parametrize(
    "text, env, key",
    [
        ("[server]\nbnd = 'x'\n", {}, "server.bnd"),
        ("[server]\nworkers = 'many'\n", {}, "server.workers"),
        ("[server]\nworkers = 0\n", {}, "server.workers"),
        ("[server]\nbind = '8080'\n", {}, "server.bind"),
        ("[database]\nurl = 'mysql://x'\n", {}, "database.url"),
        ("[coins.doge]\nbackend = 'dogecoin'\n", {}, "coins.doge"),
        ("[coins.DOGE]\nbackend = 'dogecoin'\nrpc_port = 1\n", {}, "coins.DOGE.rpc_port"),
        ("[coins.DOGE]\nbackend = 'dogecoin'\n", {}, "coins.DOGE.rpc_url"),
        ("[coins.DOGE]\nbackend = 'dogecoin'\nrpc_url = 'ftp://x'\n", {}, "coins.DOGE.rpc_url"),
        ("[coins.DOGE]\nbackend='dogecoin'\nrpc_url='http://x'\nconfirmations=-1\n", {}, "coins.DOGE.confirmations"),
        ("nonsense = [", {}, "not valid TOML"),
        (
            "[coins.DOGE]\nbackend='dogecoin'\nrpc_url='http://x'\nunderpayment_tolerance=1.5\n",
            {},
            "coins.DOGE.underpayment_tolerance",
        ),
        (
            "[coins.DOGE]\nbackend='dogecoin'\nrpc_url='http://x'\nunderpayment_tolerance='100'\n",
            {},
            "coins.DOGE.underpayment_tolerance",
        ),
        (None, {"TRANSIENT_SERVER_WORKERS": "x"}, "TRANSIENT_SERVER_WORKERS"),
        (None, {"TRANSIENT_COINS_DOGE_RPC_PORT": "1"}, "TRANSIENT_COINS_DOGE_RPC_PORT"),
    ],
)
def test_errors_name_the_key(tmp_path, text, env, key):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    assert key in str(info.value)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        settings.load(environ={"TRANSIENT_CONFIG": str(tmp_path / "nope.toml")})


def test_example_config_matches_the_table():
    """config.example.toml is generated from the settings table and must not drift."""
    with open(os.path.join(ROOT, "config.example.toml")) as fh:
        assert fh.read() == settings.example_toml()
    for setting in settings.SETTINGS:
        assert setting.env in settings.example_toml()


def test_example_config_loads(tmp_path):
    config = settings.load(os.path.join(ROOT, "config.example.toml"), environ={})
    assert config.coins["DOGE"]["rpc_url"] == "http://127.0.0.1:22555"
