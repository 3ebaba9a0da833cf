"""Webhooks never reach private addresses (issue 21, item 11): refused at registration and at every send,
whatever way the address is written, with one generic error text; WEBHOOK_ALLOW_PRIVATE opens it explicitly."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from config import settings
from models import Webhook, WebhookDelivery
from models.base import db
from schedules.jobs import run_all
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow.notifications import delivery, targets, webhooks

ATTACK_URLS = ["http://127.0.0.1/hook", "http://localhost/hook", "http://[::1]/hook", "http://2130706433/hook",
               "http://0x7f000001/hook", "http://0.0.0.0/hook", "http://169.254.169.254/latest/meta-data/",
               "http://metadata.google.internal/computeMetadata/v1/", "http://10.0.0.1/hook",
               "http://127.0.0.1:22/", "http://0177.0.0.1/hook", "http://127.1/hook", "http://[::ffff:127.0.0.1]/h",
               "http://192.168.1.10/hook", "http://172.16.0.1/hook", "http://100.64.0.1/hook", "http://[fe80::1]/h",
               "http://[fd00::1]/hook", "http://printer.local/hook"]
PUBLIC = "93.184.216.34"


@pytest.fixture
def private_refused(app, monkeypatch):
    """As in every real environment: WEBHOOK_ALLOW_PRIVATE unset."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)


def body(url: str) -> dict:
    return {"url": url, "secret": "s" * 20, "events": ["problem.created"]}


def test_private_targets_are_off_by_default_in_every_environment():
    for config in (settings.Development, settings.Production, settings.Testing):
        assert config.WEBHOOK_ALLOW_PRIVATE is False


@pytest.mark.parametrize("url", ATTACK_URLS)
def test_a_webhook_toward_a_private_address_is_refused_at_registration(client, world, private_refused, url):
    response = client.post("/api/v1/webhooks", json=body(url), headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "url" in response.json["errors"]
    assert db.session.scalar(select(Webhook.id)) is None


def test_an_edit_toward_a_private_address_is_refused(client, world, private_refused, monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC])
    created = client.post("/api/v1/webhooks", json=body("https://hooks.example.com/in"), headers=world.auth("admin"))
    assert created.status_code == 201, created.json
    response = client.patch(f"/api/v1/webhooks/{created.json['id']}", json={"url": "http://169.254.169.254/"},
                            headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert_problem_json(response, 422, "validation")
    assert db.session.get(Webhook, created.json["id"]).url == "https://hooks.example.com/in"


def test_a_name_resolving_to_any_private_address_is_refused(client, world, private_refused, monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC, "10.1.2.3"])
    response = client.post("/api/v1/webhooks", json=body("https://sneaky.example.com/in"), headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")


def test_a_public_name_is_accepted(client, world, private_refused, monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC, "2606:2800:220:1::1"])
    assert client.post("/api/v1/webhooks", json=body("https://hooks.example.com/in"),
                       headers=world.auth("admin")).status_code == 201


class Receiver(BaseHTTPRequestHandler):
    hits: list = []

    def do_POST(self):
        Receiver.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_receiver():
    Receiver.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _stored_hook(url: str) -> None:
    """A webhook registered before the check existed (or while private targets were allowed)."""
    webhooks.create_webhook(now=NOW, url=url, secret="s" * 20, events=["problem.created"], allow_private=True)
    db.session.commit()


def test_a_loopback_hook_already_stored_is_never_delivered(world, local_receiver, private_refused):
    _stored_hook(f"http://127.0.0.1:{local_receiver}/hook")
    world.report()
    run_all(now=NOW)
    assert Receiver.hits == []
    row = db.session.scalars(select(WebhookDelivery)).one()
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "refused: the target is not a public address")


def test_the_same_hook_is_delivered_when_private_targets_are_allowed(world, local_receiver):
    _stored_hook(f"http://127.0.0.1:{local_receiver}/hook")
    world.report()
    run_all(now=NOW)
    assert Receiver.hits == ["/hook"]


def test_a_name_that_now_resolves_to_loopback_is_refused_at_send(world, local_receiver, private_refused,
                                                                  monkeypatch):
    """DNS rebinding: public at registration, 127.0.0.1 when the delivery goes out."""
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC])
    webhooks.create_webhook(now=NOW, url=f"http://rebind.example.com:{local_receiver}/hook", secret="s" * 20,
                            events=["problem.created"])
    db.session.commit()
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["127.0.0.1"])
    world.report()
    run_all(now=NOW)
    assert Receiver.hits == []
    assert db.session.scalars(select(WebhookDelivery.last_error)).one() == \
        "refused: the target is not a public address"


def test_the_send_connects_to_the_checked_address_resolved_once(monkeypatch):
    lookups, connects = [], []
    monkeypatch.setattr(targets, "resolve", lambda host, port: lookups.append(host) or [PUBLIC])

    def connect(address, *args, **kwargs):
        connects.append(address)
        raise ConnectionRefusedError("nobody listens")

    monkeypatch.setattr(socket, "create_connection", connect)
    with pytest.raises(ConnectionRefusedError):
        delivery.http_post("http://hooks.example.com:8080/in", b"{}", {})
    assert (lookups, connects) == (["hooks.example.com"], [(PUBLIC, 8080)])


def test_network_failures_all_read_the_same(world, monkeypatch):
    """'Connection refused' for 127.0.0.1:22 against a timeout elsewhere let an admin scan ports."""
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC])
    _stored_hook("http://hooks.example.com/a")
    _stored_hook("http://hooks.example.com/b")
    world.report()
    delivery.fan_out(now=NOW)
    failures = iter([ConnectionRefusedError("[Errno 111] Connection refused"), TimeoutError("timed out")])

    def send(url, body, headers):
        raise next(failures)

    assert delivery.deliver(now=NOW, send=send)["failed"] == 2
    assert set(db.session.scalars(select(WebhookDelivery.last_error))) == {"network error: no HTTP answer"}
