"""What a typo costs: unknown keys and TRANSIENT_ variables are errors that suggest the
closest known name, errors name where the value came from (the variable, the --config
flag), and list values from the environment take TOML/JSON list syntax or commas."""

import pytest

from transient import settings
from transient.core.errors import ConfigError


def load(tmp_path, text="", env=None, path=None):
    file = tmp_path / "config.toml"
    file.write_text(text)
    return settings.load(path or str(file), environ=env or {}, dotenv=False)


def error(tmp_path, text="", env=None, path=None):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text, env, path)
    return exc.value


@pytest.mark.parametrize(
    "text, message",
    [
        ('[server]\nbnd = "x"\n', "server.bnd: unknown key (did you mean bind?)"),
        (
            '[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://x"\nrpc_pasword = "x"\n',
            "coins.LTC.rpc_pasword: unknown key (did you mean rpc_password?)",
        ),
        ('[server]\nzzz = "x"\n', "server.zzz: unknown key"),
    ],
)
def test_an_unknown_key_suggests_the_closest(tmp_path, text, message):
    assert error(tmp_path, text).message == message


def test_an_unknown_section_suggests_the_closest(tmp_path):
    exc = error(tmp_path, '[sever]\nbind = "127.0.0.1:1"\n')
    assert exc.message.startswith("sever: unknown section (did you mean server?; sections are amqp, api,")
    assert exc.field == "sever"


def test_an_unknown_variable_is_an_error_naming_it(tmp_path):
    exc = error(tmp_path, env={"TRANSIENT_SERVER_BNID": "127.0.0.1:9"})
    assert exc.field == "TRANSIENT_SERVER_BNID"
    assert exc.message.startswith(
        "TRANSIENT_SERVER_BNID: unknown environment variable (did you mean TRANSIENT_SERVER_BIND?)"
    )
    exc = error(tmp_path, env={"TRANSIENT_COINS_LTC_RPC_PASWORD": "x"})
    assert "(did you mean TRANSIENT_COINS_LTC_RPC_PASSWORD?)" in exc.message
    assert "x" not in exc.message.split("?)")[1]  # the value (maybe a secret) is not echoed


def test_the_project_s_own_variables_are_not_settings_and_stay_allowed(tmp_path):
    env = {name: "1" for name in settings.NOT_SETTINGS if name != "TRANSIENT_CONFIG"}
    env.update(TRANSIENT_TEST_PG_URL="postgresql://x@y/z", TRANSIENT_BOOTSTRAP_FORCE="1")
    env.update(TRANSIENT_RATES_COINGECKO_TIMEOUT="7", TRANSIENT_SERVER_WORKERS="2")
    config = load(tmp_path, env=env)
    assert config["server.workers"] == 2 and config.rate_sources["coingecko"]["timeout"] == 7


def test_the_node_programs_variables_are_not_settings():
    """.ci/run exports them for the tests: the daemons and CLIs the tests start inherit them."""
    from transient.devnet.coins import KINDS

    assert {variable for _cls, variable in KINDS.values()} <= settings.NOT_SETTINGS


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    exc = error(tmp_path, "[server]\nworkers = 2\n", env={"TRANSIENT_SERVER_WORKERS": "many"})
    assert exc.message == "TRANSIENT_SERVER_WORKERS must be an integer (got 'many')"
    assert exc.field == "TRANSIENT_SERVER_WORKERS" and "config.toml" not in exc.message


@pytest.mark.parametrize("raw", ['["10s", "1m", "1h"]', "[10, 60, 3600]", "10s, 1m, 1h", '[ "10s",\n "1m", "1h" ]'])
def test_list_values_take_list_syntax_or_commas(tmp_path, raw):
    config = load(tmp_path, env={"TRANSIENT_WEBHOOK_RETRY_SCHEDULE": raw})
    assert config["webhook.retry_schedule"] == [10, 60, 3600]


def test_list_syntax_for_strings_networks_and_coin_lists(tmp_path):
    config = load(
        tmp_path,
        env={
            "TRANSIENT_API_KEYS": '["k-one", "k,two"]',  # a comma inside an item: only the list syntax keeps it
            "TRANSIENT_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8", "::1/128"]',
        },
    )
    assert config["api.keys"] == ["k-one", "k,two"]
    assert [str(n) for n in config["webhook.allowed_networks"]] == ["127.0.0.0/8", "::1/128"]


def test_a_broken_list_names_the_variable(tmp_path):
    exc = error(tmp_path, env={"TRANSIENT_API_KEYS": '["secret-key", '})
    assert exc.field == "TRANSIENT_API_KEYS" and exc.message.startswith("TRANSIENT_API_KEYS is not a list")
    assert "secret-key" not in exc.message


def test_a_missing_config_file_names_the_flag_or_the_variable(tmp_path):
    missing = str(tmp_path / "nope.toml")
    assert error(tmp_path, path=missing).message == "config file %s does not exist (--config)" % missing
    with pytest.raises(ConfigError) as exc:
        settings.load(environ={"TRANSIENT_CONFIG": missing}, dotenv=False)
    assert exc.value.message == "config file %s does not exist (TRANSIENT_CONFIG)" % missing


def test_the_default_database_goes_to_systemd_s_state_directory(tmp_path):
    """ProtectSystem=strict leaves the working directory read-only: StateDirectory= is the place."""
    state = tmp_path / "state"
    config = load(tmp_path, env={"STATE_DIRECTORY": "%s:/var/lib/other" % state})
    assert config["database.url"] == "sqlite:///%s" % (state / "transient.db")
    assert config["database.url"].startswith("sqlite:////")  # absolute
    kept = load(tmp_path, '[database]\nurl = "sqlite:///here.db"\n', env={"STATE_DIRECTORY": str(state)})
    assert kept["database.url"] == "sqlite:///here.db"
    env = {"STATE_DIRECTORY": str(state), "TRANSIENT_DATABASE_URL": "postgresql://u@h/db"}
    assert load(tmp_path, env=env)["database.url"] == "postgresql://u@h/db"
    assert load(tmp_path)["database.url"] == "sqlite:///transient.db"
