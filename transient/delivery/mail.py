"""E-mail: the transport of the deliveries to ``mailto:`` URLs (the e-mail target kind).

A delivery's body is the whole message (RFC 5322 text, made when its event was written,
Message-ID and all), so an attempt sends exactly what was queued and a retry sends the
same message again. :class:`MailDispatcher` is the webhook Dispatcher with SMTP as its
transport: leased claims, the retry schedule with back-off, giving up after the last
retry, the delivery log and redeliver are the dispatcher's.

Never lost, sent twice at most once: a process killed after the server took a message
and before the attempt is recorded sends it again when its lease runs out (one
duplicate, with the same Message-ID, which many mail stores keep once); a process killed
before the server took it sends it then too (no loss).
"""

import socket
import ssl
import time

from ..core import faults
from .dispatcher import Dispatcher
from .sender import Outcome
from .smtp_url import Smtp, parse_smtp_url  # noqa: F401  (the transport's address, re-exported)


class Mailer:
    """Sends one message over SMTP. ``timeout`` bounds every step (seconds)."""

    secret = None  # the dispatcher's signing secret: mail is not signed

    def __init__(self, smtp, timeout=30, ca_file=None):
        self.smtp = smtp
        self.timeout = timeout
        # The system's CAs, or the file of a private CA (a server with its own certificate).
        self.context = ssl.create_default_context(cafile=ca_file)

    def send(self, text, recipient):
        """Send the message ``text`` to ``recipient``; return the server's final reply
        code. Raises smtplib.SMTPException or OSError."""
        import smtplib  # here, as below: a worker that sends no mail never loads it (~0.5 MB)
        from email import message_from_string, policy

        message = message_from_string(text, policy=policy.SMTP)
        sender = message["From"].addresses[0].addr_spec if message["From"] else None
        if self.smtp.scheme == "smtps":
            client = smtplib.SMTP_SSL(self.smtp.host, self.smtp.port, timeout=self.timeout, context=self.context)
        else:
            client = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.smtp.scheme == "smtp":
                if client.has_extn("starttls"):
                    client.starttls(context=self.context)
                    client.ehlo()
                elif not self.smtp.insecure:
                    raise smtplib.SMTPNotSupportedError(
                        "the server offers no STARTTLS (set insecure = true on loopback)"
                    )
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password or "")
            client.send_message(message, from_addr=sender, to_addrs=[recipient])
            return 250
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class MailDispatcher(Dispatcher):
    """The Dispatcher of ``mailto:`` deliveries, sending through a :class:`Mailer`."""

    prefix = "mailto:"
    kind = "email"

    def send(self, delivery):
        """Send ``delivery``'s message; return the Outcome (250: sent; a 5xx refusal: given
        up at once; a 4xx, a lost connection or a timeout: retried on the schedule)."""
        import smtplib

        started, clock = self.clock(), time.monotonic()
        recipient = delivery.url[len("mailto:") :]
        try:
            code = self.sender.send(delivery.body, recipient)
        except smtplib.SMTPResponseException as exc:
            return _refused(delivery, started, clock, exc.smtp_code, _text(exc.smtp_error))
        except smtplib.SMTPRecipientsRefused as exc:
            code, why = next(iter(exc.recipients.values()), (550, b""))
            return _refused(delivery, started, clock, code, _text(why))
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
            error = "%s: %s" % (exc.__class__.__name__, str(exc)[:200])
            return Outcome(delivery, started, _ms(clock), error=error)
        # The server has the message; the attempt is not recorded yet (the kill -9 test's point).
        faults.point("email.after_send")
        return Outcome(delivery, started, _ms(clock), status=code, response="250 accepted")


def _refused(delivery, started, clock, code, text):
    error = "SMTP %d %s" % (code, text[:200])
    if 400 <= code < 500:  # the server asks to try later
        return Outcome(delivery, started, _ms(clock), error=error)
    return Outcome(delivery, started, _ms(clock), error=error, refused=True)


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _ms(clock):
    return int((time.monotonic() - clock) * 1000)
