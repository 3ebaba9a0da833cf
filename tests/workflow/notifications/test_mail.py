"""E-mail digests through a real local SMTP server (aiosmtpd) that requires STARTTLS, not a mock."""

import socket
import ssl
import subprocess
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from models import WebhookDelivery
from models.base import db
from tests.conftest import NOW
from workflow.errors import Invalid
from workflow.notifications import delivery, digest, mail, webhooks

EIGHT = NOW.replace(hour=0)  # 08:00 in Shanghai, a Wednesday


class Inbox:
    def __init__(self):
        self.messages, self.tls = [], []

    async def handle_DATA(self, server, session, envelope):
        self.tls.append(session.ssl is not None)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path):
    """A local SMTP server with a self-signed certificate that refuses mail before STARTTLS."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller checks itself by connecting to its port)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    try:
        yield inbox, mail.Smtp(host="127.0.0.1", port=port,
                               sender="rectify@example.gov.cn", ca_file=str(cert))
    finally:
        controller.stop()


def test_a_supervisors_digest_goes_out_by_mail_over_starttls(world, smtp_server):
    inbox, smtp = smtp_server
    webhooks.create_webhook(now=NOW, url="mailto:east-office@example.gov.cn,lead@example.gov.cn", format="email",
                            events=["digest.daily"], unit_id=world.units["east"].id)
    world.report()
    db.session.commit()
    digest.send_digests(now=EIGHT)
    db.session.commit()
    delivery.fan_out(now=EIGHT)
    db.session.commit()
    assert delivery.deliver(now=EIGHT, smtp=smtp) == {"delivered": 1, "failed": 0, "dead": 0}
    ((to, message),) = inbox.messages
    assert to == ["east-office@example.gov.cn", "lead@example.gov.cn"] and inbox.tls == [True]
    assert "每日待办摘要" in str(make_header(decode_header(message["Subject"])))
    assert "待派遣 1 件" in message.get_payload(decode=True).decode()


def test_without_starttls_the_server_refuses_and_the_attempt_fails_to_be_retried(world, smtp_server):
    inbox, smtp = smtp_server
    webhooks.create_webhook(now=NOW, url="mailto:east-office@example.gov.cn", format="email",
                            events=["digest.daily"], unit_id=world.units["east"].id)
    digest.send_digests(now=EIGHT)
    delivery.fan_out(now=EIGHT)
    db.session.commit()
    plain = mail.Smtp(host=smtp.host, port=smtp.port, starttls=False)
    assert delivery.deliver(now=EIGHT, smtp=plain)["failed"] == 1
    assert delivery.deliver(now=EIGHT.replace(second=30), smtp=None) == {"delivered": 0, "failed": 0, "dead": 0}
    row = db.session.scalars(select(WebhookDelivery)).one()
    assert row.status == "pending" and "STARTTLS" in row.last_error.upper() and inbox.messages == []


@pytest.mark.parametrize("url, events", [("mailto:", ["digest.daily"]), ("mailto:not-an-address", ["digest.daily"]),
                                         ("mailto:a@b.cn%0D%0ABcc:x@y.cn", ["digest.daily"]),
                                         ("mailto:a@b.cn", ["problem.created"])])
def test_a_bad_mail_channel_is_refused(world, url, events):
    with pytest.raises(Invalid):
        webhooks.create_webhook(now=NOW, url=url, format="email", events=events)
