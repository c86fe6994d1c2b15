"""Signing in and out: the password, then a TOTP code (or a recovery code), or setting
TOTP up where an owner must have it. Each form carries a token the browser also holds in
a SameSite=Strict cookie (there is no session yet to hold one), and comes from this site."""

import base64
import secrets

import falcon

from ...accounts.service import FULL, PASSWORD, SETUP, Locked, SignInRefused
from ...core.errors import ValidationError
from ..checkout import qr
from . import web
from .web import COOKIE, SIGNIN_COOKIE


def _signin_token(req, resp, dash):
    token = req.cookies.get(SIGNIN_COOKIE)
    if not token or len(token) != 32:
        token = secrets.token_hex(16)
        web.set_cookie(req, resp, dash, SIGNIN_COOKIE, token)
    return token


def _form_ok(req, data):
    given, kept = data.get("csrf") or "", req.cookies.get(SIGNIN_COOKIE) or ""
    return web.same_origin(req) and kept and secrets.compare_digest(given.encode(), kept.encode())


class Step:
    def __init__(self, dash):
        self.dash = dash

    def show(self, req, resp, name, status=falcon.HTTP_200, **values):
        values.setdefault("error", "")
        web.render(
            req,
            resp,
            self.dash,
            name,
            status=status,
            signin_csrf=_signin_token(req, resp, self.dash),
            next=web.safe_next(self.dash, req.get_param("next")),
            **values,
        )

    def pending(self, req, stage):
        session = self.dash.accounts.session(req.cookies.get(COOKIE))
        return session if session is not None and session.stage == stage else None

    def signed_in(self, req, resp, token):
        web.set_cookie(req, resp, self.dash, COOKIE, token)
        web.redirect(resp, web.safe_next(self.dash, req.get_param("next")))

    def forged(self, req, resp):
        web.refuse(req, resp, self.dash, falcon.HTTP_403, "The form was stale or came from another site: reload it.")


class Login(Step):
    def on_get(self, req, resp):
        self.show(req, resp, "login.html", email="")

    def on_post(self, req, resp):
        data = web.form(req)
        if not _form_ok(req, data):
            return self.forged(req, resp)
        address = web.client_address(req, self.dash)
        try:
            token, session = self.dash.accounts.sign_in(
                data.get("email"), data.get("password"), address, req.user_agent or ""
            )
        except (SignInRefused, Locked) as exc:
            status = falcon.HTTP_429 if isinstance(exc, Locked) else falcon.HTTP_401
            return self.show(req, resp, "login.html", status=status, error=exc.message, email=data.get("email", ""))
        web.set_cookie(req, resp, self.dash, COOKIE, token)
        if session.stage == FULL:
            return web.redirect(resp, web.safe_next(self.dash, req.get_param("next")))
        step = "code" if session.stage == PASSWORD else "setup"
        web.redirect(
            resp,
            "%s/login/%s?next=%s"
            % (self.dash.path, step, falcon.uri.encode_value(web.safe_next(self.dash, req.get_param("next")))),
        )


class Code(Step):
    def on_get(self, req, resp):
        if self.pending(req, PASSWORD) is None:
            return web.redirect(resp, self.dash.path + "/login")
        self.show(req, resp, "code.html")

    def on_post(self, req, resp):
        data = web.form(req)
        session = self.pending(req, PASSWORD)
        if session is None:
            return web.redirect(resp, self.dash.path + "/login")
        if not _form_ok(req, data):
            return self.forged(req, resp)
        address = web.client_address(req, self.dash)
        try:
            token, _ = self.dash.accounts.second_factor(session, data.get("code"), address, req.user_agent or "")
        except (SignInRefused, Locked) as exc:
            status = falcon.HTTP_429 if isinstance(exc, Locked) else falcon.HTTP_401
            return self.show(req, resp, "code.html", status=status, error=exc.message)
        self.signed_in(req, resp, token)


class Setup(Step):
    def on_get(self, req, resp):
        session = self.pending(req, SETUP)
        if session is None:
            return web.redirect(resp, self.dash.path + "/login")
        self._page(req, resp, session, self.dash.accounts.new_totp_secret())

    def _page(self, req, resp, session, secret, status=falcon.HTTP_200, error=""):
        uri = self.dash.accounts.totp_uri(session.user, secret)
        svg = qr.render("svg", uri, qr.default_style())
        src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
        self.show(req, resp, "setup.html", status=status, secret=secret, qr=src, error=error)

    def on_post(self, req, resp):
        data = web.form(req)
        session = self.pending(req, SETUP)
        if session is None:
            return web.redirect(resp, self.dash.path + "/login")
        if not _form_ok(req, data):
            return self.forged(req, resp)
        secret = data.get("secret") or ""
        try:
            token, fresh, codes = self.dash.accounts.set_up_totp(
                session, secret, data.get("code"), web.client_address(req, self.dash), req.user_agent or ""
            )
        except (SignInRefused, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                secret = self.dash.accounts.new_totp_secret()
            return self._page(req, resp, session, secret, falcon.HTTP_400, exc.message)
        web.set_cookie(req, resp, self.dash, COOKIE, token)
        web.render(
            req,
            resp,
            self.dash,
            "recovery.html",
            fresh,
            codes=codes,
            next=web.safe_next(self.dash, req.get_param("next")),
        )


class Logout(web.Page):
    act = "viewer"

    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        self.dash.accounts.sign_out(acting[0])
        web.drop_cookie(req, resp, self.dash, COOKIE)
        web.redirect(resp, self.dash.path + "/login")
