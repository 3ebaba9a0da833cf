"""The patrol contract: plans for supervisors, rounds for officers, check-ins and findings, codes and shapes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.base import db
from schedules.jobs import run_all
from tests.conftest import NOW
from workflow.patrols import plans

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAN_KEYS = {"id", "unit_id", "name", "mode", "point_ids", "grid_id", "officer_ids", "windows", "days", "timezone",
             "active_from", "active_until", "late_grace_minutes", "sample_size", "paused"}
ROUND_KEYS = {"id", "plan_id", "label", "planned_start", "planned_end", "state", "officer_ids", "checklist",
              "started_at", "completed_at", "missed_reason"}
CHECKLIST_KEYS = {"point_ids", "verify_problem_ids", "follow_up_problem_ids", "hot_point_ids"}
CHECKIN_KEYS = {"id", "point_id", "at", "received_at", "result", "distance_m", "flags"}
MEALS = [{"label": "早", "start": "06:30", "end": "08:30"}, {"label": "中", "start": "11:00", "end": "13:30"},
         {"label": "晚", "start": "17:30", "end": "21:30"}]
LUNCH = datetime(2026, 11, 25, 11, tzinfo=SHANGHAI)  # Wednesday's 中 window opens 1 h after NOW


def plan_body(world, **fields) -> dict:
    return {"unit_id": world.units["east"].id, "name": "东关早市错时巡查", "mode": "fixed_post",
            "point_ids": [world.points["market"].id], "officer_ids": [world.users["officer"].id],
            "windows": MEALS, "days": "every_day"} | fields


def post_plan(client, world, by="east_supervisor", **fields):
    return client.post("/api/v1/patrol-plans", json=plan_body(world, **fields), headers=world.auth(by))


def make_plan(world, **fields) -> int:
    """A plan made in the workflow (as a supervisor would through the API), committed."""
    body = plan_body(world, **fields)
    plan = plans.create_plan(actor=None, now=NOW, **body)
    db.session.commit()
    return plan.id


def tick(app, at: datetime) -> None:
    """A scheduler tick as of `at`; the API's clock follows."""
    run_all(now=at.astimezone(UTC))
    app.config["TEST_NOW"] = at.astimezone(UTC)


def my_rounds(client, world, by="officer", **query) -> list[dict]:
    response = client.get("/api/v1/me/rounds", query_string=query, headers=world.auth(by))
    assert response.status_code == 200, response.json
    return response.json["items"]


def lunch_round(client, world, app) -> dict:
    """Wednesday's 中 round of a fresh plan, open (the clock at its start plus five minutes)."""
    make_plan(world)
    tick(app, NOW)
    tick(app, LUNCH + timedelta(minutes=5))
    [round_] = [r for r in my_rounds(client, world) if r["label"] == "中" and r["state"] == "open"]
    return round_


def post(client, world, round_id, what, body=None, by="officer"):
    return client.post(f"/api/v1/patrol-rounds/{round_id}/{what}", json=body or {}, headers=world.auth(by))


def checkin_body(world, **fields) -> dict:
    market = world.points["market"]
    return {"point_id": market.id, "lat": market.lat, "lng": market.lng, "result": "ok"} | fields


# --- plans -------------------------------------------------------------------------------------------

def test_a_supervisor_adds_a_plan_and_gets_it_back_with_the_unit_timezone_by_default(client, world):
    response = post_plan(client, world)
    assert response.status_code == 201, response.json
    plan = response.json
    assert set(plan) >= PLAN_KEYS
    assert (plan["unit_id"], plan["mode"], plan["grid_id"], plan["days"]) == (
        world.units["east"].id, "fixed_post", None, "every_day")
    assert (plan["point_ids"], plan["officer_ids"]) == ([world.points["market"].id], [world.users["officer"].id])
    assert [w["label"] for w in plan["windows"]] == ["早", "中", "晚"]
    assert (plan["timezone"], plan["active_from"], plan["active_until"]) == ("Asia/Shanghai", "2026-11-25", None)
    assert (plan["late_grace_minutes"], plan["sample_size"], plan["paused"]) == (15, None, False)


def test_a_plan_takes_the_timezone_of_its_unit(client, world):
    world.units["east"].timezone = "Asia/Urumqi"
    db.session.commit()
    response = post_plan(client, world)
    assert response.status_code == 201, response.json
    assert response.json["timezone"] == "Asia/Urumqi"


@pytest.mark.parametrize("fields", [
    {"windows": [{"label": "早", "start": "25:00", "end": "08:30"}]},
    {"colour": "red"},
    {"days": "sometimes"},
    {"days": ["mon", "someday"]},
    {"mode": "roaming"},
], ids=["hour 25", "unknown field", "days sometimes", "unknown weekday", "unknown mode"])
def test_a_malformed_plan_is_422(client, world, fields):
    response = post_plan(client, world, **fields)
    assert response.status_code == 422, response.json
    assert response.json["type"] == "/errors/validation"


