"""The console through the test client: sign-in and its refusals, sessions, pages, actions and stale forms."""

import re
from datetime import timedelta

import pytest

from models import Problem, User
from models.base import db
from tests.api.test_evidence import photo, upload
from tests.console.helpers import CSRF, PASSWORD, csrf, give_password, post, sign_in
from workflow import passwords
from workflow.problems import reporting


def test_pages_need_a_sign_in_and_send_the_browser_to_the_login(client, world):
    response = client.get("/console/problems?state=reported")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console/problems")


def test_a_wrong_password_an_unknown_login_and_an_inactive_account_are_refused_alike(client, world):
    give_password(world, "supervisor")
    for login, password in (("supervisor", "wrong password!"), ("nobody", PASSWORD)):
        response = client.post("/console/login", data={"login": login, "password": password,
                                                       "csrf_token": csrf(client)})
        assert response.status_code == 401
        assert "登录名或密码错误" in response.get_data(as_text=True)
    db.session.get(User, world.users["supervisor"].id).active = False
    db.session.commit()
    response = client.post("/console/login", data={"login": "supervisor", "password": PASSWORD,
                                                   "csrf_token": csrf(client)})
    assert response.status_code == 401
    assert client.get("/console/dashboard").status_code == 302


def test_sign_in_then_the_dashboard_and_sign_out_ends_the_session(client, world):
    sign_in(client, world, "supervisor")
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    cookie = page.request.headers.get("Cookie", "")
    assert "rectify_console=" in cookie
    response = post(client, "/console/logout", {}, page="/console/dashboard")
    assert response.status_code == 303
    assert client.get("/console/dashboard").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax(client, world):
    give_password(world, "supervisor")
    response = client.post("/console/login", data={"login": "supervisor", "password": PASSWORD,
                                                   "csrf_token": csrf(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie


def test_a_form_without_its_csrf_token_is_refused(client, world):
    give_password(world, "supervisor")
    response = client.post("/console/login", data={"login": "supervisor", "password": PASSWORD})
    assert response.status_code == 400
    sign_in(client, world, "supervisor")
    problem = world.report()
    response = client.post(f"/console/problems/{problem.id}/actions",
                           data={"action": "assign", "unit_id": world.units["squad"].id, "version": 1,
                                 "csrf_token": "forged"})
    assert response.status_code == 400
    assert db.session.get(Problem, problem.id).state == "reported"


def test_failed_sign_ins_are_throttled_like_bad_tokens(app, client, world):
    give_password(world, "supervisor")
    app.config["AUTH_FAILURE_LIMIT"] = 3
    try:
        for _ in range(3):
            client.post("/console/login", data={"login": "supervisor", "password": "wrong password!",
                                                 "csrf_token": csrf(client)})
        response = client.post("/console/login", data={"login": "supervisor", "password": PASSWORD,
                                                       "csrf_token": csrf(client)})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
    finally:
        app.config["AUTH_FAILURE_LIMIT"] = 1_000_000
        app.extensions["rectify_auth_throttle"].clear()


def test_an_idle_session_signs_out(app, client, world):
    sign_in(client, world, "supervisor")
    app.config["TEST_NOW"] = world.now + timedelta(minutes=29)
    assert client.get("/console/dashboard").status_code == 200
    app.config["TEST_NOW"] = world.now + timedelta(minutes=29 + 31)
    response = client.get("/console/dashboard")
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_a_temporary_password_must_be_changed_first(client, world):
    sign_in(client, world, "supervisor", temporary=True)
    assert client.get("/console/dashboard").headers["Location"] == "/console/password"
    response = post(client, "/console/password", {"current_password": PASSWORD, "password": "short",
                                                  "confirm": "short"})
    assert response.status_code == 422
    response = post(client, "/console/password", {"current_password": PASSWORD, "password": "a new long secret",
                                                  "confirm": "a new long secret"})
    assert response.status_code == 303
    assert client.get("/console/dashboard").status_code == 200
    user = db.session.get(User, world.users["supervisor"].id)
    assert not user.password_temporary


def test_a_password_change_ends_the_other_sessions(app, client, world):
    sign_in(client, world, "supervisor")
    other = app.test_client()
    app.config["TEST_NOW"] = later = world.now + timedelta(minutes=5)
    assert client.get("/console/dashboard").status_code == 200
    passwords.set_password(actor=None, now=later, user_id=world.users["supervisor"].id, password="another secret!")
    db.session.commit()
    assert client.get("/console/dashboard").status_code == 302
    response = other.post("/console/login", data={"login": "supervisor", "password": "another secret!",
                                                  "csrf_token": csrf(other)})
    assert response.status_code == 303
    assert other.get("/console/dashboard").status_code == 200


def test_next_never_leaves_the_console(client, world):
    give_password(world, "supervisor")
    for target in ("https://evil.example/", "//evil.example/console/", "/api/v1/me"):
        response = client.post("/console/login", data={"login": "supervisor", "password": PASSWORD,
                                                       "next": target, "csrf_token": csrf(client)})
        assert response.headers["Location"] == "/console/dashboard"


def test_the_dashboard_counts_by_light_and_state_and_lists_what_waits(app, client, world):
    red = world.report()
    world.report(point="night", by="west_officer")
    app.config["TEST_NOW"] = world.now + timedelta(days=30)  # both past their dispatch clock
    sign_in(client, world, "east_supervisor")
    text = client.get("/console/dashboard").get_data(as_text=True)
    assert 'id="tile-red"' in text
    assert '<span class="n">1</span> <span>超期</span>' in text  # the east one only: the west is not in scope
    assert red.code in text and "派遣" in text


def test_the_ledger_filters_and_pages(client, world):
    for _ in range(3):
        world.report()
    closed = world.to_state("closed")
    sign_in(client, world, "supervisor")
    text = client.get("/console/problems?state=closed").get_data(as_text=True)
    assert closed.code in text and len(re.findall(r'href="/console/problems/\d+"', text)) == 1
    bad = client.get("/console/problems?state=nonsense")
    assert bad.status_code == 422
    assert "state" in bad.get_data(as_text=True)


def test_the_export_buttons_answer_files_in_the_sessions_scope(client, world):
    east, west = world.report(), world.report(point="night", by="west_officer")
    sign_in(client, world, "east_supervisor")
    csv = client.get("/console/problems/export?format=csv")
    assert csv.status_code == 200 and csv.content_type.startswith("text/csv")
    assert east.code in csv.get_data(as_text=True) and west.code not in csv.get_data(as_text=True)
    xlsx = client.get("/console/problems/export?format=xlsx&state=reported")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/console/problems/export?format=exe").status_code == 422


def test_the_problem_page_shows_the_trail_both_photos_and_the_allowed_forms(client, world):
    problem = world.to_state("rectifying")
    assert upload(client, world, problem.id, photo(), kind="before", by="officer").status_code == 201
    assert upload(client, world, problem.id, photo(), kind="after").status_code == 201
    sign_in(client, world, "supervisor")
    text = client.get(f"/console/problems/{problem.id}").get_data(as_text=True)
    assert text.count("<img src=\"/api/v1/attachments/") == 2
    assert 'id="photos-before"' in text and 'id="photos-after"' in text
    assert 'id="form-reassign"' in text and 'id="form-close"' not in text
    assert "受理" in text  # the trail: accept


def test_an_action_from_the_page_applies_and_a_stale_form_is_refused(client, world):
    problem = world.report()
    sign_in(client, world, "supervisor")
    page = f"/console/problems/{problem.id}"
    token = CSRF.search(client.get(page).get_data(as_text=True)).group(1)
    form = {"action": "assign", "unit_id": world.units["squad"].id, "version": 1, "csrf_token": token}
    assert client.post(f"{page}/actions", data=form).status_code == 303
    assert db.session.get(Problem, problem.id).state == "assigned"
    again = client.post(f"{page}/actions", data=form)  # the same page, posted again
    assert again.status_code == 409
    assert "其他人已先操作" in again.get_data(as_text=True)
    assert db.session.get(Problem, problem.id).version == 2


def test_an_action_with_a_missing_field_is_named_and_nothing_changes(client, world):
    problem = world.to_state("assigned")
    sign_in(client, world, "supervisor")
    response = post(client, f"/console/problems/{problem.id}/actions",
                    {"action": "reassign", "unit_id": world.units["squad"].id, "version": problem.version},
                    page=f"/console/problems/{problem.id}")
    assert response.status_code == 422
    assert db.session.get(Problem, problem.id).version == problem.version


def test_an_action_the_role_may_not_take_is_refused(client, world):
    problem = world.report()
    sign_in(client, world, "handler")
    response = post(client, f"/console/problems/{problem.id}/actions",
                    {"action": "assign", "unit_id": world.units["squad"].id, "version": 1},
                    page="/console/dashboard")
    assert response.status_code in (403, 404)
    assert db.session.get(Problem, problem.id).state == "reported"


def test_dispatch_assigns_from_the_list(client, world):
    problem = world.report()
    sign_in(client, world, "supervisor")
    text = client.get("/console/dispatch").get_data(as_text=True)
    assert f'id="dispatch-{problem.id}"' in text and "sanitation_handler" in text
    response = post(client, f"/console/problems/{problem.id}/actions",
                    {"action": "assign", "unit_id": world.units["sanitation"].id, "from": "dispatch",
                     "handler_id": world.users["sanitation_handler"].id, "version": 1}, page="/console/dispatch")
    assert response.status_code == 303 and response.headers["Location"] == "/console/dispatch"
    assert db.session.get(Problem, problem.id).handler_id == world.users["sanitation_handler"].id


def test_statistics_patrols_and_the_map_render_with_svg(client, world):
    world.to_state("closed")
    sign_in(client, world, "supervisor")
    stats = client.get("/console/statistics").get_data(as_text=True)
    assert "<svg" in stats and 'id="evaluation"' in stats
    assert client.get("/console/patrols").status_code == 200
    map_page = client.get("/console/map").get_data(as_text=True)
    assert "<circle" in map_page and "东关早市" in map_page
    problem = world.report()
    svg = client.get(f"/console/problems/{problem.id}/map.svg")
    assert svg.content_type == "image/svg+xml" and b"<path" in svg.data


def test_text_people_typed_is_escaped_on_every_page(client, world):
    problem, _ = reporting.report_problem(actor=world.users["officer"], now=world.now, category_code="hawker",
                                          title="<script>alert(1)</script>", point_id=world.points["market"].id)
    db.session.commit()
    sign_in(client, world, "supervisor")
    for path in ("/console/dashboard", "/console/problems", f"/console/problems/{problem.id}", "/console/dispatch"):
        text = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text, path


def test_pages_carry_a_self_only_policy(client, world):
    sign_in(client, world, "supervisor")
    response = client.get("/console/dashboard")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy and "form-action 'self'" in policy
    assert "http" not in policy
    assert response.headers["Cache-Control"] == "no-store"


def test_english_by_accept_language_or_the_switch(client, world):
    sign_in(client, world, "supervisor")
    assert "Dashboard" in client.get("/console/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    post(client, "/console/language/en", {"next": "/console/problems"}, page="/console/dashboard")
    text = client.get("/console/problems").get_data(as_text=True)
    assert '<html lang="en">' in text and "Problem ledger" in text


@pytest.mark.parametrize("role_key", ["handler", "officer"])
def test_dispatch_and_patrols_are_not_for_handlers_and_officers(client, world, role_key):
    sign_in(client, world, role_key)
    assert client.get("/console/dispatch").status_code == 403
    assert client.get("/console/patrols").status_code == 403


def test_a_sibling_supervisor_gets_404_on_anothers_problem(client, world):
    problem = world.report()  # in the east grid
    sign_in(client, world, "west_supervisor")
    assert client.get(f"/console/problems/{problem.id}").status_code == 404
    assert client.get(f"/console/problems/{problem.id}/map.svg").status_code == 404
    response = post(client, f"/console/problems/{problem.id}/actions",
                    {"action": "assign", "unit_id": world.units["squad"].id, "version": 1},
                    page="/console/dashboard")
    assert response.status_code == 404
