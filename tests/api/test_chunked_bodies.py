"""Bodies without a Content-Length (Transfer-Encoding: chunked) meet the same size and type checks as the rest
(issue 21, item 8): a 9 MiB chunked JSON body was parsed for 8 s, chunked text/plain got 422, 50 MiB got 400."""

import io
import json

import pytest
from flask import Request

from tests.api.test_bad_input import refused
from tests.api.test_evidence import photo

PROBLEMS = "/api/v1/problems"


def chunked(world, body: bytes, content_type: str, by: str = "officer") -> dict:
    """Request arguments for a chunked body: no Content-Length, the stream ends where the body does (as gunicorn
    tells the app with wsgi.input_terminated)."""
    return {"input_stream": io.BytesIO(body), "environ_overrides": {"wsgi.input_terminated": True},
            "headers": world.auth(by, **{"Transfer-Encoding": "chunked", "Content-Type": content_type})}


def report(world, **fields) -> dict:
    return {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"} | fields


def test_a_9_mib_chunked_json_body_is_413_unparsed(client, world, monkeypatch):
    parsed = []
    real = Request.get_json
    monkeypatch.setattr(Request, "get_json", lambda self, *a, **k: parsed.append(1) or real(self, *a, **k))
    body = json.dumps(report(world, description="x" * (9 * 1024 * 1024))).encode()
    refused(client, "POST", PROBLEMS, 413, "payload-too-large", **chunked(world, body, "application/json"))
    assert parsed == []


def test_chunked_text_plain_is_415(client, world):
    refused(client, "POST", PROBLEMS, 415, "unsupported-media-type",
            **chunked(world, b"title=hello", "text/plain"))


def test_a_50_mib_chunked_body_is_413(client, world):
    refused(client, "POST", PROBLEMS, 413, "payload-too-large",
            **chunked(world, b"{" + b" " * (50 * 1024 * 1024) + b"}", "application/json"))


def test_a_small_chunked_json_body_is_read_as_usual(client, world):
    response = client.post(PROBLEMS, **chunked(world, json.dumps(report(world)).encode(), "application/json"))
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("size", [11 * 1024 * 1024, 50 * 1024 * 1024])
def test_a_chunked_upload_over_the_limit_is_413(client, world, size):
    problem = world.to_state("rectifying")
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nafter\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    url = f"{PROBLEMS}/{problem.id}/attachments"
    refused(client, "POST", url, 413, "payload-too-large",
            **chunked(world, body, f"multipart/form-data; boundary={boundary}", by="handler"))


def test_a_chunked_upload_under_the_limit_is_stored(client, world):
    problem = world.to_state("rectifying")
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nafter\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo() + f"\r\n--{boundary}--\r\n".encode()
    response = client.post(f"{PROBLEMS}/{problem.id}/attachments",
                           **chunked(world, body, f"multipart/form-data; boundary={boundary}", by="handler"))
    assert response.status_code == 201, response.json
