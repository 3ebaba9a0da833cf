"""The API says exactly the same thing on SQLite and PostgreSQL: this test runs on both, byte for byte."""

from datetime import timedelta

from tests.conftest import NOW


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
