"""Two admins (or twenty) editing the roster at once, on PostgreSQL: one winner per version, a gapless trail."""

import pytest
from sqlalchemy import func, select

from models import AdminEvent, db
from tests.pg.test_races import THREADS, race
from workflow import audit
from workflow.patrols import plans


def _plan(world) -> int:
    plan = plans.create_plan(actor=None, now=world.now, unit_id=world.units["east"].id, name="早市",
                             mode="fixed_post", days="every_day", officer_ids=[world.users["officer"].id],
                             point_ids=[world.points["market"].id],
                             windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    db.session.commit()
    return plan.id


def _rule(world, client) -> int:
    return client.post("/api/v1/escalation-rules", json={"name": "提醒", "trigger": "at_due"},
                       headers=world.auth("admin")).json["id"]


def _webhook(world, client) -> int:
    return client.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/a", "secret": "0" * 16,
                                                 "events": ["problem.created"]}, headers=world.auth("admin")).json["id"]


RESOURCES = {
    "unit": (lambda w, c: f"units/{w.units['east'].id}", lambda i: {"name": f"东关街道 {i}"}),
    "grid": (lambda w, c: f"grids/{w.grids['east'].id}", lambda i: {"name": f"网格 {i}"}),
    "point": (lambda w, c: f"points/{w.points['market'].id}", lambda i: {"lat": 35.06 + i / 1000}),
    "category": (lambda w, c: f"categories/{w.categories['hawker'].id}",
                 lambda i: {"limits": {"dispatch": {"minutes": 30 + i, "clock": "natural"}}}),
    "user (retire)": (lambda w, c: f"users/{w.users['handler'].id}",
                      lambda i: {"active": False, "reason": f"离岗 {i}"}),
    "patrol plan": (lambda w, c: f"patrol-plans/{_plan(w)}", lambda i: {"name": f"早市 {i}"}),
    "escalation rule": (lambda w, c: f"escalation-rules/{_rule(w, c)}", lambda i: {"name": f"提醒 {i}"}),
    "webhook": (lambda w, c: f"webhooks/{_webhook(w, c)}", lambda i: {"secret": f"{i + 1:016d}"}),
}


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_twenty_admins_editing_one_row_with_the_same_etag_have_one_winner(app, world, client, resource):
    path_of, body_of = RESOURCES[resource]
    url = f"/api/v1/{path_of(world, client)}"
    headers = world.auth("admin", **{"If-Match": '"1"'})

    responses = race(app, lambda c, i: c.patch(url, json=body_of(i), headers=headers))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [412] * (THREADS - 1), codes
    assert {r.json["type"] for r in responses if r.status_code == 412} == {"/errors/stale-version"}
    assert db.session.scalar(select(func.count()).select_from(AdminEvent).where(AdminEvent.action != "create")) == 1
    assert audit.verify_chains(admin_only=True).intact


def test_twenty_admins_editing_twenty_rows_at_once_leave_a_gapless_chained_trail(app, world):
    grids = [world.grids["east"].id, world.grids["west"].id]
    points = [world.points["market"].id, world.points["night"].id]
    from workflow import org
    for i in range(THREADS - 4):
        points.append(org.create_point(actor=None, now=world.now, name=f"点位 {i}", grid_id=grids[i % 2],
                                       lat=35.0, lng=118.0).id)
    db.session.commit()
    targets = [f"grids/{grid}" for grid in grids] + [f"points/{point}" for point in points]
    assert len(targets) == THREADS
    headers = world.auth("admin", **{"If-Match": '"1"'})

    responses = race(app, lambda c, i: c.patch(f"/api/v1/{targets[i]}", json={"name": f"改名 {i}"}, headers=headers))

    assert [r.status_code for r in responses] == [200] * THREADS
    seqs = sorted(db.session.scalars(select(AdminEvent.seq)))
    assert seqs == list(range(1, THREADS + 1))
    verdict = audit.verify_chains(admin_only=True)
    assert verdict.intact and verdict.admin_events == THREADS


def test_a_retired_handler_racing_their_own_requests_is_refused_from_the_commit_on(app, world):
    handler = world.users["handler"]
    problem = world.to_state("assigned")
    url = f"/api/v1/users/{handler.id}"

    def one(client, i):
        if i == 0:
            return client.patch(url, json={"active": False}, headers=world.auth("admin", **{"If-Match": '"1"'}))
        return client.get("/api/v1/me", headers=world.auth("handler"))

    responses = race(app, one)

    assert responses[0].status_code == 200
    assert {r.status_code for r in responses[1:]} <= {200, 401}
    after = app.test_client().get("/api/v1/me", headers=world.auth("handler"))
    assert after.status_code == 401
    assert app.test_client().get(f"/api/v1/problems/{problem.id}", headers=world.auth("handler")).status_code == 401


@pytest.mark.parametrize("statement", ["UPDATE admin_events SET reason = 'rewritten'", "DELETE FROM admin_events",
                                       "TRUNCATE admin_events"])
def test_the_admin_trail_is_append_only(app, world, client, statement):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    headers = world.auth("admin", **{"If-Match": '"1"'})
    assert client.patch(f"/api/v1/grids/{world.grids['east'].id}", json={"name": "一网格"},
                        headers=headers).status_code == 200
    with pytest.raises(DBAPIError) as refused, db.engine.begin() as conn:
        conn.execute(text(statement))
    assert refused.value.orig.sqlstate == "42501"
    assert "admin_events is append-only" in str(refused.value.orig)
    assert audit.verify_chains(admin_only=True).admin_events == 1
