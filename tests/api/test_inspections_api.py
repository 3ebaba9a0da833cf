"""The gas-safety ledger's contract: shapes, refusals that name the field (items[3].value), template versions,
the printable order, item photos, and contact phones that never reach those who may not see them."""

import io

import pytest
from openpyxl import load_workbook

from models import Problem
from models.base import db
from tests.api.helpers import assert_problem_json
from tests.gas import PHOTO, build_gas, passing, valid_code
from workflow.inspections import inspections

PHONE = "13800000001"  # the first restaurant's contact


@pytest.fixture
def gas(world):
    return build_gas(world, count=2)


def call(client, world, who: str, method: str, path: str, **options):
    headers = world.auth(who, **options.pop("headers", {}))
    return client.open(f"/api/v1{path}", method=method, headers=headers, **options)


def inspection_body(gas, **changes) -> dict:
    return {"party_id": gas.restaurants[0].id, "template_code": "gas_safety",
            "results": passing(cylinder_storage="na", leak_alarm="na", **changes)}


# --- parties ---------------------------------------------------------------------------------------

def test_a_credit_code_with_a_wrong_check_character_is_422(client, world, gas):
    body = {"name": "错码餐馆", "kind": "restaurant", "point_id": world.points["market"].id,
            "credit_code": "91350100M000100Y44"}
    response = call(client, world, "east_supervisor", "POST", "/parties", json=body)
    assert_problem_json(response, 422, "validation")
    assert list(response.json["errors"]) == ["credit_code"] and "check character" in response.json["errors"][
        "credit_code"][0]
    patch = call(client, world, "east_supervisor", "PATCH", f"/parties/{gas.restaurants[0].id}",
                 json={"credit_code": "91350100M000100Y44"}, headers={"If-Match": '"1"'})
    assert_problem_json(patch, 422, "validation")
    good = call(client, world, "east_supervisor", "POST", "/parties", json=body | {"credit_code": "91350100M000100Y43"})
    assert good.status_code == 201 and good.headers["ETag"] == '"1"'
    assert good.json["credit_code"] == "91350100M000100Y43" and good.json["kind_label"] == "餐饮店"


def test_a_party_edit_needs_if_match_and_the_current_version(client, world, gas):
    path = f"/parties/{gas.restaurants[0].id}"
    assert_problem_json(call(client, world, "east_supervisor", "PATCH", path, json={"status": "moved"}), 428)
    assert_problem_json(call(client, world, "east_supervisor", "PATCH", path, json={"status": "moved"},
                             headers={"If-Match": '"7"'}), 412, "stale-version")
    moved = call(client, world, "east_supervisor", "PATCH", path, json={"status": "moved"}, headers={"If-Match": '"1"'})
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"' and moved.json["status_label"] == "已迁离"
    assert_problem_json(call(client, world, "east_supervisor", "PATCH", path, json={}, headers={"If-Match": '"2"'}),
                        422)


def test_a_party_page_shows_its_history_and_its_trail(client, world, gas):
    gas.inspect(gas.restaurants[0], passing(hose_type="rubber"))
    party = call(client, world, "east_supervisor", "GET", f"/parties/{gas.restaurants[0].id}").json
    history = party["history"]
    assert [p["state_label"] for p in history["problems"]] == ["待派遣"]
    assert [i["outcome"] for i in history["inspections"]] == ["rectify"]
    assert [o["number"] for o in history["orders"]] == ["east责改字〔2026〕第0001号"]
    assert [(s["action"], s["to_step"]) for s in history["steps"]] == [("step_up", "order")]
    trail = call(client, world, "east_supervisor", "GET", f"/parties/{gas.restaurants[0].id}/events").json["items"]
    assert [e["action"] for e in trail] == ["register", "inspect", "step_up", "order"]
    assert trail[1]["prev_hash"] == trail[0]["hash"] and trail[0]["prev_hash"] == "0" * 64
    listed = call(client, world, "officer", "GET", "/parties", query_string={"tag": "bottled_gas",
                                                                             "ladder_step": "order"}).json
    assert [p["id"] for p in listed["items"]] == [gas.restaurants[0].id]


# Every route whose answer carries a party, or could: the contact must not reach an admin, an officer who
# never inspected it, a handler who sees it through a problem, nor a trail or a printed order.
PARTY_ROUTES = [
    ("GET", "/parties", None), ("GET", "/parties/{party}", None), ("GET", "/parties/{party}/events", None),
    ("PATCH", "/parties/{party}", {"address": "东关路 9 号"}),
    ("POST", "/parties/{party}/ladder-steps", {"step": "advice"}),
    ("GET", "/inspections/{inspection}", None), ("GET", "/inspections", None), ("GET", "/orders/{order}", None),
    ("GET", "/orders/{order}/print", None), ("GET", "/problems/{problem}", None),
    ("GET", "/problem-lists/{campaign}/inspection-ledger", None), ("GET", "/problem-lists/{campaign}/coverage", None),
]


