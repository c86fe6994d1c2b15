"""API keys with scopes, stored hashed, and what an anonymous caller may read: the
public view of a payment (the checkout page's), the full object only with
payments:read; a daemon beyond loopback without keys refuses to start. In-process on
the FakeBackend; the CLI in-process too (`transient keys`)."""

import json
import sqlite3

import pytest
from _api import post
from fakes import fake_runtime

from transient import cli, settings
from transient.api.auth import Permissions
from transient.core.errors import ConfigError, Forbidden, Unauthorized
from transient.core.keys import SCOPES, KeyRing, digest
from transient.payments.rendering import PRICE_FIELDS, PUBLIC_FIELDS

CONFIG_KEY = {"Authorization": "Bearer s3cret-config-key"}
SECRET_BITS = ("shop-order-42", "tok=abc123", "customer@example.org", "internal note")


def bearer(key):
    return {"Authorization": "Bearer %s" % key}


@pytest.fixture
def keyed(tmp_path):
    """An API with one key in the config and the key store at hand."""
    client, runtime = fake_runtime(tmp_path, extra='[api]\nkeys = ["s3cret-config-key"]\n')
    yield client, runtime
    runtime.close()


def _merchant_payment(client, headers):
    body = {
        "currency": "LTC",
        "amount": "1.5",
        "account": "shop-order-42",
        "metadata": {"description": "Two mugs", "email": "customer@example.org", "note": "internal note"},
        "callback_url": "https://93.184.216.34/hook?tok=abc123",
        "redirect_url": "https://93.184.216.34/thanks",
    }
    resp = post(client, body, headers)
    assert resp.status_code == 201, resp.text
    return resp.json["payment"]


def test_anonymous_reads_get_the_public_view_and_a_key_the_full_object(keyed):
    client, runtime = keyed
    full = _merchant_payment(client, CONFIG_KEY)
    anon = client.simulate_get("/payments/%s" % full["id"])
    assert anon.status_code == 200
    view = anon.json["payment"]
    assert set(view) == set(PUBLIC_FIELDS) | set(PRICE_FIELDS) | {
        "description",
        "confirmations",
        "transactions",
        "redirect_url",
        "view",
    }
    assert all(view[k] is None for k in PRICE_FIELDS)  # priced in coins: no fiat price to show
    assert view["description"] == "Two mugs" and view["view"] == "public"
    assert view["redirect_url"] is None  # named only once paid, when the page sends the customer there
    assert (view["amount"], view["amount_due"], view["payment_address"], view["payment_uri"]) == (
        full["amount"],
        full["amount_due"],
        full["payment_address"],
        full["payment_uri"],
    )
    for bit in SECRET_BITS:
        assert bit not in anon.text, bit
    for name in ("metadata", "account", "callback_url", "status_history"):
        assert name not in view
    # The same with a key: everything, the cached anonymous body notwithstanding.
    again = client.simulate_get("/payments/%s" % full["id"], headers=CONFIG_KEY)
    assert again.json["payment"]["metadata"]["note"] == "internal note"
    assert again.json["payment"]["callback_url"].endswith("tok=abc123") and "status_history" in again.json["payment"]
    assert client.simulate_get("/payments/%s" % full["id"]).json["payment"] == view
    # The checkout page (and the QR image) carry the public view only.
    page = client.simulate_get("/pay/%s" % full["id"]).text
    assert "Two mugs" in page and full["payment_address"] in page
    for bit in SECRET_BITS + ("93.184.216.34",):
        assert bit not in page, bit


def test_the_public_view_shows_transactions_and_the_redirect_once_paid(keyed):
    client, runtime = keyed
    p = _merchant_payment(client, CONFIG_KEY)
    backend = runtime.backends["LTC"]
    txid = backend.pay(p["payment_address"], 150_000_000)
    backend.mine(1)
    runtime.syncers["LTC"].run()
    view = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
    assert view["status"] == "PAID" and view["paid"] is True
    assert view["transactions"] == [
        {
            "txid": txid,
            "vout": view["transactions"][0]["vout"],
            "amount": "1.5",
            "confirmations": 1,
            "status": "confirmed",
        }
    ]
    assert view["confirmations"] == 1 and view["redirect_url"] == "https://93.184.216.34/thanks"


