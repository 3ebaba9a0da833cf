"""/healthz: 200 `ok` or `degraded` with the warnings that say why (a load balancer keeps a degraded
instance), 503 only when it cannot serve."""

from datetime import timedelta

from models import OutboxMessage
from models.base import db
from schedules.jobs import run_all
from tests.conftest import NOW
from workflow import health


def quiet_calendar(monkeypatch) -> None:
    """The calendar's warning (next year's estimated holidays) is another check's: leave it out here."""
    monkeypatch.setattr(health, "warnings", lambda *, now: [])


def test_a_ticking_scheduler_and_a_drained_outbox_are_ok(client, world, monkeypatch):
    quiet_calendar(monkeypatch)
    run_all(now=NOW)
    run_all(now=NOW)  # the second run delivers what the first sent out (the audit anchor)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert (response.json["status"], response.json["warnings"], response.json["database"]) == ("ok", [], "ok")
    assert set(response.json["scheduler"]) == {"leader", "last_tick_at", "lag_s"}


def test_a_scheduler_that_never_ran_degrades_health_but_it_still_answers_200(client, world, monkeypatch):
    quiet_calendar(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["warnings"] == ["the scheduler has never run a job: start `flask scheduler run`"]


def test_a_stuck_outbox_and_a_lagging_scheduler_are_both_listed(app, client, world, monkeypatch):
    quiet_calendar(monkeypatch)
    run_all(now=NOW - timedelta(hours=2))
    run_all(now=NOW - timedelta(hours=2))
    db.session.add(OutboxMessage(topic="problem.created", payload={}, created_at=NOW - timedelta(minutes=11)))
    db.session.commit()
    warnings = client.get("/healthz").json["warnings"]
    assert "the outbox holds 1 undelivered messages, the oldest 660 s old" in warnings
    assert "scheduled job deliver_outbox last ran 7200 s ago; it runs every 15 s" in warnings
    assert not any("anchor_audit" in warning for warning in warnings)  # hourly: two hours is two ticks, not more


def test_the_calendar_warning_degrades_health_too(client, world):
    run_all(now=NOW)
    run_all(now=NOW)
    body = client.get("/healthz").json
    assert body["warnings"] == health.warnings(now=NOW) and body["status"] == ("degraded" if body["warnings"]
                                                                               else "ok")


def test_a_database_that_does_not_answer_is_503(client, monkeypatch):
    monkeypatch.setattr(health, "database_answers", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "warnings": ["the database does not answer"],
                             "database": "down", "scheduler": None}
