"""The organisation and the calendar through the admin API: create, validate, refuse non-admins, page."""

from datetime import date

import pytest
from sqlalchemy import delete

from models.base import db
from models.calendar import CalendarDay, DaySource

LIMITS = {"dispatch": {"minutes": 30, "clock": "natural"}, "rectify": {"minutes": 480, "clock": "working"}}




def post(client, world, path, body, by="admin"):
    return client.post(f"/api/v1/{path}", json=body, headers=world.auth(by))


def assert_422(response, field):
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json


# --- units -----------------------------------------------------------------------------------

def test_a_unit_joins_the_tree_under_its_parent_and_inherits_its_timezone(client, world):
    root = post(client, world, "units", {"name": "喀什市", "kind": "district", "timezone": "Asia/Urumqi"})
    assert root.status_code == 201, root.json
    child = post(client, world, "units", {"name": "东湖街道", "kind": "subdistrict", "parent_id": root.json["id"]})
    assert child.status_code == 201, child.json
    assert child.json["parent_id"] == root.json["id"] and child.json["timezone"] == "Asia/Urumqi"
    read = client.get(f"/api/v1/units/{child.json['id']}", headers=world.auth("admin"))
    assert read.json == child.json


def test_a_unit_without_timezone_or_parent_gets_the_default_timezone(client, world):
    response = post(client, world, "units", {"name": "新区", "kind": "district"})
    assert response.status_code == 201 and response.json["timezone"] == "Asia/Shanghai"


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "新区", "kind": "district", "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "新区", "kind": "district", "timezone": "+08:00"}, "timezone"),
    ({"name": "新区", "kind": "galaxy"}, "kind"),
    ({"name": "新区", "kind": "district", "parent_id": 999999}, "parent_id"),
    ({"name": "", "kind": "district"}, "name"),
    ({"kind": "district"}, "name"),
], ids=["unknown timezone", "offset for timezone", "unknown kind", "unknown parent", "empty name", "no name"])
def test_a_bad_unit_is_422(client, world, body, field):
    assert_422(post(client, world, "units", body), field)


# --- users -----------------------------------------------------------------------------------

def test_a_new_user_gets_a_token_once_and_it_works_for_me(client, world):
    created = post(client, world, "users", {"name": "新督办", "role": "supervisor", "unit_id": world.units["east"].id})
    assert created.status_code == 201, created.json
    user = created.json
    token = user.pop("token")
    assert isinstance(token, str) and len(token) >= 32
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json == user
    assert me.json["role"] == "supervisor" and me.json["role_label"] == "值班长"
    listed = client.get("/api/v1/users", query_string={"limit": 200}, headers=world.auth("admin")).json["items"]
    assert all("token" not in user for user in listed)


def test_an_officer_is_created_with_their_grids(client, world):
    grids = [world.grids["east"].id, world.grids["west"].id]
    created = post(client, world, "users", {"name": "新巡查", "role": "officer", "unit_id": world.units["east"].id,
                                            "grid_ids": grids})
    assert created.status_code == 201, created.json
    assert sorted(created.json["grid_ids"]) == sorted(grids)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "无单位", "role": "officer"}, "unit_id"),
    ({"name": "无单位", "role": "handler", "unit_id": None}, "unit_id"),
    ({"name": "坏角色", "role": "mayor", "unit_id": 1}, "role"),
    ({"name": "坏网格", "role": "officer", "unit_id": 1, "grid_ids": [999999]}, "grid_ids"),
    ({"name": "字符串单位", "role": "handler", "unit_id": "1"}, "unit_id"),
], ids=["officer without unit", "handler with null unit", "unknown role", "unknown grid", "string unit_id"])
def test_a_bad_user_is_422(client, world, body, field):
    assert_422(post(client, world, "users", body), field)


def test_an_admin_needs_no_unit(client, world):
    assert post(client, world, "users", {"name": "第二管理员", "role": "admin"}).status_code == 201


# --- grids, points, categories ---------------------------------------------------------------

def test_a_grid_is_created_for_a_unit(client, world):
    response = post(client, world, "grids", {"name": "东关第二网格", "unit_id": world.units["east"].id})
    assert response.status_code == 201, response.json
    assert response.json["unit_id"] == world.units["east"].id


def test_a_point_is_created_with_its_coordinates(client, world):
    body = {"name": "解放路口", "grid_id": world.grids["east"].id, "lat": 35.06, "lng": 118.35, "address": "解放路"}
    response = post(client, world, "points", body)
    assert response.status_code == 201, response.json
    assert (response.json["lat"], response.json["lng"]) == (35.06, 118.35)


@pytest.mark.parametrize(("coords", "field"), [
    ({"lat": 91, "lng": 118.35}, "lat"),
    ({"lat": -90.5, "lng": 118.35}, "lat"),
    ({"lat": 35.06, "lng": -181}, "lng"),
    ({"lat": "35.06", "lng": 118.35}, "lat"),
    ({"lat": True, "lng": 118.35}, "lat"),
    ({"lng": 118.35}, "lat"),
], ids=["lat 91", "lat -90.5", "lng -181", "lat as string", "lat as boolean", "no lat"])
def test_a_point_with_bad_coordinates_is_422(client, world, coords, field):
    body = {"name": "解放路口", "grid_id": world.grids["east"].id} | coords
    assert_422(post(client, world, "points", body), field)


