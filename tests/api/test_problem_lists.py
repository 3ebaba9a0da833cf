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
                        "overdue": 1, "on_time_rate": 1.0}
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
