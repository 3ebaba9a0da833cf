"""Every route against an explicit matrix of roles and scopes.

The routes come from the app's URL map (and the OpenAPI document must list the same ones): a route with
no entry here fails `test_every_route_has_an_entry_in_the_matrix`, so no endpoint slips in unreviewed.

The scene: a problem reported at the east market (east grid of the east subdistrict) and assigned to the
squad under east, with a photo, a trail, a patrol plan of the east unit walked by the east officer, problem
lists and an escalation rule of the east unit, the officer's inbox item and tokens, a webhook with a dead
delivery. Then each persona calls each route:

- supervisor_own (east), supervisor_parent (the district above it), supervisor_other (west, a sibling);
- officer_own (patrols the east grid), officer_other (the west grid);
- handler_own (the squad the problem is assigned to), handler_other (sanitation, another unit);
- admin; and, on every route but the public ones, no token and a bad token (401).

A refusal by role is 403; an object outside the caller's scope is 404, as if it did not exist (DESIGN.md).
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from flask import current_app

from models import (
    ApiToken,
    CalendarDay,
    Notification,
    OutboxMessage,
    PatrolRound,
    Problem,
    RectificationOrder,
    WebhookDelivery,
)
from models.base import db
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo
from tests.factories import NATURAL, World
from tests.gas import passing, valid_code
from tests.workflow.roster.test_imports import filled
from workflow import org
from workflow.escalation import rules
from workflow.evidence import attachments
from workflow.inspections import coverage, defaults, inspections, parties
from workflow.inspections import photos as inspection_photos
from workflow.ledger import lists, unit_reports
from workflow.notifications import inbox, webhooks
from workflow.patrols import plans

PERSONAS = {
    "admin": "admin",
    "supervisor_own": "east_supervisor",
    "supervisor_parent": "supervisor",
    "supervisor_other": "west_supervisor",
    "officer_own": "officer",
    "officer_other": "west_officer",
    "handler_own": "handler",
    "handler_other": "sanitation_handler",
}

# Reachable without a bearer token. The signed attachment URL carries its own proof (an HMAC and an expiry).
PUBLIC = {"GET /healthz", "GET /livez", "GET /docs", "GET /docs/{name}", "GET /openapi.json"}
PROBES = {"GET /healthz", "GET /livez"}  # documented in /openapi.json too, without a token
SIGNED = {"GET /api/v1/attachments/{attachment_id}/content", "GET /api/v1/inspection-photos/{photo_id}/content"}
# For the monitoring system, not for users: METRICS_TOKEN or a loopback caller (tests/ops/test_metrics.py).
OPERATOR = {"GET /metrics"}
# The console's pages take a signed-in session, not a token; what each persona gets there is tested in
# tests/console/ (a sibling's problem page 404, dispatch and patrols 403 for handlers and officers).
CONSOLE_OPEN = {"GET /console/login", "POST /console/login", "GET /console/static/{filename}",
                "POST /console/language/{code}"}
CONSOLE = CONSOLE_OPEN | {
    "GET /console/", "GET /console/dashboard", "GET /console/dispatch", "GET /console/map", "GET /console/password",
    "GET /console/patrols", "GET /console/problems", "GET /console/problems/export",
    "GET /console/problems/{problem_id}", "GET /console/problems/{problem_id}/map.svg", "GET /console/statistics",
    "GET /console/statistics/reports/{report_id}.xlsx", "POST /console/logout", "POST /console/password",
    "POST /console/problems/{problem_id}/actions",
    # The roster's admin pages: who opens which is tested in tests/console/test_admin.py.
    "GET /console/admin/", "GET /console/admin/{kind}", "GET /console/admin/{kind}/new",
    "POST /console/admin/{kind}/new", "GET /console/admin/{kind}/{row_id}", "POST /console/admin/{kind}/{row_id}",
    "POST /console/admin/people/{row_id}/password", "GET /console/admin/import", "POST /console/admin/import",
    "GET /console/admin/import/template"}


def expect(default: int, **by_persona: int) -> dict[str, int]:
    return {persona: by_persona.get(persona, default) for persona in PERSONAS}


def everyone(status: int) -> dict[str, int]:
    return expect(status)


def admin_only(status: int) -> dict[str, int]:
    return expect(403, admin=status)


def supervisors(status: int) -> dict[str, int]:
    """Admins and every supervisor (what they see is scoped inside); officers and handlers 403."""
    return expect(403, admin=status, supervisor_own=status, supervisor_parent=status, supervisor_other=status)


def east_object(status: int) -> dict[str, int]:
    """An object of the east unit: its supervisors and those above, and admins; a sibling's supervisor
    does not see it (404); officers and handlers never deal with such objects (403)."""
    return expect(403, admin=status, supervisor_own=status, supervisor_parent=status, supervisor_other=404)


def east_creation(status: int) -> dict[str, int]:
    """Creating an object for the east unit: as east_object, but a sibling supervisor is refused (403)."""
    return expect(403, admin=status, supervisor_own=status, supervisor_parent=status)


def sees_problem(status: int) -> dict[str, int]:
    """The assigned problem: supervisors of its grid's unit and above, its grid's officer, the assigned
    unit's handler, admins; everyone else 404."""
    return expect(404, admin=status, supervisor_own=status, supervisor_parent=status, officer_own=status,
                  handler_own=status)


