"""The HTTP contract: auth, the error shape, the order of checks, validation, ETags, labels and times."""


import pytest

from tests.api.helpers import assert_problem_json


def act(client, world, problem_id, by, body, if_match=None, **headers):
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.post(f"/api/v1/problems/{problem_id}/actions", json=body, headers=world.auth(by, **headers))


def report_body(world, **fields):
    return {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"} | fields




# --- authentication --------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}],
                         ids=["no token", "bad token", "other scheme"])
def test_an_api_call_without_a_valid_token_is_401_problem_json_with_www_authenticate(client, headers):
    response = client.get("/api/v1/problems", headers=headers)
    assert_problem_json(response, 401, "unauthenticated")
    assert response.json["errors"] == {}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs"])
def test_health_openapi_and_docs_need_no_token(client, path):
    assert client.get(path).status_code == 200


# --- 403 and 404 -----------------------------------------------------------------------------

def test_a_role_that_may_never_take_an_action_gets_403_forbidden(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem.id, "handler", {"action": "assign", "unit_id": world.units["squad"].id},
                   if_match=f'"{problem.version}"')
    assert_problem_json(response, 403, "forbidden")


def test_a_handler_may_not_report_a_problem(client, world):
    response = client.post("/api/v1/problems", json=report_body(world), headers=world.auth("handler"))
    assert_problem_json(response, 403, "forbidden")


def test_an_unknown_problem_is_404_problem_json(client, world):
    response = client.get("/api/v1/problems/999999", headers=world.auth("admin"))
    assert_problem_json(response, 404, "not-found")


@pytest.mark.parametrize("by", ["sanitation_handler", "west_officer", "west_supervisor"])
def test_a_problem_out_of_scope_answers_404_as_if_it_did_not_exist(client, world, by):
    problem = world.to_state("assigned")
    unknown = client.get("/api/v1/problems/999999", headers=world.auth(by))
    hidden = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth(by))
    assert_problem_json(hidden, 404, "not-found")
    assert set(hidden.json) == set(unknown.json)
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth(by))
    assert_problem_json(events, 404, "not-found")


# --- the order of checks on POST /problems/{id}/actions --------------------------------------

def test_out_of_scope_with_an_invalid_body_is_404_not_422(client, world):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "west_officer", {"action": "fly", "bogus": 1})
    assert_problem_json(response, 404, "not-found")


def test_an_invalid_body_from_the_wrong_role_is_422_not_403(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem.id, "handler", {"action": "assign", "unit_id": 1, "bogus": 1})
    assert_problem_json(response, 422, "validation")
    assert "bogus" in response.json["errors"]


def test_the_wrong_role_without_if_match_is_403_not_428(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem.id, "handler", {"action": "assign", "unit_id": world.units["squad"].id})
    assert_problem_json(response, 403, "forbidden")


def test_a_transition_without_if_match_is_428(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem.id, "handler", {"action": "accept"})
    assert_problem_json(response, 428, "if-match-required")


def test_a_transition_with_a_stale_if_match_is_412(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem.id, "handler", {"action": "accept"}, if_match='"1"')
    assert_problem_json(response, 412, "stale-version")


@pytest.mark.parametrize("if_match", ['"3"', "3", 'W/"3"'])
def test_if_match_is_accepted_quoted_bare_or_weak(client, world, if_match):
    problem = world.to_state("rectifying")
    assert problem.version == 3
    response = act(client, world, problem.id, "handler", {"action": "submit", "note": "cleared"}, if_match=if_match)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "verifying" and response.headers["ETag"] == '"4"'


def test_an_action_the_state_does_not_allow_is_409_with_state_and_allowed_actions(client, world):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "supervisor", {"action": "close"}, if_match='"1"')
    assert_problem_json(response, 409)
    body = response.json
    assert body["type"].startswith("/errors/")
    assert body["state"] == "reported" and body["state_label"] == "待派遣"
    assert "assign" in body["allowed_actions"] and "close" not in body["allowed_actions"]


def test_a_409_state_label_follows_accept_language(client, world):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "supervisor", {"action": "close"}, if_match='"1"',
                   **{"Accept-Language": "en"})
    assert response.status_code == 409
    assert response.json["state_label"] == "Reported"


# --- 422: the body's shape -------------------------------------------------------------------

ACTION_422 = [
    ("unknown field", "rectifying", "handler", {"action": "submit", "note": "x", "bogus": 1}, "bogus"),
    ("naive until", "rectifying", "handler",
     {"action": "request_extension", "until": "2026-12-30T10:00:00", "reason": "contractor"}, "until"),
    ("float for an integer", "reported", "supervisor", {"action": "assign", "unit_id": 1.5}, "unit_id"),
    ("string for an integer", "reported", "supervisor", {"action": "assign", "unit_id": "2"}, "unit_id"),
    ("unknown action", "reported", "supervisor", {"action": "fly"}, "action"),
    ("missing action", "reported", "supervisor", {"unit_id": 2}, "action"),
    ("field of another action", "assigned", "handler", {"action": "accept", "unit_id": 1}, "unit_id"),
    ("missing required field", "reported", "supervisor", {"action": "assign"}, "unit_id"),
    ("missing note", "rectifying", "handler", {"action": "submit"}, "note"),
    ("empty reason", "reported", "supervisor", {"action": "cancel", "reason": ""}, "reason"),
]


