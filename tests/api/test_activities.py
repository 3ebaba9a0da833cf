"""Activity days of a campaign (全城清洁) and of a drive's stars: recorded offline-safe, added up per campaign, unit
and week, readable by those taking part, and counted in the unit reports (decision 0092)."""

import io

import pytest
from openpyxl import load_workbook

from models import UnitReport
from models.base import db
from schedules.jobs import run_job
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo
from tests.conftest import NOW
from tests.workflow.patrols.test_patrols import local
from workflow.ledger import lists


@pytest.fixture
def cleaning(world):
    """全城清洁, led by the district with the east subdistrict and sanitation cooperating."""
    found = lists.create_list(actor=world.users["supervisor"], now=NOW, lead_unit_id=world.units["district"].id,
                              kind="campaign", name="全城清洁",
                              unit_ids=[world.units["east"].id, world.units["sanitation"].id])
    db.session.commit()
    return found.id


@pytest.fixture
def east_drive(world):
    """A list led by the east subdistrict with sanitation cooperating: the west is no part of it."""
    found = lists.create_list(actor=world.users["east_supervisor"], now=NOW, lead_unit_id=world.units["east"].id,
                              kind="campaign", name="东关清洁", unit_ids=[world.units["sanitation"].id])
    db.session.commit()
    return found.id


def record(client, world, list_id, by="officer", **fields):
    body = {"kind": "cleaning", "starts_at": "2026-11-25T08:00:00+08:00", "ends_at": "2026-11-25T11:00:00+08:00",
            "point_id": world.points["market"].id, "unit_id": world.units["east"].id, "participants": 40,
            "volunteers": 25, "reached": 120, "materials": 300, "note": "早市周边"} | fields
    return client.post(f"/api/v1/problem-lists/{list_id}/activities", json=body, headers=world.auth(by))


def test_an_activity_day_is_recorded_once_per_client_id_and_listed(client, world, cleaning):
    first = record(client, world, cleaning, client_id="phone-1")
    assert first.status_code == 201, first.json
    again = record(client, world, cleaning, client_id="phone-1", participants=99)
    assert (again.status_code, again.json["id"], again.json["participants"]) == (200, first.json["id"], 40)
    assert first.json["kind_label"] == "清洁" and first.json["starts_at"] == "2026-11-25T00:00:00+00:00"
    page = client.get(f"/api/v1/problem-lists/{cleaning}/activities", headers=world.auth("supervisor")).json
    assert [item["id"] for item in page["items"]] == [first.json["id"]]


def test_totals_add_up_per_campaign_unit_week_and_kind(client, world, cleaning):
    record(client, world, cleaning)
    record(client, world, cleaning, kind="publicity", starts_at="2026-11-24T19:00:00+08:00", ends_at=None,
           point_id=None, place="东关社区广场", participants=15, volunteers=None, reached=80, materials=None)
    assert record(client, world, cleaning, by="supervisor", unit_id=world.units["sanitation"].id,
                  starts_at="2026-11-18T08:00:00+08:00", ends_at=None, participants=60, volunteers=0, reached=0,
                  materials=0).status_code == 201
    totals = client.get(f"/api/v1/problem-lists/{cleaning}/activity-totals", headers=world.auth("supervisor")).json
    assert totals["totals"] == {"activities": 3, "participants": 115, "volunteers": 25, "reached": 200,
                                "materials": 300}
    assert {row["label"]: row["participants"] for row in totals["by_unit"]} == {"east": 55, "sanitation": 60}
    assert [(row["week"], row["activities"]) for row in totals["by_week"]] == [("2026-11-16", 1), ("2026-11-23", 2)]
    assert {row["kind"]: row["activities"] for row in totals["by_kind"]} == {"cleaning": 2, "publicity": 1}
    east = client.get(f"/api/v1/problem-lists/{cleaning}/activities?unit_id={world.units['east'].id}",
                      headers=world.auth("supervisor")).json["items"]
    assert len(east) == 2


def test_a_drives_totals_include_its_stars_activities(client, world):
    boss = world.users["east_supervisor"]
    drive = lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["east"].id, kind="campaign", name="五星")
    star = lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["east"].id, kind="star", name="宣传星",
                             parent_id=drive.id)
    db.session.commit()
    record(client, world, star.id, kind="training", participants=12)
    totals = client.get(f"/api/v1/problem-lists/{drive.id}/activity-totals", headers=world.auth("east_supervisor"))
    assert totals.json["totals"]["participants"] == 12


