"""An owner manages the dashboard's users (another role, a TOTP reset) and every user
changes their own password (the current one required): each audited, CSRF-checked, and
refused to a non-owner with nothing written (no button shown, the POST refused)."""

import pytest
from _dashboard import Browser
from fakes import fake_runtime

from transient.core.errors import Conflict
from transient.store.users import AuditEntry, DashboardSession, DashboardUser, RecoveryCode

PASSWORD = "correct horse battery"
OWNER, OWNER2, MANAGER, VIEWER = "owner@example.com", "owner2@example.com", "manager@example.com", "viewer@example.com"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    client, runtime = fake_runtime(tmp_path_factory.mktemp("dashboard-users"))
    for email, role in ((OWNER, "owner"), (OWNER2, "owner"), (MANAGER, "manager"), (VIEWER, "viewer")):
        runtime.accounts.create_user(email, role, PASSWORD)
    owner = Browser(client)
    owner.set_up_totp(owner.sign_in(OWNER, PASSWORD))
    yield client, runtime, owner
    runtime.close()


def user(email):
    return DashboardUser.get(DashboardUser.email == email)


def signed_in(client, email, password=PASSWORD):
    browser = Browser(client)
    assert browser.sign_in(email, password).status_code == 303
    return browser


def test_an_owner_changes_a_role_and_the_audit_says_who_and_what(env):
    client, _, owner = env
    manager = signed_in(client, MANAGER)
    page = owner.get("/dashboard/users").text
    target = user(MANAGER)
    assert 'action="/dashboard/users/%d/role"' % target.id in page
    assert 'action="/dashboard/users/%d/role"' % user(OWNER).id not in page  # not one's own
    done = owner.post("/dashboard/users/%d/role" % target.id, {"csrf": owner.csrf(page), "role": "viewer"})
    assert done.status_code == 303 and user(MANAGER).role == "viewer"
    after = owner.get(done.headers["location"]).text
    assert 'id="done"' in after and "user.role" in after
    entry = AuditEntry.select().where(AuditEntry.action == "user.role").order_by(AuditEntry.id.desc()).get()
    assert (entry.user_email, entry.target_id) == (OWNER, str(target.id))
    assert '"role": "viewer"' in entry.detail and '"was": "manager"' in entry.detail
    # The session they have reads with the new role at once: no button, the POST refused.
    assert 'class="approve"' not in manager.get("/dashboard/refunds").text
    assert manager.post("/dashboard/webhooks/test", {"csrf": manager.csrf(after)}).status_code == 403
    bad = owner.post("/dashboard/users/%d/role" % target.id, {"csrf": owner.csrf(page), "role": "admin"})
    assert bad.status_code == 400 and "role:" in bad.text and user(MANAGER).role == "viewer"
    back = owner.post("/dashboard/users/%d/role" % target.id, {"csrf": owner.csrf(page), "role": "manager"})
    assert back.status_code == 303 and user(MANAGER).role == "manager"
    assert manager.get("/dashboard").status_code == 200


def test_a_user_made_owner_without_totp_sets_it_up_before_acting_as_one(env):
    client, _, owner = env
    viewer = signed_in(client, VIEWER)
    page = owner.get("/dashboard/users").text
    target = user(VIEWER)
    made = owner.post("/dashboard/users/%d/role" % target.id, {"csrf": owner.csrf(page), "role": "owner"})
    assert made.status_code == 303 and user(VIEWER).role == "owner"
    assert viewer.get("/dashboard/users").status_code == 303  # the session without TOTP ended
    again = Browser(client).sign_in(VIEWER, PASSWORD)
    assert again.headers["location"].startswith("/dashboard/login/setup")
    back = owner.post("/dashboard/users/%d/role" % target.id, {"csrf": owner.csrf(page), "role": "viewer"})
    assert back.status_code == 303 and user(VIEWER).role == "viewer"


def test_an_owner_cannot_change_their_own_role_nor_leave_no_owner(env):
    _, runtime, owner = env
    page = owner.get("/dashboard/users").text
    before = AuditEntry.select().count()
    own = owner.post("/dashboard/users/%d/role" % user(OWNER).id, {"csrf": owner.csrf(page), "role": "viewer"})
    assert own.status_code == 400 and user(OWNER).role == "owner"
    runtime.accounts.disable(user(OWNER2).id, OWNER, "test")
    with pytest.raises(Conflict, match="last owner"):
        runtime.accounts.change_role(user(OWNER).id, "viewer", OWNER2, "test")
    assert user(OWNER).role == "owner"
    DashboardUser.update(disabled_at=None).where(DashboardUser.email == OWNER2).execute()
    assert AuditEntry.select().count() == before + 1  # the disable alone


