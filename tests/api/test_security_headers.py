"""Security headers on every response: API answers, errors, health, the docs and the signed images."""

import re

import pytest

from api.security import API_POLICY
from tests.api.test_evidence import photo, upload

COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def assert_common(response):
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.headers)


@pytest.mark.parametrize(("path", "auth"), [
    ("/api/v1/me", True),
    ("/api/v1/problems", True),
    ("/api/v1/problems/999999", True),  # a 404
    ("/api/v1/me", False),  # a 401
    ("/api/v1/no-such-thing", True),
])
def test_api_answers_and_errors_carry_the_headers_the_strict_policy_and_no_store(client, world, path, auth):
    response = client.get(path, headers=world.auth("admin") if auth else {})
    assert_common(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_a_refused_write_carries_them_too(client, world):
    response = client.post("/api/v1/units", json={"name": "x", "kind": "district"}, headers=world.auth("officer"))
    assert response.status_code == 403
    assert_common(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_health_is_never_cached(client):
    response = client.get("/healthz")
    assert_common(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == API_POLICY


def test_the_openapi_document_may_be_cached_but_not_framed(client):
    response = client.get("/openapi.json")
    assert_common(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_docs_load_nothing_but_our_own_files(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert_common(response)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "http" not in page
    for asset in re.findall(r'(?:src|href)="(/docs/[^"]+)"', page):
        loaded = client.get(asset)
        assert loaded.status_code == 200 and loaded.content_length > 0, asset
        assert loaded.headers["Content-Security-Policy"] == response.headers["Content-Security-Policy"]
    assert client.get("/docs/../app.py").status_code == 404
    assert client.get("/docs/index.template.html").status_code == 404


def test_hsts_is_sent_only_when_configured(client, world, app, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 31536000)
    for response in (client.get("/healthz"), client.get("/api/v1/me", headers=world.auth("officer"))):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_a_signed_image_keeps_its_own_policy_and_cache_rule(client, world):
    problem = world.to_state("rectifying")
    created = upload(client, world, problem.id, photo())
    assert created.status_code == 201, created.json
    image = client.get(created.json["url"])
    assert image.status_code == 200
    assert_common(image)
    assert image.headers["Content-Security-Policy"] == "default-src 'none'"
    assert image.headers["Cache-Control"] == "private, max-age=900"
