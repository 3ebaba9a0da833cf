"""Tokens, passwords, webhook secrets and URLs, reporters' contacts: planted in requests (and in a delivery and
a failing write), then looked for in everything logged meanwhile, SQL statements included. None may appear."""

import logging

import pytest
from sqlalchemy import text

from models.base import db
from tests.conftest import NOW
from workflow.notifications import delivery, webhooks

PLANTED = {
    "wrong token": "planted-wrong-token-6f1e0c9a4b7d",
    "password": "planted-Passw0rd-d41d8cd98f00",
    "webhook secret": "planted-webhook-secret-9c1185a5c5e9",
    "new webhook secret": "planted-webhook-secret-rotated-7b3f",
    "webhook url key": "planted-url-key-2c26b46b68ffc68f",
    "reporter contact": "13912345678",
}


@pytest.fixture
def sql_logged():
    """SQLAlchemy's statement log on (statements and, unless hidden, their parameters)."""
    engine_log = logging.getLogger("sqlalchemy.engine")
    level = engine_log.level
    engine_log.setLevel(logging.INFO)
    yield
    engine_log.setLevel(level)


def test_no_planted_secret_reaches_a_log_line(app, client, world, captured_logs, sql_logged, monkeypatch):
    admin, officer = world.auth("admin"), world.auth("officer")
    url = f"https://hooks.example.test/send?key={PLANTED['webhook url key']}"
    created = client.post("/api/v1/webhooks", headers=admin, json={
        "url": url, "secret": PLANTED["webhook secret"], "events": ["problem.created"]})
    assert created.status_code == 201
    assert client.patch(f"/api/v1/webhooks/{created.json['id']}", headers=admin | {"If-Match": '"1"'},
                        json={"secret": PLANTED["new webhook secret"]}).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {PLANTED['wrong token']}"}).status_code == 401
    assert client.post("/api/v1/users", headers=admin, json={
        "name": "王五", "role": "admin", "password": PLANTED["password"]}).status_code == 422
    assert client.get(f"/api/v1/me?password={PLANTED['password']}", headers=officer).status_code == 422
    report = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "占道经营",
              "description": f"举报人电话 {PLANTED['reporter contact']}"}
    assert client.post("/api/v1/problems", headers=officer,
                       json=report | {"reporter_contact": PLANTED["reporter contact"]}).status_code == 422
    assert client.post("/api/v1/problems", headers=officer, json=report).status_code == 201
    _deliver_failing_with_the_url_in_the_error()
    _fail_a_write_with_the_secret_in_its_parameters(client, admin, monkeypatch)

    logged = captured_logs.text
    assert len(captured_logs.access()) >= 8 and "SELECT" in logged and "IntegrityError" in logged
    assert [name for name, value in PLANTED.items() if value in logged] == []
    assert [user for user, token in world.tokens.items() if token in logged] == []


def _deliver_failing_with_the_url_in_the_error() -> None:
    """A receiver that cannot be reached, whose error quotes the URL (as urllib's often do)."""
    def send(url, body, headers):
        raise ConnectionError(f"cannot reach {url}")

    delivery.fan_out(now=NOW)
    assert delivery.deliver(now=NOW, send=send)["failed"] == 1
    db.session.commit()


def _fail_a_write_with_the_secret_in_its_parameters(client, admin, monkeypatch) -> None:
    """A bug that breaks a statement carrying the secret: the 500's traceback must not quote it."""
    def broken(**fields):
        insert = text("INSERT INTO webhooks (id, url, secret, events, active, created_at) "
                      "VALUES (1, :url, :secret, '[]', true, :at)")
        db.session.execute(insert, {"url": fields["url"], "secret": fields["secret"], "at": NOW})
        raise AssertionError("the insert above collides with webhook 1")

    monkeypatch.setattr(webhooks, "create_webhook", broken)
    response = client.post("/api/v1/webhooks", headers=admin, json={
        "url": "https://hooks.example.test/other", "secret": PLANTED["webhook secret"],
        "events": ["problem.created"]})
    assert response.status_code == 500
