"""The escalation contract: rules as data (scoped to a supervisor's subtree), the dry-run, the inbox, webhooks."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import EscalationFiring, EscalationRule, Notification, WebhookDelivery
from models.base import db
from schedules.jobs import run_all
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow.escalation import firing
from workflow.notifications import delivery

RULE_KEYS = {"id", "name", "trigger", "stage", "fraction", "after_minutes", "threshold", "window_days", "level",
             "notify", "effects", "categories", "severities", "unit_id", "active", "failing", "failing_since",
             "last_error", "version"}
NOTIFICATION_KEYS = {"id", "type", "title", "body", "problem_id", "round_id", "created_at", "read_at"}
WEBHOOK_KEYS = {"id", "url", "events", "active", "version", "format", "unit_id"}
DELIVERY_KEYS = {"id", "webhook_id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_error",
                 "delivered_at"}
DEAD_URL = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, the connection is refused at once
SECRET = "s3cret-s3cret-s3cret"

V1 = {"If-Match": '"1"'}  # a rule as made




def instant(text: str) -> datetime:
    """A datetime the API sent: UTC with an explicit offset."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None, text
    return parsed


def rule_body(**fields) -> dict:
    return {"name": "到期督办", "trigger": "at_due", "level": 2, "notify": ["unit_supervisors"]} | fields


def post_rule(client, world, by="admin", **fields):
    return client.post("/api/v1/escalation-rules", json=rule_body(**fields), headers=world.auth(by))


def make_rule(client, world, by="admin", **fields) -> dict:
    response = post_rule(client, world, by=by, **fields)
    assert response.status_code == 201, response.json
    return response.json


def rule_ids(client, world, by) -> set[int]:
    response = client.get("/api/v1/escalation-rules", headers=world.auth(by))
    assert response.status_code == 200, response.json
    return {rule["id"] for rule in response.json["items"]}


def sweep(at: datetime) -> list[str]:
    """An escalation sweep as of `at`, committed as the scheduler's tick would be."""
    fired = firing.sweep(now=at)
    db.session.commit()
    return fired


def inbox(client, world, by, **query) -> list[dict]:
    response = client.get("/api/v1/me/notifications", query_string=query, headers=world.auth(by))
    assert response.status_code == 200, response.json
    return response.json["items"]


def count(model) -> int:
    db.session.commit()  # a fresh read: see what requests committed
    return db.session.scalar(select(func.count()).select_from(model))


# --- rules: create ---------------------------------------------------------------------------

def test_an_admin_creates_a_city_wide_rule_with_the_rule_shape(client, world):
    response = post_rule(client, world, trigger="before_due", fraction=0.8, level=1, stage="rectify",
                         notify=["handler", f"user:{world.users['supervisor'].id}"],
                         effects={"supervise": True}, categories=["hawker"], severities=["high", "urgent"])
    assert response.status_code == 201, response.json
    rule = response.json
    assert set(rule) == RULE_KEYS
    assert rule["unit_id"] is None and rule["active"] is True
    assert rule["trigger"] == "before_due" and rule["fraction"] == pytest.approx(0.8) and rule["stage"] == "rectify"
    assert rule["notify"] == ["handler", f"user:{world.users['supervisor'].id}"]
    assert rule["effects"] == {"supervise": True}
    assert rule["categories"] == ["hawker"] and rule["severities"] == ["high", "urgent"]
    assert rule["after_minutes"] is None and rule["threshold"] is None and rule["window_days"] is None
    again = client.get(f"/api/v1/escalation-rules/{rule['id']}", headers=world.auth("admin"))
    assert again.status_code == 200 and again.json == rule


def test_a_rule_without_level_notify_or_effects_gets_the_defaults(client, world):
    response = client.post("/api/v1/escalation-rules", json={"name": "到期", "trigger": "at_due"},
                           headers=world.auth("admin"))
    assert response.status_code == 201, response.json
    assert response.json["level"] == 1 and response.json["notify"] == [] and response.json["effects"] == {}
    assert response.json["active"] is True and response.json["stage"] is None


@pytest.mark.parametrize("by, unit", [("east_supervisor", "east"), ("east_supervisor", "squad"),
                                      ("supervisor", "west")])
