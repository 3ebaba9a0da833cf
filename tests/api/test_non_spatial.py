"""Shortfalls without a place through the API (decision 0091): a category with `spatial: false`, a report naming
`unit_id`, the whole closed loop over HTTP, and every report — the ledger, lists, statistics by unit, the
CSV/XLSX exports, the unit reports — while GeoJSON simply leaves them out."""

import csv
import io
import json

from openpyxl import load_workbook

from models import UnitReport
from models.base import db
from schedules.jobs import run_job
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo
from tests.conftest import NOW
from tests.factories import NATURAL
from tests.workflow.patrols.test_patrols import local


def charter(client, world):
    body = {"code": "charter", "name": "制度建设", "name_en": "Rules and charters", "spatial": False,
            "limits": NATURAL}
    created = client.post("/api/v1/categories", json=body, headers=world.auth("admin"))
    assert created.status_code == 201, created.json
    assert created.json["spatial"] is False
    return created.json


def shortfall(client, world, by="officer", unit="east", **fields):
    body = {"category_code": "charter", "title": "制度未上墙", "unit_id": world.units[unit].id} | fields
    return client.post("/api/v1/problems", json=body, headers=world.auth(by))


def act(client, world, problem, action, by, **fields):
    response = client.post(f"/api/v1/problems/{problem['id']}/actions", json={"action": action, **fields},
                           headers=world.auth(by, **{"If-Match": f'"{problem["version"]}"'}))
    assert response.status_code == 200, response.json
    return response.json


def test_a_shortfall_is_reported_by_unit_and_walks_the_closed_loop(client, world):
    charter(client, world)
    reported = shortfall(client, world)
    assert reported.status_code == 201, reported.json
    problem = reported.json
    assert (problem["grid_id"], problem["point_id"], problem["lat"], problem["spatial"]) == (None, None, None, False)
    assert problem["area_unit_id"] == world.units["east"].id and problem["unit_id"] is None
    assert problem["allowed_actions"] == ["comment"]  # the officer reports; a supervisor dispatches
    problem = act(client, world, problem, "assign", "east_supervisor", unit_id=world.units["squad"].id)
    problem = act(client, world, problem, "accept", "handler")
    upload = client.post(f"/api/v1/problems/{problem['id']}/attachments", headers=world.auth("handler"),
                         data={"kind": "after", "file": (io.BytesIO(photo()), "after.jpg")},
                         content_type="multipart/form-data")
    assert upload.status_code == 201, upload.json
    assert "far_from_point" not in upload.json["flags"]  # no point to be far from
    problem = act(client, world, problem, "submit", "handler", note="已上墙")
    problem = act(client, world, problem, "verify", "officer", note="现场核实")
    problem = act(client, world, problem, "close", "east_supervisor")
    assert problem["state"] == "closed" and problem["spatial"] is False
    events = client.get(f"/api/v1/problems/{problem['id']}/events", headers=world.auth("officer")).json["items"]
    assert [e["action"] for e in events] == ["report", "assign", "accept", "attach", "submit", "verify", "close"]


def test_a_report_mixing_a_unit_and_a_place_or_without_either_is_422(client, world):
    charter(client, world)
    assert_problem_json(shortfall(client, world, point_id=world.points["market"].id), 422, "validation")
    assert_problem_json(shortfall(client, world, address="东关路"), 422, "validation")
    assert_problem_json(shortfall(client, world, unit_id=99999), 422, "validation")
    assert_problem_json(client.post("/api/v1/problems", json={"category_code": "charter", "title": "x"},
                                    headers=world.auth("officer")), 422, "validation")
    hawker = {"category_code": "hawker", "title": "x", "unit_id": world.units["east"].id}
    assert_problem_json(client.post("/api/v1/problems", json=hawker, headers=world.auth("officer")), 422)
    assert_problem_json(shortfall(client, world, by="west_officer"), 403, "forbidden")
    assert_problem_json(shortfall(client, world, by="handler"), 403, "forbidden")


def seeded(client, world):
    """A shortfall of the east unit, one of the squad (assigned), and a hawker at the market."""
    charter(client, world)
    east = shortfall(client, world).json
    squad = shortfall(client, world, by="east_supervisor", unit="squad", title="党员档案不全").json
    act(client, world, squad, "assign", "east_supervisor", unit_id=world.units["squad"].id)
    world.report()
    return east, squad


def test_shortfalls_appear_in_the_ledger_lists_and_statistics_by_unit(client, world):
    east, squad = seeded(client, world)
    ledger = client.get("/api/v1/problems", headers=world.auth("east_supervisor")).json["items"]
    assert {east["id"], squad["id"]} <= {p["id"] for p in ledger}
    listed = client.post("/api/v1/problem-lists", headers=world.auth("east_supervisor"), json={
        "kind": "star", "name": "制度建设星", "lead_unit_id": world.units["east"].id}).json
    client.post(f"/api/v1/problem-lists/{listed['id']}/problems", json={"problem_ids": [east["id"], squad["id"]]},
                headers=world.auth("east_supervisor"))
    shown = client.get(f"/api/v1/problem-lists/{listed['id']}", headers=world.auth("east_supervisor")).json
    assert shown["progress"]["by_state"] == {"reported": 1, "assigned": 1}
    query = {"from": "2026-11-25", "to": "2026-11-25", "group_by": "unit"}
    rows = client.get("/api/v1/reports/summary", query_string=query, headers=world.auth("supervisor")).json["rows"]
    by_unit = {row["key"]: row["reported"] for row in rows}
    assert by_unit[world.units["east"].id] == 2  # its shortfall and the hawker in its grid
    assert by_unit[world.units["squad"].id] == 1
    by_grid = client.get("/api/v1/reports/summary", query_string=query | {"group_by": "grid"},
                         headers=world.auth("supervisor")).json["rows"]
    assert {row["label"]: row["reported"] for row in by_grid} == {"无地点": 2, "东关第一网格": 1}


def test_exports_carry_shortfalls_with_their_unit_and_geojson_leaves_them_out(client, world):
    east, squad = seeded(client, world)

    def export(fmt):
        response = client.get("/api/v1/problems/export", query_string={"format": fmt},
                              headers=world.auth("supervisor"))
        assert response.status_code == 200
        return response.data

    rows = list(csv.reader(io.StringIO(export("csv").decode("utf-8").lstrip("\ufeff"))))
    assert rows[0][-1] == "所属单位"
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code[east["code"]][6] == "" and by_code[east["code"]][-1] == "east"
    assert by_code[squad["code"]][-1] == "squad" and by_code[squad["code"]][7] == "squad"
    sheet = load_workbook(io.BytesIO(export("xlsx"))).active
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == set(by_code)
    features = json.loads(export("geojson"))["features"]
    assert [f["properties"]["code"] for f in features] == [code for code in by_code
                                                           if code not in (east["code"], squad["code"])]


def test_unit_reports_count_shortfalls_of_the_unit(client, world):
    seeded(client, world)
    run_job("make_unit_reports", now=local(2026, 11, 26, 0, 5))
    east = db.session.query(UnitReport).filter_by(unit_id=world.units["east"].id, kind="daily").one()
    squad = db.session.query(UnitReport).filter_by(unit_id=world.units["squad"].id, kind="daily").one()
    assert east.figures["new"] == 3 and squad.figures["new"] == 1
    assert east.figures["overdue"] == 3  # none dispatched (or accepted) within its hour
    assert NOW.date().isoformat() == "2026-11-25"