def walks_round(status: int) -> dict[str, int]:
    """The round's officer walks it; those who see it but do not walk it 403; the others 404."""
    return expect(404, officer_own=status, admin=403, supervisor_own=403, supervisor_parent=403)


def sees_round(status: int) -> dict[str, int]:
    return expect(404, officer_own=status, admin=status, supervisor_own=status, supervisor_parent=status)


@dataclass
class Scene:
    world: World
    ids: dict[str, int] = field(default_factory=dict)

    def id(self, name: str) -> int:
        """The id of a scene object, made (and committed) the first time it is asked for."""
        if name not in self.ids:
            self.ids[name] = BUILDERS[name](self)
            db.session.commit()
        return self.ids[name]

    def user(self, key: str):
        return self.world.users[key]


Body = Callable[[Scene], dict] | dict | None


@dataclass(frozen=True)
class Case:
    expect: dict[str, int]
    body: Body = None
    query: dict | None = None
    ids: dict[str, str] = field(default_factory=dict)  # placeholder -> scene object, where not the default
    headers: dict = field(default_factory=dict)
    multipart: bool = False


def _report(scene: Scene) -> dict:
    return {"category_code": "hawker", "point_id": scene.id("market"), "title": "矩阵上报"}


def _plan(scene: Scene) -> dict:
    return {"unit_id": scene.id("east"), "name": "矩阵巡查", "mode": "fixed_post", "officer_ids": [scene.id("officer")],
            "point_ids": [scene.id("market")], "windows": [{"label": "早", "start": "06:30", "end": "08:30"}]}


def _checkin(scene: Scene) -> dict:
    return {"point_id": scene.id("market"), "lat": 35.0621, "lng": 118.3561, "result": "ok"}


def _activity(scene: Scene) -> dict:
    return {"kind": "volunteer_day", "starts_at": (scene.world.now - timedelta(hours=1)).isoformat(),
            "unit_id": scene.id("east"), "participants": 12, "place": "东关早市"}


def takes_part(status: int) -> dict[str, int]:
    """A list's activities: those who see the list, and officers of a unit taking part; handlers 403."""
    return expect(403, admin=status, supervisor_own=status, supervisor_parent=status, supervisor_other=404,
                  officer_own=status, officer_other=404)


def _upload(scene: Scene) -> dict:
    return {"kind": "other", "file": (io.BytesIO(PHOTO), "photo.jpg")}


def sees_party(status: int) -> dict[str, int]:
    """A party at the east market (and what hangs on it): supervisors of its grid's unit and above, its grid's
    officer, the handlers of the unit its problem is assigned to, admins; everyone else 404."""
    return expect(404, admin=status, supervisor_own=status, supervisor_parent=status, officer_own=status,
                  handler_own=status)


def keeps_party(status: int) -> dict[str, int]:
    """Correcting the party: supervisors of its area and admins; officers and handlers who see it 403."""
    return expect(404, admin=status, supervisor_own=status, supervisor_parent=status, officer_own=403,
                  handler_own=403)


def _party(scene: Scene) -> dict:
    return {"name": "矩阵餐馆", "kind": "restaurant", "point_id": scene.id("market"),
            "credit_code": valid_code("91371302MA3C0000X"), "tags": ["bottled_gas"]}


def _item() -> dict:
    return {"code": "alarm", "label": "报警器", "type": "check", "category": "hawker"}