def test_a_supervisor_creates_a_rule_for_a_unit_in_their_subtree(client, world, by, unit):
    rule = make_rule(client, world, by=by, unit_id=world.units[unit].id)
    assert rule["unit_id"] == world.units[unit].id


def test_a_supervisor_may_not_create_a_rule_outside_their_subtree(client, world):
    response = post_rule(client, world, by="east_supervisor", unit_id=world.units["west"].id)
    assert_problem_json(response, 403, "forbidden")


def test_a_supervisor_may_not_create_a_city_wide_rule(client, world):
    response = post_rule(client, world, by="east_supervisor")
    assert_problem_json(response, 403, "forbidden")
    response = post_rule(client, world, by="east_supervisor", unit_id=None)
    assert_problem_json(response, 403, "forbidden")
    assert count(EscalationRule) == 0


@pytest.mark.parametrize("by", ["officer", "handler"])
def test_officers_and_handlers_may_not_create_or_list_rules(client, world, by):
    response = post_rule(client, world, by=by, unit_id=world.units["east"].id)
    assert_problem_json(response, 403, "forbidden")
    assert_problem_json(client.get("/api/v1/escalation-rules", headers=world.auth(by)), 403, "forbidden")


def test_creating_a_rule_needs_a_token(client, world):
    response = client.post("/api/v1/escalation-rules", json=rule_body())
    assert_problem_json(response, 401)


@pytest.mark.parametrize("fields, missing", [
    ({"trigger": "before_due"}, {"fraction"}),
    ({"trigger": "after_due"}, {"after_minutes"}),
    ({"trigger": "rework"}, {"threshold"}),
    ({"trigger": "recurrence", "threshold": 3}, {"window_days"}),
    ({"trigger": "recurrence", "window_days": 30}, {"threshold"}),
    ({"trigger": "extension_pending"}, {"after_minutes"}),
], ids=["before_due", "after_due", "rework", "recurrence-window", "recurrence-threshold", "extension_pending"])
def test_each_trigger_needs_its_parameters(client, world, fields, missing):
    response = post_rule(client, world, **fields)
    assert_problem_json(response, 422, "validation")
    assert set(response.json["errors"]) >= missing, response.json


@pytest.mark.parametrize("fields, field", [
    ({"trigger": "fly"}, "trigger"),
    ({"trigger": "before_due", "fraction": 1.5}, "fraction"),
    ({"stage": "lunch"}, "stage"),
    ({"level": 0}, "level"),
    ({"severities": ["apocalyptic"]}, "severities"),
    ({"name": ""}, "name"),
    ({"unit_id": 999999}, "unit_id"),
    ({"effects": {"hot_days": 0}}, "effects"),
    ({"effects": {"bogus": True}}, "effects"),
    ({"bogus": 1}, "bogus"),
], ids=["trigger", "fraction", "stage", "level", "severity", "name", "unknown-unit", "hot_days", "effect-field",
        "unknown-field"])
def test_invalid_rule_fields_are_422_naming_the_field(client, world, fields, field):
    response = post_rule(client, world, **fields)
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json


@pytest.mark.parametrize("target", ["boss", "user:abc", "user:", "user:0", "handler "])
def test_a_malformed_notify_target_is_422(client, world, target):
    response = post_rule(client, world, notify=["handler", target])
    assert_problem_json(response, 422, "validation")
    assert "notify" in response.json["errors"], response.json


def test_notifying_an_unknown_user_is_422(client, world):
    response = post_rule(client, world, notify=["user:999999"])
    assert_problem_json(response, 422, "validation")
    assert "notify" in response.json["errors"], response.json
    assert count(EscalationRule) == 0


# --- rules: scope, read, change --------------------------------------------------------------

def test_the_rule_list_is_scoped_to_the_callers_subtree_plus_city_wide_rules(client, world):
    city = make_rule(client, world, name="全区")
    east = make_rule(client, world, by="east_supervisor", name="东关", unit_id=world.units["east"].id)
    squad = make_rule(client, world, by="east_supervisor", name="中队", unit_id=world.units["squad"].id)
    west = make_rule(client, world, by="west_supervisor", name="西城", unit_id=world.units["west"].id)
    assert rule_ids(client, world, "west_supervisor") == {city["id"], west["id"]}
    assert rule_ids(client, world, "east_supervisor") == {city["id"], east["id"], squad["id"]}
    assert rule_ids(client, world, "supervisor") == {city["id"], east["id"], squad["id"], west["id"]}
    assert rule_ids(client, world, "admin") == {city["id"], east["id"], squad["id"], west["id"]}


