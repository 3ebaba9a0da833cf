"""Security headers on every response: API answers, errors, health, the docs and the signed images."""

import base64
import hashlib
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


def test_the_docs_allow_swagger_ui_from_its_cdn_and_only_our_own_inline_script(client, app):
    response = client.get("/docs")
    assert response.status_code == 200
    assert_common(response)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    cdn = re.match(r"https://[^/]+", app.config["OPENAPI_SWAGGER_UI_URL"]).group(0)
    inline = re.search(rb"<script>(.*?)</script>", response.get_data(), re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(inline).digest()).decode()
    assert policy["script-src"].split() == [cdn, f"'sha256-{digest}'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"


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
