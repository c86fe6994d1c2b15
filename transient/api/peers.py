"""Who is on the other end of a request, for the routes that let a local caller in
without a key (``GET /metrics``, ``/notify``).

The peer is the client, unless it is one of ``[server] trusted_proxies``: then the
client is the address that proxy put in ``Forwarded``, ``X-Forwarded-For`` or
``X-Real-IP``, and with none of them it is unknown (nginx's ``proxy_pass`` adds none by
default: a proxy on loopback would otherwise pass every client off as local). A peer
that is not a trusted proxy but sends forwarding headers is an undeclared proxy: its
client is unknown too. Unknown is never local.
"""

import ipaddress
import re

_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)


class Peers:
    """``trusted`` is a list of ip_network objects: the reverse proxies in front of us."""

    def __init__(self, trusted=()):
        self.trusted = list(trusted)

    def client(self, req):
        """The client's ip_address, or None when it cannot be told."""
        peer = _address(req.remote_addr)
        if peer is None:
            return None
        forwarded = _forwarded(req)
        if not self._is_proxy(peer):
            return None if forwarded is not None else peer
        if not forwarded:
            return None
        # Rightmost first: each trusted proxy appends the address it got the request from;
        # the first that is not one of ours is the client (a client on a proxy's own host,
        # the leftmost).
        for text in reversed(forwarded):
            address = _address(text)
            if address is None or not self._is_proxy(address):
                return address
        return _address(forwarded[0])

    def is_local(self, req):
        """True when the request's client is known and on loopback."""
        client = self.client(req)
        return client is not None and client.is_loopback

    def _is_proxy(self, address):
        return any(address in net for net in self.trusted if net.version == address.version)


def _forwarded(req):
    """The forwarding headers' addresses, leftmost (the original client) first; None
    when the request has none of the headers."""
    header = req.get_header("Forwarded")
    if header:
        return _FOR.findall(header)
    header = req.get_header("X-Forwarded-For")
    if header:
        return [part.strip() for part in header.split(",") if part.strip()]
    header = req.get_header("X-Real-IP")
    if header:
        return [header.strip()]
    return None


def _address(text):
    text = (text or "").strip()
    if text.count(":") == 1:  # 192.0.2.1:4711 (Forwarded may carry the port)
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
