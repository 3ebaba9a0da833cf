"""Where a webhook may send: public addresses only, unless WEBHOOK_ALLOW_PRIVATE says otherwise.

A webhook URL is an admin's input, and a delivery is a request this server makes: pointed at 127.0.0.1, the
metadata service (169.254.169.254) or the office network, it would let whoever keeps the webhooks reach what
only this server can (SSRF). So every address a host name resolves to is checked — IPv4 and IPv6, whatever
way the address is written (2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are all 127.0.0.1) — at registration
and again at each send; the send connects to the address that was checked (no second lookup a DNS answer
could change in between), and redirects are never followed (docs/decisions/0023).
"""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

# Names that never mean a public receiver, whatever a resolver says about them.
PRIVATE_NAMES = ("localhost", "metadata.google.internal", "metadata")
PRIVATE_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")

Resolver = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NotPublic(Exception):
    """The target is (or resolves to) a private, loopback, link-local or otherwise non-public address."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver); OSError when it does not resolve."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def literal(host: str) -> Address | None:
    """The address `host` spells, in any form the C library accepts (dotted, decimal, hex, octal, short), or
    None when it is a name."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))  # 2130706433, 0x7f000001, 0177.0.0.1, 127.1
    except OSError:
        return None


def is_public(address: Address) -> bool:
    """A global unicast address: not private, loopback, link-local, shared (CGNAT), reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast and not address.is_unspecified


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise NotPublic("the URL names no host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _private_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in PRIVATE_NAMES or name.endswith(PRIVATE_SUFFIXES)


def _checked_literal(host: str) -> Address | None:
    """The host's address when it is written as one (refused unless public); None for a name to resolve.
    A local name is refused whatever it resolves to."""
    if _private_name(host):
        raise NotPublic(f"{host} is a local name")
    address = literal(host)
    if address is not None and not is_public(address):
        raise NotPublic(f"{address} is not a public address")
    return address


def check_registration(url: str, *, resolver: Resolver | None = None) -> None:
    """Refuse a URL whose host is, or now resolves to, a non-public address. A name that does not resolve
    yet is let through: every send checks again."""
    host, port = host_and_port(url)
    if _checked_literal(host) is not None:
        return
    try:
        found = (resolver or resolve)(host, port)
    except OSError:
        return
    _all_public(host, found)


def address_for_send(url: str, *, resolver: Resolver | None = None) -> str:
    """The one checked address to connect to for `url`: every address its host resolves to must be public
    (a name answering with one public and one private address is refused, not half-trusted)."""
    host, port = host_and_port(url)
    address = _checked_literal(host)
    if address is not None:
        return str(address)
    found = (resolver or resolve)(host, port)  # OSError when it does not resolve: a failed attempt
    return _all_public(host, found)


def _all_public(host: str, found: list[str]) -> str:
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses:
        raise NotPublic(f"{host} resolves to nothing")
    if bad := [str(a) for a in addresses if not is_public(a)]:
        raise NotPublic(f"{host} resolves to a non-public address ({', '.join(bad)})")
    return str(addresses[0])
