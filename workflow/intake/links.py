"""Links given by outside reporters (Open311 `media_url`): stored and shown, never fetched by the server.

Staff open them in their browsers inside the district's network, so a link must not point there either: only
http(s), no credentials, and no host that names a private, loopback, link-local or otherwise non-public
address or a local name. Names are not resolved (that would be a request towards whatever they name).
"""

import ipaddress
from urllib.parse import urlsplit

from workflow.errors import Invalid

MAX_LENGTH = 2000
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa", ".corp")


def check_link(url: str | None, *, name: str = "media_url") -> str | None:
    """The link if it is a public http(s) URL, else 422 naming `name`."""
    if url is None:
        return None
    reason = _refusal(url.strip())
    if reason:
        raise Invalid(f"{name} refused: {reason}", errors={name: [reason]})
    return url.strip()


def _refusal(url: str) -> str | None:
    if reason := _text_refusal(url):
        return reason
    parts = _split(url)
    if parts is None:
        return "not a URL"
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "an http or https URL"
    if parts.username is not None or parts.password is not None:
        return "no user or password in the link"
    return _host_refusal(host.rstrip(".").lower())


def _text_refusal(url: str) -> str | None:
    if not url or len(url) > MAX_LENGTH:
        return f"1-{MAX_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "no spaces or control characters"
    return None


def _split(url: str):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def _host_refusal(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = _numeric_ipv4(host)
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return None if address.is_global else "the link points to a private or reserved address"
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES) or "." not in host:
        return "the link points to a local name"
    return None


def _numeric_ipv4(host: str):
    """Hosts browsers read as IPv4 though not dotted-quad: 2130706433, 0x7f000001, 127.1."""
    try:
        numbers = [int(part, 0) for part in host.split(".")]
    except ValueError:
        return None
    last_bits = 8 * (5 - len(numbers))
    if len(numbers) > 4 or min(numbers) < 0 or max(numbers[:-1], default=0) > 255 or numbers[-1] >= 2 ** last_bits:
        return None
    value = 0
    for n in numbers[:-1]:
        value = value * 256 + n
    return ipaddress.IPv4Address((value << last_bits) + numbers[-1])
