"""One definition of overdue: open past a deadline, suspended after one passed (frozen), or closed late; the
API field, the light, the ledger filter, the summary, the exports and a campaign's progress all agree."""

import csv
import io
import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow.errors import Forbidden
from workflow.ledger import lists

LATE = NOW + timedelta(hours=12)  # past the hawker's rectify limit (600 min from the accept)
DAY = {"from": "2026-11-25", "to": "2026-11-25"}


def overdue_then_suspended(world):
    problem = world.to_state("rectifying")
    return world.act(problem, "suspend", by="supervisor", at=LATE, note="等待拆除")


def closed_late(world):
    """Closed three days after the report: past the whole-case limit of two days (the close records it)."""
    problem = world.to_state("assigned")
    at = NOW + timedelta(days=3)
    return world.walk(problem, ("accept", "handler", {}), ("submit", "handler", {"note": "done"}),
                      ("verify", "officer", {"note": "ok"}), ("close", "supervisor", {}), at=at)


def views(client, world, app, problem, at):
    """What each face says about `problem` at `at`."""
    app.config["TEST_NOW"] = at
    shown = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor")).json
    filtered = client.get("/api/v1/problems", query_string={"overdue": "true"}, headers=world.auth("supervisor"))
    summary = client.get("/api/v1/reports/summary", query_string=DAY, headers=world.auth("supervisor")).json
    text = client.get("/api/v1/problems/export", query_string={"format": "csv"},
                      headers=world.auth("supervisor")).data.decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    sheet = load_workbook(io.BytesIO(client.get("/api/v1/problems/export", query_string={"format": "xlsx"},
                                                headers=world.auth("supervisor")).data)).active
    header, first = [list(r) for r in sheet.iter_rows(values_only=True, max_row=2)]
    geo = json.loads(client.get("/api/v1/problems/export", query_string={"format": "geojson"},
                                headers=world.auth("supervisor")).data)
    return {"api": shown["overdue"], "light": shown["light"],
            "filter": [p["id"] for p in filtered.json["items"]] == [problem.id],
            "summary": summary["totals"]["overdue"] == 1, "csv": row["是否超期"] == "是",
            "xlsx": first[header.index("是否超期")] == "是",
            "geojson": geo["features"][0]["properties"]["overdue"]}


def test_a_problem_suspended_when_overdue_stays_overdue_everywhere(client, world, app):
    problem = overdue_then_suspended(world)
    assert problem.state == "suspended"
    seen = views(client, world, app, problem, LATE + timedelta(days=30))
    assert seen == {"api": True, "light": "red", "filter": True, "summary": True, "csv": True, "xlsx": True,
                    "geojson": True}


def test_a_problem_suspended_in_time_is_not_overdue_while_suspended(client, world, app):
    problem = world.to_state("rectifying")
    problem = world.act(problem, "suspend", by="east_supervisor", at=NOW + timedelta(hours=1), note="雨天")
    app.config["TEST_NOW"] = NOW + timedelta(days=30)
    shown = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor")).json
    assert shown["overdue"] is False and shown["light"] is None


def test_a_problem_closed_after_its_deadline_is_overdue_everywhere(client, world, app):
    problem = closed_late(world)
    assert problem.state == "closed"
    seen = views(client, world, app, problem, NOW + timedelta(days=10))
    assert seen == {"api": True, "light": None, "filter": True, "summary": True, "csv": True, "xlsx": True,
                    "geojson": True}


def test_a_problem_closed_in_time_is_not_overdue(client, world, app):
    problem = world.to_state("closed")
    app.config["TEST_NOW"] = NOW + timedelta(days=10)
    assert client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor")).json["overdue"] is False
    listed = client.get("/api/v1/problems", query_string={"overdue": "false"}, headers=world.auth("supervisor"))
    assert [p["id"] for p in listed.json["items"]] == [problem.id]


def test_a_campaign_keeps_counting_a_suspended_overdue_problem(world):
    problem = overdue_then_suspended(world)
    late = closed_late(world)
    campaign = lists.create_list(actor=world.users["supervisor"], now=NOW, kind="campaign", name="燃气专项",
                                 lead_unit_id=world.units["east"].id)
    lists.add_problems(actor=world.users["supervisor"], now=NOW, list_id=campaign.id,
                       problem_ids=[problem.id, late.id])
    db.session.commit()
    assert lists.progress(campaign, now=LATE + timedelta(days=5))["overdue"] == 2


def test_the_subdistrict_cannot_suspend_its_own_overdue_problem(client, world, app):
    problem = world.to_state("rectifying")
    app.config["TEST_NOW"] = LATE
    shown = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("east_supervisor")).json
    assert "suspend" not in shown["allowed_actions"]
    response = client.post(f"/api/v1/problems/{problem.id}/actions", json={"action": "suspend", "note": "挂账"},
                           headers=world.auth("east_supervisor", **{"If-Match": f'"{problem.version}"'}))
    assert_problem_json(response, 403, "forbidden")
    assert "suspend" in client.get(f"/api/v1/problems/{problem.id}",
                                   headers=world.auth("supervisor")).json["allowed_actions"]


@pytest.mark.parametrize("by", ["east_supervisor", "supervisor"])
def test_a_problem_not_yet_overdue_may_be_suspended_by_its_own_office(world, by):
    problem = world.to_state("rectifying")
    assert world.act(problem, "suspend", by=by, at=NOW + timedelta(hours=1), note="雨天").state == "suspended"


def test_the_parent_unit_rule_is_a_guard_not_a_role_refusal(world):
    problem = world.to_state("rectifying")
    with pytest.raises(Forbidden, match="parent unit"):
        world.act(problem, "suspend", by="east_supervisor", at=LATE, note="挂账")
