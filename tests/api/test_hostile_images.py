"""Hostile photos: decompression bombs refused from the header, impossible EXIF dates, photos after the close
(issue 21, items 5, 10, 13)."""

import gzip
import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from sqlalchemy import func, select

from models import Attachment, InspectionPhoto, ProblemEvent, db
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo, upload
from workflow.evidence import attachments

# The attack's file: a 451 KiB PNG, 10900 × 10900 RGBA, of zeros (1.5 GiB once decoded). Made with zlib level 9
# over the 10900 filtered rows and stored gzipped (961 bytes).
BOMB = Path(__file__).parent / "data" / "png-bomb-10900x10900.png.gz"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip.decompress(BOMB.read_bytes())


def test_the_bomb_is_what_the_attack_sent(bomb):
    assert 450 * 1024 < len(bomb) < 452 * 1024
    assert bomb[12:16] == b"IHDR" and struct.unpack(">IIBB", bomb[16:26]) == (10900, 10900, 8, 6)


def test_a_png_decompression_bomb_is_refused_before_decoding(client, world, bomb, monkeypatch):
    problem = world.to_state("rectifying")
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))

    response = upload(client, world, problem.id, bomb, name="bomb.png")

    assert_problem_json(response, 413, "payload-too-large")
    assert decoded == []  # no pixel was decoded
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_an_inspection_photo_bomb_is_refused_too(client, world, bomb):
    response = client.post("/api/v1/inspection-photos", headers=world.auth("officer"),
                           data={"file": (io.BytesIO(bomb), "bomb.png")}, content_type="multipart/form-data")
    assert_problem_json(response, 413, "payload-too-large")
    assert db.session.scalar(select(func.count()).select_from(InspectionPhoto)) == 0


def test_pillows_bomb_warning_is_an_error(monkeypatch):
    """Over Pillow's limit but under ours (a misconfiguration): still refused, never decoded with a warning."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(attachments.PayloadTooLarge):
        attachments.read_photo(photo(size=(40, 30)))


def test_the_limit_is_a_setting(app, monkeypatch):
    assert app.config["PHOTO_MAX_PIXELS"] == Image.MAX_IMAGE_PIXELS == 50_000_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 48)
    assert attachments.read_photo(photo(size=(64, 48))).width == 64
    with pytest.raises(attachments.PayloadTooLarge):
        attachments.read_photo(photo(size=(65, 48)))


def test_a_large_jpeg_gets_a_thumbnail_without_a_full_decode():
    big = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(big, "JPEG")
    read = attachments.read_photo(big.getvalue())
    assert (read.width, read.height) == (4000, 3000)
    assert max(Image.open(io.BytesIO(read.thumbnail)).size) == attachments.THUMB_PX


@pytest.mark.parametrize("taken", ["0001:01:01 00:00:00", "9999:12:31 23:59:59", "1900:01:01 00:00:00"])
def test_an_impossible_exif_date_is_flagged_not_a_500(client, world, taken):
    problem = world.to_state("rectifying")
    response = upload(client, world, problem.id, photo(taken=taken))
    assert response.status_code == 201, response.json
    assert response.json["taken_at"] is None
    assert "no_exif_time" in response.json["flags"]


def test_an_inspection_photo_with_year_one_exif_is_stored_without_a_time(client, world):
    response = client.post("/api/v1/inspection-photos", headers=world.auth("officer"),
                           data={"file": (io.BytesIO(photo(taken="0001:01:01 00:00:00")), "p.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_no_photo_is_added_to_a_finished_problem(client, world, state):
    problem = world.to_state(state)
    events = db.session.scalar(select(func.count()).select_from(ProblemEvent))
    response = upload(client, world, problem.id, photo(), by="supervisor")
    assert_problem_json(response, 409, "invalid-transition")
    assert response.json["state"] == state
    assert db.session.scalar(select(func.count()).select_from(ProblemEvent)) == events
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