def _inspection(scene: Scene) -> dict:
    return {"party_id": scene.id("party"), "template_code": "gas_safety",
            "results": passing(cylinder_storage="na", leak_alarm="na")}


PHOTO = photo()  # a JPEG with EXIF time and GPS at the market, made once
ROSTER = filled(units=[("MX1", "矩阵单位", "district", None, None)])  # a roster import of one unit
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
FUTURE_DAY = "2099-01-05"  # the calendar is kept across tests: the admin's correction is removed afterwards

MATRIX: dict[str, Case] = {
    # --- the organisation: reference data every signed-in user reads; only admins change it
    "GET /api/v1/units": Case(everyone(200)),
    "POST /api/v1/units": Case(admin_only(201), lambda s: {"name": "新社区", "kind": "community",
                                                          "parent_id": s.id("east")}),
    "GET /api/v1/units/{unit_id}": Case(everyone(200)),
    "GET /api/v1/grids": Case(everyone(200)),
    "POST /api/v1/grids": Case(admin_only(201), lambda s: {"name": "新网格", "unit_id": s.id("east")}),
    "GET /api/v1/points": Case(everyone(200)),
    "POST /api/v1/points": Case(admin_only(201), lambda s: {"name": "新点位", "grid_id": s.id("east_grid"),
                                                           "lat": 35.06, "lng": 118.35}),
    "GET /api/v1/categories": Case(everyone(200)),
    "POST /api/v1/categories": Case(admin_only(201), {"code": "matrix", "name": "矩阵", "limits": NATURAL}),
    "GET /api/v1/users": Case(supervisors(200)),
    # People: admins everyone; supervisors the officers and handlers of their subtree (docs/decisions/0071)
    "POST /api/v1/users": Case(east_creation(201), lambda s: {"name": "新队员", "role": "handler",
                                                             "unit_id": s.id("squad")}),
    "GET /api/v1/users/{user_id}": Case(east_object(200)),
    "PATCH /api/v1/users/{user_id}": Case(east_object(200), {"name": "改名"}, headers={"If-Match": '"1"'}),
    # --- the roster: reference rows edited (If-Match) and retired by admins; the admin trail
    "PATCH /api/v1/units/{unit_id}": Case(admin_only(200), {"name": "改名"}, headers={"If-Match": '"1"'}),
    "GET /api/v1/grids/{grid_id}": Case(everyone(200)),
    "PATCH /api/v1/grids/{grid_id}": Case(admin_only(200), {"name": "改名"}, headers={"If-Match": '"1"'}),
    "GET /api/v1/points/{point_id}": Case(everyone(200)),
    "PATCH /api/v1/points/{point_id}": Case(admin_only(200), {"active": False}, headers={"If-Match": '"1"'}),
    "GET /api/v1/categories/{category_id}": Case(everyone(200)),
    "PATCH /api/v1/categories/{category_id}": Case(admin_only(200), {"name": "改名"}, headers={"If-Match": '"1"'}),
    "GET /api/v1/admin-events": Case(admin_only(200)),
    "POST /api/v1/imports": Case(admin_only(200), lambda s: {"file": (io.BytesIO(ROSTER), "roster.xlsx")},
                                 multipart=True),
    "GET /api/v1/imports/template": Case(admin_only(200)),
    "GET /api/v1/me": Case(everyone(200)),
    "GET /api/v1/calendar": Case(everyone(200), query={"year": 2026}),
    "POST /api/v1/calendar/days": Case(admin_only(200), {"days": [{"day": FUTURE_DAY, "workday": True}]}),
    # --- tokens: your own; admins anyone's
    "GET /api/v1/me/tokens": Case(everyone(200)),
    "DELETE /api/v1/me/tokens/{token_id}": Case(expect(404, officer_own=204)),
    "GET /api/v1/users/{user_id}/tokens": Case(expect(403, admin=200, officer_own=200)),
    "POST /api/v1/users/{user_id}/tokens": Case(admin_only(201), {"label": "phone"}),
    "PUT /api/v1/users/{user_id}/password": Case(admin_only(200), {"password": "a temporary one"}),
    "DELETE /api/v1/users/{user_id}/tokens/{token_id}": Case(expect(403, admin=204, officer_own=204)),
    # --- problems
    "GET /api/v1/problems": Case(everyone(200)),
    "POST /api/v1/problems": Case(expect(403, supervisor_own=201, supervisor_parent=201, officer_own=201),
                                  _report),
    "GET /api/v1/problems/export": Case(everyone(200), query={"format": "csv"}),
    "GET /api/v1/problems/{problem_id}": Case(sees_problem(200)),
    # A report still waiting for dispatch: its reporter and supervisors edit it; an admin is neither.
    "PATCH /api/v1/problems/{problem_id}": Case(
        expect(404, admin=403, supervisor_own=200, supervisor_parent=200, officer_own=200),
        {"title": "更正标题"}, ids={"problem_id": "reported"}, headers={"If-Match": '"1"'}),
    "POST /api/v1/problems/{problem_id}/actions": Case(sees_problem(200), {"action": "comment", "text": "备注"}),
    "GET /api/v1/problems/{problem_id}/events": Case(sees_problem(200)),
    "GET /api/v1/problems/{problem_id}/attachments": Case(sees_problem(200)),
    "POST /api/v1/problems/{problem_id}/attachments": Case(sees_problem(201), _upload, multipart=True),
    # --- problem lists: supervisors of the lead unit's subtree
    "GET /api/v1/problem-lists": Case(supervisors(200)),
    "POST /api/v1/problem-lists": Case(east_creation(201), lambda s: {"kind": "campaign", "name": "新专项",
                                                                      "lead_unit_id": s.id("east")}),
    "GET /api/v1/problem-lists/{list_id}": Case(east_object(200)),
    "POST /api/v1/problem-lists/{list_id}/problems": Case(
        east_object(200), lambda s: {"problem_ids": [s.id("problem")]}, ids={"list_id": "empty_list"}),
    "DELETE /api/v1/problem-lists/{list_id}/problems/{problem_id}": Case(east_object(204)),
    "POST /api/v1/problem-lists/{list_id}/close": Case(east_object(200), ids={"list_id": "empty_list"}),
    # --- patrols: plans for supervisors of the unit's subtree; rounds walked by their officers
    "GET /api/v1/patrol-plans": Case(supervisors(200)),
    "POST /api/v1/patrol-plans": Case(east_creation(201), _plan),
    "GET /api/v1/patrol-plans/{plan_id}": Case(east_object(200)),
    "PATCH /api/v1/patrol-plans/{plan_id}": Case(east_object(200), {"name": "改名"}, headers={"If-Match": '"1"'}),
    "POST /api/v1/patrol-plans/{plan_id}/pause": Case(east_object(200)),
    "POST /api/v1/patrol-plans/{plan_id}/resume": Case(east_object(200)),
    "GET /api/v1/patrol-rounds": Case(everyone(200)),
    "GET /api/v1/me/rounds": Case(everyone(200)),
    "GET /api/v1/patrol-rounds/{round_id}": Case(sees_round(200)),
    "POST /api/v1/patrol-rounds/{round_id}/start": Case(walks_round(200), {}),
    "POST /api/v1/patrol-rounds/{round_id}/checkins": Case(walks_round(201), _checkin),
    "GET /api/v1/patrol-rounds/{round_id}/checkins": Case(sees_round(200)),
    "POST /api/v1/patrol-rounds/{round_id}/findings": Case(walks_round(201), _report),
    "POST /api/v1/patrol-rounds/{round_id}/complete": Case(walks_round(200), {}),
    # The walker passes the role and scope checks; a problem the checklist does not list is then 422.
    "POST /api/v1/patrol-rounds/{round_id}/outcomes": Case(walks_round(422), {"problem_id": 999999,
                                                                              "outcome": "fixed"}),
    # --- escalation rules: supervisors for their subtree; the inbox is personal; webhooks admin
    "GET /api/v1/escalation-rules": Case(supervisors(200)),
    "POST /api/v1/escalation-rules": Case(east_creation(201), lambda s: {"name": "矩阵规则", "trigger": "at_due",
                                                                         "unit_id": s.id("east")}),
    "GET /api/v1/escalation-rules/{rule_id}": Case(east_object(200)),
    "PATCH /api/v1/escalation-rules/{rule_id}": Case(east_object(200), {"name": "改名"},
                                                      headers={"If-Match": '"1"'}),
    "POST /api/v1/escalation-rules/dry-run": Case(supervisors(200), {"name": "草稿", "trigger": "at_due"}),
    "GET /api/v1/me/notifications": Case(everyone(200)),
    "POST /api/v1/me/notifications/{notification_id}/read": Case(expect(404, officer_own=200)),
    "POST /api/v1/me/notifications/read-all": Case(everyone(200)),
    "GET /api/v1/webhooks": Case(admin_only(200)),
    "POST /api/v1/webhooks": Case(admin_only(201), {"url": "https://hooks.example.com/rectify",
                                                    "secret": "0123456789abcdef", "events": ["problem.created"]}),
    "PATCH /api/v1/webhooks/{webhook_id}": Case(admin_only(200), {"active": False}, headers={"If-Match": '"1"'}),
    "GET /api/v1/webhooks/{webhook_id}/deliveries": Case(admin_only(200)),
    "POST /api/v1/webhook-deliveries/{delivery_id}/redrive": Case(admin_only(200)),
    # --- statistics: supervisors (their subtree) and admins
    "GET /api/v1/reports/summary": Case(supervisors(200), query=PERIOD),
    "GET /api/v1/reports/drill": Case(supervisors(200), query=PERIOD | {"figure": "reported"}),
    "GET /api/v1/reports/patrols": Case(supervisors(200), query=PERIOD),
    "GET /api/v1/reports/patrols/drill": Case(supervisors(200), query=PERIOD | {"figure": "scheduled"}),
    "GET /api/v1/reports/evaluation": Case(supervisors(200), query=PERIOD),
    # --- stored unit reports: the unit's supervisors and those above, and admins
    "GET /api/v1/reports/units": Case(supervisors(200)),
    "GET /api/v1/reports/units/{report_id}": Case(east_object(200)),
    "GET /api/v1/reports/units/{report_id}/xlsx": Case(east_object(200)),
    # --- the gas-safety ledger: parties of the east market, their inspections, orders and ladder
    "GET /api/v1/parties": Case(everyone(200)),
    "POST /api/v1/parties": Case(east_creation(201), _party),
    "GET /api/v1/parties/{party_id}": Case(sees_party(200)),
    "PATCH /api/v1/parties/{party_id}": Case(keeps_party(200), {"status": "moved"}, headers={"If-Match": '"1"'}),
    "GET /api/v1/parties/{party_id}/events": Case(sees_party(200)),
    # 劝导 is the inspecting officer's or a supervisor's decision; an admin keeps data, not enforcement.
    "POST /api/v1/parties/{party_id}/ladder-steps": Case(
        expect(404, admin=403, supervisor_own=200, supervisor_parent=200, officer_own=200, handler_own=403),
        {"step": "advice", "note": "现场劝导"}),
    "GET /api/v1/ladder-steps": Case(everyone(200)),
    "GET /api/v1/inspection-templates": Case(everyone(200)),
    "POST /api/v1/inspection-templates": Case(admin_only(201), lambda s: {"code": "matrix", "name": "矩阵检查表",
                                                                          "items": [_item()]}),
    "GET /api/v1/inspection-templates/{code}": Case(everyone(200)),
    "PUT /api/v1/inspection-templates/{code}": Case(admin_only(200), lambda s: {"name": "改名", "items": [_item()]}),
    "GET /api/v1/inspections": Case(everyone(200)),
    "POST /api/v1/inspections": Case(
        expect(403, supervisor_own=201, supervisor_parent=201, officer_own=201, officer_other=404,
               supervisor_other=404), _inspection),
    "GET /api/v1/inspections/{inspection_id}": Case(sees_party(200)),
    "GET /api/v1/orders": Case(everyone(200)),
    "GET /api/v1/orders/{order_id}": Case(sees_party(200)),
    "GET /api/v1/orders/{order_id}/print": Case(sees_party(200)),
    "GET /api/v1/inspection-tasks": Case(everyone(200)),
    "POST /api/v1/inspection-photos": Case(expect(201, admin=403, handler_own=403, handler_other=403),
                                           lambda s: {"file": (io.BytesIO(PHOTO), "photo.jpg")}, multipart=True),
    "GET /api/v1/inspection-photos/{photo_id}": Case(expect(404, officer_own=200)),  # unused: its uploader's
    "GET /api/v1/problem-lists/{list_id}/scope": Case(east_object(200), ids={"list_id": "campaign"}),
    "PUT /api/v1/problem-lists/{list_id}/scope": Case(
        east_object(200), {"template_code": "gas_safety", "tags": ["bottled_gas"]}, ids={"list_id": "campaign"}),
    "GET /api/v1/problem-lists/{list_id}/coverage": Case(east_object(200), ids={"list_id": "campaign"}),
    "GET /api/v1/problem-lists/{list_id}/inspection-ledger": Case(east_object(200), ids={"list_id": "campaign"}),
    # --- campaign activities and the campaign report
    "GET /api/v1/problem-lists/{list_id}/activities": Case(takes_part(200)),
    "POST /api/v1/problem-lists/{list_id}/activities": Case(takes_part(201), _activity),
    "GET /api/v1/problem-lists/{list_id}/activity-totals": Case(takes_part(200)),
    "GET /api/v1/problem-lists/{list_id}/report": Case(east_object(200)),
}

