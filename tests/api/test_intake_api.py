"""Hotline and public intake over the API: tickets, placing, the hotline's view; callback and reopen for every
persona of the authorization matrix."""

import pytest

from tests.api.helpers import assert_problem_json
from tests.api.test_authorization_matrix import PERSONAS

TICKET = {"category_code": "hawker", "title": "市民反映早市占道", "lat": 35.0621, "lng": 118.3561,
          "address": "东关路口", "external_ref": "12345-20261125-0007", "contact_name": "李四",
          "contact_phone": "13900001111"}


def post_ticket(client, world, **changes):
    return client.post("/api/v1/problems", json=TICKET | changes, headers=world.auth("hotline"))


def test_a_hotline_ticket_posted_twice_makes_one_problem(client, world):
    first = post_ticket(client, world)
    assert first.status_code == 201, first.json
    assert (first.json["source"], first.json["source_label"], first.json["grid_id"]) == \
        ("hotline", "12345热线", world.grids["east"].id)
    again = post_ticket(client, world, title="重复推送")
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert again.json["title"] == TICKET["title"]


def test_a_ticket_outside_every_grid_is_refused_clearly(client, world):
    response = post_ticket(client, world, lat=30.0, lng=120.0)
    assert_problem_json(response, 422, "outside-area")
    assert set(response.json["errors"]) == {"lat", "lng"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"external_ref": "has space"}, "external_ref"),
    ({"contact_phone": "call\x07me"}, "contact_phone"),
    ({"media_url": "http://10.0.0.8/x.jpg"}, "media_url"),
    ({"source": "public"}, "source"),
    ({"source": "nonsense"}, "source"),
])
def test_bad_ticket_fields_are_422(client, world, changes, field):
    response = post_ticket(client, world, **changes)
    assert_problem_json(response, 422)
    assert field in response.json["errors"]


def test_the_hotline_sees_its_own_tickets_only(client, world):
    ticket = post_ticket(client, world).json
    officers = world.report()
    listed = client.get("/api/v1/problems", headers=world.auth("hotline")).json["items"]
    assert [p["id"] for p in listed] == [ticket["id"]]
    assert client.get(f"/api/v1/problems/{officers.id}", headers=world.auth("hotline")).status_code == 404
    assert ticket["contact"]["masked"] is True and ticket["allowed_actions"] == ["comment"]


def test_intake_refuses_with_a_reason_code(client, world):
    ticket = post_ticket(client, world).json
    response = client.post(f"/api/v1/problems/{ticket['id']}/actions",
                           headers=world.auth("supervisor", **{"If-Match": '"1"'}),
                           json={"action": "cancel", "reason": "无效", "reason_code": "invalid"})
    assert response.status_code == 200 and response.json["state"] == "cancelled"


def closed_ticket(client, world) -> dict:
    ticket = post_ticket(client, world).json
    steps = [("supervisor", {"action": "assign", "unit_id": world.units["squad"].id}),
             ("handler", {"action": "accept"}),
             ("handler", {"action": "submit", "note": "已清理"}), ("officer", {"action": "verify", "note": "核查"}),
             ("supervisor", {"action": "close"})]
    for version, (who, body) in enumerate(steps, 1):
        response = client.post(f"/api/v1/problems/{ticket['id']}/actions", json=body,
                               headers=world.auth(who, **{"If-Match": f'"{version}"'}))
        assert response.status_code == 200, response.json
    return response.json


# What each persona gets when it records a callback on a closed ticket of the east grid, and when it reopens
# it after an unsatisfied one: 404 where the ticket is out of sight, 403 for a role the table never names.
CALLBACK = {"admin": 403, "supervisor_own": 200, "supervisor_parent": 200, "supervisor_other": 404,
            "officer_own": 403, "officer_other": 404, "handler_own": 403, "handler_other": 404, "hotline": 200}
REOPEN = CALLBACK | {"hotline": 403}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_callback_through_every_persona(client, world, persona):
    ticket = closed_ticket(client, world)
    response = client.post(f"/api/v1/problems/{ticket['id']}/actions",
                           json={"action": "callback", "satisfaction": "satisfied", "note": "满意"},
                           headers=world.auth(PERSONAS[persona], **{"If-Match": f'"{ticket["version"]}"'}))
    assert response.status_code == CALLBACK[persona], response.json
    if response.status_code == 200:
        assert (response.json["callback_satisfaction"], response.json["state"]) == ("satisfied", "closed")
        assert response.json["version"] == ticket["version"] + 1


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_reopen_through_every_persona(client, world, persona):
    ticket = closed_ticket(client, world)
    unsatisfied = client.post(f"/api/v1/problems/{ticket['id']}/actions",
                              json={"action": "callback", "satisfaction": "unsatisfied"},
                              headers=world.auth("hotline", **{"If-Match": f'"{ticket["version"]}"'})).json
    assert "reopen" in client.get(f"/api/v1/problems/{ticket['id']}",
                                  headers=world.auth("supervisor")).json["allowed_actions"]
    response = client.post(f"/api/v1/problems/{ticket['id']}/actions",
                           json={"action": "reopen", "reason": "市民不满意"},
                           headers=world.auth(PERSONAS[persona], **{"If-Match": f'"{unsatisfied["version"]}"'}))
    assert response.status_code == REOPEN[persona], response.json
    if response.status_code == 200:
        assert (response.json["state"], response.json["rework_count"]) == ("rectifying", 1)


