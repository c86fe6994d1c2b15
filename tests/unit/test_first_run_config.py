"""What ./scripts/run counts as "a config" (transient/cli/first_run.py), and how the CLI
finds the daemon it needs (transient/cli/util.py)."""

import os

import pytest

from transient import settings
from transient.cli import first_run
from transient.cli.util import CommandError, daemon_url, require_daemon, start_hint
from transient.devnet.node import find_free_port
from transient.devnet.workspace import CHECKOUT, Devnet


@pytest.mark.parametrize(
    "argv, environ, files, given",
    [
        ([], {}, [], None),
        (["--config", "x.toml"], {}, [], "--config"),
        (["--config=x.toml"], {}, [], "--config"),
        ([], {"TRANSIENT_CONFIG": "/etc/t.toml"}, [], "TRANSIENT_CONFIG=/etc/t.toml"),
        ([], {"TRANSIENT_CONFIG": ""}, [], None),
        ([], {}, ["config.toml"], "./config.toml"),
        ([], {}, ["config.example.toml", ".devnet"], None),
        ([], {"TRANSIENT_COINS_DOGE_RPC_URL": "http://n:22555"}, [], "TRANSIENT_COINS_DOGE_RPC_URL"),
        # The address or the log level alone is not a config: the devnet still starts.
        ([], {"TRANSIENT_SERVER_BIND": "127.0.0.1:9000", "TRANSIENT_LOG_LEVEL": "DEBUG"}, [], None),
        (["--check"], {}, [], None),
    ],
)
def test_what_counts_as_a_config(tmp_path, argv, environ, files, given):
    for name in files:
        (tmp_path / name).write_text("")
    assert first_run.config_given(argv, environ, cwd=str(tmp_path)) == given


def test_the_defaults_node_is_not_there_without_its_cookie(tmp_path):
    config = settings.load(environ={"HOME": str(tmp_path)}, dotenv=False)
    assert list(config.coins) == ["DOGE"] and not first_run.default_node_answers(config)


def test_the_api_port_of_the_environment_wins():
    assert first_run.api_port_wanted({"TRANSIENT_SERVER_BIND": "127.0.0.1:9123"}) == 9123
    assert first_run.api_port_wanted({"TRANSIENT_SERVER_BIND": "nonsense"}) is None
    assert first_run.api_port_wanted({}) is None


def test_next_steps_are_ready_to_copy(tmp_path):
    devnet = Devnet(tmp_path / ".devnet")
    devnet.state = {"api_port": 8123}
    text = "\n".join(first_run.next_steps(devnet, directory_given=True))
    assert "TRANSIENT_CONFIG=%s" % devnet.config_path in text and "TRANSIENT_DEVNET_DIR=%s" % devnet.directory in text
    assert "curl -s -X POST http://127.0.0.1:8123/payments" in text and "http://127.0.0.1:8123/pay/ID" in text
    for line in ("transient payments create --currency LTC", "transient devnet pay ID", "transient devnet mine"):
        assert line in text


@pytest.mark.parametrize(
    "bind, url",
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("[::]:9000", "http://[::1]:9000"),
        ("[::1]:9000", "http://[::1]:9000"),
        ("shop.internal:80", "http://shop.internal:80"),
    ],
)
def test_the_cli_reaches_the_daemon_at_its_bind(bind, url):
    config = settings.load(environ={"TRANSIENT_SERVER_BIND": bind}, dotenv=False)
    assert daemon_url(config) == url


def test_a_command_that_needs_the_daemon_says_how_to_start_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = find_free_port()
    config = settings.load(environ={"TRANSIENT_SERVER_BIND": "127.0.0.1:%d" % port}, dotenv=False)
    with pytest.raises(CommandError) as caught:
        require_daemon(config, "--offline")
    assert caught.value.code == 2
    assert caught.value.message == (
        "transientd is not answering at 127.0.0.1:%d: start it with `./scripts/run` (or pass --offline)" % port
    )
    other = tmp_path / "shop.toml"
    other.write_text("")
    hint = start_hint(settings.load(str(other), environ={}, dotenv=False))
    assert hint == "TRANSIENT_CONFIG=%s ./scripts/run" % other
    (tmp_path / "config.toml").write_text("")
    assert start_hint(settings.load(environ={}, dotenv=False)) == "./scripts/run"


def test_a_devnet_config_given_runs_its_devnet(tmp_path):
    devnet = tmp_path / "dn"
    devnet.mkdir()
    (devnet / "config.toml").write_text("")
    assert first_run.devnet_of([], {"TRANSIENT_CONFIG": str(devnet / "config.toml")}) is None  # no devnet.json
    (devnet / "devnet.json").write_text("{}")
    assert first_run.devnet_of([], {"TRANSIENT_CONFIG": str(devnet / "config.toml")}) == str(devnet)
    assert first_run.devnet_of(["--config", str(devnet / "config.toml")], {}) == str(devnet)
    assert first_run.devnet_of(["--config=%s" % (tmp_path / "shop.toml")], {}) is None
    assert first_run._without_config(["--config", "x", "--check", "--config=y"]) == ["--check"]


def test_readme_devnet_config_and_devnet_up_give_the_one_way_to_start(tmp_path):
    readme = open(os.path.join(CHECKOUT, "README.md")).read()
    first_block = readme.split("```")[1]
    assert first_block.strip().splitlines()[0].startswith("./scripts/run ")
    assert "./scripts/run                                     # in one terminal" in readme
    assert "transientd &" not in readme and "transientd --config" not in readme
    devnet = Devnet(tmp_path / ".devnet")
    devnet.state = {"api_port": 8080, "rpc_port": 1, "rpc_password": "x", "wallet": "merchant"}
    line = devnet.start_line()
    assert line == "cd %s && %s" % (tmp_path, os.path.join(CHECKOUT, "scripts", "run"))
    assert "#   %s\n" % line in devnet.config_text() and "transientd --config" not in devnet.config_text()
    assert Devnet(os.path.join(CHECKOUT, ".devnet")).start_line().startswith("./scripts/run ")
    other = Devnet(tmp_path / "mine")
    assert other.start_line() == "TRANSIENT_DEVNET_DIR=%s %s" % (
        other.directory,
        os.path.join(CHECKOUT, "scripts", "run"),
    )


def test_without_litecoind_and_root_one_line_says_how(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(first_run.os, "geteuid", lambda: 1000)
    with pytest.raises(first_run.DevnetError) as caught:
        first_run.ensure_litecoind(print)
    assert str(caught.value) == first_run.INSTALL_HINT and "\n" not in str(caught.value)
    assert "sudo apt-get install litecoind" in first_run.INSTALL_HINT
    assert first_run.main([], {"PATH": "/nonexistent", "HOME": "/nonexistent"}) == 2