@pytest.mark.parametrize(("state", "by", "body", "field"), [case[1:] for case in ACTION_422],
                         ids=[case[0] for case in ACTION_422])
def test_an_action_body_of_the_wrong_shape_is_422_keyed_by_field(client, world, state, by, body, field):
    problem = world.to_state(state)
    response = act(client, world, problem.id, by, body, if_match=f'"{problem.version}"')
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json


CREATE_422 = [
    ("unknown field", {"bogus": 1}, "bogus"),
    ("naive observed_at", {"observed_at": "2026-11-25T09:00:00"}, "observed_at"),
    ("bad severity", {"severity": "extreme"}, "severity"),
    ("string point_id", {"point_id": "1"}, "point_id"),
    ("float point_id", {"point_id": 1.5}, "point_id"),
    ("boolean as string", {"resolved_on_site": "true"}, "resolved_on_site"),
    ("empty title", {"title": ""}, "title"),
    ("blank title", {"title": "   "}, "title"),
    ("title of 201 characters", {"title": "x" * 201}, "title"),
    ("missing title", {"title": None}, "title"),
]

LOCATION_422 = [
    ("lat 91", {"lat": 91, "lng": 118.3}, "lat"),
    ("lng -181", {"lat": 35.0, "lng": -181}, "lng"),
    ("lat as a string", {"lat": "35", "lng": 118.3}, "lat"),
    ("lat NaN-like string", {"lat": "NaN", "lng": 118.3}, "lat"),
]