def test_a_rule_outside_the_callers_subtree_is_404_but_a_city_wide_one_is_visible(client, world):
    city = make_rule(client, world, name="全区")
    east = make_rule(client, world, by="east_supervisor", unit_id=world.units["east"].id)
    hidden = client.get(f"/api/v1/escalation-rules/{east['id']}", headers=world.auth("west_supervisor"))
    unknown = client.get("/api/v1/escalation-rules/999999", headers=world.auth("west_supervisor"))
    assert_problem_json(hidden, 404, "not-found")
    assert_problem_json(unknown, 404, "not-found")
    assert set(hidden.json) == set(unknown.json)
    patch = client.patch(f"/api/v1/escalation-rules/{east['id']}", json={"active": False},
                         headers=world.auth("west_supervisor", **V1))
    assert_problem_json(patch, 404, "not-found")
    visible = client.get(f"/api/v1/escalation-rules/{city['id']}", headers=world.auth("west_supervisor"))
    assert visible.status_code == 200 and visible.json == city


def test_the_rule_list_is_keyset_paged(client, world):
    made = [make_rule(client, world, name=f"r{i}")["id"] for i in range(3)]
    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/escalation-rules", query_string=query, headers=world.auth("admin")).json
        seen += [rule["id"] for rule in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


def test_patch_retires_a_rule(client, world):
    rule = make_rule(client, world, by="east_supervisor", unit_id=world.units["east"].id)
    response = client.patch(f"/api/v1/escalation-rules/{rule['id']}", json={"active": False},
                            headers=world.auth("east_supervisor", **V1))
    assert response.status_code == 200, response.json
    assert response.json == rule | {"active": False, "version": 2}
    again = client.get(f"/api/v1/escalation-rules/{rule['id']}", headers=world.auth("admin"))
    assert again.json["active"] is False


def test_patch_with_nothing_to_change_is_422(client, world):
    rule = make_rule(client, world)
    response = client.patch(f"/api/v1/escalation-rules/{rule['id']}", json={}, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")


@pytest.mark.parametrize("body, field", [({"bogus": 1}, "bogus"), ({"trigger": "before_due"}, "fraction"),
                                         ({"notify": ["boss"]}, "notify"), ({"notify": ["user:999999"]}, "notify")])
def test_patch_validates_like_create_and_changes_nothing_on_422(client, world, body, field):
    rule = make_rule(client, world)
    response = client.patch(f"/api/v1/escalation-rules/{rule['id']}", json=body, headers=world.auth("admin", **V1))
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json
    assert client.get(f"/api/v1/escalation-rules/{rule['id']}", headers=world.auth("admin")).json == rule


def test_a_supervisor_may_not_move_a_rule_out_of_their_subtree_or_edit_a_city_wide_one(client, world):
    east = make_rule(client, world, by="east_supervisor", unit_id=world.units["east"].id)
    moved = client.patch(f"/api/v1/escalation-rules/{east['id']}", json={"unit_id": world.units["west"].id},
                         headers=world.auth("east_supervisor", **V1))
    assert_problem_json(moved, 403, "forbidden")
    city = make_rule(client, world)
    edited = client.patch(f"/api/v1/escalation-rules/{city['id']}", json={"active": False},
                          headers=world.auth("east_supervisor", **V1))
    assert_problem_json(edited, 403, "forbidden")
    assert client.get(f"/api/v1/escalation-rules/{city['id']}", headers=world.auth("admin")).json == city
    assert client.get(f"/api/v1/escalation-rules/{east['id']}", headers=world.auth("admin")).json == east


# --- dry-run ---------------------------------------------------------------------------------

def test_a_dry_run_lists_the_problems_past_the_draft_rules_instant_and_writes_nothing(client, world, app):
    late = world.report(at=NOW)  # hawker: dispatch within 60 natural minutes
    fresh = world.report(at=NOW + timedelta(minutes=90))  # its dispatch is due at NOW + 150 min
    live = make_rule(client, world, trigger="at_due", stage="dispatch")  # the dry-run must not fire it either
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    events_before = client.get(f"/api/v1/problems/{late.id}/events", headers=world.auth("admin")).json
    problem_before = client.get(f"/api/v1/problems/{late.id}", headers=world.auth("admin")).json

    response = client.post("/api/v1/escalation-rules/dry-run", json={"name": "草案", "trigger": "at_due",
                                                                     "stage": "dispatch"},
                           headers=world.auth("supervisor"))
    assert response.status_code == 200, response.json
    assert list(response.json) == ["items"]
    [hit] = response.json["items"]
    assert set(hit) == {"problem_id", "code", "due_at", "stage"}
    assert hit["problem_id"] == late.id and hit["code"] == late.code and hit["stage"] == "dispatch"
    assert instant(hit["due_at"]) == NOW + timedelta(minutes=60)
    assert fresh.id not in {item["problem_id"] for item in response.json["items"]}

    assert count(EscalationFiring) == 0
    assert count(Notification) == 0
    assert client.get(f"/api/v1/problems/{late.id}/events", headers=world.auth("admin")).json == events_before
    problem_after = client.get(f"/api/v1/problems/{late.id}", headers=world.auth("admin")).json
    assert problem_after["escalation_level"] == problem_before["escalation_level"] == 0
    assert problem_after["version"] == problem_before["version"]
    assert rule_ids(client, world, "admin") == {live["id"]}  # the draft was not stored


def test_a_dry_run_sees_only_the_callers_problems(client, world, app):
    world.report(at=NOW)  # in the east grid
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    draft = {"name": "草案", "trigger": "at_due", "stage": "dispatch"}
    west = client.post("/api/v1/escalation-rules/dry-run", json=draft, headers=world.auth("west_supervisor"))
    assert west.status_code == 200 and west.json["items"] == []
    east = client.post("/api/v1/escalation-rules/dry-run", json=draft, headers=world.auth("east_supervisor"))
    assert east.status_code == 200 and len(east.json["items"]) == 1


def test_a_dry_run_before_the_instant_lists_nothing(client, world, app):
    world.report(at=NOW)
    app.config["TEST_NOW"] = NOW + timedelta(minutes=59)
    response = client.post("/api/v1/escalation-rules/dry-run", json={"name": "草案", "trigger": "at_due",
                                                                     "stage": "dispatch"},
                           headers=world.auth("admin"))
    assert response.status_code == 200 and response.json["items"] == []


def test_a_dry_run_validates_the_draft_and_is_for_supervisors_and_admins(client, world):
    invalid = client.post("/api/v1/escalation-rules/dry-run", json={"name": "草案", "trigger": "before_due"},
                          headers=world.auth("admin"))
    assert_problem_json(invalid, 422, "validation")
    assert "fraction" in invalid.json["errors"]
    officer = client.post("/api/v1/escalation-rules/dry-run", json={"name": "草案", "trigger": "at_due"},
                          headers=world.auth("officer"))
    assert_problem_json(officer, 403, "forbidden")


# --- the inbox -------------------------------------------------------------------------------

def escalated(client, world, app) -> list[dict]:
    """A hawker problem in the east grid that two rules fire on (reminder at 50 %, urge at due), swept two
    hours later; returns east_supervisor's inbox, newest first."""
    problem = world.report(at=NOW)
    make_rule(client, world, name="提醒", trigger="before_due", fraction=0.5, level=1, stage="dispatch")
    make_rule(client, world, name="催办", trigger="at_due", level=2, stage="dispatch")
    at = NOW + timedelta(hours=2)
    fired = sweep(at)
    assert len(fired) == 2, fired
    app.config["TEST_NOW"] = at
    items = inbox(client, world, "east_supervisor")
    assert len(items) == 2 and {item["problem_id"] for item in items} == {problem.id}
    return items


def test_a_sweep_puts_items_in_the_notified_users_inbox(client, world, app):
    items = escalated(client, world, app)
    for item in items:
        assert set(item) == NOTIFICATION_KEYS
        assert item["type"] == "escalation" and item["read_at"] is None and item["round_id"] is None
        assert item["title"] and item["body"]
        assert instant(item["created_at"]) == NOW + timedelta(hours=2)
    assert items[0]["id"] > items[1]["id"]  # newest first
    assert "催办" in items[0]["title"] and "提醒" in items[1]["title"]
    assert inbox(client, world, "west_supervisor") == []  # not the east grid's supervisor


def test_mark_one_read_sets_read_at_and_the_inbox_lists_unread_first(client, world, app):
    newer, older = escalated(client, world, app)
    app.config["TEST_NOW"] = NOW + timedelta(hours=3)
    response = client.post(f"/api/v1/me/notifications/{newer['id']}/read", headers=world.auth("east_supervisor"))
    assert response.status_code == 200, response.json
    assert set(response.json) == NOTIFICATION_KEYS
    assert response.json["id"] == newer["id"]
    assert instant(response.json["read_at"]) == NOW + timedelta(hours=3)

    items = inbox(client, world, "east_supervisor")
    assert [item["id"] for item in items] == [older["id"], newer["id"]]  # unread first
    assert items[0]["read_at"] is None and items[1]["read_at"] is not None
    assert [item["id"] for item in inbox(client, world, "east_supervisor", unread="true")] == [older["id"]]
    assert [item["id"] for item in inbox(client, world, "east_supervisor", unread="false")] == [newer["id"]]


def test_marking_a_read_notification_again_keeps_its_first_read_at(client, world, app):
    newer, _ = escalated(client, world, app)
    app.config["TEST_NOW"] = NOW + timedelta(hours=3)
    first = client.post(f"/api/v1/me/notifications/{newer['id']}/read", headers=world.auth("east_supervisor"))
    app.config["TEST_NOW"] = NOW + timedelta(hours=4)
    second = client.post(f"/api/v1/me/notifications/{newer['id']}/read", headers=world.auth("east_supervisor"))
    assert second.status_code == 200 and second.json["read_at"] == first.json["read_at"]


def test_another_users_notification_is_404(client, world, app):
    newer, _ = escalated(client, world, app)
    response = client.post(f"/api/v1/me/notifications/{newer['id']}/read", headers=world.auth("west_supervisor"))
    unknown = client.post("/api/v1/me/notifications/999999/read", headers=world.auth("west_supervisor"))
    assert_problem_json(response, 404, "not-found")
    assert_problem_json(unknown, 404, "not-found")
    assert all(item["read_at"] is None for item in inbox(client, world, "east_supervisor"))


def test_read_all_marks_every_unread_notification_and_says_how_many(client, world, app):
    newer, _ = escalated(client, world, app)
    client.post(f"/api/v1/me/notifications/{newer['id']}/read", headers=world.auth("east_supervisor"))
    response = client.post("/api/v1/me/notifications/read-all", headers=world.auth("east_supervisor"))
    assert response.status_code == 200, response.json
    assert response.json == {"marked": 1}
    assert inbox(client, world, "east_supervisor", unread="true") == []
    again = client.post("/api/v1/me/notifications/read-all", headers=world.auth("east_supervisor"))
    assert again.status_code == 200 and again.json == {"marked": 0}


def test_read_all_touches_only_the_callers_inbox(client, world, app):
    escalated(client, world, app)
    response = client.post("/api/v1/me/notifications/read-all", headers=world.auth("west_supervisor"))
    assert response.status_code == 200 and response.json == {"marked": 0}
    assert len(inbox(client, world, "east_supervisor", unread="true")) == 2


def test_the_inbox_is_keyset_paged_across_the_unread_read_boundary(client, world, app):
    for minutes in (0, 5, 10):
        world.report(at=NOW + timedelta(minutes=minutes))
    make_rule(client, world, name="催办", trigger="at_due", stage="dispatch")
    sweep(NOW + timedelta(hours=2))
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    ids = [item["id"] for item in inbox(client, world, "east_supervisor")]
    assert len(ids) == 3
    client.post(f"/api/v1/me/notifications/{ids[0]}/read", headers=world.auth("east_supervisor"))
    full = [item["id"] for item in inbox(client, world, "east_supervisor")]
    assert full == [ids[1], ids[2], ids[0]]
    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        response = client.get("/api/v1/me/notifications", query_string=query, headers=world.auth("east_supervisor"))
        assert response.status_code == 200, response.json
        seen += [item["id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == full


def test_the_inbox_rejects_unknown_query_parameters_and_needs_a_token(client, world):
    response = client.get("/api/v1/me/notifications", query_string={"unred": "true"},
                          headers=world.auth("east_supervisor"))
    assert_problem_json(response, 422, "validation")
    assert_problem_json(client.get("/api/v1/me/notifications"), 401)


def test_notify_targets_reach_the_parent_units_supervisors_and_named_users(client, world, app):
    problem = world.report(at=NOW)  # east grid: its unit's parent is the district
    make_rule(client, world, trigger="at_due", stage="dispatch",
              notify=["parent_supervisors", f"user:{world.users['officer2'].id}"])
    sweep(NOW + timedelta(hours=2))
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    for by in ("supervisor", "officer2"):
        [item] = inbox(client, world, by)
        assert item["problem_id"] == problem.id
    for by in ("east_supervisor", "west_supervisor", "officer", "handler"):
        assert inbox(client, world, by) == []


def test_a_sweep_twice_at_the_same_instant_notifies_once(client, world, app):
    escalated(client, world, app)
    assert sweep(NOW + timedelta(hours=2)) == []
    assert sweep(NOW + timedelta(hours=3)) == []
    assert len(inbox(client, world, "east_supervisor")) == 2


def test_the_escalation_is_on_the_trail_without_changing_version_or_etag(client, world, app):
    problem = world.report(at=NOW)
    before = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("admin"))
    rule = make_rule(client, world, trigger="at_due", stage="dispatch", effects={"supervise": True})
    sweep(NOW + timedelta(hours=2))
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    after = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("admin"))
    assert after.json["version"] == before.json["version"] and after.headers["ETag"] == before.headers["ETag"]
    assert after.json["escalation_level"] == 2 and after.json["supervised"] is True
    assert after.json["state"] == before.json["state"]
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("admin")).json["items"]
    escalate = events[-1]
    assert escalate["action"] == "escalate" and escalate["actor"] is None
    assert escalate["from_state"] == escalate["to_state"] == "reported"
    assert set(escalate["fields"]) >= {"rule_id", "rule_name", "trigger", "stage", "level", "deadline", "elapsed"}
    assert escalate["fields"]["rule_id"] == rule["id"] and escalate["fields"]["level"] == 2
    assert instant(escalate["fields"]["deadline"]) == NOW + timedelta(hours=1)


def test_a_retired_rule_no_longer_fires(client, world, app):
    world.report(at=NOW)
    rule = make_rule(client, world, trigger="at_due", stage="dispatch")
    retired = client.patch(f"/api/v1/escalation-rules/{rule['id']}", json={"active": False},
                           headers=world.auth("admin", **V1))
    assert retired.status_code == 200, retired.json
    assert sweep(NOW + timedelta(hours=2)) == []
    assert count(EscalationFiring) == 0
    assert inbox(client, world, "east_supervisor") == []


def test_a_unit_rule_fires_only_on_problems_in_that_units_subtree(client, world, app):
    east = world.report(at=NOW)
    west = world.report(by="west_officer", point="night", at=NOW)
    make_rule(client, world, by="east_supervisor", trigger="at_due", stage="dispatch", unit_id=world.units["east"].id)
    fired = sweep(NOW + timedelta(hours=2))
    assert len(fired) == 1 and east.code in fired[0] and west.code not in fired[0]
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    assert [item["problem_id"] for item in inbox(client, world, "east_supervisor")] == [east.id]
    assert inbox(client, world, "west_supervisor") == []


# --- webhooks --------------------------------------------------------------------------------

def hook_body(**fields) -> dict:
    return {"url": DEAD_URL, "secret": SECRET, "events": ["problem.created"]} | fields


def post_hook(client, world, by="admin", **fields):
    return client.post("/api/v1/webhooks", json=hook_body(**fields), headers=world.auth(by))


def test_an_admin_adds_a_webhook_and_the_secret_never_comes_back(client, world):
    response = post_hook(client, world)
    assert response.status_code == 201, response.json
    assert set(response.json) == WEBHOOK_KEYS | {"secret"} and response.json["secret"] is None  # they gave it
    assert response.json["url"] == DEAD_URL and response.json["events"] == ["problem.created"]
    assert response.json["active"] is True
    assert SECRET not in response.get_data(as_text=True)
    listed = client.get("/api/v1/webhooks", headers=world.auth("admin"))
    assert listed.status_code == 200, listed.json
    assert listed.json["items"] == [{k: v for k, v in response.json.items() if k != "secret"}]
    assert SECRET not in listed.get_data(as_text=True)


@pytest.mark.parametrize("by", ["officer", "handler"])
def test_webhooks_are_for_admins_and_supervisors_only(client, world, by):
    assert_problem_json(post_hook(client, world, by=by), 403, "forbidden")
    assert_problem_json(client.get("/api/v1/webhooks", headers=world.auth(by)), 403, "forbidden")


@pytest.mark.parametrize("fields, field", [
    ({"events": ["problem.exploded"]}, "events"),
    ({"events": []}, "events"),
    ({"secret": "short"}, "secret"),
    ({"secret": "x" * 15}, "secret"),
    ({"url": "ftp://127.0.0.1/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"bogus": 1}, "bogus"),
], ids=["event-type", "no-events", "short-secret", "15-char-secret", "scheme", "url", "unknown-field"])
def test_an_invalid_webhook_is_422_naming_the_field(client, world, fields, field):
    response = post_hook(client, world, **fields)
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json
    assert SECRET not in response.get_data(as_text=True)


def test_a_webhook_without_a_secret_gets_one_made_and_shown_once(client, world):
    body = hook_body()
    del body["secret"]
    response = client.post("/api/v1/webhooks", json=body, headers=world.auth("admin", **{"Idempotency-Key": "h1"}))
    assert response.status_code == 201 and len(response.json["secret"]) >= 40
    replay = client.post("/api/v1/webhooks", json=body, headers=world.auth("admin", **{"Idempotency-Key": "h1"}))
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json["secret"] is None
    listed = client.get("/api/v1/webhooks", headers=world.auth("admin")).get_data(as_text=True)
    assert response.json["secret"] not in listed


def deliveries(client, world, hook_id, **query) -> list[dict]:
    response = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", query_string=query, headers=world.auth("admin"))
    assert response.status_code == 200, response.json
    return response.json["items"]


def dead_delivery(client, world, app) -> tuple[int, dict]:
    """A report to a webhook that always refuses, ticked until its delivery is dead; the API clock follows."""
    hook = post_hook(client, world).json
    world.report(at=NOW)
    assert deliveries(client, world, hook["id"]) == []  # delivery never runs inside a request
    at = NOW
    run_all(now=at)
    [first] = deliveries(client, world, hook["id"])
    assert set(first) == DELIVERY_KEYS
    assert first["status"] == "pending" and first["attempts"] == 1 and first["event_type"] == "problem.created"
    assert first["last_error"] and first["delivered_at"] is None
    assert instant(first["next_attempt_at"]) == at + delivery.backoff(1) == at + timedelta(minutes=1)
    for attempt in range(2, delivery.MAX_ATTEMPTS + 1):
        at += delivery.backoff(attempt - 1)  # exactly when it is due again: 1, 2, 4 ... minutes, at most an hour
        run_all(now=at)
        [row] = deliveries(client, world, hook["id"])
        assert row["attempts"] == attempt, row
        assert row["status"] == ("dead" if attempt == delivery.MAX_ATTEMPTS else "pending"), row
    app.config["TEST_NOW"] = at
    return hook["id"], row


def test_a_delivery_that_always_fails_is_dead_lettered_after_8_attempts(client, world, app):
    hook_id, row = dead_delivery(client, world, app)
    assert row["status"] == "dead" and row["attempts"] == 8 and row["last_error"]
    assert [item["id"] for item in deliveries(client, world, hook_id, status="dead")] == [row["id"]]
    assert deliveries(client, world, hook_id, status="pending") == []
    assert deliveries(client, world, hook_id, status="delivered") == []
    run_all(now=NOW + timedelta(days=1))  # a dead letter stays dead until someone redrives it
    [still] = deliveries(client, world, hook_id)
    assert still["status"] == "dead" and still["attempts"] == 8


def test_the_backoff_is_exponential_from_a_minute_to_at_most_an_hour():
    assert [delivery.backoff(n) for n in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]


def test_an_admin_redrives_a_dead_delivery_once(client, world, app):
    hook_id, row = dead_delivery(client, world, app)
    app.config["TEST_NOW"] = redriven_at = app.config["TEST_NOW"] + timedelta(minutes=30)
    response = client.post(f"/api/v1/webhook-deliveries/{row['id']}/redrive", headers=world.auth("admin"))
    assert response.status_code == 200, response.json
    assert set(response.json) == DELIVERY_KEYS
    assert response.json["id"] == row["id"] and response.json["status"] == "pending"
    assert response.json["attempts"] == 0
    assert instant(response.json["next_attempt_at"]) == redriven_at
    assert deliveries(client, world, hook_id, status="dead") == []

    again = client.post(f"/api/v1/webhook-deliveries/{row['id']}/redrive", headers=world.auth("admin"))
    assert_problem_json(again, 409)
    unknown = client.post("/api/v1/webhook-deliveries/999999/redrive", headers=world.auth("admin"))
    assert_problem_json(unknown, 404, "not-found")

    run_all(now=redriven_at)  # the next tick tries it again, from a fresh set of attempts
    [retried] = deliveries(client, world, hook_id)
    assert retried["status"] == "pending" and retried["attempts"] == 1


def test_a_supervisor_does_not_see_the_deliveries_of_a_city_wide_hook_nor_redrives_them(client, world, app):
    hook_id, row = dead_delivery(client, world, app)  # an admin's hook, scoped to no unit
    listed = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=world.auth("supervisor"))
    assert_problem_json(listed, 404, "not-found")
    redrive = client.post(f"/api/v1/webhook-deliveries/{row['id']}/redrive", headers=world.auth("supervisor"))
    assert_problem_json(redrive, 404, "not-found")
    officer = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=world.auth("officer"))
    assert_problem_json(officer, 403, "forbidden")
    assert deliveries(client, world, hook_id, status="dead")[0]["id"] == row["id"]


def test_deliveries_of_an_unknown_webhook_are_404_and_a_bad_status_is_422(client, world):
    hook = post_hook(client, world).json
    unknown = client.get("/api/v1/webhooks/999999/deliveries", headers=world.auth("admin"))
    assert_problem_json(unknown, 404, "not-found")
    bad = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", query_string={"status": "lost"},
                     headers=world.auth("admin"))
    assert_problem_json(bad, 422, "validation")