@pytest.fixture
def seen(world, gas):
    """The first restaurant inspected by `officer`, its problem assigned to the squad (whose handler sees it)."""
    inspection = gas.inspect(gas.restaurants[0], passing(hose_type="rubber"))
    outcome = inspections.outcome_of(inspection)
    problem = db.session.get(Problem, outcome["problem_ids"][0])
    world.act(problem, "assign", by="east_supervisor", unit_id=world.units["squad"].id)
    return {"party": gas.restaurants[0].id, "inspection": inspection.id, "order": outcome["order"].id,
            "problem": problem.id, "campaign": gas.campaign_id}


def body_text(response) -> str:
    if response.mimetype.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(response.data))
        return "\n".join(str(cell) for row in book.active.iter_rows(values_only=True) for cell in row)
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "body"), PARTY_ROUTES, ids=[f"{m} {p}" for m, p, _ in PARTY_ROUTES])
@pytest.mark.parametrize("who", ["admin", "officer2", "handler", "west_supervisor"])
def test_a_contact_phone_never_reaches_those_who_may_not_see_it(client, world, seen, method, path, body, who):
    headers = {"If-Match": '"1"'} if method == "PATCH" else {}
    response = call(client, world, who, method, path.format(**seen), json=body, headers=headers)
    assert response.status_code < 500
    text = body_text(response)
    assert PHONE not in text and "王老板" not in text


@pytest.mark.parametrize("who", ["east_supervisor", "supervisor", "officer"])
def test_the_partys_supervisors_and_its_inspecting_officer_see_the_contact(client, world, seen, who):
    party = call(client, world, who, "GET", f"/parties/{seen['party']}").json
    assert (party["contact_phone"], party["contact_name"], party["contact_masked"]) == (PHONE, "王老板", False)


def test_an_admin_registering_a_party_gets_the_contact_back_masked(client, world, gas):
    body = {"name": "新店", "kind": "stall", "point_id": world.points["market"].id, "contact_name": "赵六",
            "contact_phone": "13312345678"}
    created = call(client, world, "admin", "POST", "/parties", json=body)
    assert created.status_code == 201 and created.json["contact_phone"] == "133****5678"
    assert "13312345678" not in call(client, world, "admin", "GET", f"/parties/{created.json['id']}/events").get_data(
        as_text=True)


# --- inspections -------------------------------------------------------------------------------------

def test_bad_answers_are_422_naming_the_item(client, world, gas):
    response = call(client, world, "officer", "POST", "/inspections",
                    json=inspection_body(gas, hose_type="steel", regulator_replaced_on="yesterday"))
    assert_problem_json(response, 422, "validation")
    assert response.json["errors"] == {"items[3].value": ["hose_type: one of metal, rubber, other"],
                                       "items[6].value": ["regulator_replaced_on: a date YYYY-MM-DD"]}


@pytest.mark.parametrize(("change", "field"), [
    ({"results": [{"item": "leak_alarm"}]}, "results"),
    ({"results": [{"item": "leak_alarm", "value": "pass", "extra": 1}]}, "results"),
    ({"at": "2026-11-25T10:00:00"}, "at"),
    ({"party_id": "1"}, "party_id"),
    ({"template_code": ""}, "template_code"),
])
def test_malformed_inspections_are_422_before_anything_is_written(client, world, gas, change, field):
    response = call(client, world, "officer", "POST", "/inspections", json=inspection_body(gas) | change)
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"]
    assert call(client, world, "officer", "GET", "/inspections").json["items"] == []


def test_an_inspection_answers_with_its_outcome_problems_and_order_and_a_retry_with_its_client_id(client, world, gas):
    body = inspection_body(gas, hose_type="rubber") | {"client_id": "phone-7", "at": "2026-11-25T09:50:00+08:00"}
    first = call(client, world, "officer", "POST", "/inspections", json=body)
    assert first.status_code == 201 and first.json["outcome"] == "rectify" and first.json["outcome_label"] == "需整改"
    assert first.json["template_code"] == "gas_safety" and first.json["template_version"] == 1
    assert first.json["order"]["number"] == "east责改字〔2026〕第0001号" and len(first.json["problem_ids"]) == 1
    assert first.json["at"] == "2026-11-25T01:50:00+00:00"
    again = call(client, world, "officer", "POST", "/inspections", json=body)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]


def test_templates_list_show_and_change_by_version(client, world, gas):
    listed = call(client, world, "officer", "GET", "/inspection-templates").json["items"]
    assert [(t["code"], t["version"], t["in_use"]) for t in listed] == [("gas_safety", 1, False)]
    item = listed[0]["items"][0]
    assert {"code", "label", "type", "required", "photo_required"} <= set(item)
    items = listed[0]["items"]
    path = "/inspection-templates/gas_safety"
    unused = call(client, world, "admin", "PUT", path, json={"name": "改名", "items": items})
    assert unused.status_code == 200 and unused.json["version"] == 1
    gas.inspect(gas.restaurants[0], passing())
    items[1] = items[1] | {"max": 1}
    used = call(client, world, "admin", "PUT", path, json={"name": "改名", "items": items})
    assert used.status_code == 201 and used.json["version"] == 2
    old = call(client, world, "officer", "GET", "/inspection-templates/gas_safety", query_string={"version": 1}).json
    assert old["items"][1]["max"] == 2 and old["in_use"] is True
    assert_problem_json(call(client, world, "officer", "GET", "/inspection-templates/nope"), 404)