def test_an_owner_resets_a_lost_totp_the_user_sets_it_up_again(env):
    client, _, owner = env
    other = Browser(client)
    secret, _, _ = other.set_up_totp(other.sign_in(OWNER2, PASSWORD))
    assert other.get("/dashboard").status_code == 200 and user(OWNER2).totp_secret == secret
    page = owner.get("/dashboard/users").text
    target = user(OWNER2)
    assert 'action="/dashboard/users/%d/totp-reset"' % target.id in page
    done = owner.post("/dashboard/users/%d/totp-reset" % target.id, {"csrf": owner.csrf(page)})
    assert done.status_code == 303
    fresh = user(OWNER2)
    assert fresh.totp_secret is None and RecoveryCode.select().where(RecoveryCode.user == fresh).count() == 0
    assert other.get("/dashboard").status_code == 303  # their sessions ended
    again = Browser(client).sign_in(OWNER2, PASSWORD)
    assert again.headers["location"].startswith("/dashboard/login/setup")  # not the old codes: set up anew
    entry = AuditEntry.select().where(AuditEntry.action == "user.totp_reset").get()
    assert (entry.user_email, entry.target_id) == (OWNER, str(target.id))


@pytest.mark.parametrize("email", [MANAGER, VIEWER])
def test_a_non_owner_has_no_user_buttons_and_their_posts_are_refused_with_nothing_written(env, email):
    client, _, owner = env
    who = signed_in(client, email)
    assert who.get("/dashboard/users").status_code == 403
    page = who.get("/dashboard").text
    assert "/role" not in page and "totp-reset" not in page
    target = user(OWNER2)
    before = (AuditEntry.select().count(), target.role, target.totp_secret)
    for action, data in (("role", {"role": "viewer"}), ("totp-reset", {})):
        answer = who.post("/dashboard/users/%d/%s" % (target.id, action), {"csrf": who.csrf(page), **data})
        assert answer.status_code == 403
    after = user(OWNER2)
    assert (AuditEntry.select().count(), after.role, after.totp_secret) == before


def test_a_forged_user_action_is_refused(env):
    client, _, owner = env
    page = owner.get("/dashboard/users").text
    target = user(MANAGER)
    before = AuditEntry.select().count()
    assert owner.post("/dashboard/users/%d/role" % target.id, {"role": "viewer"}).status_code == 403  # no token
    evil = owner.post(
        "/dashboard/users/%d/role" % target.id,
        {"csrf": owner.csrf(page), "role": "viewer"},
        origin="https://evil.example",
    )
    assert evil.status_code == 403 and user(MANAGER).role == "manager" and AuditEntry.select().count() == before


def test_a_user_changes_their_own_password_with_the_current_one(env):
    client, _, _ = env
    viewer = signed_in(client, VIEWER)
    elsewhere = signed_in(client, VIEWER)
    page = viewer.get("/dashboard/account").text
    old_hash, before = user(VIEWER).password_hash, AuditEntry.select().count()
    new = "a much better passphrase"
    for data in (
        {"old": "not the password", "new": new, "again": new},  # the current one is required
        {"old": PASSWORD, "new": new, "again": new + "x"},
        {"old": PASSWORD, "new": "short", "again": "short"},
    ):
        answer = viewer.post("/dashboard/account/password", {"csrf": viewer.csrf(page), **data})
        assert answer.status_code == 400, data
    assert viewer.post("/dashboard/account/password", {"old": PASSWORD, "new": new, "again": new}).status_code == 403
    assert (user(VIEWER).password_hash, AuditEntry.select().count()) == (old_hash, before)
    done = viewer.post(
        "/dashboard/account/password", {"csrf": viewer.csrf(page), "old": PASSWORD, "new": new, "again": new}
    )
    assert done.status_code == 303 and "password" in done.headers["location"]
    assert viewer.get("/dashboard").status_code == 200  # this session goes on
    assert elsewhere.get("/dashboard").status_code == 303  # the others ended
    assert Browser(client).sign_in(VIEWER, PASSWORD).status_code == 401
    assert Browser(client).sign_in(VIEWER, new).status_code == 303
    entry = AuditEntry.select().where(AuditEntry.action == "user.password").get()
    assert (entry.user_email, entry.target_id) == (VIEWER, str(user(VIEWER).id))
    live = DashboardSession.select().where(DashboardSession.user == user(VIEWER), DashboardSession.revoked_at.is_null())
    assert live.count() == 2  # this one and the sign-in just made
