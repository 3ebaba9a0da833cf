"""Bad plans, rules and webhooks that a review found could slip through; each is refused or survived."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from models import WebhookDelivery
from models.base import db
from schedules.jobs import run_all
from tests.api.helpers import assert_problem_json
from tests.api.test_patrols import MEALS, make_plan, my_rounds, post_plan, tick
from tests.conftest import NOW
from workflow.notifications import delivery
from workflow.problems import reporting


@pytest.mark.parametrize("fields, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),
    ({"windows": [{"label": "早", "start": "06:00", "end": "07:00"},
                  {"label": "早2", "start": "06:00", "end": "08:00"}]}, "windows"),
    ({"active_from": "0001-01-02"}, "active_from"),
])
def test_a_plan_that_could_not_run_as_written_is_422(client, world, fields, field):
    response = post_plan(client, world, **fields)
    assert_problem_json(response, 422, "validation")
    assert field in response.json["errors"]


@pytest.mark.parametrize("place", ["officer", "point", "grid"])
def test_a_plan_cannot_reach_outside_its_units_subtree(client, world, place):
    fields = {"officer": {"officer_ids": [world.users["west_officer"].id]},
              "point": {"point_ids": [world.points["night"].id]},
              "grid": {"point_ids": None, "grid_id": world.grids["west"].id}}[place]
    assert_problem_json(post_plan(client, world, **fields), 422, "validation")


def test_a_finding_on_a_round_that_has_not_opened_is_409(client, world, app):
    make_plan(world, windows=MEALS)
    tick(app, NOW)
    scheduled = my_rounds(client, world, state="scheduled")[0]
    response = client.post(f"/api/v1/patrol-rounds/{scheduled['id']}/findings", headers=world.auth("officer"),
                           json={"point_id": world.points["market"].id, "category_code": "hawker", "title": "占道"})
    assert_problem_json(response, 409, "conflict")


def rule_body(**fields) -> dict:
    return {"name": "催办", "trigger": "at_due", "level": 2} | fields


def test_a_supervisor_cannot_have_rules_notify_people_outside_their_subtree(client, world):
    body = rule_body(unit_id=world.units["east"].id, notify=[f"user:{world.users['west_officer'].id}"])
    response = client.post("/api/v1/escalation-rules", json=body, headers=world.auth("east_supervisor"))
    assert_problem_json(response, 403, "forbidden")


def test_a_notify_user_id_beyond_the_id_range_is_422(client, world):
    response = client.post("/api/v1/escalation-rules", json=rule_body(notify=["user:9999999999"]),
                           headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")


def test_a_webhook_url_with_a_non_ascii_host_is_422(client, world):
    response = client.post("/api/v1/webhooks", headers=world.auth("admin"), json={
        "url": "https://例子.中国/hook", "secret": "s" * 20, "events": ["problem.created"]})
    assert_problem_json(response, 422, "validation")
    assert "url" in response.json["errors"]


def hook(client, world, url: str) -> int:
    response = client.post("/api/v1/webhooks", headers=world.auth("admin"), json={
        "url": url, "secret": "s" * 20, "events": ["problem.created"]})
    assert response.status_code == 201, response.json
    return response.json["id"]


def report(world) -> None:
    reporting.report_problem(actor=world.users["officer"], now=NOW, category_code="hawker",
                            point_id=world.points["market"].id, title="占道")
    db.session.commit()


def test_one_hook_whose_sender_blows_up_does_not_stop_the_others(client, world):
    bad, good = hook(client, world, "http://127.0.0.1:9/bad"), hook(client, world, "http://127.0.0.1:9/good")
    report(world)
    delivery.fan_out(now=NOW)

    def send(url, body, headers):
        if url.endswith("/bad"):
            raise UnicodeEncodeError("latin-1", "例", 0, 1, "ordinal not in range")
        return 204

    assert delivery.deliver(now=NOW, send=send) == {"delivered": 1, "failed": 1, "dead": 0}
    db.session.commit()
    states = dict(db.session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.status)).all())
    assert states == {bad: "pending", good: "delivered"}


class Redirecting(BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(302)
        self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_a_failed_delivery_not_a_success(client, world):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook(client, world, f"http://127.0.0.1:{server.server_address[1]}/hook")
        report(world)
        run_all(now=NOW)
    finally:
        server.shutdown()
        server.server_close()
    row = db.session.scalars(select(WebhookDelivery)).one()
    assert (row.status, row.last_error) == ("pending", "HTTP 302")


def test_a_paused_webhook_keeps_its_deliveries_until_it_is_active_again(client, world):
    hook_id = hook(client, world, "http://127.0.0.1:9/hook")
    patched = client.patch(f"/api/v1/webhooks/{hook_id}", json={"active": False},
                           headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert (patched.status_code, patched.json["active"]) == (200, False)
    report(world)
    delivery.fan_out(now=NOW)
    assert delivery.deliver(now=NOW + timedelta(minutes=1), send=lambda *a: 204) == \
        {"delivered": 0, "failed": 0, "dead": 0}
    assert_problem_json(client.patch(f"/api/v1/webhooks/{hook_id}", json={}, headers=world.auth("admin")), 422)
    # a city-wide hook is not one a supervisor manages: for them it does not exist
    assert_problem_json(client.patch(f"/api/v1/webhooks/{hook_id}", json={"active": True},
                                     headers=world.auth("supervisor", **{"If-Match": '"2"'})), 404)
