"""Every write honours Idempotency-Key by construction: `@write` looks the key up before the view runs."""

import io
import json

import pytest
from sqlalchemy import delete
from werkzeug.routing import IntegerConverter

from models import Attachment, IdempotencyRecord, ProblemList, db
from tests.api.test_evidence import photo, upload
from tests.api.test_problem_lists import new_list
from tests.conftest import NOW
from workflow import idempotency

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
STORED = '{"answer": "the first one"}'


def write_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every write route of the API in the URL map, with 1 (or "x") for each path parameter.
    (The console's forms are not API writes: a session and a CSRF token guard them, and a page's version
    refuses a form posted twice — tests/console/.)"""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        values = {name: 1 if isinstance(converter, IntegerConverter) else "x"
                  for name, converter in rule._converters.items()}
        path = rule.build(values, append_unknown=False)[1]
        routes += [(method, path) for method in sorted(rule.methods & WRITE_METHODS)]
    return routes


def store_answer(world, method: str, path: str, body: bytes) -> None:
    idempotency.store(user_id=world.users["admin"].id, key="k-1",
                      request_hash=idempotency.fingerprint(method, path, body), status=201, body=STORED,
                      headers={"Content-Type": "application/json"}, now=NOW)
    db.session.commit()


def test_the_url_map_has_the_writes_this_test_walks(app):
    routes = write_routes(app)
    assert ("POST", "/api/v1/problems") in routes and ("DELETE", "/api/v1/me/tokens/1") in routes
    assert len(routes) >= 40


def test_every_write_replays_a_stored_answer_and_refuses_the_key_for_another_body(app, client, world):
    client.checked = False  # the stored answer is synthetic (one for every route): the replay is under test here
    body = json.dumps({"any": "body"}).encode()
    for method, path in write_routes(app):
        store_answer(world, method, path, body)
        headers = world.auth("admin", **{"Idempotency-Key": "k-1"})
        replay = client.open(path, method=method, data=body, content_type="application/json", headers=headers)
        assert (method, path, replay.status_code, replay.get_data(as_text=True)) == (method, path, 201, STORED)
        assert replay.headers["Idempotent-Replayed"] == "true"
        other = client.open(path, method=method, json={"another": "body"}, headers=headers)
        assert (method, path, other.status_code) == (method, path, 422)
        assert "Idempotency-Key" in other.json["errors"]
        db.session.execute(delete(IdempotencyRecord))
        db.session.commit()


@pytest.mark.parametrize("path", ["close", "problems/{problem_id}"])
def test_a_write_that_once_ignored_the_key_now_replays_its_first_answer(client, world, path):
    problem = world.to_state("closed")
    list_id = new_list(client, world).json["id"]
    client.post(f"/api/v1/problem-lists/{list_id}/problems", json={"problem_ids": [problem.id]},
                headers=world.auth("east_supervisor"))
    method = "POST" if path == "close" else "DELETE"
    url = f"/api/v1/problem-lists/{list_id}/{path.format(problem_id=problem.id)}"
    headers = world.auth("east_supervisor", **{"Idempotency-Key": "k-1"})
    first = client.open(url, method=method, headers=headers)
    again = client.open(url, method=method, headers=headers)
    assert first.status_code < 300 and "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.get_data()) == (first.status_code, first.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.get(ProblemList, list_id) is not None


def keyed_upload(client, world, problem_id, data: bytes, **form):
    files = {"kind": "after", "file": (io.BytesIO(data), "photo.jpg")} | form
    return client.post(f"/api/v1/problems/{problem_id}/attachments", data=files, content_type="multipart/form-data",
                       headers=world.auth("handler", **{"Idempotency-Key": "k-1"}))


def test_an_upload_retried_under_its_key_replays_and_stores_once(client, world):
    rectifying = world.to_state("rectifying")
    first = keyed_upload(client, world, rectifying.id, photo())
    again = keyed_upload(client, world, rectifying.id, photo())
    assert (first.status_code, again.status_code, again.json["id"]) == (201, 201, first.json["id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(Attachment).count() == 1


def test_the_same_key_with_another_photo_or_another_kind_is_422_and_drops_nothing_silently(client, world):
    rectifying = world.to_state("rectifying")
    assert keyed_upload(client, world, rectifying.id, photo()).status_code == 201
    other_photo = keyed_upload(client, world, rectifying.id, photo(size=(32, 24)))
    other_kind = keyed_upload(client, world, rectifying.id, photo(), kind="before")
    other_note = keyed_upload(client, world, rectifying.id, photo(), note="另一张")
    for response in (other_photo, other_kind, other_note):
        assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]
    assert upload(client, world, rectifying.id, photo(size=(32, 24))).status_code == 201  # without the key it runs
    assert db.session.query(Attachment).count() == 2