# Which scene object a path placeholder names, unless the case says otherwise.
DEFAULT_IDS = {"unit_id": "east", "problem_id": "problem", "list_id": "full_list", "plan_id": "plan",
               "round_id": "round", "rule_id": "rule", "notification_id": "notification", "webhook_id": "webhook",
               "delivery_id": "delivery", "user_id": "officer", "token_id": "officer_token",
               "attachment_id": "attachment", "report_id": "unit_report",
               "party_id": "party", "inspection_id": "inspection", "order_id": "order",
               "photo_id": "inspection_photo", "code": "template", "grid_id": "east_grid", "point_id": "market",
               "category_id": "hawker"}

CONVERTER = re.compile(r"<(?:[^:<>]+:)?([a-z_]+)>")


def route_key(method: str, rule: str) -> str:
    """'GET /api/v1/problems/{problem_id}' for the rule /api/v1/problems/<int(...):problem_id>."""
    return method + " " + CONVERTER.sub(r"{\1}", rule)


def app_routes(app) -> set[str]:
    return {route_key(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def openapi_routes(client) -> set[str]:
    paths = client.get("/openapi.json").json["paths"]
    return {f"{method.upper()} {path}" for path, item in paths.items() for method in item if method != "parameters"}


# --- the matrix covers the app, and the docs cover the API --------------------------------------

def test_every_route_has_an_entry_in_the_matrix(app):
    routes = app_routes(app)
    assert sorted(routes - set(MATRIX) - PUBLIC - SIGNED - OPERATOR - CONSOLE) == [], \
        "add these routes to the authorization matrix"
    assert sorted((set(MATRIX) | PUBLIC | SIGNED | OPERATOR | CONSOLE) - routes) == [], \
        "these matrix entries name no route"


@pytest.mark.parametrize("key", sorted(CONSOLE - CONSOLE_OPEN))
def test_every_console_page_needs_a_session(client, world, key):
    """Without a session a page sends the browser to the login, and a form is refused (no CSRF token of a
    session): nothing is shown or written. A bearer token is no console session."""
    method, path = _fill(key.replace("{kind}", "people"))
    response = client.open(path, method=method, headers=world.auth("admin"))
    if method == "GET":
        assert response.status_code == 302 and response.headers["Location"].startswith("/console/login")
    else:
        assert response.status_code == 400


def test_openapi_lists_exactly_the_api_routes_and_each_needs_a_token_but_the_signed_one(app, client):
    api_routes = {key for key in app_routes(app) if key.split(" ", 1)[1].startswith("/api/")}
    assert openapi_routes(client) == api_routes | PROBES
    spec = client.get("/openapi.json").json
    assert spec["security"] == [{"bearer": []}]
    unguarded = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method, op in item.items()
                 if isinstance(op, dict) and op.get("security") == []}
    assert unguarded == SIGNED | PROBES


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_routes_need_no_token(client, key):
    response = client.get(key.split(" ", 1)[1].replace("{name}", "swagger-ui.css"))
    assert response.status_code == 200, key


# --- 401 without a valid token, everywhere else --------------------------------------------------

def _fill(key: str, value: int = 1) -> tuple[str, str]:
    method, rule = key.split(" ", 1)
    return method, re.sub(r"\{[a-z_]+\}", str(value), rule)


@pytest.mark.parametrize("credentials", [None, "Bearer not-a-valid-token", "Basic YWRtaW46YWRtaW4="],
                         ids=["no token", "bad token", "basic auth"])
@pytest.mark.parametrize("key", sorted(MATRIX))
def test_every_api_route_refuses_a_caller_without_a_valid_token(app, client, key, credentials):
    method, path = _fill(key)
    headers = {"Authorization": credentials} if credentials else {}
    response = client.open(path, method=method, headers=headers, json={} if method in ("POST", "PATCH") else None)
    assert_problem_json(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_signed_content_route_refuses_a_missing_or_forged_signature_and_serves_a_signed_one(client, world):
    scene = build_scene(world)
    path = f"/api/v1/attachments/{scene.id('attachment')}/content"
    assert_problem_json(client.get(path), 422, "validation")
    forged = client.get(path, query_string={"exp": 2**32, "sig": "0" * 64})
    assert_problem_json(forged, 403, "forbidden")
    listed = client.get(f"/api/v1/problems/{scene.id('problem')}/attachments", headers=world.auth("admin"))
    assert client.get(listed.json["items"][0]["url"]).status_code == 200


# --- each persona on each route ----------------------------------------------------------------

def _attachment(scene: Scene) -> int:
    attachment, _ = attachments.add_attachment(
        actor=scene.user("handler"), now=scene.world.now, problem_id=scene.id("problem"), kind="before",
        data=PHOTO, storage=current_app.extensions["rectify_storage"], max_bytes=10 * 1024 * 1024, far_m=200)
    return attachment.id


def _plan_row(scene: Scene) -> int:
    return plans.create_plan(actor=None, now=scene.world.now, unit_id=scene.id("east"), name="东关早市",
                                    mode="fixed_post", days="every_day", officer_ids=[scene.id("officer")],
                                    point_ids=[scene.id("market")],
                                    windows=[{"label": "早", "start": "06:30", "end": "08:30"}]).id


def _round(scene: Scene) -> int:
    now = scene.world.now
    round_ = PatrolRound(plan_id=scene.id("plan"), label="早", planned_start=now - timedelta(minutes=10),
                         planned_end=now + timedelta(hours=1), grace_minutes=15, state="in_progress",
                         officer_ids=[scene.id("officer")], checklist={"point_ids": [scene.id("market")]},
                         focus_categories=[], started_at=now - timedelta(minutes=5), created_at=now, updated_at=now)
    db.session.add(round_)
    db.session.flush()
    return round_.id


def _list(scene: Scene, *, with_problem: bool) -> int:
    supervisor, now = scene.user("east_supervisor"), scene.world.now
    found = lists.create_list(actor=supervisor, now=now, lead_unit_id=scene.id("east"), kind="campaign",
                              name="占道专项")
    if with_problem:
        lists.add_problems(actor=supervisor, now=now, list_id=found.id, problem_ids=[scene.id("problem")])
    return found.id


def _notification(scene: Scene) -> int:
    inbox.send(user_ids=[scene.id("officer")], type="test", title="提醒", body="矩阵", now=scene.world.now)
    return db.session.query(Notification).filter_by(user_id=scene.id("officer")).one().id


def _delivery(scene: Scene) -> int:
    now = scene.world.now
    message = OutboxMessage(topic="problem.created", payload={}, created_at=now)
    db.session.add(message)
    db.session.flush()
    delivery = WebhookDelivery(webhook_id=scene.id("webhook"), event_id=message.id, event_type="problem.created",
                               body="{}", status="dead", attempts=8, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.flush()
    return delivery.id


def _gas(scene: Scene) -> str:
    """The gas category, the default ladder and template (their code stands for the template)."""
    org.create_category(actor=None, now=scene.world.now, code="gas_safety", name="燃气安全隐患", limits=NATURAL)
    defaults.seed_inspections(now=scene.world.now)
    return "gas_safety"


def _party_row(scene: Scene) -> int:
    """A restaurant at the east market, named by the problem assigned to the squad (so its handlers see it)."""
    scene.id("template")
    party = parties.create_party(actor=scene.user("east_supervisor"), now=scene.world.now,
                                 name="东关饭店", kind="restaurant", point_id=scene.id("market"),
                                 credit_code=valid_code("91371302MA3C0001X"), tags=["bottled_gas"],
                                 contact_name="王老板", contact_phone="13800000001")
    db.session.get(Problem, scene.id("problem")).party_id = party.id
    return party.id


def _inspection_row(scene: Scene) -> int:
    inspection, _ = inspections.record_inspection(
        actor=scene.user("officer"), now=scene.world.now, party_id=scene.id("party"), template_code="gas_safety",
        results=passing(cylinder_storage="na", leak_alarm="na", hose_type="rubber"))
    return inspection.id


def _campaign(scene: Scene) -> int:
    campaign_id = _list(scene, with_problem=False)
    coverage.set_scope(actor=scene.user("east_supervisor"), now=scene.world.now, list_id=campaign_id,
                       template_code=scene.id("template"), tags=["bottled_gas"])
    return campaign_id


def _inspection_photo(scene: Scene) -> int:
    return inspection_photos.add_photo(actor=scene.user("officer"), now=scene.world.now, data=PHOTO,
                                       storage=current_app.extensions["rectify_storage"], max_bytes=10 * 2**20)[0].id


def _unit_report(scene: Scene) -> int:
    yesterday = scene.world.now.date() - timedelta(days=1)
    return unit_reports.make_report(scene.world.units["east"], "daily", yesterday, yesterday, now=scene.world.now).id


# The scene's objects, all in or under the east subdistrict, each made when a case first names it.
BUILDERS: dict[str, Callable[[Scene], int]] = {
    "reported": lambda s: s.world.report().id,
    "problem": lambda s: s.world.to_state("assigned").id,
    "attachment": _attachment,
    "plan": _plan_row,
    "round": _round,
    "full_list": lambda s: _list(s, with_problem=True),
    "empty_list": lambda s: _list(s, with_problem=False),
    "rule": lambda s: rules.create_rule(actor=None, now=s.world.now, name="东关提醒", trigger="at_due",
                                             unit_id=s.id("east"), notify=["handler"]).id,
    "notification": _notification,
    "webhook": lambda s: webhooks.create_webhook(now=s.world.now, url="https://hooks.example.com/a",
                                                 secret="0123456789abcdef", events=["problem.created"]).id,
    "delivery": _delivery,
    "officer_token": lambda s: db.session.query(ApiToken).filter_by(user_id=s.id("officer")).one().id,
    "unit_report": _unit_report,
    "template": _gas,
    "party": _party_row,
    "inspection": _inspection_row,
    "order": lambda s: db.session.query(RectificationOrder).filter_by(inspection_id=s.id("inspection")).one().id,
    "inspection_photo": _inspection_photo,
    "campaign": _campaign,
}


def build_scene(world: World) -> Scene:
    """The world's fixed places and people; the rest of the scene is made on demand (see BUILDERS)."""
    return Scene(world, {"east": world.units["east"].id, "squad": world.units["squad"].id,
                         "hawker": world.categories["hawker"].id,
                         "east_grid": world.grids["east"].id, "market": world.points["market"].id,
                         "officer": world.users["officer"].id})


def _path(scene: Scene, key: str, case: Case) -> tuple[str, str]:
    method, rule = key.split(" ", 1)
    names = DEFAULT_IDS | case.ids
    return method, re.sub(r"\{([a-z_]+)\}", lambda m: str(scene.id(names[m.group(1)])), rule)


def call(client, scene: Scene, key: str, case: Case, persona: str):
    method, path = _path(scene, key, case)
    body = case.body(scene) if callable(case.body) else case.body
    headers = scene.world.auth(PERSONAS[persona], **case.headers)
    options = {"query_string": case.query, "headers": headers}
    if case.multipart:
        options |= {"data": body, "content_type": "multipart/form-data"}
    elif body is not None or method in ("POST", "PATCH"):
        options["json"] = body if body is not None else {}
    return client.open(path, method=method, **options)


SLUG = {403: "forbidden", 404: "not-found"}


@pytest.fixture
def forget_calendar_correction(app):
    yield
    with app.app_context():
        db.session.query(CalendarDay).filter(CalendarDay.day == date.fromisoformat(FUTURE_DAY)).delete()
        db.session.commit()


@pytest.mark.parametrize("persona", list(PERSONAS))
@pytest.mark.parametrize("key", sorted(MATRIX))
def test_each_persona_gets_what_the_matrix_says(client, world, key, persona, forget_calendar_correction):
    case = MATRIX[key]
    scene = build_scene(world)
    response = call(client, scene, key, case, persona)
    wanted = case.expect[persona]
    if wanted >= 400:
        assert_problem_json(response, wanted, SLUG.get(wanted))
    else:
        assert response.status_code == wanted, (key, persona, response.get_json(silent=True))
