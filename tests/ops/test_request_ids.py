"""Every answer carries an X-Request-Id (a trusted proxy's, or one we make), errors repeat it in their body,
and every log line of the request carries it."""

import pytest

from tests.api.helpers import assert_problem_json

PROXY_ID = "0f3c9a7e5b1d4c2a8e6f0a1b2c3d4e5f"


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/api/v1/me", "/api/v1/no-such-thing", "/openapi.json"])
def test_every_answer_carries_a_fresh_request_id(client, world, path):
    first = client.get(path, headers=world.auth("officer"))
    second = client.get(path, headers=world.auth("officer"))
    assert len(first.headers["X-Request-Id"]) == 32
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


def test_an_error_names_its_request_id_in_the_body_as_in_the_header(client, world):
    response = client.get("/api/v1/problems/999", headers=world.auth("officer"))
    assert_problem_json(response, 404, "not-found")
    assert response.json["request_id"] == response.headers["X-Request-Id"]


def test_an_error_before_authentication_names_its_request_id_too(client):
    response = client.get("/api/v1/problems")
    assert_problem_json(response, 401, "unauthenticated")
    assert response.json["request_id"] == response.headers["X-Request-Id"]


def test_a_clients_own_request_id_is_ignored_without_a_trusted_proxy(client, world):
    response = client.get("/api/v1/me", headers=world.auth("officer", **{"X-Request-Id": PROXY_ID}))
    assert response.headers["X-Request-Id"] != PROXY_ID


def test_a_trusted_proxys_request_id_is_kept(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    response = client.get("/api/v1/problems/999", headers=world.auth("officer", **{"X-Request-Id": PROXY_ID}))
    assert response.headers["X-Request-Id"] == PROXY_ID and response.json["request_id"] == PROXY_ID


@pytest.mark.parametrize("offered", ["", "a" * 129, "two words", "tab\there", "{\"json\": 1}", "-leading-dash"])
def test_a_malformed_request_id_even_from_a_trusted_proxy_is_replaced(app, client, world, monkeypatch, offered):
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    response = client.get("/api/v1/me", headers=world.auth("officer", **{"X-Request-Id": offered}))
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] != offered and len(response.headers["X-Request-Id"]) == 32


def test_every_log_line_of_a_request_carries_its_id_and_its_user(client, world, captured_logs):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    ok = client.get("/api/v1/me", headers=world.auth("officer"))
    lines = captured_logs.lines()
    failed = [line for line in lines if line["request_id"] == response.headers["X-Request-Id"]]
    assert {line["logger"] for line in failed} >= {"api.context", "rectify.access"}
    served = [line for line in lines if line["request_id"] == ok.headers["X-Request-Id"]]
    assert served and all(line["user_id"] == world.users["officer"].id for line in served)
