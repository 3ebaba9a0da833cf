"""The roster's admin pages through the test client: who opens them, creations, edits under the version,
retiring and what moved, temporary passwords, the import — and every refusal a page, nothing written."""

import io

import pytest
from openpyxl import load_workbook

from models import ApiToken, Category, Grid, Point, Problem, User
from models.base import db
from tests.api.test_evidence import photo, upload
from tests.console.helpers import post, sign_in
from workflow.roster import imports


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def person(world, key: str) -> User:
    db.session.commit()
    return db.session.get(User, world.users[key].id)


@pytest.mark.parametrize("key", ["handler", "officer"])
def test_officers_and_handlers_open_no_admin_page_and_see_no_link(client, world, key):
    sign_in(client, world, key)
    assert "nav-roster" not in page(client, "/console/dashboard")
    for path in ("/console/admin/people", "/console/admin/grids", "/console/admin/people/new",
                 f"/console/admin/people/{world.users['officer'].id}", "/console/admin/import"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "您没有权限" in response.get_data(as_text=True)


def test_a_supervisor_manages_people_only_and_the_nav_says_so(client, world):
    sign_in(client, world, "east_supervisor")
    assert "nav-roster" in page(client, "/console/dashboard")
    text = page(client, "/console/admin/people")
    assert "officer2" in text and "west_officer" not in text  # the subtree, as GET /users
    assert "/console/admin/grids" not in text  # no link to what is admin-only
    for path in ("/console/admin/grids", "/console/admin/points/new", "/console/admin/categories",
                 f"/console/admin/grids/{world.grids['east'].id}", "/console/admin/import",
                 "/console/admin/import/template"):
        assert client.get(path).status_code == 403, path
    assert client.get(f"/console/admin/people/{world.users['west_officer'].id}").status_code == 404


def test_the_people_list_filters_by_role_unit_and_active_and_pages_by_keyset(client, world, monkeypatch):
    sign_in(client, world, "admin")
    text = page(client, f"/console/admin/people?role=officer&unit_id={world.units['east'].id}")
    assert "officer2" in text and "handler2" not in text and "west_officer" not in text
    text = page(client, "/console/admin/people?role=handler&active=false")
    assert "handler2" not in text and "没有记录" in text
    response = client.get("/console/admin/people?role=boss&unit_id=x")
    assert response.status_code == 422 and "filter-error" in response.get_data(as_text=True)
    monkeypatch.setattr("console.admin.PAGE_SIZE", 4)
    assert "next-page" not in page(client, "/console/admin/people?role=officer&active=all")
    first = page(client, "/console/admin/people")
    link = first.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
    second = page(client, link)
    assert "officer2" in second and "officer2" not in first


def test_an_admin_creates_a_grid_and_a_point_and_a_refused_form_writes_nothing(client, world):
    sign_in(client, world, "admin")
    response = post(client, "/console/admin/grids/new", {"name": "南关网格", "unit_id": world.units["west"].id,
                                                         "code": "G-S1"})
    assert response.status_code == 303
    grid = db.session.query(Grid).filter_by(code="G-S1").one()
    assert grid.unit_id == world.units["west"].id
    refused = post(client, "/console/admin/points/new", {"name": "南关路口", "grid_id": grid.id, "lat": "95",
                                                         "lng": "118.3"}, page="/console/admin/points/new")
    assert refused.status_code == 422
    assert 'id="error-lat"' in refused.get_data(as_text=True)
    assert db.session.query(Point).filter_by(name="南关路口").count() == 0
    response = post(client, "/console/admin/points/new", {"name": "南关路口", "grid_id": grid.id, "lat": "35.05",
                                                          "lng": "118.3", "address": "南关路"})
    assert response.status_code == 303
    point = db.session.query(Point).filter_by(name="南关路口").one()
    assert (point.grid_id, point.lat) == (grid.id, 35.05)
    assert "南关路口" in page(client, f"/console/admin/points?grid_id={grid.id}")
    taken = post(client, "/console/admin/grids/new", {"name": "again", "unit_id": world.units["west"].id,
                                                      "code": "G-S1"})
    assert taken.status_code == 409 and 'id="error-code"' in taken.get_data(as_text=True)


def test_a_category_is_created_with_its_limits_and_edited(client, world):
    sign_in(client, world, "admin")
    response = post(client, "/console/admin/categories/new", {
        "code": "graffiti", "name": "乱涂乱画", "requires_after_photo": "true",
        "limits-dispatch-minutes": "60", "limits-dispatch-clock": "natural",
        "limits-rectify-minutes": "2880", "limits-rectify-clock": "working"})
    assert response.status_code == 303
    category = db.session.query(Category).filter_by(code="graffiti").one()
    assert category.requires_after_photo and not category.pause_on_extension
    assert category.limits["rectify"] == {"minutes": 2880, "clock": "working"}
    path = f"/console/admin/categories/{category.id}"
    form = {"form": "edit", "version": category.version, "name": "乱涂乱画（小广告）", "requires_after_photo": "false",
            "requires_verification_photo": "false", "pause_on_extension": "false",
            "limits-dispatch-minutes": "30", "limits-dispatch-clock": "natural"}
    assert post(client, path, form).status_code == 303
    db.session.commit()
    category = db.session.get(Category, category.id)
    assert category.name == "乱涂乱画（小广告）" and not category.requires_after_photo
    assert category.limits == {"dispatch": {"minutes": 30, "clock": "natural"}}
    bad = post(client, path, form | {"version": category.version, "limits-dispatch-clock": "sundial"})
    assert bad.status_code == 422


def _edit(client, world, key: str, version: int, **fields):
    user = person(world, key)
    form = {"form": "edit", "version": version, "name": user.name, "role": user.role, "unit_id": user.unit_id,
            "phone": "", "employee_no": ""} | fields
    return post(client, f"/console/admin/people/{user.id}", form)


def test_a_persons_unit_is_edited_and_a_stale_page_is_told_someone_saved_first(client, world):
    sign_in(client, world, "admin")
    version = person(world, "handler2").version
    response = _edit(client, world, "handler2", version, unit_id=world.units["sanitation"].id)
    assert response.status_code == 303
    assert person(world, "handler2").unit_id == world.units["sanitation"].id
    stale = _edit(client, world, "handler2", version, unit_id=world.units["squad"].id)
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "其他人已先操作" in text and f'name="version" value="{version + 1}"' in text
    assert person(world, "handler2").unit_id == world.units["sanitation"].id
    assert _edit(client, world, "handler2", -5).status_code == 409  # a forged version is stale too


def test_a_refused_person_edit_is_a_page_and_changes_nothing(client, world):
    sign_in(client, world, "east_supervisor")
    officer = person(world, "officer")
    response = _edit(client, world, "officer", officer.version, role="admin")
    assert response.status_code == 403 and "无权" in response.get_data(as_text=True)
    response = _edit(client, world, "officer", officer.version, phone="not a phone")
    assert response.status_code == 422 and 'id="error-phone"' in response.get_data(as_text=True)
    # A handler of another unit is visible (dispatch picks them) but not theirs to change.
    outsider = world.users["sanitation_handler"].id
    assert 'id="view-only"' in page(client, f"/console/admin/people/{outsider}")
    response = _edit(client, world, "sanitation_handler", 1, name="renamed")
    assert response.status_code == 403
    assert person(world, "sanitation_handler").name == "sanitation_handler"
    assert person(world, "officer").role == "officer"
    own = page(client, f"/console/admin/people/{world.users['east_supervisor'].id}")
    assert 'id="active-form"' not in own  # nobody retires themselves: not even a button
    response = post(client, f"/console/admin/people/{world.users['east_supervisor'].id}",
                    {"form": "active", "active": "false", "version": 1},
                    page=f"/console/admin/people/{world.users['officer'].id}")
    assert response.status_code == 403 and person(world, "east_supervisor").active


def test_retiring_a_handler_says_what_moved_and_reactivating_shows_a_token_once(app, client, world):
    problem = world.report()
    world.act(problem, "assign", by="supervisor", unit_id=world.units["squad"].id,
              handler_id=world.users["handler"].id)
    sign_in(client, world, "admin")
    path = f"/console/admin/people/{world.users['handler'].id}"
    response = post(client, path, {"form": "active", "active": "false", "version": person(world, "handler").version,
                                   "reason": "调离"})
    assert response.status_code == 303
    text = page(client, path)
    assert "已停用" in text and f"#{problem.id}" in text and "吊销令牌 1 个" in text
    assert db.session.get(Problem, problem.id).handler_id is None
    assert not person(world, "handler").active
    response = post(client, path, {"form": "active", "active": "true", "version": person(world, "handler").version})
    assert response.status_code == 200
    token = response.get_data(as_text=True).split('<code id="token">')[1].split("<")[0]
    assert db.session.query(ApiToken).filter_by(user_id=world.users["handler"].id, revoked_at=None).count() == 1
    assert len(token) > 20


def test_a_new_person_gets_a_login_and_a_token_shown_once(client, world):
    sign_in(client, world, "east_supervisor")
    response = post(client, "/console/admin/people/new", {
        "name": "新巡查员", "login": "E2001", "role": "officer", "unit_id": world.units["east"].id,
        "grid_ids": [world.grids["east"].id], "phone": "13800000001"})
    assert response.status_code == 201 and '<code id="token">' in response.get_data(as_text=True)
    created = db.session.query(User).filter_by(login="E2001").one()
    assert created.grid_ids == [world.grids["east"].id] and created.unit_id == world.units["east"].id
    response = post(client, "/console/admin/people/new", {"name": "越权", "role": "supervisor",
                                                           "unit_id": world.units["east"].id})
    assert response.status_code == 403 and db.session.query(User).filter_by(name="越权").count() == 0


def test_only_an_admin_sets_a_temporary_password(client, world):
    path = f"/console/admin/people/{world.users['officer'].id}/password"
    sign_in(client, world, "east_supervisor")
    form = {"password": "temporary secret", "confirm": "temporary secret"}
    assert post(client, path, form, page="/console/admin/people").status_code == 403
    other = type(client)(client.application, client.application.response_class, use_cookies=True)
    sign_in(other, world, "admin")
    item = f"/console/admin/people/{world.users['officer'].id}"
    assert post(other, path, form | {"confirm": "something else"}, page=item).status_code == 422
    assert post(other, path, {"password": "short", "confirm": "short"}, page=item).status_code == 422
    assert person(world, "officer").password_hash is None
    assert post(other, path, form, page=item).status_code == 303
    officer = person(world, "officer")
    assert officer.password_temporary and officer.password_hash


def test_an_admin_form_without_its_csrf_token_is_refused(client, world):
    sign_in(client, world, "admin")
    response = client.post("/console/admin/grids/new", data={"name": "x", "unit_id": world.units["east"].id})
    assert response.status_code == 400
    assert db.session.query(Grid).filter_by(name="x").count() == 0


def _roster_csv(lines: list[str]) -> bytes:
    return ("\n".join(["类别,unit_code,name,kind,code,grid_code,lat,lng,role,phone", *lines]) + "\n").encode()


def test_the_import_checks_first_then_applies_and_refuses_a_bad_file_whole(client, world):
    sign_in(client, world, "admin")
    good = _roster_csv(["units,U-9,南关社区,community,,,,,,", "grids,U-9,南关网格,,G-9,,,,,"])
    template = client.get("/console/admin/import/template")
    assert template.status_code == 200 and load_workbook(io.BytesIO(template.data)).sheetnames
    checked = post(client, "/console/admin/import", {"file": (io.BytesIO(good), "roster.csv"), "apply": "0"})
    assert checked.status_code == 200 and "检查通过" in checked.get_data(as_text=True)
    assert db.session.query(Grid).filter_by(code="G-9").count() == 0
    applied = post(client, "/console/admin/import", {"file": (io.BytesIO(good), "roster.csv"), "apply": "1"})
    assert applied.status_code == 200 and "已导入" in applied.get_data(as_text=True)
    assert db.session.query(Grid).filter_by(code="G-9").count() == 1
    bad = _roster_csv(["points,,南关路口,,P-9,G-9,north,118.3,,"])
    refused = post(client, "/console/admin/import", {"file": (io.BytesIO(bad), "bad.csv"), "apply": "1"})
    assert refused.status_code == 422 and "points[2].lat" in refused.get_data(as_text=True)
    assert db.session.query(Point).filter_by(code="P-9").count() == 0
    empty = post(client, "/console/admin/import", {"apply": "1"})
    assert empty.status_code == 422
    assert imports.MAX_BYTES  # the same limit as the API's


def test_the_problem_page_shows_photo_flags_as_words(client, world):
    problem = world.report()
    assert upload(client, world, problem.id, photo(taken=None, gps=None), kind="before",
                  by="officer").status_code == 201
    sign_in(client, world, "supervisor")
    text = page(client, f"/console/problems/{problem.id}")
    assert "无拍摄时间" in text and "no_exif_time" not in text


def test_a_login_is_edited_on_the_persons_page_and_a_taken_one_is_named(client, world):
    sign_in(client, world, "admin")  # the admin's own login is "admin"
    version = person(world, "handler2").version
    assert _edit(client, world, "handler2", version, login="H-2").status_code == 303
    assert person(world, "handler2").login == "H-2"
    taken = _edit(client, world, "handler2", version + 1, login="ADMIN")
    assert taken.status_code == 422 and 'id="error-login"' in taken.get_data(as_text=True)
    assert person(world, "handler2").login == "H-2"


def test_a_grid_with_active_points_is_not_retired_and_the_page_says_why(client, world):
    sign_in(client, world, "admin")
    grid = world.grids["east"]
    response = post(client, f"/console/admin/grids/{grid.id}", {"form": "active", "active": "false",
                                                                "version": grid.version})
    assert response.status_code == 409 and 'id="error-active"' in response.get_data(as_text=True)
    db.session.commit()
    assert db.session.get(Grid, grid.id).active


@pytest.mark.parametrize("query", ["cursor=not-ours", "active=maybe", "unit_id=99999999999", "grid_id=-1"])
def test_a_hostile_list_query_is_a_page_not_a_500(client, world, query):
    sign_in(client, world, "admin")
    kind = "points" if "grid" in query else "people"
    response = client.get(f"/console/admin/{kind}?{query}")
    assert response.status_code == 422


def test_hostile_form_values_are_refused_by_the_apis_schema(client, world):
    sign_in(client, world, "admin")
    for fields in ({"name": "a\x00b"}, {"name": "x" * 300}, {"unit_id": "1e9"}, {"unit_id": "99999999999"}):
        response = post(client, "/console/admin/grids/new", {"name": "ok", "unit_id": world.units["east"].id}
                        | fields)
        assert response.status_code == 422, fields
    assert db.session.query(Grid).count() == 2
    assert client.get("/console/admin/grids/99999999999").status_code == 404
