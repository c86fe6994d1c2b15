"""Plugin loading: built-in and entry-point backends, and the start-up errors."""

import os
import sys
import types

import pytest

from transient import hookimpl, hookspecs
from transient.chain.backend import CoinBackend
from transient.core.errors import PluginError
from transient.runtime import plugins


class GoodBackend(CoinBackend):
    name, currency, uri_scheme, max_money = "goodcoin", "GOOD", "goodcoin", 10**16

    def network(self):
        return "regtest"

    def new_address(self, label=None):
        return "g1"

    def new_addresses(self, count, label=None):
        return ["g1"] * count

    def tip(self):
        return None

    def changes_since(self, cursor):
        return None

    def recheck(self, txids):
        return {}

    def ping(self):
        return {}


def plugin(*classes, hook="transient_register_backends"):
    module = types.ModuleType("fake_plugin_%d" % id(classes))

    def impl():
        return list(classes)

    impl.__name__ = hook
    setattr(module, hook, hookimpl(impl))
    return module


def manager(*modules):
    pm = plugins.get_plugin_manager(autoload=False)
    for m in modules:
        pm.register(m)
    return pm


def test_transient_register_backends_builtin_and_third_party():
    found = plugins.collect_backends(manager(plugin(GoodBackend)))
    assert found["goodcoin"] is GoodBackend
    assert found["dogecoin"].currency == "DOGE"


def test_entry_point_plugins_are_loaded():
    found = plugins.collect_backends(plugins.get_plugin_manager())
    assert {"dogecoin", "bitcoin", "litecoin"} <= set(found)
    assert found["litecoin"].__module__.startswith("transient_litecoin")


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_AUTOLOAD, "1")
    assert set(plugins.collect_backends(plugins.get_plugin_manager())) == {"dogecoin"}


def test_duplicate_backend_names_fail():
    clone = type("Clone", (GoodBackend,), {})
    with pytest.raises(PluginError, match="registered twice"):
        plugins.collect_backends(manager(plugin(GoodBackend), plugin(clone)))


def test_unknown_hook_fails_at_start():
    pm = plugins.get_plugin_manager(autoload=False)
    pm.register(plugin(GoodBackend, hook="transient_register_backendz"))
    with pytest.raises(Exception, match="unknown hook|transient_register_backendz"):
        pm.check_pending()


@pytest.mark.parametrize(
    "attrs, words",
    [
        ({"uri_scheme": None}, "does not define 'uri_scheme'"),
        ({"max_money": None}, "does not define 'max_money'"),
        ({"changes_since": CoinBackend.changes_since}, "does not implement changes_since()"),
    ],
)
def test_incomplete_backend_fails(attrs, words):
    broken = type("Broken", (GoodBackend,), dict(attrs, name="broken"))
    with pytest.raises(PluginError, match=words.replace("(", r"\(").replace(")", r"\)")):
        plugins.collect_backends(manager(plugin(broken)))


def test_not_a_backend_fails():
    with pytest.raises(PluginError, match="not a CoinBackend"):
        plugins.collect_backends(manager(plugin(object)))


def test_every_hookspec_has_a_test():
    """Meta-test: each hook spec is exercised by name in some test."""
    specs = [n for n in dir(hookspecs) if n.startswith("transient_")]
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # every layer
    text = "".join(
        open(os.path.join(d, f)).read()
        for d, _, files in os.walk(tests)
        for f in files
        if f.startswith("test_") and f.endswith(".py") and f != "test_plugins.py"
    )
    text += "".join(n for n in dir(sys.modules[__name__]) if n.startswith("test_"))
    for spec in specs:
        assert spec in text, "hook %s has no test" % spec
