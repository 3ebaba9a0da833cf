"""Running the roster through the API: edits under If-Match, retiring and reactivating, refusals of retired
things, people and what moves with them, who manages whom, and the admin trail."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import AdminEvent, PatrolPlan, Problem, ProblemEvent
from models.base import db
from tests.api.helpers import assert_problem_json
from workflow.patrols import plans


def patch(client, world, path, body, *, version=1, by="admin", **headers):
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return client.patch(f"/api/v1/{path}", json=body, headers=world.auth(by, **headers))


def trail_of(resource, resource_id):
    return list(db.session.scalars(select(AdminEvent).where(AdminEvent.resource == resource,
                                                            AdminEvent.resource_id == resource_id)
                                   .order_by(AdminEvent.seq)))


# --- edits under If-Match ------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("units/{east}", {"name": "东关街道办事处"}),
    ("grids/{grid}", {"name": "东关第一网格（新）"}),
    ("points/{market}", {"lat": 35.0630, "lng": 118.3570}),
    ("categories/{hawker}", {"limits": {"dispatch": {"minutes": 30, "clock": "natural"}}}),
    ("users/{officer}", {"name": "李巡查"}),
], ids=["unit", "grid", "point", "category", "user"])
def test_an_edit_needs_if_match_refuses_a_stale_one_and_bumps_the_etag(client, world, path, body):
    path = path.format(east=world.units["east"].id, grid=world.grids["east"].id, market=world.points["market"].id,
                       hawker=world.categories["hawker"].id, officer=world.users["officer"].id)
    assert_problem_json(patch(client, world, path, body, version=None), 428, "if-match-required")
    assert_problem_json(patch(client, world, path, body, version=None, **{"If-Match": "*"}), 428)
    stale = patch(client, world, path, body, version=7)
    assert_problem_json(stale, 412, "stale-version")
    assert stale.json["version"] == 1
    done = patch(client, world, path, body, version=1)
    assert done.status_code == 200, done.json
    assert done.headers["ETag"] == '"2"' and done.json["version"] == 2
    assert client.get(f"/api/v1/{path}", headers=world.auth("admin")).headers["ETag"] == '"2"'
    assert_problem_json(patch(client, world, path, body, version=1), 412, "stale-version")


def test_an_edit_that_names_nothing_to_change_is_422(client, world):
    response = patch(client, world, f"grids/{world.grids['east'].id}", {"reason": "只写理由"})
    assert_problem_json(response, 422, "validation")


def test_an_edit_to_the_same_values_changes_nothing_and_writes_no_trail(client, world):
    grid = world.grids["east"]
    response = patch(client, world, f"grids/{grid.id}", {"name": grid.name})
    assert response.status_code == 200 and response.json["version"] == 1
    assert trail_of("grid", grid.id) == []


@pytest.mark.parametrize(("path", "body", "field"), [
    ("units/{east}", {"timezone": "Mars/Olympus"}, "timezone"),
    ("units/{east}", {"parent_id": 999999}, "parent_id"),
    ("units/{east}", {"parent_id": "{squad}"}, "parent_id"),
    ("grids/{grid}", {"unit_id": 999999}, "unit_id"),
    ("points/{market}", {"lat": 91}, "lat"),
    ("points/{market}", {"grid_id": 999999}, "grid_id"),
    ("categories/{hawker}", {"parent_code": "hawker"}, "parent_code"),
    ("categories/{hawker}", {"code": "renamed"}, "code"),
    ("users/{officer}", {"grid_ids": [999999]}, "grid_ids"),
    ("users/{officer}", {"phone": "call me"}, "phone"),
    ("users/{handler}", {"grid_ids": ["{grid}"]}, "grid_ids"),
    ("users/{officer}", {"name": "a\x07b"}, "name"),
], ids=["timezone", "unknown parent", "under itself", "grid unit", "latitude", "point grid", "own parent",
        "category code is identity", "unknown grid", "phone", "grids for a handler", "control character"])
def test_a_bad_edit_is_422_naming_the_field_and_changes_nothing(client, world, path, body, field):
    ids = {"east": world.units["east"].id, "squad": world.units["squad"].id, "grid": world.grids["east"].id,
           "market": world.points["market"].id, "hawker": world.categories["hawker"].id,
           "officer": world.users["officer"].id, "handler": world.users["handler"].id}
    body = {name: (int(value.format(**ids)) if isinstance(value, str) and value.startswith("{") else
                   [int(v.format(**ids)) if isinstance(v, str) else v for v in value] if isinstance(value, list)
                   else value) for name, value in body.items()}
    response = patch(client, world, path.format(**ids), body)
    assert_problem_json(response, 422)
    assert field in response.json["errors"], response.json
    again = client.get(f"/api/v1/{path.format(**ids)}", headers=world.auth("admin"))
    assert again.json["version"] == 1
    assert db.session.scalar(select(AdminEvent.id)) is None


def test_a_unit_moves_with_its_subtree_and_scope_follows(client, world):
    squad = world.units["squad"]
    moved = patch(client, world, f"units/{squad.id}", {"parent_id": world.units["west"].id, "reason": "机构调整"})
    assert moved.status_code == 200, moved.json
    db.session.expire_all()
    assert squad.path.startswith(world.units["west"].path)
    problem = world.to_state("assigned")  # assigned to the squad: the west supervisor sees it now
    seen = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("west_supervisor"))
    assert seen.status_code == 200


def test_a_taken_natural_key_is_409_naming_the_field(client, world):
    assert patch(client, world, f"grids/{world.grids['east'].id}", {"code": "G-001"}).status_code == 200
    response = patch(client, world, f"grids/{world.grids['west'].id}", {"code": "G-001"})
    assert_problem_json(response, 409, "conflict")
    assert "code" in response.json["errors"]


# --- retiring and reactivating ---------------------------------------------------------------------

def report(client, world, **body):
    body = {"category_code": "hawker", "title": "占道", "point_id": world.points["market"].id} | body
    return client.post("/api/v1/problems", json=body, headers=world.auth("officer"))


def test_a_retired_point_refuses_reports_leaves_pickers_and_comes_back(client, world):
    market = world.points["market"]
    old = world.report()
    retired = patch(client, world, f"points/{market.id}", {"active": False, "reason": "市场搬迁"})
    assert retired.status_code == 200 and retired.json["active"] is False
    refused = report(client, world)
    assert_problem_json(refused, 422, "validation")
    assert refused.json["errors"] == {"point_id": ["retired point"]}
    picker = client.get("/api/v1/points", headers=world.auth("officer")).json["items"]
    assert market.id not in [p["id"] for p in picker]
    everything = client.get("/api/v1/points", query_string={"active": "all"}, headers=world.auth("officer"))
    assert market.id in [p["id"] for p in everything.json["items"]]
    only_retired = client.get("/api/v1/points", query_string={"active": "false"}, headers=world.auth("officer"))
    assert [p["id"] for p in only_retired.json["items"]] == [market.id]
    # the problem of its time stays in the ledger, at its point
    ledger = client.get("/api/v1/problems", headers=world.auth("supervisor")).json["items"]
    assert [(p["id"], p["point_id"]) for p in ledger] == [(old.id, market.id)]
    back = patch(client, world, f"points/{market.id}", {"active": True}, version=2)
    assert back.status_code == 200 and back.json["active"] is True
    assert report(client, world).status_code == 201
    assert [e.action for e in trail_of("point", market.id)] == ["retire", "reactivate"]


def test_a_bad_active_filter_is_422(client, world):
    response = client.get("/api/v1/points", query_string={"active": "yes"}, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert "active" in response.json["errors"]


def test_a_retired_category_refuses_reports_naming_the_field(client, world):
    hawker = world.categories["hawker"]
    assert patch(client, world, f"categories/{hawker.id}", {"active": False}).status_code == 200
    refused = report(client, world)
    assert_problem_json(refused, 422, "validation")
    assert refused.json["errors"] == {"category_code": ["retired category"]}


def test_a_grid_retires_only_once_its_points_are_retired_and_then_refuses_reports(client, world):
    grid, market = world.grids["east"], world.points["market"]
    blocked = patch(client, world, f"grids/{grid.id}", {"active": False})
    assert_problem_json(blocked, 409, "conflict")
    assert blocked.json["errors"] == {"active": ["1 active points: retire or move them first"]}
    assert patch(client, world, f"points/{market.id}", {"active": False}).status_code == 200
    assert patch(client, world, f"grids/{grid.id}", {"active": False}).status_code == 200
    refused = report(client, world, point_id=None, grid_id=grid.id, lat=35.06, lng=118.35, address="东关路")
    assert_problem_json(refused, 422, "validation")
    assert refused.json["errors"] == {"grid_id": ["retired grid"]}
    # a point cannot come back into a retired grid
    assert_problem_json(patch(client, world, f"points/{market.id}", {"active": True}, version=2), 422)


def test_a_unit_with_people_or_open_work_cannot_retire(client, world):
    world.to_state("assigned")
    squad = world.units["squad"]
    response = patch(client, world, f"units/{squad.id}", {"active": False})
    assert_problem_json(response, 409, "conflict")
    assert response.json["errors"] == {"active": ["2 active users", "1 active open_problems"]}


def test_assigning_to_a_retired_unit_or_handler_is_422(client, world):
    sanitation = world.units["sanitation"]
    handler = world.users["sanitation_handler"]
    assert patch(client, world, f"users/{handler.id}", {"active": False}).status_code == 200
    assert patch(client, world, f"units/{sanitation.id}", {"active": False}).status_code == 200
    problem = world.report()
    to_unit = client.post(f"/api/v1/problems/{problem.id}/actions",
                          headers=world.auth("supervisor", **{"If-Match": '"1"'}),
                          json={"action": "assign", "unit_id": sanitation.id})
    assert_problem_json(to_unit, 422, "validation")
    assert to_unit.json["errors"] == {"unit_id": ["retired unit"]}
    squad_handler = world.users["handler2"]
    assert patch(client, world, f"users/{squad_handler.id}", {"active": False}).status_code == 200
    to_handler = client.post(f"/api/v1/problems/{problem.id}/actions",
                             headers=world.auth("supervisor", **{"If-Match": '"1"'}),
                             json={"action": "assign", "unit_id": world.units["squad"].id,
                                   "handler_id": squad_handler.id})
    assert_problem_json(to_handler, 422, "validation")
    assert to_handler.json["errors"] == {"handler_id": ["retired handler"]}


def test_a_renamed_category_keeps_the_name_of_the_day_on_the_trail_and_the_new_one_in_the_ledger(client, world):
    problem = world.report()
    hawker = world.categories["hawker"]
    assert patch(client, world, f"categories/{hawker.id}", {"name": "游商"}).status_code == 200
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("supervisor")).json["items"]
    assert events[0]["fields"]["category_name"] == "流动摊贩"
    ledger = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor")).json
    assert ledger["category_name"] == "游商"
    event = trail_of("category", hawker.id)[0]
    assert event.fields == {"name": {"before": "流动摊贩", "after": "游商"}}


# --- people ----------------------------------------------------------------------------------------

def test_a_retired_person_is_refused_at_once_and_their_open_work_goes_back_to_the_unit(client, world):
    handler = world.users["handler"]
    rectifying = world.to_state("rectifying")
    db.session.get(Problem, rectifying.id).handler_id = handler.id  # accepted by the handler, held by them
    db.session.commit()
    assigned = world.report()
    world.act(assigned, "assign", by="supervisor", unit_id=world.units["squad"].id, handler_id=handler.id)
    closed = world.to_state("closed")
    assert client.get("/api/v1/me", headers=world.auth("handler")).status_code == 200
    response = patch(client, world, f"users/{handler.id}", {"active": False, "reason": "调离"})
    assert response.status_code == 200, response.json
    assert response.json["active"] is False and response.json["retired_at"] is not None
    assert response.json["moved"]["tokens_revoked"] == 1
    assert response.json["moved"]["problems_released"] == sorted([rectifying.id, assigned.id])
    refused = client.get("/api/v1/me", headers=world.auth("handler"))  # the same instant
    assert_problem_json(refused, 401, "unauthenticated")
    db.session.expire_all()
    for problem_id, state in ((rectifying.id, "rectifying"), (assigned.id, "assigned")):
        problem = db.session.get(Problem, problem_id)
        assert problem.handler_id is None and problem.unit_id == world.units["squad"].id and problem.state == state
        last = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem_id)
                                  .order_by(ProblemEvent.seq.desc())).first()
        assert last.action == "release" and last.actor_id is None and last.fields["released_handler_id"] == handler.id
        assert "离岗" in last.note
    assert db.session.get(Problem, closed.id).handler_id in (None, handler.id)  # history is not rewritten
    unit_queue = client.get("/api/v1/problems", query_string={"unit_id": world.units["squad"].id},
                            headers=world.auth("handler2")).json["items"]
    assert {rectifying.id, assigned.id} <= {p["id"] for p in unit_queue}


def test_a_retired_officer_leaves_the_patrol_teams_and_a_plan_left_empty_is_paused(client, world):
    officer, officer2 = world.users["officer"], world.users["officer2"]
    shared = plans.create_plan(actor=None, now=world.now, unit_id=world.units["east"].id, name="早市",
                               mode="dynamic", days="every_day", officer_ids=[officer.id, officer2.id],
                               point_ids=[world.points["market"].id],
                               windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    alone = plans.create_plan(actor=None, now=world.now, unit_id=world.units["east"].id, name="夜巡",
                              mode="fixed_post", days="every_day", officer_ids=[officer.id],
                              point_ids=[world.points["market"].id],
                              windows=[{"label": "夜", "start": "20:00", "end": "22:00"}])
    db.session.commit()
    response = patch(client, world, f"users/{officer.id}", {"active": False})
    assert response.status_code == 200, response.json
    assert response.json["moved"]["plans_changed"] == [shared.id]
    assert response.json["moved"]["plans_paused"] == [alone.id]
    db.session.expire_all()
    assert db.session.get(PatrolPlan, shared.id).officer_ids == [officer2.id]
    assert db.session.get(PatrolPlan, alone.id).paused is True
    assert [e.reason for e in trail_of("patrol_plan", shared.id)] == ["officer retired"]


def test_a_reactivated_person_gets_a_fresh_token_once(client, world):
    officer = world.users["officer"]
    assert patch(client, world, f"users/{officer.id}", {"active": False}).status_code == 200
    back = patch(client, world, f"users/{officer.id}", {"active": True}, version=2)
    assert back.status_code == 200 and back.json["active"] is True and back.json["retired_at"] is None
    token = back.json["token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert_problem_json(client.get("/api/v1/me", headers=world.auth("officer")), 401)  # the old one stays dead


def test_moving_an_officer_between_grids_changes_what_they_see_at_once_and_keeps_their_figures(client, world):
    officer = world.users["officer"]
    problem = world.report()
    moved = patch(client, world, f"users/{officer.id}", {"grid_ids": [world.grids["west"].id]})
    assert moved.status_code == 200, moved.json
    assert_problem_json(client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("officer")), 404)
    west = report(client, world, point_id=world.points["night"].id)
    assert west.status_code == 201, west.json
    figures = client.get("/api/v1/reports/summary", query_string={"from": "2026-11-01", "to": "2026-11-30",
                                                                  "group_by": "officer"},
                         headers=world.auth("supervisor")).json
    assert [(row["key"], row["reported"]) for row in figures["rows"]] == [(officer.id, 2)]
    changes = trail_of("user", officer.id)[0].fields
    assert changes == {"grid_ids": {"before": [world.grids["east"].id], "after": [world.grids["west"].id]}}


def test_phone_numbers_are_on_the_trail_as_changed_never_their_value(client, world):
    officer = world.users["officer"]
    assert patch(client, world, f"users/{officer.id}", {"phone": "13800001111"}).status_code == 200
    assert trail_of("user", officer.id)[0].fields == {"phone": {"before": "changed", "after": "changed"}}


# --- who manages whom --------------------------------------------------------------------------------

@pytest.mark.parametrize(("by", "target", "body", "status"), [
    ("east_supervisor", "officer", {"name": "改名"}, 200),
    ("east_supervisor", "handler", {"active": False}, 200),
    ("supervisor", "east_supervisor", {"name": "改名"}, 200),
    ("east_supervisor", "east_supervisor", {"role": "officer"}, 403),
    ("admin", "admin", {"active": False}, 403),
    ("east_supervisor", "officer", {"role": "admin"}, 403),
    ("east_supervisor", "officer", {"role": "supervisor"}, 403),
    ("east_supervisor", "supervisor", {"name": "改名"}, 404),
    ("east_supervisor", "west_officer", {"name": "改名"}, 404),
    ("east_supervisor", "sanitation_handler", {"name": "改名"}, 403),
    ("east_supervisor", "officer", {"unit_id": "west"}, 403),
    ("east_supervisor", "officer", {"grid_ids": ["west"]}, 403),
    ("officer", "officer2", {"name": "改名"}, 403),
    ("handler", "handler", {"name": "改名"}, 403),
], ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(v))
def test_who_may_edit_whom(client, world, by, target, body, status):
    body = {name: world.units[value].id if name == "unit_id" else
            [world.grids[g].id for g in value] if name == "grid_ids" else value for name, value in body.items()}
    response = patch(client, world, f"users/{world.users[target].id}", body, by=by)
    if status == 200:
        assert response.status_code == 200, response.json
        assert trail_of("user", world.users[target].id)[0].actor_id == world.users[by].id
    else:
        assert_problem_json(response, status)
        assert trail_of("user", world.users[target].id) == []


@pytest.mark.parametrize(("unit", "role", "status"), [
    ("east", "officer", 201), ("squad", "handler", 201), ("squad", "supervisor", 201),
    ("east", "supervisor", 403), ("district", "supervisor", 403), ("west", "supervisor", 403),
    ("west", "officer", 403), ("east", "admin", 403),
])
def test_a_supervisor_adds_people_of_their_subtree_only(client, world, unit, role, status):
    response = client.post("/api/v1/users", json={"name": "新人", "role": role, "unit_id": world.units[unit].id},
                           headers=world.auth("east_supervisor"))
    assert response.status_code == status, response.json
    if status == 201:
        event = trail_of("user", response.json["id"])[0]
        assert event.action == "create" and event.actor_id == world.users["east_supervisor"].id


# --- the admin trail --------------------------------------------------------------------------------

def test_the_admin_trail_reads_by_resource_and_id_and_only_admins_read_it(client, world, runner):
    grid = world.grids["east"]
    patch(client, world, f"grids/{grid.id}", {"name": "一网格", "reason": "统一命名"})
    patch(client, world, f"points/{world.points['market'].id}", {"name": "早市"})
    read = client.get("/api/v1/admin-events", query_string={"resource": "grid", "id": grid.id},
                      headers=world.auth("admin"))
    assert read.status_code == 200
    [event] = read.json["items"]
    assert event["changes"] == {"name": {"before": "东关第一网格", "after": "一网格"}}
    assert event["reason"] == "统一命名" and event["action"] == "edit"
    assert event["actor"] == {"id": world.users["admin"].id, "name": "admin", "role": "admin"}
    assert len(client.get("/api/v1/admin-events", headers=world.auth("admin")).json["items"]) == 2
    assert_problem_json(client.get("/api/v1/admin-events", headers=world.auth("supervisor")), 403, "forbidden")
    bad = client.get("/api/v1/admin-events", query_string={"resource": "galaxy"}, headers=world.auth("admin"))
    assert_problem_json(bad, 422, "validation")
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "2 admin events" in verified.output


def test_a_tampered_admin_event_breaks_the_chain(client, world, runner):
    patch(client, world, f"grids/{world.grids['east'].id}", {"name": "一网格"})
    patch(client, world, f"grids/{world.grids['west'].id}", {"name": "二网格"})
    if db.engine.dialect.name == "postgresql":
        pytest.skip("admin_events is append-only on PostgreSQL (tests/pg/test_audit_trigger.py)")
    db.session.execute(AdminEvent.__table__.update().where(AdminEvent.seq == 1)
                       .values(fields={"name": {"before": "x", "after": "y"}}))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify", "--admin"])
    assert result.exit_code == 1
    assert result.output.strip() == "BROKEN: admin trail event seq 1: edited (its content does not match its hash)"


# --- patrol plans, escalation rules, webhooks --------------------------------------------------------

def test_a_plan_rule_and_webhook_are_edited_under_if_match_and_trailed(client, world):
    plan = plans.create_plan(actor=None, now=world.now, unit_id=world.units["east"].id, name="早市",
                             mode="fixed_post", days="every_day", officer_ids=[world.users["officer"].id],
                             point_ids=[world.points["market"].id],
                             windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    db.session.commit()
    rule = client.post("/api/v1/escalation-rules", json={"name": "提醒", "trigger": "at_due"},
                       headers=world.auth("admin")).json
    hook = client.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/a", "secret": "0" * 16,
                                                 "events": ["problem.created"]}, headers=world.auth("admin")).json
    for path, body, by in ((f"patrol-plans/{plan.id}", {"active": False, "reason": "撤点"}, "east_supervisor"),
                           (f"escalation-rules/{rule['id']}", {"level": 2}, "admin"),
                           (f"webhooks/{hook['id']}", {"secret": "1" * 16}, "admin")):
        assert_problem_json(patch(client, world, path, body, version=None, by=by), 428, "if-match-required")
        assert_problem_json(patch(client, world, path, body, version=5, by=by), 412, "stale-version")
        done = patch(client, world, path, body, by=by)
        assert done.status_code == 200 and done.headers["ETag"] == '"2"', done.json
    assert trail_of("patrol_plan", plan.id)[0].action == "retire"
    assert trail_of("patrol_plan", plan.id)[0].reason == "撤点"
    assert trail_of("escalation_rule", rule["id"])[-1].fields == {"level": {"before": 1, "after": 2}}
    assert trail_of("webhook", hook["id"])[-1].fields == {"secret": {"before": "changed", "after": "changed"}}


def test_a_retired_plan_makes_no_rounds(client, world):
    from workflow.patrols import rounds
    plan = plans.create_plan(actor=None, now=world.now, unit_id=world.units["east"].id, name="早市",
                             mode="fixed_post", days="every_day", officer_ids=[world.users["officer"].id],
                             point_ids=[world.points["market"].id],
                             windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    db.session.commit()
    assert patch(client, world, f"patrol-plans/{plan.id}", {"active": False}, by="east_supervisor").status_code == 200
    assert rounds.materialize_rounds(now=world.now) == 0


# --- the import ----------------------------------------------------------------------------------------

def upload(client, world, data, *, by="admin", name="roster.xlsx", **headers):
    return client.post("/api/v1/imports", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=world.auth(by, **headers))


def test_the_template_downloads_and_an_import_of_it_answers_what_it_did(client, world):
    from tests.workflow.roster.test_imports import district
    template = client.get("/api/v1/imports/template", headers=world.auth("admin"))
    assert template.status_code == 200 and template.mimetype.endswith("spreadsheetml.sheet")
    assert load_workbook(io.BytesIO(template.data)).sheetnames == ["单位", "网格", "点位", "人员", "说明"]
    roster = district(points=20, people=6)  # built once: a workbook's bytes carry the moment it was saved
    done = upload(client, world, roster, **{"Idempotency-Key": "first-day"})
    assert done.status_code == 200, done.json
    assert done.json["created"] == {"units": 4, "grids": 2, "points": 20, "people": 6}
    token = done.json["tokens"][0]["token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    replay = upload(client, world, roster, **{"Idempotency-Key": "first-day"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json["tokens"] is None
    rerun = upload(client, world, district(points=20, people=6))
    assert rerun.json["unchanged"] == {"units": 4, "grids": 2, "points": 20, "people": 6}


def test_an_import_with_bad_rows_is_422_naming_them_and_only_admins_import(client, world):
    from tests.workflow.roster.test_imports import filled
    bad = filled(points=[("P1", "点位", "G-NONE", 35, 118, None), ("P2", "点位", "G-NONE", 95, 118, None)])
    refused = upload(client, world, bad)
    assert_problem_json(refused, 422, "validation")
    assert set(refused.json["errors"]) == {"points[2].grid_code", "points[3].grid_code", "points[3].lat"}
    assert_problem_json(upload(client, world, bad, by="supervisor"), 403, "forbidden")
    assert_problem_json(client.get("/api/v1/imports/template", headers=world.auth("officer")), 403)
    assert_problem_json(upload(client, world, b"\xd0\xcf\x11\xe0", name="old.xls"), 415)
    missing = client.post("/api/v1/imports", data={}, content_type="multipart/form-data", headers=world.auth("admin"))
    assert_problem_json(missing, 422, "validation")


def test_flask_import_org_imports_and_names_bad_rows(world, runner, tmp_path):
    from tests.workflow.roster.test_imports import district, filled
    good, bad = tmp_path / "roster.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(district(points=3, people=2))
    bad.write_bytes(filled(grids=[("G1", "网格", "NOPE")]))
    result = runner.invoke(args=["import", "org", str(good)])
    assert result.exit_code == 0, result.output
    assert "created: 4 units, 2 grids, 3 points, 2 people" in result.output
    refused = runner.invoke(args=["import", "org", str(bad)])
    assert refused.exit_code == 1
    assert "grids[2].unit_code: unknown unit NOPE" in refused.output
    template = tmp_path / "template.xlsx"
    assert runner.invoke(args=["import", "template", str(template)]).exit_code == 0
    assert load_workbook(template).sheetnames[0] == "单位"


# --- every resource: retire and reactivate -------------------------------------------------------------

def _fresh(client, world, resource):
    """A row of `resource` that nothing live hangs on, made through the API; (path, list path or None)."""
    admin = world.auth("admin")
    made = {
        "unit": lambda: client.post("/api/v1/units", json={"name": "新社区", "kind": "community",
                                                           "parent_id": world.units["east"].id}, headers=admin),
        "grid": lambda: client.post("/api/v1/grids", json={"name": "新网格", "unit_id": world.units["east"].id},
                                    headers=admin),
        "point": lambda: client.post("/api/v1/points", json={"name": "新点位", "grid_id": world.grids["east"].id,
                                                             "lat": 35.0, "lng": 118.0}, headers=admin),
        "category": lambda: client.post("/api/v1/categories", json={"code": "graffiti", "name": "乱涂乱画"},
                                        headers=admin),
        "user": lambda: client.post("/api/v1/users", json={"name": "新队员", "role": "handler",
                                                           "unit_id": world.units["squad"].id}, headers=admin),
        "patrol-plan": lambda: client.post("/api/v1/patrol-plans", headers=admin, json={
            "unit_id": world.units["east"].id, "name": "巡查", "mode": "fixed_post",
            "officer_ids": [world.users["officer"].id], "point_ids": [world.points["market"].id],
            "windows": [{"label": "早", "start": "06:30", "end": "08:30"}]}),
        "escalation-rule": lambda: client.post("/api/v1/escalation-rules", json={"name": "提醒", "trigger": "at_due"},
                                               headers=admin),
        "webhook": lambda: client.post("/api/v1/webhooks", headers=admin, json={
            "url": "https://hooks.example.com/a", "secret": "0" * 16, "events": ["problem.created"]}),
    }[resource]()
    assert made.status_code == 201, made.json
    plural = {"category": "categories"}.get(resource, resource + "s")
    listed = plural if resource in ("unit", "grid", "point", "category", "user") else None
    return f"{plural}/{made.json['id']}", listed, made.json["id"]


TRAIL_NAMES = {"patrol-plan": "patrol_plan", "escalation-rule": "escalation_rule"}


@pytest.mark.parametrize("resource", ["unit", "grid", "point", "category", "user", "patrol-plan",
                                      "escalation-rule", "webhook"])
def test_every_resource_retires_leaves_the_picker_and_comes_back(client, world, resource):
    path, listed, row_id = _fresh(client, world, resource)
    retired = patch(client, world, path, {"active": False, "reason": "调整"})
    assert retired.status_code == 200 and retired.json["active"] is False, retired.json
    if listed:
        ids = [row["id"] for row in client.get(f"/api/v1/{listed}", query_string={"limit": 200},
                                               headers=world.auth("admin")).json["items"]]
        assert row_id not in ids
        everything = client.get(f"/api/v1/{listed}", query_string={"limit": 200, "active": "all"},
                                headers=world.auth("admin")).json["items"]
        assert row_id in [row["id"] for row in everything]
    back = patch(client, world, path, {"active": True}, version=2)
    assert back.status_code == 200 and back.json["active"] is True and back.headers["ETag"] == '"3"'
    actions = [event.action for event in trail_of(TRAIL_NAMES.get(resource, resource), row_id)]
    assert actions == ["create", "retire", "reactivate"]


def test_a_retired_category_and_point_stay_in_the_statistics_and_exports_of_their_period(client, world):
    world.report()
    assert patch(client, world, f"categories/{world.categories['hawker'].id}", {"active": False}).status_code == 200
    assert patch(client, world, f"points/{world.points['market'].id}", {"active": False}).status_code == 200
    figures = client.get("/api/v1/reports/summary", query_string={"from": "2026-11-01", "to": "2026-11-30",
                                                                  "group_by": "category"},
                         headers=world.auth("supervisor")).json
    assert [(row["label"], row["reported"]) for row in figures["rows"]] == [("流动摊贩", 1)]
    export = client.get("/api/v1/problems/export", query_string={"format": "csv"}, headers=world.auth("supervisor"))
    assert export.status_code == 200 and "流动摊贩" in export.get_data(as_text=True)
