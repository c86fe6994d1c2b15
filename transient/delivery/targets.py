"""Which hosts a per-payment URL may reach (SSRF): only public addresses, unless the
operator allows a network (``[webhook] allowed_networks``).

The API checks ``callback_url``, ``redirect_url`` and the test ping's ``url`` when
they are given; the sender checks again at send time on the address it resolved and
then connects to exactly that address, so a name that resolves to a public address
at creation and to 127.0.0.1 later (DNS rebinding) is refused too. The operator's
own ``[webhook] url`` is trusted and never checked.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeTarget(ValueError):
    """The URL names a host that per-payment URLs may not reach; the text says why.
    ``unresolved``: only because the name did not resolve."""

    def __init__(self, message, unresolved=False):
        super().__init__(message)
        self.unresolved = unresolved


def parse_networks(value):
    """Return a list of CIDR strings (``["127.0.0.0/8", "::1/128"]``) as ip_network
    objects; raise ValueError naming the bad entry."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ValueError('must be a list of networks such as ["10.0.0.0/8", "::1/128"]')
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError('must be a list of networks such as ["10.0.0.0/8"]; %r is not one' % item) from None
    return networks


def _numeric(host):
    """The addresses of ``host`` when it is an address literal in any form the resolver
    takes without DNS (127.1, 0x7f000001, 2130706433, ::ffff:127.0.0.1); [] for a name."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return []
    return [info[4][0] for info in infos]


def _system_resolve(host, port):
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


class TargetGuard:
    """Decides whether a host may be reached. ``allowed`` is a list of ip_network
    objects the operator allows on top of the public internet; ``resolve(host, port)``
    returns the host's addresses (the system resolver by default)."""

    def __init__(self, allowed=(), resolve=_system_resolve):
        self.allowed = [n if not isinstance(n, str) else ipaddress.ip_network(n, strict=False) for n in allowed]
        self.resolve = resolve

    def refusal(self, address):
        """Return why the IP ``address`` (a string) may not be reached, or None."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allowed if net.version == ip.version):
            return None
        for word, bad in (
            ("loopback", ip.is_loopback),
            ("link-local", ip.is_link_local),
            ("multicast", ip.is_multicast),
            ("private", ip.is_private),
            ("reserved", ip.is_reserved or ip.is_unspecified or not ip.is_global),
        ):
            if bad:
                return "resolves to a %s address (%s); allow its network in [webhook] allowed_networks" % (word, ip)
        return None

    def addresses(self, host, port):
        """Return the addresses of ``host`` that may be reached, resolved once; raise
        UnsafeTarget if the name is refused or any of its addresses is (a name with one
        private address among public ones could be pointed at either)."""
        host = (host or "").strip("[]").rstrip(".").lower()
        if host == "localhost" or host.endswith(".localhost"):
            raise UnsafeTarget("names this host (localhost); allow 127.0.0.0/8 in [webhook] allowed_networks")
        try:
            found = self.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget(
                "does not resolve (%s)" % (getattr(exc, "strerror", None) or exc), unresolved=True
            ) from None
        if not found:
            raise UnsafeTarget("does not resolve", unresolved=True)
        for address in found:
            why = self.refusal(address)
            if why:
                raise UnsafeTarget(why)
        return list(dict.fromkeys(found))

    def check_url(self, url):
        """Raise UnsafeTarget when ``url`` has a user:pass@, or a host refused without
        asking DNS: localhost, an address literal in any numeric form that the guard
        refuses, or any host with a zone id (``[fe80::1%25eth0]``: an interface of ours).

        A name is not looked up here: registering a URL never waits on a resolver (a
        burst of fresh names held the request threads). The sender resolves it at send
        time and this guard decides on the addresses it connects to (``addresses``)."""
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise UnsafeTarget("must not hold a user name or password (user:pass@)")
        host = (parts.hostname or "").strip("[]").rstrip(".").lower()
        if host == "localhost" or host.endswith(".localhost"):
            raise UnsafeTarget("names this host (localhost); allow 127.0.0.0/8 in [webhook] allowed_networks")
        if "%" in host:
            raise UnsafeTarget("names a network interface of this host (a zone id: %s)" % host)
        for address in _numeric(host):
            why = self.refusal(address)
            if why:
                raise UnsafeTarget(why)