def test_a_reopen_without_an_unsatisfied_callback_is_409(client, world):
    ticket = closed_ticket(client, world)
    response = client.post(f"/api/v1/problems/{ticket['id']}/actions", json={"action": "reopen", "reason": "x"},
                           headers=world.auth("supervisor", **{"If-Match": f'"{ticket["version"]}"'}))
    assert_problem_json(response, 409, "conflict")


def test_a_grid_boundary_is_drawn_by_an_admin(client, world):
    square = {"type": "Polygon", "coordinates": [[[118.0, 35.0], [118.1, 35.0], [118.1, 35.1], [118.0, 35.1],
                                                  [118.0, 35.0]]]}
    response = client.put(f"/api/v1/grids/{world.grids['west'].id}/boundary", json={"boundary": square},
                          headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert response.status_code == 200 and response.json["boundary"] == square
    assert response.headers["ETag"] == '"2"' and response.json["version"] == 2
    placed = post_ticket(client, world, lat=35.05, lng=118.05, external_ref="T-2")
    assert placed.json["grid_id"] == world.grids["west"].id
    bad = client.put(f"/api/v1/grids/{world.grids['west'].id}/boundary", json={"boundary": {"type": "Polygon"}},
                     headers=world.auth("admin", **{"If-Match": '"2"'}))
    assert_problem_json(bad, 422)
    stale = client.put(f"/api/v1/grids/{world.grids['west'].id}/boundary", json={"boundary": None},
                       headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert_problem_json(stale, 412)
    unconditional = client.put(f"/api/v1/grids/{world.grids['west'].id}/boundary", json={"boundary": None},
                               headers=world.auth("admin"))
    assert_problem_json(unconditional, 428)


def test_publishing_a_category_is_a_reference_edit_under_if_match_on_the_admin_trail(client, world):
    hawker = world.categories["hawker"]
    path = f"/api/v1/categories/{hawker.id}/public"
    body = {"public": True, "public_description": "占道经营",
            "attributes": [{"code": "stalls", "datatype": "number", "description": "摊位数"}]}
    assert_problem_json(client.put(path, json=body, headers=world.auth("admin")), 428)
    published = client.put(path, json=body, headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert published.status_code == 200 and published.headers["ETag"] == '"2"'
    assert (published.json["public"], published.json["attributes"][0]["code"]) == (True, "stalls")
    assert_problem_json(client.put(path, json={"public": False}, headers=world.auth("admin", **{"If-Match": '"1"'})),
                        412)
    same = client.put(path, json={"public": True}, headers=world.auth("admin", **{"If-Match": '"2"'}))
    assert same.status_code == 200 and same.headers["ETag"] == '"2"'  # nothing changed: no version, no trail
    listed = client.put(path, json={"attributes": [{"code": "when", "datatype": "singlevaluelist",
                                                    "description": "时段"}]},
                        headers=world.auth("admin", **{"If-Match": '"2"'}))
    assert_problem_json(listed, 422)  # a list type without its values
    [event] = client.get("/api/v1/admin-events", query_string={"resource": "category", "id": hawker.id},
                         headers=world.auth("admin")).json["items"]
    assert event["action"] == "edit" and set(event["changes"]) == {"public", "public_description", "attributes"}
    services = client.get("/open311/v2/services.json").json
    assert [s["service_code"] for s in services] == ["hawker"]


def test_a_category_without_a_place_is_never_an_open311_service(client, world):
    made = client.post("/api/v1/categories", json={"code": "charter", "name": "制度建设", "spatial": False,
                                                   "public": True}, headers=world.auth("admin"))
    assert_problem_json(made, 422)
    assert "public" in made.json["errors"]
    charter = client.post("/api/v1/categories", json={"code": "charter", "name": "制度建设", "spatial": False},
                          headers=world.auth("admin"))
    assert charter.status_code == 201
    published = client.put(f"/api/v1/categories/{charter.json['id']}/public", json={"public": True},
                           headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert_problem_json(published, 422)