def test_a_webhook_gets_only_the_event_types_it_asked_for(client, world):
    hook = post_hook(client, world, events=["escalation.fired"]).json
    world.report(at=NOW)
    run_all(now=NOW)
    assert deliveries(client, world, hook["id"]) == []
    assert count(WebhookDelivery) == 0


def test_a_supervisor_tries_rules_of_their_own_subtree_only(client, world):
    draft = {"name": "试算", "trigger": "at_due"}
    own = client.post("/api/v1/escalation-rules/dry-run", json=draft | {"unit_id": world.units["squad"].id},
                      headers=world.auth("east_supervisor"))
    assert own.status_code == 200
    sibling = client.post("/api/v1/escalation-rules/dry-run", json=draft | {"unit_id": world.units["west"].id},
                          headers=world.auth("east_supervisor"))
    assert_problem_json(sibling, 403)


def test_a_supervisors_hot_point_rule_is_accepted_and_every_later_sweep_still_runs(client, world):
    """Issue 21, item 1: this exact rule made every sweep raise TypeError and nothing escalated anywhere."""
    body = {"name": "到期标热点", "trigger": "at_due", "level": 1, "unit_id": world.units["district"].id,
            "effects": {"hot_days": 3}}
    response = client.post("/api/v1/escalation-rules", json=body, headers=world.auth("supervisor"))
    assert response.status_code == 201, response.json
    assert response.json["failing"] is False and response.json["last_error"] is None
    other = make_rule(client, world, name="到期催办")
    world.report()

    fired = sweep(NOW + timedelta(minutes=61))

    assert len(fired) == 2
    assert {rule["failing"] for rule in client.get("/api/v1/escalation-rules",
                                                   headers=world.auth("admin")).json["items"]} == {False}
    assert other["id"] in {f.rule_id for f in db.session.scalars(select(EscalationFiring))}
