"""Problem lists (问题清单): a campaign groups problems, shows live progress, closes only when all are done."""

from datetime import date, timedelta

from tests.api.helpers import assert_problem_json
from tests.conftest import NOW


def new_list(client, world, by="east_supervisor", **fields):
    body = {"kind": "campaign", "name": "全城清洁", "lead_unit_id": world.units["east"].id,
            "unit_ids": [world.units["squad"].id], "starts_on": "2026-11-01", "target_on": "2026-12-31"} | fields
    return client.post("/api/v1/problem-lists", json=body, headers=world.auth(by))


def add(client, world, list_id, *ids, by="east_supervisor"):
    return client.post(f"/api/v1/problem-lists/{list_id}/problems", json={"problem_ids": list(ids)},
                       headers=world.auth(by))


def test_a_campaign_shows_live_progress_of_its_problems(client, world, app):
    closed, rectifying, reported = world.to_state("closed"), world.to_state("rectifying"), world.to_state("reported")
    created = new_list(client, world)
    assert created.status_code == 201, created.json
    list_id = created.json["id"]
    assert add(client, world, list_id, closed.id, rectifying.id, reported.id, reported.id).status_code == 200
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)  # the report's dispatch hour has passed
    progress = client.get(f"/api/v1/problem-lists/{list_id}", headers=world.auth("east_supervisor")).json["progress"]
    assert progress == {"total": 3, "by_state": {"closed": 1, "rectifying": 1, "reported": 1}, "open": 2,
                        "closed": 1, "overdue": 1, "closed_on_time": 1, "closed_with_deadline": 1,
                        "on_time_rate": 1.0}
    listed = client.get(f"/api/v1/problems?list_id={list_id}", headers=world.auth("east_supervisor")).json
    assert sorted(p["id"] for p in listed["items"]) == sorted([closed.id, rectifying.id, reported.id])


def test_a_list_closes_only_when_every_problem_is_closed_or_cancelled(client, world):
    open_one, cancelled = world.to_state("verified"), world.to_state("cancelled")
    list_id = new_list(client, world).json["id"]
    add(client, world, list_id, open_one.id, cancelled.id)
    assert_problem_json(client.post(f"/api/v1/problem-lists/{list_id}/close", headers=world.auth("east_supervisor")),
                        409, "conflict")
    world.act(open_one, "close", by="supervisor")
    closed = client.post(f"/api/v1/problem-lists/{list_id}/close", headers=world.auth("east_supervisor"))
    assert (closed.status_code, closed.json["state"]) == (200, "closed")
    assert_problem_json(add(client, world, list_id, open_one.id), 409, "conflict")


def test_a_problem_comes_off_a_list(client, world):
    problem = world.to_state("reported")
    list_id = new_list(client, world).json["id"]
    add(client, world, list_id, problem.id)
    url = f"/api/v1/problem-lists/{list_id}/problems/{problem.id}"
    assert client.delete(url, headers=world.auth("east_supervisor")).status_code == 204
    assert_problem_json(client.delete(url, headers=world.auth("east_supervisor")), 404, "not-found")


def test_lists_follow_the_supervisors_subtree(client, world):
    list_id = new_list(client, world).json["id"]
    assert_problem_json(client.get(f"/api/v1/problem-lists/{list_id}", headers=world.auth("west_supervisor")), 404)
    assert_problem_json(new_list(client, world, by="west_supervisor"), 403, "forbidden")
    assert_problem_json(new_list(client, world, by="officer"), 403, "forbidden")
    west_problem = world.report(by="west_officer", point="night")
    assert_problem_json(add(client, world, list_id, west_problem.id), 422, "validation")  # not visible to east


def test_a_list_with_bad_fields_is_422(client, world):
    assert_problem_json(new_list(client, world, kind="party"), 422)
    assert_problem_json(new_list(client, world, unit_ids=[99999]), 422)
    assert_problem_json(new_list(client, world, starts_on="2026-12-01", ends_on=str(date(2026, 11, 1))), 422)


def test_a_drive_shows_its_stars_with_their_progress_and_rolls_them_up(client, world):
    drive = new_list(client, world, name="五星支部创建").json
    squad = world.units["squad"].id
    stars = [new_list(client, world, kind="star", name=name, parent_id=drive["id"], lead_unit_id=squad,
                      target_on="2026-12-20").json for name in ("支部建设星", "发展党员星")]
    closed, open_one = world.to_state("closed"), world.to_state("rectifying")
    add(client, world, stars[0]["id"], closed.id, open_one.id)
    add(client, world, stars[1]["id"], open_one.id)
    shown = client.get(f"/api/v1/problem-lists/{drive['id']}", headers=world.auth("east_supervisor")).json
    assert [c["name"] for c in shown["children"]] == ["支部建设星", "发展党员星"]
    assert [c["progress"]["total"] for c in shown["children"]] == [2, 1]
    assert shown["children"][0]["lead_unit_id"] == world.units["squad"].id
    assert shown["children"][0]["target_on"] == "2026-12-20"
    assert (shown["progress"]["total"], shown["progress"]["open"], shown["progress"]["closed"]) == (3, 2, 1)
    assert stars[0]["parent_id"] == drive["id"] and shown["parent_id"] is None
    page = client.get(f"/api/v1/problem-lists?parent_id={drive['id']}", headers=world.auth("east_supervisor"))
    assert page.status_code == 200, page.json
    page = page.json
    assert [item["id"] for item in page["items"]] == [star["id"] for star in stars]
    top = client.get("/api/v1/problem-lists?top=true", headers=world.auth("east_supervisor")).json
    assert [item["id"] for item in top["items"]] == [drive["id"]]
    ledger = client.get(f"/api/v1/problems?list_id={drive['id']}", headers=world.auth("east_supervisor")).json
    assert sorted(p["id"] for p in ledger["items"]) == sorted([closed.id, open_one.id])


def test_a_star_under_a_star_or_an_unknown_parent_is_422(client, world):
    drive = new_list(client, world).json
    star = new_list(client, world, kind="star", parent_id=drive["id"]).json
    assert_problem_json(new_list(client, world, kind="star", parent_id=star["id"]), 422, "validation")
    assert_problem_json(new_list(client, world, kind="star", parent_id=99999), 422, "validation")
    assert_problem_json(new_list(client, world, kind="star", parent_id="1"), 422, "validation")