@pytest.mark.parametrize(("fields", "field"), [case[1:] for case in CREATE_422], ids=[case[0] for case in CREATE_422])
def test_a_report_of_the_wrong_shape_is_422_keyed_by_field(client, world, fields, field):
    body = {k: v for k, v in (report_body(world) | fields).items() if v is not None}
    response = client.post("/api/v1/problems", json=body, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json


@pytest.mark.parametrize(("coords", "field"), [case[1:] for case in LOCATION_422],
                         ids=[case[0] for case in LOCATION_422])
def test_a_report_with_bad_coordinates_is_422(client, world, coords, field):
    body = {"category_code": "hawker", "title": "游商", "grid_id": world.grids["east"].id, "address": "东关路"}
    response = client.post("/api/v1/problems", json=body | coords, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"], response.json


def test_a_report_naming_a_point_and_coordinates_is_422(client, world):
    body = report_body(world, lat=35.06, lng=118.35)
    response = client.post("/api/v1/problems", json=body, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert "point_id" in response.json["errors"]


def test_a_report_naming_no_location_is_422_for_each_missing_field(client, world):
    body = {"category_code": "hawker", "title": "游商"}
    response = client.post("/api/v1/problems", json=body, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    # grid_id is not asked for: without it the grid is found from lat, lng (decision 0101)
    assert {"lat", "lng", "address"} <= set(response.json["errors"])


# --- 400, 413, 415 ---------------------------------------------------------------------------

def test_an_invalid_json_body_is_400(client, world):
    response = client.post("/api/v1/problems", data='{"title": ', content_type="application/json",
                           headers=world.auth("officer"))
    assert_problem_json(response, 400)


def test_a_text_plain_body_is_415(client, world):
    response = client.post("/api/v1/problems", data="title=x", content_type="text/plain",
                           headers=world.auth("officer"))
    assert_problem_json(response, 415, "unsupported-media-type")


def test_a_body_over_one_mebibyte_is_413_problem_json(client, world):
    body = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/api/v1/problems", data=body, content_type="application/json",
                           headers=world.auth("officer"))
    assert_problem_json(response, 413, "payload-too-large")


# --- query parameters ------------------------------------------------------------------------

@pytest.mark.parametrize("query", [{"stat": "reported"}, {"limit": "0"}, {"limit": "201"}, {"limit": "-1"},
                                   {"limit": "ten"}, {"cursor": "garbage!"}, {"cursor": "WzFd"}],
                         ids=["unknown parameter", "limit 0", "limit 201", "limit -1", "limit ten",
                              "garbage cursor", "cursor of another shape"])
def test_a_bad_query_parameter_on_the_ledger_is_422(client, world, query):
    response = client.get("/api/v1/problems", query_string=query, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert set(query) <= set(response.json["errors"]), response.json


# --- ETag, comment, labels, times ------------------------------------------------------------

def test_a_comment_needs_no_if_match_and_keeps_the_etag(client, world):
    problem = world.to_state("rectifying")
    before = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("officer"))
    response = act(client, world, problem.id, "officer", {"action": "comment", "text": "摊主已劝离"})
    assert response.status_code == 200, response.json
    after = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("officer"))
    assert before.headers["ETag"] == response.headers["ETag"] == after.headers["ETag"] == '"3"'
    assert after.json["version"] == 3


def assert_problem_headers(response):
    body = response.json
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert isinstance(body["allowed_actions"], list)
    assert set(body["action_labels"]) == set(body["allowed_actions"])


def test_every_problem_response_carries_its_etag_and_allowed_actions(client, world):
    created = client.post("/api/v1/problems", json=report_body(world), headers=world.auth("officer"))
    assert created.status_code == 201
    pid = created.json["id"]
    edited = client.patch(f"/api/v1/problems/{pid}", json={"severity": "high"},
                          headers=world.auth("officer", **{"If-Match": created.headers["ETag"]}))
    assigned = act(client, world, pid, "supervisor", {"action": "assign", "unit_id": world.units["squad"].id},
                   if_match=edited.headers["ETag"])
    read = client.get(f"/api/v1/problems/{pid}", headers=world.auth("handler"))
    for response in (created, edited, assigned, read):
        assert response.status_code in (200, 201), response.json
        assert_problem_headers(response)
    assert read.json["version"] == 3
    assert read.json["allowed_actions"] == ["return", "accept", "comment"]
    assert read.json["action_labels"]["accept"] == "受理"


@pytest.mark.parametrize(("headers", "state_label", "category_name", "assign_label"), [
    ({}, "待派遣", "流动摊贩", "派遣"),
    ({"Accept-Language": "zh-CN,zh;q=0.9"}, "待派遣", "流动摊贩", "派遣"),
    ({"Accept-Language": "en"}, "Reported", "Street hawker", "Assign"),
    ({"Accept-Language": "en-US,en;q=0.9"}, "Reported", "Street hawker", "Assign"),
], ids=["default", "zh", "en", "en-US"])
def test_labels_are_chinese_by_default_and_english_on_request(client, world, headers, state_label, category_name,
                                                               assign_label):
    problem = world.to_state("reported")
    body = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor", **headers)).json
    assert body["state_label"] == state_label
    assert body["category_name"] == category_name
    assert body["action_labels"]["assign"] == assign_label


def test_datetimes_leave_the_api_in_utc_with_an_explicit_offset(client, world):
    body = report_body(world, observed_at="2026-11-25T09:30:00+08:00")
    created = client.post("/api/v1/problems", json=body, headers=world.auth("officer")).json
    assert created["observed_at"] == "2026-11-25T01:30:00+00:00"
    assert created["reported_at"] == "2026-11-25T02:00:00+00:00"
    for name in ("updated_at", "stage_due_at"):
        assert created[name].endswith("+00:00"), name
    assert created["due_at"] is None and created["closed_at"] is None


def test_an_extension_until_given_in_local_time_leaves_the_api_in_utc(client, world):
    problem = world.to_state("rectifying")
    body = {"action": "request_extension", "until": "2026-12-30T18:00:00+08:00", "reason": "需要施工队"}
    response = act(client, world, problem.id, "handler", body, if_match='"3"')
    assert response.status_code == 200, response.json
    assert response.json["extension"]["until"] == "2026-12-30T10:00:00+00:00"
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("handler")).json["items"]
    assert events[-1]["fields"]["until"] == "2026-12-30T10:00:00+00:00"
    assert all(event["at"].endswith("+00:00") for event in events)


# --- PATCH /problems/{id} --------------------------------------------------------------------

@pytest.mark.parametrize("by", ["officer", "supervisor", "east_supervisor"])
def test_the_reporter_or_a_supervisor_edits_a_report_waiting_for_dispatch(client, world, by):
    problem = world.to_state("reported")
    response = client.patch(f"/api/v1/problems/{problem.id}", json={"title": "早市游商", "severity": "urgent"},
                            headers=world.auth(by, **{"If-Match": '"1"'}))
    assert response.status_code == 200, response.json
    assert response.json["title"] == "早市游商" and response.json["severity"] == "urgent"
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize(("state", "by", "if_match", "body", "status"), [
    ("reported", "officer", None, {"title": "早市游商"}, 428),
    ("reported", "officer", '"7"', {"title": "早市游商"}, 412),
    ("assigned", "officer", '"2"', {"title": "早市游商"}, 409),
    ("reported", "officer2", '"1"', {"title": "早市游商"}, 403),
    ("reported", "west_officer", '"1"', {"title": "早市游商"}, 404),
    ("reported", "officer", '"1"', {"state": "closed"}, 422),
    ("reported", "officer", '"1"', {"severity": "extreme"}, 422),
], ids=["without If-Match", "stale If-Match", "after assign", "by another officer of the grid",
        "by an officer of another grid", "a field that is not editable", "a bad severity"])
def test_an_edit_that_may_not_happen_answers_with_its_contract_status(client, world, state, by, if_match, body,
                                                                     status):
    problem = world.to_state(state)
    headers = world.auth(by, **({"If-Match": if_match} if if_match else {}))
    response = client.patch(f"/api/v1/problems/{problem.id}", json=body, headers=headers)
    assert_problem_json(response, status)
    if status == 409:
        assert response.json["state"] == state