@pytest.mark.parametrize("by", ["officer", "handler", "west_supervisor"])
def test_a_plan_from_anyone_but_a_supervisor_of_the_unit_or_above_is_403(client, world, by):
    assert post_plan(client, world, by=by).status_code == 403


def test_plans_are_listed_only_within_the_callers_unit_subtree(client, world):
    plan_id = post_plan(client, world).json["id"]
    ids = {by: [p["id"] for p in client.get("/api/v1/patrol-plans", headers=world.auth(by)).json["items"]]
           for by in ("east_supervisor", "supervisor", "west_supervisor")}
    assert ids == {"east_supervisor": [plan_id], "supervisor": [plan_id], "west_supervisor": []}
    response = client.get(f"/api/v1/patrol-plans/{plan_id}", headers=world.auth("west_supervisor"))
    assert response.status_code == 404
    assert client.get(f"/api/v1/patrol-plans/{plan_id}", headers=world.auth("east_supervisor")).status_code == 200


def test_patch_edits_a_plan_and_an_empty_patch_is_422(client, world):
    plan_id = post_plan(client, world).json["id"]
    url, headers = f"/api/v1/patrol-plans/{plan_id}", world.auth("east_supervisor", **{"If-Match": '"1"'})
    response = client.patch(url, json={"name": "东关夜市巡查", "windows": MEALS[2:]}, headers=headers)
    assert response.status_code == 200, response.json
    assert (response.json["name"], [w["label"] for w in response.json["windows"]]) == ("东关夜市巡查", ["晚"])
    assert client.patch(url, json={}, headers=headers).status_code == 422


def test_a_plan_is_paused_and_resumed(client, world):
    plan_id = post_plan(client, world).json["id"]
    headers = world.auth("east_supervisor")
    paused = client.post(f"/api/v1/patrol-plans/{plan_id}/pause", headers=headers)
    assert (paused.status_code, paused.json["paused"]) == (200, True)
    resumed = client.post(f"/api/v1/patrol-plans/{plan_id}/resume", headers=headers)
    assert (resumed.status_code, resumed.json["paused"]) == (200, False)


# --- rounds ---------------------------------------------------------------------------------------------

def test_after_a_tick_an_officer_lists_their_rounds_with_the_round_shape(client, world, app):
    plan_id = make_plan(world)
    tick(app, NOW)
    rounds = my_rounds(client, world)
    assert len(rounds) == 6  # Wednesday 中 and 晚, Thursday's three, Friday's 早
    first = rounds[0]
    assert set(first) >= ROUND_KEYS and set(first["checklist"]) >= CHECKLIST_KEYS
    assert (first["plan_id"], first["label"], first["state"]) == (plan_id, "中", "scheduled")
    assert (first["planned_start"], first["planned_end"]) == ("2026-11-25T03:00:00+00:00", "2026-11-25T05:30:00+00:00")
    assert first["officer_ids"] == [world.users["officer"].id]
    assert first["checklist"]["point_ids"] == [world.points["market"].id]
    assert (first["started_at"], first["completed_at"], first["missed_reason"]) == (None, None, None)


def two_plans_ticked(world, app) -> tuple[int, int]:
    """The meal-time plan and a night plan, ticked at NOW and at the start of Wednesday's 中 window."""
    meals = make_plan(world)
    night = make_plan(world, name="东关夜巡", windows=[{"label": "夜", "start": "20:00", "end": "02:00"}])
    tick(app, NOW)
    tick(app, LUNCH)
    return meals, night


def test_my_rounds_filter_by_plan(client, world, app):
    _, night = two_plans_ticked(world, app)
    rounds = my_rounds(client, world, plan_id=night)
    assert [(r["plan_id"], r["label"]) for r in rounds] == [(night, "夜"), (night, "夜")]


def test_my_rounds_filter_by_a_comma_list_of_states(client, world, app):
    two_plans_ticked(world, app)
    assert [r["label"] for r in my_rounds(client, world, state="open,in_progress")] == ["中"]
    assert len(my_rounds(client, world, state="scheduled,open")) == 8


def test_my_rounds_filter_by_window_start_from_inclusive_to_exclusive(client, world, app):
    two_plans_ticked(world, app)
    window = {"from": "2026-11-26T06:30:00+08:00", "to": "2026-11-26T20:00:00+08:00"}
    assert sorted(r["label"] for r in my_rounds(client, world, **window)) == ["中", "早", "晚"]


