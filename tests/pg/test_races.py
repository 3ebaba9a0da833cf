"""Requests that race for real: threads against PostgreSQL, each with its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from models import Problem, ProblemEvent, db

THREADS = 20


def race(app, request_fn):
    """Run request_fn(client, i) in THREADS threads released at the same instant; return the responses."""
    barrier = threading.Barrier(THREADS)

    def one(index):
        client = app.test_client()
        barrier.wait()
        return request_fn(client, index)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_twenty_supervisors_closing_one_problem_close_it_exactly_once(app, world):
    problem = world.to_state("verified")
    headers = world.auth("supervisor", **{"If-Match": f'"{problem.version}"'})
    url = f"/api/v1/problems/{problem.id}/actions"

    responses = race(app, lambda c, _: c.post(url, json={"action": "close"}, headers=headers))

    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1
    assert set(codes) <= {200, 409, 412}
    closes = db.session.scalar(select(func.count()).where(ProblemEvent.problem_id == problem.id,
                                                          ProblemEvent.action == "close"))
    assert closes == 1


def test_twenty_retries_under_one_idempotency_key_create_one_problem(app, world):
    body = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "夜市游商"}
    headers = world.auth("officer", **{"Idempotency-Key": "phone-7-report-1"})

    responses = race(app, lambda c, _: c.post("/api/v1/problems", json=body, headers=headers))

    created = [r for r in responses if r.status_code == 201]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_flight) == THREADS
    assert len({r.json["id"] for r in created}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in created) == 1
    assert {r.json["type"] for r in in_flight} <= {"/errors/idempotency-in-flight"}
    assert db.session.scalar(select(func.count()).select_from(Problem)) == 1


def test_twenty_retries_with_one_client_id_create_one_problem(app, world):
    body = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "夜市游商",
            "client_id": "phone-7-draft-42"}
    headers = world.auth("officer")

    responses = race(app, lambda c, _: c.post("/api/v1/problems", json=body, headers=headers))

    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert len({r.json["id"] for r in responses}) == 1
    assert db.session.scalar(select(func.count()).select_from(Problem)) == 1


def test_concurrent_reports_get_distinct_consecutive_codes(app, world):
    body = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "占道"}
    headers = world.auth("officer")

    responses = race(app, lambda c, _: c.post("/api/v1/problems", json=body, headers=headers))

    codes = sorted(r.json["code"] for r in responses)
    assert codes == [f"LY-20261125-{n:04d}" for n in range(1, THREADS + 1)]


def test_a_comment_racing_a_transition_keeps_the_trail_gapless(app, world):
    problem = world.to_state("rectifying")
    url = f"/api/v1/problems/{problem.id}/actions"
    submit = world.auth("handler", **{"If-Match": f'"{problem.version}"'})

    def one(client, index):
        if index == 0:
            return client.post(url, json={"action": "submit", "note": "done"}, headers=submit)
        return client.post(url, json={"action": "comment", "text": "still here"}, headers=world.auth("officer"))

    responses = race(app, one)

    assert all(r.status_code == 200 for r in responses)
    seqs = db.session.scalars(select(ProblemEvent.seq).where(ProblemEvent.problem_id == problem.id)
                              .order_by(ProblemEvent.seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == len(PATH_TO_RECTIFYING) + THREADS  # the submit and 19 comments


PATH_TO_RECTIFYING = ("report", "assign", "accept")


def test_twenty_posts_of_one_hotline_ticket_create_one_problem(app, world):
    body = {"category_code": "hawker", "lat": 35.0621, "lng": 118.3561, "address": "东关路口", "title": "来电",
            "external_ref": "12345-20261125-0099"}
    headers = world.auth("hotline")

    responses = race(app, lambda c, _: c.post("/api/v1/problems", json=body, headers=headers))

    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert len({r.json["id"] for r in responses}) == 1
    assert db.session.scalar(select(func.count()).select_from(Problem)) == 1
