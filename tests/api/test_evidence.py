"""Evidence photos: real image bytes made here, with EXIF times and GPS, and the files that are not images."""

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pillow_heif
import pytest
from PIL import Image

from models import Attachment, ProblemEvent, db
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow import org

MARKET = (35.0621, 118.3561)  # the World's market point


def _rational(value: float) -> tuple:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (degrees, minutes, seconds)


def photo(fmt: str = "JPEG", taken: str | None = "2026:11:25 09:58:00", gps: tuple | None = MARKET,
          size=(64, 48)) -> bytes:
    """An image in `fmt` with EXIF DateTimeOriginal (camera wall clock) and GPS when given."""
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: _rational(gps[0]), 3: "E", 4: _rational(gps[1])})
    out = io.BytesIO()
    if fmt == "HEIF":
        pillow_heif.from_pillow(image).save(out, quality=50, exif=exif.tobytes())
    else:
        image.save(out, fmt, exif=exif.tobytes()) if fmt in ("JPEG", "WEBP", "PNG") else image.save(out, fmt)
    return out.getvalue()


def upload(client, world, problem_id, data: bytes, *, kind="after", by="handler", name="photo.jpg", **form):
    return client.post(f"/api/v1/problems/{problem_id}/attachments", headers=world.auth(by),
                       data={"kind": kind, "file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


@pytest.fixture
def rectifying(world):
    return world.to_state("rectifying")


@pytest.mark.parametrize("fmt, content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                               ("WEBP", "image/webp"), ("HEIF", "image/heif")])
def test_a_photo_is_accepted_by_what_its_bytes_are(client, world, rectifying, fmt, content_type):
    response = upload(client, world, rectifying.id, photo(fmt), name="whatever.bin")
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["content_type"], body["width"], body["height"], body["kind"]) == (content_type, 64, 48, "after")
    assert body["url"].startswith(f"/api/v1/attachments/{body['id']}/content?")


def test_exif_time_and_gps_are_read_and_a_photo_in_place_and_time_has_no_flags(client, world, rectifying):
    body = upload(client, world, rectifying.id, photo(taken="2026:11:25 09:58:00")).json
    assert body["taken_at"] == "2026-11-25T01:58:00+00:00"  # camera wall clock in Asia/Shanghai
    assert body["lat"] == pytest.approx(MARKET[0], abs=1e-4) and body["lng"] == pytest.approx(MARKET[1], abs=1e-4)
    assert body["flags"] == []


@pytest.mark.parametrize("taken, gps, flags", [
    ("2026:10:01 09:00:00", MARKET, ["taken_before_report", "taken_long_before_upload"]),
    ("2026:11:26 12:00:00", MARKET, ["taken_in_future"]),
    ("2026:11:25 09:58:00", (35.0721, 118.3561), ["far_from_point"]),  # ~1.1 km north
    (None, None, ["no_exif_time", "no_exif_gps"]),
])
def test_suspicious_photos_are_flagged_on_the_photo_and_the_trail_but_accepted(client, world, rectifying, taken,
                                                                                gps, flags):
    response = upload(client, world, rectifying.id, photo(taken=taken, gps=gps))
    assert response.status_code == 201 and response.json["flags"] == flags
    event = db.session.query(ProblemEvent).filter_by(problem_id=rectifying.id, action="attach").one()
    assert event.fields["flags"] == flags and event.fields["attachment_id"] == response.json["id"]


def test_a_script_named_jpg_is_415(client, world, rectifying):
    response = upload(client, world, rectifying.id, b"#!/bin/sh\nrm -rf /\n", name="photo.jpg")
    assert_problem_json(response, 415, "unsupported-media-type")


def test_a_gif_is_an_image_but_not_one_we_take(client, world, rectifying):
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    assert_problem_json(upload(client, world, rectifying.id, out.getvalue()), 415, "unsupported-media-type")


@pytest.mark.parametrize("data", [b"", photo()[:300]], ids=["empty", "truncated"])
def test_an_empty_or_truncated_image_is_422(client, world, rectifying, data):
    assert_problem_json(upload(client, world, rectifying.id, data), 422, "validation")


def test_a_photo_over_the_limit_is_413(client, world, rectifying, app):
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    try:
        assert_problem_json(upload(client, world, rectifying.id, photo(size=(400, 400))), 413, "payload-too-large")
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 10 * 1024 * 1024


def test_a_retried_upload_with_its_client_id_returns_the_first_and_stores_once(client, world, rectifying, app):
    data = photo()
    first = upload(client, world, rectifying.id, data, client_id="phone-1-img-1")
    again = upload(client, world, rectifying.id, data, client_id="phone-1-img-1")
    assert (first.status_code, again.status_code, again.json["id"]) == (201, 200, first.json["id"])
    other = upload(client, world, rectifying.id, data, client_id="phone-1-img-2")
    assert other.json["sha256"] == first.json["sha256"]  # content-addressed: the same bytes, one file
    assert db.session.query(Attachment).count() == 2


def test_the_signed_url_serves_the_image_without_a_header_until_it_expires(client, world, rectifying, app):
    body = upload(client, world, rectifying.id, photo()).json
    image = client.get(body["url"])
    assert (image.status_code, image.mimetype) == (200, "image/jpeg")
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(client.get(body["thumbnail_url"]).data)).format == "JPEG"
    app.config["TEST_NOW"] = NOW + timedelta(minutes=16)
    assert_problem_json(client.get(body["url"]), 403)


def test_a_forged_signature_is_403(client, world, rectifying):
    body = upload(client, world, rectifying.id, photo()).json
    query = parse_qs(urlsplit(body["url"]).query)
    forged = f"/api/v1/attachments/{body['id']}/content?variant=original&exp={query['exp'][0]}&sig={'0' * 64}"
    assert_problem_json(client.get(forged), 403)


def test_attachments_follow_the_problems_scope(client, world, rectifying):
    upload(client, world, rectifying.id, photo())
    assert client.get(f"/api/v1/problems/{rectifying.id}/attachments", headers=world.auth("officer")).status_code == 200
    assert_problem_json(client.get(f"/api/v1/problems/{rectifying.id}/attachments",
                                   headers=world.auth("west_officer")), 404)
    assert_problem_json(upload(client, world, rectifying.id, photo(), by="sanitation_handler"), 404)


def test_a_category_that_needs_an_after_photo_cannot_be_submitted_without_one(client, world):
    org.create_category(actor=None, now=NOW, code="gas", name="燃气", requires_after_photo=True,
                        limits={"rectify": {"minutes": 600, "clock": "natural"}})
    db.session.commit()
    problem = world.to_state("rectifying", category="gas") if "gas" in world.categories else None
    if problem is None:
        world.categories["gas"] = db.session.query(org.Category).filter_by(code="gas").one()
        problem = world.to_state("rectifying", category="gas")
    submit = {"action": "submit", "note": "已整改"}
    headers = world.auth("handler", **{"If-Match": f'"{problem.version}"'})
    refused = client.post(f"/api/v1/problems/{problem.id}/actions", json=submit, headers=headers)
    assert_problem_json(refused, 409, "evidence-required")
    assert upload(client, world, problem.id, photo()).status_code == 201
    assert client.post(f"/api/v1/problems/{problem.id}/actions", json=submit, headers=headers).status_code == 200
