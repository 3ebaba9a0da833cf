"""The Open311 GeoReport v2 face: every answer in JSON and XML against the spec's shapes, posting with an API
key, the refusals in the spec's error format, and what the public never sees."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import Open311Key, Problem
from models.base import db
from tests.conftest import NOW
from tests.open311.shapes import check_json, check_xml

BASE = "/open311/v2"
MARKET = {"lat": "35.0621", "long": "118.3561"}
FORMATS = ("json", "xml")


def post(client, scene, fmt="json", key=None, **fields):
    form = {"api_key": scene.open311_key if key is None else key, "service_code": "hawker",
            "attribute[when]": "morning",
            "description": "路口有人卖菜，堵住了盲道", "first_name": "张", "last_name": "三丰",
            "phone": "13812345678", "email": "zhang@example.org", **MARKET} | fields
    return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None})


def check(kind, fmt, response):
    if fmt == "json":
        assert response.content_type.startswith("application/json")
        check_json(kind, response.json)
    else:
        assert response.content_type.startswith("text/xml")
        check_xml(kind, response.data)


def count_problems() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Problem))


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_v2_endpoint_and_both_formats(client, scene, fmt):
    response = client.get(f"/open311/discovery.{fmt}")
    assert response.status_code == 200
    check("discovery", fmt, response)
    if fmt == "json":
        assert response.json["endpoints"][0]["url"].endswith("/open311/v2")


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_public_categories(client, scene, fmt):
    org_only = scene.categories["shopfront"].code
    response = client.get(f"{BASE}/services.{fmt}?jurisdiction_id=lanshan")
    assert response.status_code == 200
    check("services", fmt, response)
    if fmt == "json":
        assert [s["service_code"] for s in response.json] == ["graffiti", "hawker"]
        assert org_only not in response.get_data(as_text=True)
        assert response.json[1]["metadata"] is True and response.json[0]["metadata"] is False


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_lists_its_attributes(client, scene, fmt):
    response = client.get(f"{BASE}/services/hawker.{fmt}")
    assert response.status_code == 200
    check("service_definition", fmt, response)
    if fmt == "json":
        assert [a["code"] for a in response.json["attributes"]] == ["stall_count", "when"]
        assert response.json["attributes"][1]["values"][0] == {"key": "morning", "name": "早上"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_or_private_service_is_404_in_the_spec_error_format(client, scene, fmt):
    for code in ("nothing", "shopfront"):
        response = client.get(f"{BASE}/services/{code}.{fmt}")
        assert response.status_code == 404
        check("errors", fmt, response)


@pytest.mark.parametrize("fmt", FORMATS)
def test_posting_a_request_makes_a_public_problem_in_the_grid_of_its_coordinates(client, scene, fmt):
    response = post(client, scene, fmt)
    assert response.status_code == 201, response.data
    check("created", fmt, response)
    problem = db.session.scalars(select(Problem)).one()
    assert (problem.source, problem.state, problem.grid_id) == ("public", "reported", scene.grids["east"].id)
    assert (problem.contact_name, problem.contact_phone, problem.contact_email) == \
        ("张 三丰", "13812345678", "zhang@example.org")
    assert problem.intake_attributes == {"when": "morning"}
    assert problem.reporter_id == scene.open311_row.user_id


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_reads_back_without_the_reporters_contact(client, scene, fmt):
    post(client, scene)
    code = db.session.scalars(select(Problem.code)).one()
    for url in (f"{BASE}/requests/{code}.{fmt}", f"{BASE}/requests.{fmt}",
                f"{BASE}/requests.{fmt}?service_request_id={code}"):
        response = client.get(url)
        assert response.status_code == 200
        check("requests", fmt, response)
        text = response.get_data(as_text=True)
        assert code in text
        for secret in ("13812345678", "zhang@example.org", "三丰", "5678"):
            assert secret not in text


def test_a_request_carries_its_status_the_detailed_state_and_the_sla_deadline(client, scene):
    post(client, scene)
    problem = db.session.scalars(select(Problem)).one()
    answer = client.get(f"{BASE}/requests/{problem.code}.json").json[0]
    assert (answer["status"], answer["detailed_status"], answer["detailed_status_label"]) == \
        ("open", "reported", "待派遣")
    assert answer["expected_datetime"] == problem.stage_due_at.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")
    assert answer["agency_responsible"] == "east"
    assert answer["status_notes"].endswith("上报")
    scene.act(problem, "assign", by="supervisor", unit_id=scene.units["squad"].id)
    answer = client.get(f"{BASE}/requests/{problem.code}.json", headers={"Accept-Language": "en"}).json[0]
    assert answer["agency_responsible"] == "squad" and answer["status_notes"].endswith("Assign")
    assert answer["detailed_status_label"] == "Assigned"


def test_a_cancelled_report_is_closed_with_the_reason_in_its_notes_but_not_the_staff_text(client, scene):
    post(client, scene)
    problem = db.session.scalars(select(Problem)).one()
    scene.act(problem, "cancel", by="supervisor", reason="王五说这是他亲戚的摊位", reason_code="out_of_scope")
    answer = client.get(f"{BASE}/requests/{problem.code}.json").json[0]
    assert answer["status"] == "closed" and "非本辖区职责" in answer["status_notes"]
    assert "王五" not in client.get(f"{BASE}/requests/{problem.code}.json").get_data(as_text=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_report_outside_every_grid_is_refused_with_a_clear_open311_error(client, scene, fmt):
    response = post(client, scene, fmt, lat="36.5", long="119.5")
    assert response.status_code == 400
    check("errors", fmt, response)
    assert "lies in no grid" in response.get_data(as_text=True)
    assert count_problems() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_or_revoked_api_key_is_403_in_the_spec_format(client, scene, fmt):
    for key in ("not-a-key", scene.revoked_key, ""):
        response = post(client, scene, fmt, key=key)
        assert response.status_code == 403
        check("errors", fmt, response)
    assert count_problems() == 0


def test_a_key_given_on_a_read_must_be_valid_too(client, scene):
    assert client.get(f"{BASE}/services.json?api_key=wrong").status_code == 403
    assert client.get(f"{BASE}/services.json?api_key={scene.open311_key}").status_code == 200


def test_an_address_that_keeps_guessing_keys_gets_429(client, scene, app):
    app.config["AUTH_FAILURE_LIMIT"], limit = 3, app.config["AUTH_FAILURE_LIMIT"]
    try:
        statuses = [post(client, scene, key=f"guess-{n}").status_code for n in range(4)]
        assert statuses == [403, 403, 403, 429]
        refused = post(client, scene)  # even the right key waits
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        check("errors", "json", refused)
    finally:
        app.config["AUTH_FAILURE_LIMIT"] = limit


def test_a_key_that_posts_too_often_gets_429_and_another_key_does_not(client, scene, app):
    app.config["OPEN311_POSTS_PER_MINUTE"], limit = 2, app.config["OPEN311_POSTS_PER_MINUTE"]
    try:
        assert [post(client, scene).status_code for _ in range(3)] == [201, 201, 429]
        app.config["TEST_NOW"] = NOW + timedelta(seconds=61)
        assert post(client, scene).status_code == 201
    finally:
        app.config["OPEN311_POSTS_PER_MINUTE"] = limit


def test_reads_are_limited_per_address(client, scene, app):
    app.config["OPEN311_READS_PER_MINUTE"], limit = 2, app.config["OPEN311_READS_PER_MINUTE"]
    try:
        assert [client.get(f"{BASE}/services.json").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        app.config["OPEN311_READS_PER_MINUTE"] = limit


@pytest.mark.parametrize(("fields", "words"), [
    ({"description": "bell\x07"}, "control characters"),
    ({"first_name": "\x1b[31m"}, "control characters"),
    ({"description": "x" * 4001}, "at most 4000"),
    ({"media_url": "http://192.168.1.1/cam.jpg"}, "private or reserved"),
    ({"media_url": "file:///etc/passwd"}, "http or https"),
    ({"phone": "call me"}, "contact_phone"),
    ({"email": "nobody"}, "contact_email"),
    ({"lat": "north", "long": "118"}, "lat"),
    ({"lat": "nan", "long": "118"}, "lat"),
    ({"lat": None, "long": None}, "lat and long, or address_string"),
    ({"lat": None, "long": None, "address_string": "火星基地"}, "not a known place"),
    ({"service_code": "shopfront"}, "no service"),
    ({"service_code": None}, "service_code"),
    ({"attribute[when]": None}, "attribute[when]"),
    ({"attribute[when]": "midnight"}, "attribute[when]"),
    ({"attribute[stall_count]": "many"}, "attribute[stall_count]"),
    ({"attribute[colour]": "red"}, "attribute[colour]"),
    ({"nickname": "x"}, "unknown fields: nickname"),
])
def test_bad_fields_are_refused_with_400_and_nothing_is_written(client, scene, fields, words):
    response = post(client, scene, **fields)
    assert response.status_code in (400, 404), response.data
    check("errors", "json", response)
    assert words in response.json[0]["description"]
    assert count_problems() == 0


def test_an_address_string_naming_a_known_point_places_the_report_there(client, scene):
    response = post(client, scene, lat=None, long=None, address_string="东关路 1 号")
    assert response.status_code == 201
    assert db.session.scalars(select(Problem.point_id)).one() == scene.points["market"].id


def test_a_public_link_is_kept_and_shown_never_fetched(client, scene):
    post(client, scene, media_url="https://img.example.com/1.jpg")
    code = db.session.scalars(select(Problem.code)).one()
    assert client.get(f"{BASE}/requests/{code}.json").json[0]["media_url"] == "https://img.example.com/1.jpg"


def test_bodies_are_form_encoded_and_small(client, scene, app):
    response = client.post(f"{BASE}/requests.json", json={"api_key": scene.open311_key})
    assert response.status_code == 415
    check("errors", "json", response)
    big = client.post(f"{BASE}/requests.json", data={"api_key": scene.open311_key, "description": "x" * 70_000})
    assert big.status_code == 413
    check("errors", "json", big)
    assert count_problems() == 0


def test_a_field_given_twice_is_refused(client, scene):
    response = client.post(f"{BASE}/requests.json", data={"api_key": scene.open311_key,
                                                          "service_code": ["hawker", "graffiti"]})
    assert response.status_code == 400


def test_requests_default_to_the_last_90_days_and_refuse_a_longer_span(client, scene, app):
    post(client, scene)
    app.config["TEST_NOW"] = NOW + timedelta(days=91)
    assert client.get(f"{BASE}/requests.json").json == []
    old = client.get(f"{BASE}/requests.json?start_date=2026-11-01T00:00:00Z&end_date=2026-12-01T00:00:00Z").json
    assert len(old) == 1
    too_long = client.get(f"{BASE}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z")
    assert too_long.status_code == 400
    check("errors", "json", too_long)
    naive = client.get(f"{BASE}/requests.json?start_date=2026-11-01T00:00:00")
    assert naive.status_code == 400


def test_requests_filter_by_status_and_service_code_and_ids_override_the_rest(client, scene):
    post(client, scene)
    post(client, scene, service_code="graffiti", **{"attribute[when]": None})
    codes = dict(db.session.execute(select(Problem.code, Problem.category_id)).all())
    assert len(client.get(f"{BASE}/requests.json?service_code=graffiti").json) == 1
    assert len(client.get(f"{BASE}/requests.json?status=open").json) == 2
    assert client.get(f"{BASE}/requests.json?status=closed").json == []
    assert client.get(f"{BASE}/requests.json?status=pending").status_code == 400
    both = ",".join(codes)
    assert len(client.get(f"{BASE}/requests.json?service_request_id={both}&status=closed").json) == 2


def test_unknown_parameters_and_formats_are_refused(client, scene):
    assert client.get(f"{BASE}/requests.json?stauts=open").status_code == 400
    assert client.get(f"{BASE}/services.yaml").status_code == 404
    assert client.get(f"{BASE}/requests/NOPE.xml").status_code == 404
    check("errors", "xml", client.get(f"{BASE}/requests/NOPE.xml"))


def test_an_officers_problem_of_a_public_category_shows_no_staff_text(client, scene):
    problem = scene.report(description="店主李四电话13900001111")
    text = client.get(f"{BASE}/requests/{problem.code}.json").get_data(as_text=True)
    assert "13900001111" not in text and "李四" not in text


def test_a_problem_of_a_private_category_does_not_exist_for_open311(client, scene):
    problem = scene.report(category="shopfront")
    assert client.get(f"{BASE}/requests/{problem.code}.json").status_code == 404


def test_a_revoked_key_stops_posting_at_once(client, scene):
    assert post(client, scene).status_code == 201
    response = client.delete(f"/api/v1/open311-keys/{scene.open311_row.id}", headers=scene.auth("admin"))
    assert response.status_code == 204
    assert post(client, scene).status_code == 403


def test_admins_manage_keys_and_see_the_key_once(client, scene):
    created = client.post("/api/v1/open311-keys", json={"name": "街道小程序"}, headers=scene.auth("admin"))
    assert created.status_code == 201 and len(created.json["api_key"]) > 30
    listed = client.get("/api/v1/open311-keys", headers=scene.auth("admin")).json["items"]
    assert [k["name"] for k in listed] == ["city app", "old app", "街道小程序"]
    assert all("api_key" not in k for k in listed)
    assert [k["status"] for k in listed] == ["active", "revoked", "active"]
    stored = db.session.scalars(select(Open311Key.key_hash)).all()
    assert created.json["api_key"] not in stored
    for role in ("supervisor", "officer", "handler", "hotline"):
        assert client.get("/api/v1/open311-keys", headers=scene.auth(role)).status_code == 403


def test_an_open311_account_never_gets_a_bearer_token(client, scene):
    response = client.post(f"/api/v1/users/{scene.open311_row.user_id}/tokens", json={"label": "x"},
                           headers=scene.auth("admin"))
    assert response.status_code == 422
