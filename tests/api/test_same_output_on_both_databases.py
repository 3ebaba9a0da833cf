"""The API says exactly the same thing on SQLite and PostgreSQL: this test runs on both, byte for byte."""

from datetime import timedelta

from sqlalchemy import select

from models import OutboxMessage, ProblemEvent, db
from tests.conftest import NOW
from workflow import audit


def test_a_problem_and_its_trail_read_exactly_the_same_on_every_database(app, client, world):
    created = client.post("/api/v1/problems", headers=world.auth("officer"), json={
        "category_code": "shopfront", "point_id": world.points["market"].id, "title": "突店经营",
        "observed_at": "2026-11-25T09:55:00.250000+08:00", "client_id": "phone-1"})
    pid = created.json["id"]
    app.config["TEST_NOW"] = NOW + timedelta(minutes=5)
    client.post(f"/api/v1/problems/{pid}/actions", headers=world.auth("supervisor", **{"If-Match": '"1"'}),
                json={"action": "assign", "unit_id": world.units["squad"].id})

    problem = client.get(f"/api/v1/problems/{pid}", headers=world.auth("supervisor")).json
    events = client.get(f"/api/v1/problems/{pid}/events", headers=world.auth("supervisor")).json

    assert {k: problem[k] for k in TIMES} == {
        "observed_at": "2026-11-25T01:55:00.250000+00:00",
        "reported_at": "2026-11-25T02:00:00+00:00",
        "updated_at": "2026-11-25T02:05:00+00:00",
        "closed_at": None,
        # accept: 240 working minutes from Wednesday 10:05 local → 15:35 local (lunch 12:00-13:30 skipped)
        "stage_due_at": "2026-11-25T07:35:00+00:00",
        "due_at": WHOLE_DUE,  # counted by hand below
    }
    assert problem["light"] == "green" and problem["overdue"] is False and problem["stage"] == "accept"
    assert [(e["seq"], e["action"], e["at"], e["stage"], e["stage_overdue"]) for e in events["items"]] == [
        (1, "report", "2026-11-25T02:00:00+00:00", None, None),
        (2, "assign", "2026-11-25T02:05:00+00:00", "dispatch", False),
    ]
    assert events["items"][1]["fields"] == {"unit_id": world.units["squad"].id}


TIMES = ("observed_at", "reported_at", "updated_at", "closed_at", "stage_due_at", "due_at")
# 2400 working minutes from Wed 2026-11-25 10:05 (local, 08:30-12:00 and 13:30-17:30 = 450 min a day):
# Wed 10:05-12:00 (115) + 13:30-17:30 (240) = 355; Thu 450 → 805; Fri 450 → 1255; Mon 450 → 1705;
# Tue 450 → 2155; Wed 12-02: 245 more = 08:30-12:00 (210) then 35 after 13:30 → 14:05 local = 06:05 UTC.
WHOLE_DUE = "2026-12-02T06:05:00+00:00"


def test_a_transition_writes_the_same_event_and_message_on_every_database(client, world):
    """On PostgreSQL the write is one statement that hashes in SQL (workflow/problems/one_statement.py); on
    SQLite it is several and hashes in Python: the trail verifies and the message is the same either way."""
    problem = world.report()
    response = client.post(f"/api/v1/problems/{problem.id}/actions",
                           headers=world.auth("supervisor", **{"If-Match": '"1"'}),
                           json={"action": "assign", "unit_id": world.units["squad"].id, "note": "交给中队 \"甲\""})
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'

    event = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id,
                                                          ProblemEvent.seq == 2)).one()
    first = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id,
                                                          ProblemEvent.seq == 1)).one()
    assert event.prev_hash == first.hash
    assert event.hash == audit.chain_hash(first.hash, {c: getattr(event, c) for c in audit.HASHED_COLUMNS})
    assert audit.verify_chains().intact
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "problem.transitioned")).one()
    assert message.payload["problem_id"] == problem.id and message.payload["event_id"] == event.id
    data = message.payload["data"]
    assert data["version"] == 2 and data["action"] == "assign" and data["from_state"] == "reported"
    shared = sorted(set(data) & set(response.json))
    assert len(shared) > 20 and {k: data[k] for k in shared} == {k: response.json[k] for k in shared}
