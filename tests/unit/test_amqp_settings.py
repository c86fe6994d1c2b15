"""The AMQP settings and what the runtime builds from them (nothing connects: the
publisher and the consumer start only with the runtime)."""

import json

import pytest

from transient import settings
from transient.core.errors import ConfigError
from transient.core.redact import redact
from transient.runtime import Runtime

# -- configuration -------------------------------------------------------------------


def load(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return settings.load(str(path), environ={})


def test_off_unless_a_url_is_set_and_the_target_holds_no_password(tmp_path):
    db = '[database]\nurl = "sqlite:///%s"\n' % (tmp_path / "t.db")
    runtime = Runtime(load(tmp_path, db))
    assert runtime.amqp is None and runtime.outbox.extra_targets == ()
    runtime.close()
    config = load(tmp_path, db + '[amqp]\nurl = "amqp://shop:s3cret@127.0.0.1:5672/%2F"\nrpc_queue = ""\n')
    runtime = Runtime(config)
    bridge = runtime.amqp
    assert runtime.outbox.extra_targets == ("amqp:transient.events",) == (bridge.target,)
    assert bridge.publisher.wake in runtime.outbox.listeners
    assert bridge.queue is None and bridge.consumer is None  # an empty rpc_queue turns the commands off
    assert redact(config["amqp.url"]) == "amqp://shop:***@127.0.0.1:5672/%2F"
    assert "s3cret" not in json.dumps(bridge.report(), default=str)
    runtime.close()


@pytest.mark.parametrize(
    "text, key",
    [
        ('[amqp]\nurl = "http://127.0.0.1:5672/"\n', "amqp.url"),
        ('[amqp]\nexchange = "amq.topic"\n', "amqp.exchange"),
        ('[amqp]\nrpc_queue = "bad name"\n', "amqp.rpc_queue"),
        ("[amqp]\nretry_schedule = []\n", "amqp.retry_schedule"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert key in str(info.value)