def test_without_any_key_the_full_object_is_served_as_before(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    try:
        p = _merchant_payment(client, {})
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["metadata"]["note"] == "internal note"
        # ?view=public (what the checkout page polls) is the same view with keys or without.
        public = client.simulate_get("/payments/%s" % p["id"], params={"view": "public"}).json["payment"]
        assert public["view"] == "public" and "metadata" not in public and public["description"] == "Two mugs"
        bad = client.simulate_get("/payments/%s" % p["id"], params={"view": "everything"})
        assert bad.status_code == 400 and bad.json["error"]["field"] == "view"
        assert 'data-api="/payments/%s?view=public"' % p["id"] in client.simulate_get("/pay/%s" % p["id"]).text
    finally:
        runtime.close()


def test_stored_keys_have_scopes_403_names_the_missing_one_401_for_unknown_and_revoked(keyed):
    client, runtime = keyed
    store = runtime.key_store
    _, creator = store.create(["payments:create"], "checkout backend")
    _, reader = store.create(["payments:read"])
    _, hooks = store.create(["webhooks:manage"])
    _, admin = store.create(["admin"])
    pid = _merchant_payment(client, bearer(creator))["id"]
    listed = client.simulate_get("/payments", headers=bearer(creator))
    assert listed.status_code == 403 and listed.json["error"]["code"] == "forbidden"
    assert "payments:read" in listed.json["error"]["message"]
    assert client.simulate_get("/payments", headers=bearer(reader)).status_code == 200
    denied = post(client, {"currency": "LTC", "amount": 1}, bearer(reader))
    assert denied.status_code == 403 and "payments:create" in denied.json["error"]["message"]
    # payments:read: the full object and the event log; the creator sees the public view.
    assert "metadata" in client.simulate_get("/payments/%s" % pid, headers=bearer(reader)).json["payment"]
    assert "metadata" not in client.simulate_get("/payments/%s" % pid, headers=bearer(creator)).json["payment"]
    assert client.simulate_get("/payments/%s/events" % pid, headers=bearer(reader)).status_code == 200
    # webhooks:manage: redeliver and the test ping.
    for key, status in ((reader, 403), (hooks, 404)):
        assert client.simulate_post("/deliveries/999/redeliver", headers=bearer(key)).status_code == status
    forbidden = client.simulate_post("/webhooks/test", headers=bearer(reader))
    assert forbidden.status_code == 403 and "webhooks:manage" in forbidden.json["error"]["message"]
    # admin: everything.
    assert post(client, {"currency": "LTC", "amount": 1}, bearer(admin)).status_code == 201
    assert client.simulate_get("/payments", headers=bearer(admin)).status_code == 200
    # Unknown and revoked keys: 401, at once.
    store.revoke(reader.split("_")[1])
    for key in (reader, reader[:-1] + ("A" if reader[-1] != "A" else "B"), "tk_zzzzzzzzzz_" + "x" * 43, "nope"):
        resp = client.simulate_get("/payments", headers=bearer(key))
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer", key
        assert key not in resp.text
        assert client.simulate_get("/payments/%s" % pid, headers=bearer(key)).status_code == 401
    assert client.simulate_get("/payments", headers=CONFIG_KEY).status_code == 200  # config keys: every scope


def test_a_stored_key_alone_turns_keys_on(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    try:
        assert client.simulate_get("/payments").status_code == 200  # no key anywhere: open
        row, key = runtime.key_store.create(["payments:read", "payments:create"])
        assert client.simulate_get("/payments").status_code == 401
        assert client.simulate_get("/payments", headers=bearer(key)).status_code == 200
        runtime.key_store.revoke(row.public_id)
        assert client.simulate_get("/payments").status_code == 200  # the last key revoked: open again
    finally:
        runtime.close()


def test_keys_are_stored_hashed_never_in_clear(keyed, tmp_path):
    client, runtime = keyed
    row, key = runtime.key_store.create(["admin"], "ops")
    secret = key.split("_", 2)[2]
    db = sqlite3.connect(str(tmp_path / "api.db"))
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert row.public_id in dump and secret not in dump and key not in dump
    assert row.digest in dump and len(row.digest) == 64


def test_the_keyring_rules():
    ring = KeyRing(["full"])
    assert ring.identify(None).scopes == frozenset()  # anonymous
    assert ring.identify("Bearer full").scopes == frozenset(SCOPES)
    with pytest.raises(Exception, match="valid API key"):
        ring.identify("Basic full")
    assert KeyRing([]).identify("Bearer whatever").allows("admin")  # keys off: open
    with pytest.raises(ValueError, match="unknown scope 'payments:delete'"):
        __import__("transient.core.keys").core.keys.parse_scopes(["payments:read,payments:delete"])


class _Row:
    def __init__(self, public_id, key, scopes):
        self.public_id, self.digest, self.scopes, self.revoked_at = public_id, digest(key), scopes, None


class _Store:
    def __init__(self, *rows):
        self.rows = {r.public_id: r for r in rows}

    def find(self, public_id):
        return self.rows.get(public_id)

    def any_active(self):
        return bool(self.rows)


def test_a_foreign_apis_permission_names_map_onto_our_scopes():
    """Greenfield's names over our scopes, in the one key check: its ``token`` scheme, any
    valid key for None, every name of a tuple in order, a 403 naming the foreign name."""
    reader = "tk_reader0001_" + "r" * 40
    ring = KeyRing(["full"], _Store(_Row("reader0001", reader, "payments:read")))
    names = Permissions({"x.view": "payments:read", "x.manage": "payouts:approve"}, "needs %s", schemes=("token",))
    assert names.check(ring, "token full", "x.manage").key == "config"
    assert names.check(ring, "Bearer " + reader, None).key == "reader0001"
    assert names.check(ring, "token " + reader, "x.view").allows("payments:read")
    with pytest.raises(Forbidden, match="needs x.manage") as refused:
        names.check(ring, "token " + reader, ("x.view", "x.manage"))
    assert refused.value.scope == "x.manage"
    with pytest.raises(Unauthorized):
        names.check(ring, None, None)  # a named method needs a key, even one that may do nothing
    with pytest.raises(Unauthorized):
        names.check(ring, "Basic full", "x.view")
    assert names.check(KeyRing([]), None, "x.manage").allows("payouts:approve")  # keys off: open


# -- the CLI: transient keys create / list / revoke (in-process main) --------------------


def test_cli_creates_shows_once_lists_and_revokes(keyed, tmp_path, capsys):
    client, runtime = keyed
    config = ["--config", str(tmp_path / "config.toml")]
    assert (
        cli.main(
            [
                "keys",
                "create",
                "--scope",
                "payments:read",
                "--scope",
                "payments:create",
                "--label",
                "shop",
                "--json",
                *config,
            ]
        )
        == 0
    )
    made = json.loads(capsys.readouterr().out)
    assert made["scopes"] == ["payments:read", "payments:create"] and made["key"].startswith("tk_" + made["id"])
    assert client.simulate_get("/payments", headers=bearer(made["key"])).status_code == 200
    assert cli.main(["keys", "list", *config]) == 0
    out = capsys.readouterr().out
    assert made["id"] in out and "shop" in out and made["key"] not in out and "active" in out
    assert cli.main(["keys", "revoke", made["id"], *config]) == 0
    assert "revoked key %s" % made["id"] in capsys.readouterr().out
    assert client.simulate_get("/payments", headers=bearer(made["key"])).status_code == 401
    assert cli.main(["keys", "list", "--active", "--json", *config]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    "argv, words",
    [
        (["keys", "create", "--scope", "payments:delete"], "unknown scope 'payments:delete'"),
        (["keys", "create"], "--scope"),
        (["keys", "revoke", "nosuchkey00"], "no API key nosuchkey00"),
    ],
)
def test_cli_errors_are_one_line(keyed, tmp_path, capsys, argv, words):
    try:
        code = cli.main([*argv, "--config", str(tmp_path / "config.toml")])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code in (1, 2) and words in err and len(err.strip().splitlines()) == 1, err


# -- start-up: beyond loopback, keys or an explicit allow_anonymous -----------------------


@pytest.mark.parametrize(
    "bind, extra, refused",
    [
        ("0.0.0.0:8080", "", True),
        ("192.0.2.10:8080", "", True),
        ("[::]:8080", "", True),
        ("127.0.0.1:8080", "", False),
        ("[::1]:8080", "", False),
        ("localhost:8080", "", False),
        ("0.0.0.0:8080", "[api]\nallow_anonymous = true\n", False),
        ("0.0.0.0:8080", '[api]\nkeys = ["k"]\n', False),
    ],
)
def test_a_daemon_beyond_loopback_needs_keys_or_allow_anonymous(tmp_path, bind, extra, refused):
    client, runtime = fake_runtime(tmp_path, extra='[server]\nbind = "%s"\n%s' % (bind, extra))
    try:
        if refused:
            with pytest.raises(ConfigError) as exc:
                runtime.check_exposure()
            assert "[api] keys" in exc.value.message and "[api] allow_anonymous" in exc.value.message
            assert "\n" not in exc.value.message
            runtime.key_store.create(["payments:read"])  # a stored key is enough
        runtime.check_exposure()
    finally:
        runtime.close()


def test_allow_anonymous_is_a_setting(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[api]\nallow_anonymous = true\n")
    assert settings.load(str(path), environ={})["api.allow_anonymous"] is True


def test_whether_any_key_is_active_is_asked_again_after_a_second(keyed):
    """A key made by another process (the CLI) turns keys on within the ttl; a revoked
    key is refused at once (its lookup is never cached)."""
    client, runtime = keyed
    from transient.store.keys import KeyStore

    now = [100.0]
    mine = KeyStore(runtime.db, monotonic=lambda: now[0])
    other = KeyStore(runtime.db)  # another process's store on the same database
    assert mine.any_active() is False
    row, key = other.create(["payments:read"])
    assert mine.any_active() is False  # kept for a second
    now[0] += 1.0
    assert mine.any_active() is True
    ring = KeyRing([], mine)
    assert ring.identify("Bearer " + key).allows("payments:read")
    other.revoke(row.public_id)
    with pytest.raises(Exception, match="revoked"):
        ring.identify("Bearer " + key)
