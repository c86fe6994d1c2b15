"""What only an owner sees and does: API keys (made and shown once, revoked), the users
(made, disabled, given another role, their TOTP reset) and their sessions (revoked), and
the running settings, read-only with every secret redacted."""

import falcon

from ...core import keys as key_rules
from ...core.errors import Conflict, NotFound, ValidationError
from ...store.users import OWNER, ROLES
from . import web


class OwnerPage(web.Page):
    role = OWNER
    act = OWNER


class Keys(OwnerPage):
    def on_get(self, req, resp, made=None, error="", status=falcon.HTTP_200, session=None):
        session = session or self.session(req, resp)
        if session is None:
            return
        web.render(
            req,
            resp,
            self.dash,
            "keys.html",
            session,
            status=status,
            current="keys",
            keys=self.dash.key_store.list(),
            scopes=key_rules.SCOPES,
            made=made,
            error=error,
            audit=self.dash.accounts.audit_of("key", "all"),
        )

    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        scopes = [s for s in key_rules.SCOPES if data.get("scope-" + s)] or ["payments:read"]
        label = (data.get("label") or "").strip()[:100] or None
        try:
            with web.write_transaction(self.dash.db):
                row, key = self.dash.key_store.create(scopes, label)
                self.audit(req, session, "key.create", "key", "all", key=row.public_id, scopes=" ".join(scopes))
        except ValueError as exc:
            return self.on_get(req, resp, error=str(exc), status=falcon.HTTP_400, session=session)
        # The key in clear is in this answer alone (no-store): it is never kept.
        self.on_get(req, resp, made=key, session=session)


class KeyRevoke(OwnerPage):
    def on_post(self, req, resp, public_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, _ = acting
        try:
            with web.write_transaction(self.dash.db):
                row = self.dash.key_store.revoke(public_id)
                self.audit(req, session, "key.revoke", "key", "all", key=row.public_id)
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such key.", session)
        web.redirect(resp, self.dash.path + "/keys")


class Users(OwnerPage):
    def on_get(self, req, resp, error="", status=falcon.HTTP_200, session=None):
        session = session or self.session(req, resp)
        if session is None:
            return
        accounts = self.dash.accounts
        web.render(
            req,
            resp,
            self.dash,
            "users.html",
            session,
            status=status,
            current="users",
            users=accounts.users(),
            sessions=accounts.sessions(),
            roles=ROLES,
            error=error,
            done=req.get_param("done") or "",
            audit=accounts.recent(50),
        )

    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        try:
            self.dash.accounts.create_user(
                data.get("email"),
                data.get("role"),
                data.get("password"),
                by=session.user.email,
                address=web.client_address(req, self.dash),
            )
        except (ValidationError, Conflict) as exc:
            return self.on_get(
                req, resp, error="%s: %s" % (exc.field, exc.message), status=falcon.HTTP_400, session=session
            )
        web.redirect(resp, self.dash.path + "/users")


class UserDisable(OwnerPage):
    def on_post(self, req, resp, user_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, _ = acting
        if str(session.user.id) == user_id:
            return web.refuse(req, resp, self.dash, falcon.HTTP_400, "You cannot disable yourself.", session)
        try:
            self.dash.accounts.disable(
                int(user_id) if user_id.isdigit() else -1, session.user.email, web.client_address(req, self.dash)
            )
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such user.", session)
        web.redirect(resp, self.dash.path + "/users")


class UserAction(OwnerPage):
    """POST {path}/users/{id}/role (``role``) or /totp-reset: an owner's, on another user."""

    action = "role"

    def on_post(self, req, resp, user_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        accounts, address, action = self.dash.accounts, web.client_address(req, self.dash), self.action
        if str(session.user.id) == user_id and action == "role":
            return web.refuse(req, resp, self.dash, falcon.HTTP_400, "You cannot change your own role.", session)
        target = int(user_id) if user_id.isdigit() else -1
        try:
            if action == "role":
                accounts.change_role(target, data.get("role"), session.user.email, address)
            else:
                accounts.reset_totp(target, session.user.email, address)
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such user.", session)
        except (ValidationError, Conflict) as exc:
            message = "%s: %s" % (exc.field, exc.message)
            return self.on_get_users(req, resp, message, session)
        web.redirect(resp, self.dash.path + "/users?done=" + action)

    def on_get_users(self, req, resp, error, session):
        Users(self.dash).on_get(req, resp, error=error, status=falcon.HTTP_400, session=session)


class UserTotpReset(UserAction):
    action = "totp-reset"


class SessionRevoke(OwnerPage):
    def on_post(self, req, resp, session_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, _ = acting
        try:
            self.dash.accounts.revoke_session(session_id, session.user.email, web.client_address(req, self.dash))
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such session.", session)
        web.redirect(resp, self.dash.path + "/users")


class Settings(OwnerPage):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        web.render(req, resp, self.dash, "settings.html", session, current="settings", settings=self.dash.settings)