def test_a_supervisor_lists_the_rounds_of_one_officer(client, world, app):
    two_plans_ticked(world, app)
    response = client.get("/api/v1/patrol-rounds", query_string={"officer_id": world.users["officer"].id},
                          headers=world.auth("east_supervisor"))
    assert response.status_code == 200, response.json
    assert len(response.json["items"]) == 8


@pytest.mark.parametrize("by", ["officer2", "west_officer"])
def test_an_officer_not_on_the_team_has_no_rounds(client, world, app, by):
    make_plan(world)
    tick(app, NOW)
    assert my_rounds(client, world, by=by) == []


# --- walking a round -----------------------------------------------------------------------------------

def test_an_officer_starts_checks_in_reports_a_finding_and_completes_a_round(client, world, app):
    round_ = lunch_round(client, world, app)
    started = post(client, world, round_["id"], "start")
    assert (started.status_code, started.json["state"]) == (200, "in_progress")
    first = post(client, world, round_["id"], "checkins", checkin_body(world, client_id="phone-7"))
    assert first.status_code == 201, first.json
    assert set(first.json) >= CHECKIN_KEYS
    assert (first.json["distance_m"], first.json["flags"], first.json["result"]) == (0, [], "ok")
    assert first.json["received_at"] == "2026-11-25T03:05:00+00:00"
    again = post(client, world, round_["id"], "checkins", checkin_body(world, client_id="phone-7", result="ok"))
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    finding = post(client, world, round_["id"], "findings",
                   {"point_id": world.points["market"].id, "category_code": "hawker", "title": "早市占道经营"})
    assert finding.status_code == 201, finding.json
    assert (finding.json["state"], finding.json["point_id"], finding.headers["ETag"]) == (
        "reported", world.points["market"].id, '"1"')
    assert finding.json["round_id"] == round_["id"]
    done = post(client, world, round_["id"], "complete")
    assert (done.status_code, done.json["state"]) == (200, "completed")
    assert done.json["completed_at"] == "2026-11-25T03:05:00+00:00"


def test_a_check_in_with_the_phones_time_keeps_both_times(client, world, app):
    round_ = lunch_round(client, world, app)
    response = post(client, world, round_["id"], "checkins", checkin_body(world, at="2026-11-25T11:01:00+08:00"))
    assert response.status_code == 201, response.json
    assert (response.json["at"], response.json["received_at"]) == ("2026-11-25T03:01:00+00:00",
                                                                   "2026-11-25T03:05:00+00:00")


def test_a_finding_at_a_point_off_the_checklist_is_422(client, world, app):
    round_ = lunch_round(client, world, app)
    response = post(client, world, round_["id"], "findings",
                    {"point_id": world.points["night"].id, "category_code": "hawker", "title": "夜市占道"})
    assert response.status_code == 422
    assert response.json["type"] == "/errors/validation" and "point_id" in response.json["errors"]


def test_completing_a_scheduled_round_is_409(client, world, app):
    make_plan(world)
    tick(app, NOW)
    scheduled = my_rounds(client, world, state="scheduled")[0]
    response = post(client, world, scheduled["id"], "complete")
    assert response.status_code == 409
    assert response.json["state"] == "scheduled"


@pytest.mark.parametrize("what", ["start", "checkins", "findings", "complete"])
def test_a_round_of_another_officer_is_404(client, world, app, what):
    round_ = lunch_round(client, world, app)
    body = {"checkins": checkin_body(world),
            "findings": {"point_id": world.points["market"].id, "category_code": "hawker", "title": "占道"}}
    response = post(client, world, round_["id"], what, body.get(what), by="west_officer")
    assert response.status_code == 404
    assert client.get(f"/api/v1/patrol-rounds/{round_['id']}", headers=world.auth("west_officer")).status_code == 404


def test_an_officer_records_the_outcome_of_a_listed_problem_and_the_round_shows_it(client, world, app):
    waiting = world.to_state("verifying")
    round_ = lunch_round(client, world, app)
    assert round_["checklist"]["verify_problem_ids"] == [waiting.id]
    body = {"problem_id": waiting.id, "outcome": "fixed", "note": "已清理"}
    first = post(client, world, round_["id"], "outcomes", body)
    assert (first.status_code, first.json["kind"], first.json["finding_id"]) == (201, "verify", None), first.json
    assert post(client, world, round_["id"], "outcomes", body).status_code == 200
    shown = client.get(f"/api/v1/patrol-rounds/{round_['id']}", headers=world.auth("officer")).json
    assert [(o["problem_id"], o["outcome"]) for o in shown["checklist_outcomes"]] == [(waiting.id, "fixed")]
    bad = post(client, world, round_["id"], "outcomes", {"problem_id": waiting.id, "outcome": "gone"})
    assert bad.status_code == 422
