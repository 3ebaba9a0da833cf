"""Metrics: counts of what committed (never of what rolled back), gauges read from the database at scrape
time, /metrics behind a token or loopback, and a Grafana dashboard that asks only for metrics a scrape has."""

import json
import re
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.settings import ROOT
from models import OutboxMessage, WebhookDelivery
from models.base import db
from schedules import lease
from schedules.jobs import JOBS, run_all, run_job
from tests.conftest import NOW
from tests.workflow.patrols.test_patrols import make_plan, rounds_of
from workflow.escalation import firing, rules
from workflow.notifications import delivery, webhooks
from workflow.patrols import rounds
from workflow.problems import actions

DASHBOARD = ROOT / "deploy" / "grafana" / "rectify-dashboard.json"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, {k: str(v) for k, v in labels.items()}) or 0.0


class Delta:
    """How much each named sample has grown since this was made."""

    def __init__(self, *samples: tuple):
        self.samples, self.before = samples, [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [value(name, **labels) - before for (name, labels), before in zip(self.samples, self.before,
                                                                                 strict=True)]


def scrape(client, **headers) -> dict[str, list]:
    """name -> samples of a /metrics answer."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


# --- counted when committed ----------------------------------------------------------------------

def test_a_committed_action_counts_once_and_a_rolled_back_one_not_at_all(world):
    problem = world.report()
    grew = Delta(("rectify_transitions_total", {"action": "assign"}))
    actions.apply_action(actor=world.users["supervisor"], now=NOW, problem_id=problem.id, action="assign",
                         expected_version=1, unit_id=world.units["squad"].id)
    db.session.rollback()
    assert grew() == [0]
    world.act(db.session.get(type(problem), problem.id), "assign", by="supervisor", unit_id=world.units["squad"].id)
    assert grew() == [1]


def test_a_report_counts_when_its_transaction_commits_not_when_its_savepoint_is_released(world):
    from workflow.problems import reporting
    grew = Delta(("rectify_reports_total", {"source": "officer"}))
    reporting.report_problem(actor=world.users["officer"], now=NOW, category_code="hawker", title="占道",
                             point_id=world.points["market"].id)  # inserts inside a savepoint, released
    assert grew() == [0]
    db.session.rollback()
    assert grew() == [0]


def test_a_stale_or_refused_action_over_http_counts_nothing_but_its_request(client, world):
    problem = world.report()
    route = {"method": "POST", "route": "/api/v1/problems/{problem_id}/actions"}
    grew = Delta(("rectify_transitions_total", {"action": "assign"}),
                 ("rectify_http_requests_total", route | {"status": 412}))
    response = client.post(f"/api/v1/problems/{problem.id}/actions", headers=world.auth("supervisor", **{
        "If-Match": '"7"'}), json={"action": "assign", "unit_id": world.units["squad"].id})
    assert response.status_code == 412
    assert grew() == [0, 1]


def test_every_action_and_comment_counts_by_action(world):
    grew = Delta(*[("rectify_transitions_total", {"action": a}) for a in ("assign", "accept", "submit", "verify",
                                                                          "close", "comment")])
    problem = world.to_state("verified")
    actions.apply_action(actor=world.users["officer"], now=NOW, problem_id=problem.id, action="comment",
                         expected_version=None, text="noted")
    db.session.commit()
    assert grew() == [1, 1, 1, 1, 0, 1]


def test_reports_count_by_source(world):
    grew = Delta(("rectify_reports_total", {"source": "officer"}), ("rectify_reports_total", {"source": "supervisor"}))
    world.report()
    world.report(by="supervisor")
    assert grew() == [1, 1]


def test_escalation_firings_count_by_level(world):
    rules.create_rule(actor=None, now=NOW, name="未派遣", trigger="not_dispatched", level=2,
                      notify=["unit_supervisors"])
    db.session.commit()
    world.report()
    grew = Delta(("rectify_escalation_firings_total", {"level": 2}))
    firing.sweep(now=NOW + timedelta(days=3))
    db.session.commit()
    firing.sweep(now=NOW + timedelta(days=4))  # nothing fires twice, nothing counts twice
    db.session.commit()
    assert grew() == [1]


def test_rounds_made_missed_completed_and_incomplete_count_as_the_rounds_table_says(world):
    plan = make_plan(world)
    grew = Delta(("rectify_rounds_made_total", {}), ("rectify_rounds_missed_total", {"reason": "not_opened"}),
                 ("rectify_rounds_completed_total", {"state": "completed"}), ("rectify_rounds_incomplete_total", {}))
    rounds.materialize_rounds(now=NOW)
    db.session.commit()
    lunch = NOW + timedelta(hours=1, minutes=30)  # 11:30 in Shanghai: the lunch window is open
    rounds.advance_rounds(now=lunch)
    first = rounds_of(plan)[0]
    rounds.start_round(actor=world.users["officer"], now=lunch, round_id=first.id)
    rounds.complete_round(actor=world.users["officer"], now=lunch, round_id=first.id)  # no check-in: incomplete
    db.session.commit()
    rounds.advance_rounds(now=NOW + timedelta(days=1))  # the evening and the next morning pass unopened
    db.session.commit()
    missed = rounds_of(plan, "missed")
    assert missed and {r.missed_reason for r in missed} == {"not_opened"}
    assert grew() == [len(rounds_of(plan)), len(missed), 1, 1]


def test_deliveries_count_by_result(world):
    webhooks.create_webhook(now=NOW, url="https://example.test/hook", secret="s", events=["problem.created"])
    db.session.commit()
    world.report()
    world.report()
    grew = Delta(*[("rectify_webhook_deliveries_total", {"result": r}) for r in ("delivered", "failed", "dead")])
    delivery.fan_out(now=NOW)
    statuses = iter([200, 500])
    delivery.deliver(now=NOW, send=lambda url, body, headers: next(statuses))
    db.session.commit()
    assert grew() == [1, 1, 0]


def test_scheduled_jobs_count_their_runs(world):
    grew = Delta(("rectify_scheduler_job_runs_total", {"job": "deliver_outbox", "result": "ok"}),
                 ("rectify_scheduler_job_runs_total", {"job": "deliver_outbox", "result": "skipped"}))
    run_job("deliver_outbox", now=NOW)
    run_job("deliver_outbox", now=NOW - timedelta(minutes=1))  # ticks only move forward
    assert grew() == [1, 1]


def test_requests_count_and_time_by_route_and_status(client, world):
    route = {"method": "GET", "route": "/api/v1/problems/{problem_id}"}
    grew = Delta(("rectify_http_requests_total", route | {"status": 404}),
                 ("rectify_http_request_duration_seconds_count", route | {"status": 404}))
    client.get("/api/v1/problems/41", headers=world.auth("supervisor"))
    client.get("/api/v1/problems/42", headers=world.auth("supervisor"))
    assert grew() == [2, 2]


# --- gauges read at scrape time -------------------------------------------------------------------

def test_a_scrape_shows_the_outbox_dead_letters_the_leader_and_each_jobs_lag(app, client, world):
    run_all(now=NOW - timedelta(minutes=5))  # every job ran five minutes ago
    run_all(now=NOW - timedelta(minutes=5))  # (and delivered the audit anchor the first run sent out)
    lease.acquire(holder="host-a:42", now=NOW, ttl=timedelta(seconds=90))
    db.session.add(OutboxMessage(topic="problem.created", payload={}, created_at=NOW - timedelta(minutes=3)))
    hook = webhooks.create_webhook(now=NOW, url="https://example.test/h", secret="s", events=[])
    db.session.add(WebhookDelivery(webhook_id=hook.id, event_id=_message(), event_type="x", body="{}",
                                   status="dead", attempts=8, next_attempt_at=NOW - timedelta(hours=2)))
    db.session.commit()
    samples = scrape(client)

    def one(name, **labels):
        (sample,) = [s for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
        return sample.value

    assert one("rectify_outbox_depth") == 1 and one("rectify_outbox_oldest_age_seconds") == 180
    assert one("rectify_webhook_dead_letters") == 1 and one("rectify_webhook_dead_letters_last_day") == 1
    assert one("rectify_scheduler_leader", holder="host-a:42") == 1
    assert one("rectify_scheduler_tick_lag_seconds", job="deliver_outbox") == 300
    assert one("rectify_scheduler_job_interval_seconds", job="deliver_outbox") == JOBS["deliver_outbox"][1]
    assert one("rectify_migrations_at_head") == 1
    assert one("rectify_db_pool_connections", state="open") >= 1


def test_the_pool_gauge_follows_each_connection_lent_and_taken_back(app):
    with app.app_context():
        before = value("rectify_db_pool_connections", state="in_use")
        with db.engine.connect():
            assert value("rectify_db_pool_connections", state="in_use") == before + 1
        assert value("rectify_db_pool_connections", state="in_use") == before


def _message() -> int:
    message = OutboxMessage(topic="x", payload={}, created_at=NOW, delivered_at=NOW)
    db.session.add(message)
    db.session.flush()
    return message.id


# --- who may scrape -------------------------------------------------------------------------------

def test_without_a_token_only_a_loopback_caller_may_scrape(client):
    assert client.get("/metrics").status_code == 200
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_with_a_token_set_every_caller_needs_it(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token-1")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    far = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-1"},
                     environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert far.status_code == 200 and b"rectify_outbox_depth" in far.data


def test_metrics_can_be_switched_off(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ENABLED", False)
    assert client.get("/metrics").status_code == 404


# --- the dashboard --------------------------------------------------------------------------------

def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_grafana_dashboard_asks_only_for_metrics_a_scrape_has(client, world):
    world.to_state("closed")
    lease.acquire(holder="host-a:42", now=NOW, ttl=timedelta(seconds=90))
    run_all(now=NOW)
    client.get("/api/v1/me", headers=world.auth("officer"))
    names = set(scrape(client))
    queries = dashboard_queries()
    assert queries and all(re.search(r"\brectify_\w+", query) for query in queries)
    asked = {name for query in queries for name in re.findall(r"\brectify_\w+", query)}
    assert sorted(asked - names) == []


@pytest.mark.parametrize("family", ["rectify_http_requests_total", "rectify_http_request_duration_seconds_bucket",
                                    "rectify_transitions_total", "rectify_reports_total",
                                    "rectify_escalation_firings_total", "rectify_rounds_made_total",
                                    "rectify_rounds_missed_total", "rectify_rounds_incomplete_total",
                                    "rectify_outbox_depth", "rectify_outbox_oldest_age_seconds",
                                    "rectify_webhook_deliveries_total", "rectify_webhook_dead_letters",
                                    "rectify_scheduler_leader", "rectify_scheduler_tick_lag_seconds",
                                    "rectify_db_pool_connections"])
def test_the_dashboard_shows_each_metric_family_the_issue_asks_for(family):
    assert any(family in query for query in dashboard_queries())
