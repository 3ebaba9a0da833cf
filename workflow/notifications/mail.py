"""E-mail as a channel (for the daily digest): a webhook of format `email` whose `url` is `mailto:` one or
more addresses, sent through the SMTP server of the settings with STARTTLS. The server is the operator's,
not the user's: only the recipients come from users."""

import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

TIMEOUT_S = 10


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    sender: str = "rectify@localhost"
    starttls: bool = True
    ca_file: str | None = None  # trust this CA (a private mail relay; the tests' server)


def recipients(url: str) -> list[str]:
    """The addresses of a `mailto:` URL; ValueError when it holds none or a malformed one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "mailto" or not parts.path:
        raise ValueError("an e-mail channel's url is mailto:address[,address]")
    found = [urllib.parse.unquote(address).strip() for address in parts.path.split(",")]
    for address in found:
        name, addr = parseaddr(address)
        if addr != address or "@" not in address or any(ch in address for ch in "\r\n<> "):
            raise ValueError(f"not an e-mail address: {address!r}")
    return found


def send(smtp: Smtp, *, to: list[str], subject: str, text: str) -> None:
    """Send one plain-text message (STARTTLS before any credentials); raise on any failure."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, ", ".join(to), subject
    message.set_content(text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(message)
