"""A real SMTP server on loopback for the e-mail tests (aiosmtpd): STARTTLS with a
self-signed certificate made for the test (openssl), a login, refusals on demand, and
every message it took, in order."""

import pathlib
import ssl
import subprocess
import threading
from email import message_from_bytes, policy

from _services import _missing

from transient.devnet.node import find_free_port

USER, PASSWORD = "shop", "s3cret-smtp-pass"


def certificate(folder):
    """Make a self-signed certificate for 127.0.0.1 in ``folder``; return (cert, key) paths."""
    folder = pathlib.Path(folder)
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


class Inbox:
    """The aiosmtpd handler: keeps each message; refuses RCPT of ``refuse`` with a 550."""

    def __init__(self):
        self.messages = []  # (recipient, email.message.EmailMessage)
        self.refuse = set()
        self.arrived = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.arrived:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, message))
            self.arrived.notify_all()
        return "250 OK: queued"

    def wait(self, count, timeout=30):
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError("%d message(s) arrived, %d expected" % (len(self.messages), count))
            return list(self.messages)


class SmtpServer:
    """aiosmtpd's Controller with STARTTLS required and a login (over TLS only)."""

    def __init__(self, folder, port=None):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            _missing("aiosmtpd is not installed (pip install -e .[test])")
        self.cert, key = certificate(folder)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert, key)
        self.inbox = Inbox()
        self.port = port or find_free_port()
        self._controller = Controller
        self.controller = None

    def _new_controller(self):
        return self._controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=self.context,
            require_starttls=True,
            authenticator=self._login,
            auth_required=True,
            auth_require_tls=True,
        )

    @staticmethod
    def _login(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = getattr(auth_data, "login", b"") == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok)

    @property
    def url(self):
        return "smtp://%s:%s@127.0.0.1:%d" % (USER, PASSWORD, self.port)

    def start(self):
        """Listen (again: a stopped Controller cannot start twice, so each start makes one)."""
        self.controller = self._new_controller()
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
