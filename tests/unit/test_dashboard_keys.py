"""The dashboard and the API share nothing: a session cookie is no API key, an API key
opens no page (a runtime of its own, with a configured key)."""

from _dashboard import Browser
from fakes import fake_runtime

PASSWORD = "correct horse battery"


def test_sessions_and_api_keys_share_nothing(tmp_path):
    client, runtime = fake_runtime(tmp_path, extra='[api]\nkeys = ["s3cret-config-key"]\n')
    try:
        runtime.accounts.create_user("manager@example.com", "manager", PASSWORD)
        manager = _signed_in(client)
        api = client.simulate_get(
            "/payments", headers={"Cookie": "transient_session=%s" % manager.cookies["transient_session"]}
        )
        assert api.status_code == 401  # a session cookie is no API key
        page = client.simulate_get("/dashboard", headers={"Authorization": "Bearer s3cret-config-key"})
        assert page.status_code == 303 and page.headers["location"].startswith("/dashboard/login")
    finally:
        runtime.close()


def _signed_in(client):
    browser = Browser(client)
    answer = browser.sign_in("manager@example.com", PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard", answer.text
    return browser
