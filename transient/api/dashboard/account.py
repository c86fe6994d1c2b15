"""What every signed-in user does for themselves: their language and time zone, and their
password (the current one required; their other sessions end). Each is audited."""

import zoneinfo

import falcon

from ...accounts.service import Locked, SignInRefused
from ...core.errors import ValidationError
from ..checkout import i18n
from . import web

NAMES = {"en": "English", "de": "Deutsch", "es": "Español", "fr": "Français", "pt": "Português"}


class Account(web.Page):
    act = "viewer"

    def on_get(self, req, resp, error="", status=falcon.HTTP_200, session=None):
        session = session or self.session(req, resp)
        if session is None:
            return
        web.render(
            req,
            resp,
            self.dash,
            "account.html",
            session,
            status=status,
            current="account",
            languages=[(code, NAMES.get(code, code)) for code in i18n.LANGUAGES],
            zones=sorted(zoneinfo.available_timezones()),
            error=error,
            done=req.get_param("done") or "",
            audit=self.dash.accounts.audit_of("user", session.user.id),
        )

    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        try:
            self.dash.accounts.set_preferences(
                session.user, data.get("language"), data.get("time_zone"), web.client_address(req, self.dash)
            )
        except ValidationError as exc:
            message = "%s: %s" % (exc.field, exc.message)
            return self.on_get(req, resp, error=message, status=falcon.HTTP_400, session=session)
        web.redirect(resp, self.dash.path + "/account?done=saved")


class Password(web.Page):
    """POST only: its answers are the account page's."""

    act = "viewer"
    page = Account.on_get

    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        if data.get("new") != data.get("again"):
            error = web.N_("The new passwords differ.")
            return self.page(req, resp, error=error, status=falcon.HTTP_400, session=session)
        try:
            self.dash.accounts.change_password(
                session.user,
                data.get("old"),
                data.get("new"),
                web.client_address(req, self.dash),
                keep_session=session.id,
            )
        except (SignInRefused, Locked, ValidationError) as exc:
            status = falcon.HTTP_429 if isinstance(exc, Locked) else falcon.HTTP_400
            return self.page(req, resp, error=exc.message, status=status, session=session)
        web.redirect(resp, self.dash.path + "/account?done=password")
