"""Statements per request on the hot endpoints: each round trip costs more than any serializer (bench/RESULTS.md).

The bounds are today's counts; a change that adds a statement to one of these requests must say why here.
"""

from datetime import timedelta

import pytest

from tests.api.helpers import statements
from tests.conftest import BACKEND, NOW


def describe(sent: list[str]) -> str:
    return "\n".join(statement[:120] for statement in sent)


def test_livez_is_public_and_never_touches_the_database(client, app):
    with statements(client.application) as sent:
        response = client.get("/livez")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert sent == []


def test_a_transition_sends_a_bounded_number_of_statements(client, world):
    problem = world.report(category="shopfront")  # working-time limits: the calendar is needed
    path, headers = f"/api/v1/problems/{problem.id}/actions", world.auth("supervisor", **{
        "If-Match": '"1"', "Idempotency-Key": "k-1"})
    body = {"action": "assign", "unit_id": world.units["squad"].id, "handler_id": world.users["handler"].id}
    with statements(client.application) as sent:
        response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sum("calendar_days" in s for s in sent) <= 1, describe(sent)  # cached: one fingerprint at most
    assert sum(s.startswith("SELECT problems.") for s in sent) == 1, describe(sent)  # loaded once
    # The write: on PostgreSQL one statement (workflow/problems/one_statement.py) that also puts the handler's
    # inbox item and stores the key's answer; on SQLite the UPDATE, the predecessor's hash, the event, the
    # outbox row, the inbox row and the key's record.
    writes = [s for s in sent if "problem_events" in s or "outbox" in s]
    assert len(writes) == (1 if BACKEND == "postgresql" else 3), describe(sent)
    # A caller's first request reads their token and stamps its last use; then the key (its lock and record
    # in one statement), the problem with the unit and handler the body names, its point and the calendar's
    # version (one statement on PostgreSQL), the write.
    assert len(sent) <= (5 if BACKEND == "postgresql" else 14), describe(sent)


def test_a_transition_with_a_key_by_a_caller_read_within_the_second_is_three_statements(client, world, app):
    first, second = world.report(category="shopfront"), world.report(category="shopfront")
    paths = [f"/api/v1/problems/{problem.id}/actions" for problem in (first, second)]
    body = {"action": "assign", "unit_id": world.units["squad"].id, "handler_id": world.users["handler"].id}
    client.post(paths[0], json=body, headers=world.auth("supervisor", **{"If-Match": '"1"', "Idempotency-Key": "a"}))
    app.config["TEST_NOW"] = NOW + timedelta(milliseconds=500)
    headers = world.auth("supervisor", **{"If-Match": '"1"', "Idempotency-Key": "b"})
    with statements(client.application) as sent:
        response = client.post(paths[1], json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    # PostgreSQL: the key's lock and record; the problem, the named unit and handler, the point, the calendar's
    # version; the write with the handler's inbox item and the key's record (issue 23: ≤ 3 including auth).
    assert len(sent) <= (3 if BACKEND == "postgresql" else 10), describe(sent)
    with statements(client.application) as replayed:
        replay = client.post(paths[1], json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_data() == response.get_data()
    assert sum("idempotency_records" in s for s in replayed) == 1, describe(replayed)  # read once, not reloaded


def test_a_transition_by_a_caller_read_within_the_second_sends_no_token_statement(client, world, app):
    first, second = world.report(), world.report()
    headers = world.auth("supervisor", **{"If-Match": '"1"'})
    body = {"action": "assign", "unit_id": world.units["squad"].id}
    paths = [f"/api/v1/problems/{problem.id}/actions" for problem in (first, second)]
    client.post(paths[0], json=body, headers=headers)
    app.config["TEST_NOW"] = NOW + timedelta(milliseconds=500)
    with statements(client.application) as sent:
        response = client.post(paths[1], json=body, headers=headers)
    assert response.status_code == 200
    assert not any("api_tokens" in s for s in sent), describe(sent)
    # The caller and their unit come from the cache. On PostgreSQL: the problem with the target unit, its point
    # and the calendar's version; the unit's handlers, who hear of it (issue 16); the write, their inbox rows in
    # it. On SQLite also the calendar's version, the unit, the point and the write's four statements.
    assert len(sent) <= (3 if BACKEND == "postgresql" else 10), describe(sent)


def test_a_second_transition_reads_no_calendar_rows(client, world):
    first, second = world.report(category="shopfront"), world.report(category="shopfront")
    body = {"action": "assign", "unit_id": world.units["squad"].id}
    headers = world.auth("supervisor", **{"If-Match": "1"})
    paths = [f"/api/v1/problems/{problem.id}/actions" for problem in (first, second)]
    client.post(paths[0], json=body, headers=headers)
    with statements(client.application) as sent:
        response = client.post(paths[1], json=body, headers=headers)
    assert response.status_code == 200
    assert not any(s.startswith("SELECT calendar_days.day") for s in sent), describe(sent)


def test_reading_a_problem_sends_a_bounded_number_of_statements(client, world):
    path, headers = f"/api/v1/problems/{world.report().id}", world.auth("supervisor")
    with statements(client.application) as sent:
        response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert len(sent) <= 4, describe(sent)


@pytest.mark.parametrize("query", ["", "?state=reported,assigned&category=hawker,shopfront&grid_id=1,2",
                                   "?limit=1"])
def test_a_ledger_page_costs_the_same_whatever_its_size(client, world, query):
    for _ in range(3):
        world.report()
    headers = world.auth("supervisor")
    with statements(client.application) as sent:
        response = client.get(f"/api/v1/problems{query}", headers=headers)
    assert response.status_code == 200 and response.json["items"]
    assert len(sent) <= 5, describe(sent)
    if "cursor" not in query and response.json["next_cursor"]:
        with statements(client.application) as deeper:
            response = client.get(f"/api/v1/problems?limit=1&cursor={response.json['next_cursor']}",
                                  headers=headers)
        assert response.status_code == 200
        assert len(deeper) <= 5, describe(deeper)


def test_the_monthly_report_sends_a_bounded_number_of_statements(client, world):
    world.report()
    headers = world.auth("supervisor")
    with statements(client.application) as sent:
        response = client.get("/api/v1/reports/summary?from=2026-11-01&to=2026-11-30&group_by=unit",
                              headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    # the caller (and its last use), figures by group and in total, stage times by group and in total, labels
    assert len(sent) <= 7, describe(sent)


def test_a_ledger_page_of_overdue_problems_sends_no_statement_per_row(app, client, world):
    for _ in range(4):
        world.to_state("rectifying")
    # Past every deadline: the suspend guard of allowed_actions asks each row for its area unit.
    app.config["TEST_NOW"] = world.now + timedelta(days=3)
    with statements(client.application) as sent:
        response = client.get("/api/v1/problems", headers=world.auth("supervisor"))
    assert response.status_code == 200 and all("suspend" in item["allowed_actions"] for item in response.json["items"])
    assert len(sent) <= 5, describe(sent)
