"""Signing in to the dashboard from a test: a browser-like client over Falcon's
TestClient (cookies kept, forms posted with their CSRF token, the same Origin)."""

import re
import urllib.parse
import uuid

import pyotp

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HOST = "falconframework.org"  # what Falcon's TestClient sends as Host
ORIGIN = "http://" + HOST


class Browser:
    """Cookies of one browser; ``get``/``post`` answer Falcon results."""

    def __init__(self, client, path="/dashboard"):
        self.client = client
        self.path = path
        self.cookies = {}

    def _headers(self, extra=None):
        cookie = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return {**({"Cookie": cookie} if cookie else {}), **(extra or {})}

    def _keep(self, result):
        for name, c in result.cookies.items():
            if c.value == "" or (c.max_age is not None and c.max_age <= 0):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = c.value
        return result

    def get(self, url, headers=None):
        return self._keep(self.client.simulate_get(url, headers=self._headers(headers)))

    def post(self, url, data, headers=None, origin=ORIGIN):
        extra = {**FORM, **({"Origin": origin} if origin else {}), **(headers or {})}
        body = urllib.parse.urlencode(data)
        return self._keep(self.client.simulate_post(url, body=body, headers=self._headers(extra)))

    def upload(self, url, fields, files, origin=ORIGIN):
        """POST a multipart form: ``fields`` {name: text}, ``files`` {name: (filename, bytes)}."""
        boundary = "transient-" + uuid.uuid4().hex
        parts = [
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (boundary.encode(), name.encode(), value.encode())
            for name, value in fields.items()
        ]
        parts += [
            b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n%s\r\n"
            % (boundary.encode(), name.encode(), filename.encode(), data)
            for name, (filename, data) in files.items()
        ]
        body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
        extra = {"Content-Type": "multipart/form-data; boundary=" + boundary, "Origin": origin}
        return self._keep(self.client.simulate_post(url, body=body, headers=self._headers(extra)))

    def csrf(self, page_text):
        found = re.search(r'name="csrf" value="([^"]+)"', page_text)
        return found.group(1) if found else ""

    def sign_in(self, email, password, next_=None):
        page = self.get(self.path + "/login")
        url = self.path + "/login" + ("?next=" + urllib.parse.quote(next_, safe="") if next_ else "")
        return self.post(url, {"csrf": self.csrf(page.text), "email": email, "password": password})

    def set_up_totp(self, result):
        """Follow the password step's answer to the TOTP set-up; return (secret, codes, answer)."""
        page = self.get(result.headers["location"])
        secret = re.search(r'id="secret">([A-Z2-7]+)<', page.text).group(1)
        self.totp_code = pyotp.TOTP(secret).now()  # the code spent here (a later now() may be the next step's)
        done = self.post(
            result.headers["location"], {"csrf": self.csrf(page.text), "secret": secret, "code": self.totp_code}
        )
        return secret, re.findall(r"<li>([a-z2-7]{16})</li>", done.text), done

    def code(self, result, code):
        page = self.get(result.headers["location"])
        return self.post(result.headers["location"], {"csrf": self.csrf(page.text), "code": code})