def test_a_category_keeps_its_limits_per_stage_and_clock(client, world):
    body = {"code": "gas", "name": "燃气安全隐患", "name_en": "Gas hazard", "limits": LIMITS}
    created = post(client, world, "categories", body)
    assert created.status_code == 201, created.json
    assert created.json["limits"] == LIMITS and created.json["name"] == "燃气安全隐患"
    child = post(client, world, "categories", {"code": "gas.bottle", "name": "瓶装燃气", "parent_code": "gas"})
    assert child.status_code == 201 and child.json["parent_code"] == "gas"


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "hawker", "name": "重复"}, "code"),
    ({"code": "gas", "name": "燃气", "parent_code": "nothing"}, "parent_code"),
    ({"code": "gas", "name": "燃气", "limits": {"dispatch": {"minutes": 30, "clock": "lunar"}}}, "limits"),
    ({"code": "gas", "name": "燃气", "limits": {"lunch": {"minutes": 30, "clock": "natural"}}}, "limits"),
    ({"code": "gas", "name": "燃气", "limits": {"dispatch": {"minutes": 0, "clock": "natural"}}}, "limits"),
    ({"code": "gas", "name": "燃气", "limits": {"dispatch": {"minutes": 1.5, "clock": "natural"}}}, "limits"),
    ({"code": "Gas Safety", "name": "燃气"}, "code"),
], ids=["duplicate code", "unknown parent", "unknown clock", "unknown stage", "zero minutes", "fractional minutes",
        "code with blanks"])
def test_a_bad_category_is_422(client, world, body, field):
    assert_422(post(client, world, "categories", body), field)


# --- who may ---------------------------------------------------------------------------------

def admin_bodies(world):
    return {
        "units": {"name": "新社区", "kind": "community", "parent_id": world.units["east"].id},
        "users": {"name": "新队员", "role": "handler", "unit_id": world.units["squad"].id},
        "grids": {"name": "新网格", "unit_id": world.units["east"].id},
        "points": {"name": "新点位", "grid_id": world.grids["east"].id, "lat": 35.0, "lng": 118.0},
        "categories": {"code": "graffiti", "name": "乱涂乱画"},
    }


@pytest.mark.parametrize(("path", "by"), [
    (path, by) for path in ("units", "users", "grids", "points", "categories")
    for by in ("supervisor", "officer", "handler")
    if (path, by) != ("users", "supervisor")  # supervisors add the people of their subtree (tests/api/test_roster.py)
])
def test_only_an_admin_may_change_the_organisation(client, world, path, by):
    response = post(client, world, path, admin_bodies(world)[path], by=by)
    assert response.status_code == 403, response.json
    assert response.json["type"] == "/errors/forbidden"
    assert post(client, world, path, admin_bodies(world)[path]).status_code == 201


@pytest.mark.parametrize(("path", "total"), [("units", 5), ("users", 10), ("grids", 2), ("points", 2),
                                             ("categories", 2)])
def test_reference_lists_walk_in_keyset_pages(client, world, path, total):
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(f"/api/v1/{path}", query_string=query, headers=world.auth("admin"))
        assert response.status_code == 200, response.json
        seen += [item["id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == total and seen == sorted(set(seen))


@pytest.mark.parametrize("by", ["officer", "handler"])
def test_users_are_listed_for_admins_and_supervisors_only(client, world, by):
    assert client.get("/api/v1/users", headers=world.auth("supervisor")).status_code == 200
    assert client.get("/api/v1/users", headers=world.auth(by)).status_code == 403


# --- calendar --------------------------------------------------------------------------------

def days_of(client, world, year):
    response = client.get("/api/v1/calendar", query_string={"year": year}, headers=world.auth("officer"))
    assert response.status_code == 200, response.json
    return {day["day"]: day for day in response.json["days"]}


def test_the_calendar_lists_national_day_and_its_make_up_workday(client, world):
    days = days_of(client, world, 2026)
    assert days["2026-10-01"]["workday"] is False and days["2026-10-01"]["source"] == "official"
    assert days["2026-10-10"]["workday"] is True and days["2026-10-10"]["source"] == "official"


@pytest.mark.parametrize("query", [{}, {"year": "soon"}, {"year": "1999"}, {"year": "2026", "month": "10"}],
                         ids=["no year", "word", "too early", "unknown parameter"])
def test_a_calendar_query_without_a_sensible_year_is_422(client, world, query):
    response = client.get("/api/v1/calendar", query_string=query, headers=world.auth("officer"))
    assert response.status_code == 422


@pytest.fixture
def admin_days(app):
    """Calendar rows survive the per-test cleanup: remove what an admin set here."""
    yield
    with app.app_context():
        db.session.execute(delete(CalendarDay).where(CalendarDay.source == DaySource.ADMIN,
                                                     CalendarDay.day >= date(2026, 12, 1)))
        db.session.commit()


def test_an_admin_overrides_a_day_with_source_admin(client, world, admin_days):
    body = {"days": [{"day": "2026-12-30", "workday": False, "name": "区庆"}]}
    response = client.post("/api/v1/calendar/days", json=body, headers=world.auth("admin"))
    assert response.status_code == 200, response.json
    override = {"day": "2026-12-30", "workday": False, "name": "区庆", "source": "admin"}
    assert override in response.json["days"]
    assert days_of(client, world, 2026)["2026-12-30"] == override


@pytest.mark.parametrize("by", ["supervisor", "officer", "handler"])
def test_only_an_admin_overrides_calendar_days(client, world, admin_days, by):
    body = {"days": [{"day": "2026-12-30", "workday": False, "name": "区庆"}]}
    response = client.post("/api/v1/calendar/days", json=body, headers=world.auth(by))
    assert response.status_code == 403 and response.json["type"] == "/errors/forbidden"
    assert "2026-12-30" not in days_of(client, world, 2026)
