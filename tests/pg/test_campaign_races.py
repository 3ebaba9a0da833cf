"""Campaign writes that race for real on PostgreSQL: an offline phone's retries of one activity, two activities
claiming one photo, and a drive closed while a star is added to it."""

import io

from sqlalchemy import func, select

from models import CampaignActivity, InspectionPhoto, ProblemList, db
from tests.api.test_evidence import photo
from tests.conftest import NOW
from tests.pg.test_races import THREADS, race
from workflow.ledger import lists


def cleaning(world) -> int:
    found = lists.create_list(actor=world.users["east_supervisor"], now=NOW, lead_unit_id=world.units["east"].id,
                              kind="campaign", name="全城清洁")
    db.session.commit()
    return found.id


def body(world, **fields) -> dict:
    return {"kind": "volunteer_day", "starts_at": "2026-11-25T08:00:00+08:00", "unit_id": world.units["east"].id,
            "participants": 30, "place": "东关社区广场"} | fields


def test_twenty_retries_of_one_activity_record_it_once(app, world):
    list_id = cleaning(world)
    url, headers = f"/api/v1/problem-lists/{list_id}/activities", world.auth("officer")
    sent = body(world, client_id="phone-3-day-1")

    responses = race(app, lambda c, _: c.post(url, json=sent, headers=headers))

    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert len({r.json["id"] for r in responses}) == 1
    assert db.session.scalar(select(func.count()).select_from(CampaignActivity)) == 1


def test_twenty_activities_naming_one_photo_claim_it_once(app, world):
    list_id = cleaning(world)
    upload = app.test_client().post("/api/v1/inspection-photos", data={"file": (io.BytesIO(photo()), "a.jpg")},
                                    headers=world.auth("officer"), content_type="multipart/form-data")
    photo_id, url = upload.json["id"], f"/api/v1/problem-lists/{list_id}/activities"
    sent, headers = body(world, photo_ids=[photo_id]), world.auth("officer")

    responses = race(app, lambda c, i: c.post(url, json=sent | {"client_id": f"d-{i}"}, headers=headers))

    assert sorted(r.status_code for r in responses) == [201] + [422] * (THREADS - 1)
    (winner,) = [r.json["id"] for r in responses if r.status_code == 201]
    assert db.session.get(InspectionPhoto, photo_id).activity_id == winner


def test_a_drive_closed_while_stars_are_added_never_holds_a_star_added_after(app, world):
    list_id = cleaning(world)
    url, headers, east = "/api/v1/problem-lists", world.auth("east_supervisor"), world.units["east"].id

    def one(client, index):
        if index == 0:
            return client.post(f"/api/v1/problem-lists/{list_id}/close", headers=headers)
        return client.post(url, headers=headers, json={"kind": "star", "name": f"星{index}", "parent_id": list_id,
                                                       "lead_unit_id": east})

    responses = race(app, one)

    closed = responses[0].status_code == 200
    stars = db.session.scalar(select(func.count()).where(ProblemList.parent_id == list_id))
    created = sum(r.status_code == 201 for r in responses[1:])
    assert created == stars
    assert closed == (stars == 0)  # it closed only before any star came; else the open star refused it (409)
    assert {r.status_code for r in responses[1:]} <= {201, 409}