def test_photos_come_from_the_upload_and_are_claimed_once(client, world, east_drive):
    cleaning = east_drive
    upload = client.post("/api/v1/inspection-photos", data={"file": (io.BytesIO(photo()), "day.jpg")},
                         headers=world.auth("officer"), content_type="multipart/form-data")
    assert upload.status_code == 201
    photo_id = upload.json["id"]
    recorded = record(client, world, cleaning, photo_ids=[photo_id])
    assert recorded.status_code == 201, recorded.json
    assert [p["id"] for p in recorded.json["photos"]] == [photo_id]
    assert_problem_json(record(client, world, cleaning, photo_ids=[photo_id]), 422, "validation")
    seen = client.get(f"/api/v1/inspection-photos/{photo_id}", headers=world.auth("supervisor"))
    assert (seen.status_code, seen.json["activity_id"]) == (200, recorded.json["id"])
    assert_problem_json(client.get(f"/api/v1/inspection-photos/{photo_id}", headers=world.auth("west_supervisor")),
                        404, "not-found")


@pytest.mark.parametrize(("fields", "field"), [
    ({"starts_at": "2026-11-26T08:00:00+08:00"}, "starts_at"),  # not yet happened
    ({"ends_at": "2026-11-25T07:00:00+08:00"}, "ends_at"),
    ({"starts_at": "2026-11-25T08:00:00"}, "starts_at"),  # naive
    ({"point_id": None, "place": None}, "place"),
    ({"participants": -1}, "participants"),
    ({"participants": "40"}, "participants"),
    ({"kind": "parade"}, "kind"),
    ({"unit_id": 99999}, "unit_id"),
    ({"point_id": 99999}, "point_id"),
    ({"photo_ids": [99999]}, "photo_ids"),
    ({"note": "bad\x00"}, "note"),
])
def test_bad_activity_fields_are_422_naming_the_field(client, world, cleaning, fields, field):
    refused = record(client, world, cleaning, **fields)
    assert_problem_json(refused, 422, "validation")
    assert field in refused.json["errors"] or field in str(refused.json["errors"])


def test_who_records_and_reads_activities(client, world, east_drive):
    cleaning = east_drive
    assert_problem_json(record(client, world, cleaning, by="handler"), 403, "forbidden")
    assert_problem_json(record(client, world, cleaning, by="west_officer", unit_id=world.units["west"].id), 404)
    assert_problem_json(record(client, world, cleaning, by="west_supervisor", unit_id=world.units["west"].id), 404)
    assert_problem_json(record(client, world, cleaning, by="officer", unit_id=world.units["sanitation"].id), 403)
    assert_problem_json(record(client, world, cleaning, by="supervisor", unit_id=world.units["west"].id), 422)
    assert record(client, world, cleaning, by="officer").status_code == 201
    sanitation = record(client, world, cleaning, by="admin", unit_id=world.units["sanitation"].id)
    assert sanitation.status_code == 201, sanitation.json
    for who, status in (("officer", 200), ("east_supervisor", 200), ("supervisor", 200), ("admin", 200),
                        ("west_supervisor", 404), ("west_officer", 404), ("handler", 403),
                        ("sanitation_handler", 403)):
        assert client.get(f"/api/v1/problem-lists/{cleaning}/activities",
                          headers=world.auth(who)).status_code == status, who
    assert_problem_json(client.get("/api/v1/problem-lists/99999/activities", headers=world.auth("admin")), 404)


def test_a_closed_list_takes_no_activities(client, world, cleaning):
    lists.close_list(actor=world.users["supervisor"], now=NOW, list_id=cleaning)
    db.session.commit()
    assert_problem_json(record(client, world, cleaning), 409, "conflict")


def test_an_activitys_figures_reach_the_daily_and_weekly_unit_reports(client, world, cleaning):
    record(client, world, cleaning)
    record(client, world, cleaning, starts_at="2026-11-23T09:00:00+08:00", ends_at=None, participants=10,
           volunteers=None, reached=None, materials=50)
    run_job("make_unit_reports", now=local(2026, 11, 26, 0, 5))
    run_job("make_unit_reports", now=local(2026, 11, 30, 0, 5))
    daily = db.session.query(UnitReport).filter_by(unit_id=world.units["east"].id, kind="daily",
                                                   period_start=NOW.date()).one()
    weekly = db.session.query(UnitReport).filter_by(unit_id=world.units["east"].id, kind="weekly").one()
    district = db.session.query(UnitReport).filter_by(unit_id=world.units["district"].id, kind="weekly").one()
    assert daily.figures["activities"] == {"activities": 1, "participants": 40, "volunteers": 25, "reached": 120,
                                           "materials": 300}
    assert weekly.figures["activities"] == {"activities": 2, "participants": 50, "volunteers": 25, "reached": 120,
                                            "materials": 350}
    assert district.figures["activities"] == weekly.figures["activities"]
    shown = client.get(f"/api/v1/reports/units/{weekly.id}", headers=world.auth("east_supervisor")).json
    assert shown["figures"]["activities"]["participants"] == 50
    xlsx = client.get(f"/api/v1/reports/units/{weekly.id}/xlsx", headers=world.auth("east_supervisor")).data
    summary = {row[0]: row[1] for row in load_workbook(io.BytesIO(xlsx))["汇总"].iter_rows(values_only=True)}
    assert (summary["活动次数"], summary["活动参与人次"], summary["发放资料（份）"]) == (2, 50, 350)