def test_a_template_with_a_senseless_item_is_422_naming_it(client, world, gas):
    body = {"code": "kitchen", "name": "后厨", "items": [
        {"code": "alarm", "label": "报警器", "type": "check", "category": "hawker"},
        {"code": "count", "label": "数量", "type": "number", "min": 5, "max": 1, "category": "hawker"}]}
    response = call(client, world, "admin", "POST", "/inspection-templates", json=body)
    assert_problem_json(response, 422, "validation")
    assert response.json["errors"] == {"items[1].min": ["min is above max"]}


# --- orders, photos, coverage ---------------------------------------------------------------------------

def test_the_printed_order_is_an_escaped_html_page_with_its_own_narrow_policy(client, world, gas):
    call(client, world, "east_supervisor", "PATCH", f"/parties/{gas.restaurants[0].id}",
         json={"name": "<script>alert(1)</script>饭店"}, headers={"If-Match": '"1"'})
    order = gas.inspect(gas.restaurants[0], passing(hose_type="rubber"))
    order_id = inspections.outcome_of(order)["order"].id
    listed = call(client, world, "officer", "GET", "/orders", query_string={"state": "open"}).json["items"]
    assert [o["id"] for o in listed] == [order_id] and listed[0]["print_url"] == f"/api/v1/orders/{order_id}/print"
    page = call(client, world, "officer", "GET", listed[0]["print_url"][len("/api/v1"):])
    text = page.get_data(as_text=True)
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert "style-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "橡胶软管" in text and "整改要求" in text


def test_item_photos_upload_once_and_serve_through_signed_urls(client, world, gas):
    upload = {"file": (io.BytesIO(PHOTO), "p.jpg"), "client_id": "cam-1"}
    first = call(client, world, "officer", "POST", "/inspection-photos", data=upload,
                 content_type="multipart/form-data")
    assert first.status_code == 201 and first.json["content_type"] == "image/jpeg"
    again = call(client, world, "officer", "POST", "/inspection-photos", content_type="multipart/form-data",
                 data={"file": (io.BytesIO(PHOTO), "p.jpg"), "client_id": "cam-1"})
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    not_image = call(client, world, "officer", "POST", "/inspection-photos", content_type="multipart/form-data",
                     data={"file": (io.BytesIO(b"%PDF-1.4 nope"), "p.jpg")})
    assert_problem_json(not_image, 415)
    assert client.get(first.json["url"]).data == PHOTO
    assert_problem_json(client.get(f"/api/v1/inspection-photos/{first.json['id']}/content",
                                   query_string={"exp": 2**32, "sig": "0" * 64}), 403)
    assert_problem_json(call(client, world, "officer2", "GET", f"/inspection-photos/{first.json['id']}"), 404)


def test_coverage_answers_in_its_documented_shape(client, world, gas):
    gas.inspect(gas.restaurants[0], passing())
    response = call(client, world, "east_supervisor", "GET", f"/problem-lists/{gas.campaign_id}/coverage")
    body = response.json
    assert body["totals"] == {"in_scope": 2, "inspected": 1, "passed": 1, "ordered": 0, "rectified": 0,
                              "reinspected_passed": 0, "outstanding": 1}
    assert body["scope"]["tags"] == ["bottled_gas"] and body["by_grid"][0]["name"] == "东关第一网格"
    ledger = call(client, world, "east_supervisor", "GET", f"/problem-lists/{gas.campaign_id}/inspection-ledger")
    assert ledger.status_code == 200 and "attachment" in ledger.headers["Content-Disposition"]
    scope = call(client, world, "east_supervisor", "PUT", f"/problem-lists/{gas.campaign_id}/scope",
                 json={"template_code": "gas_safety", "tags": ["bottled_gas"], "kinds": ["stall"]})
    assert scope.status_code == 200 and scope.json["kinds"] == ["stall"]
    bad = call(client, world, "east_supervisor", "PUT", f"/problem-lists/{gas.campaign_id}/scope",
               json={"template_code": "gas_safety", "grid_ids": [999]})
    assert_problem_json(bad, 422, "validation")
    assert list(bad.json["errors"]) == ["grid_ids"]


def test_the_ladder_is_readable_by_everyone_in_the_callers_language(client, world, gas):
    steps = call(client, world, "handler", "GET", "/ladder-steps", headers={"Accept-Language": "en"}).json["items"]
    assert [(s["code"], s["name"]) for s in steps][:2] == [("advice", "Advice"), ("order", "Order to rectify")]


def test_a_valid_code_helper_agrees_with_the_validator():
    assert valid_code("91350100M000100Y4") == "91350100M000100Y43"
