"""The key that signs photo links is never public, and a link never outlives 15 minutes (issue 21, item 7)."""

import hashlib
import hmac
import io
import subprocess
from pathlib import Path

import pytest

from app import create_app
from config import settings
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo, upload

FAR_FUTURE = 4102444800  # 2100-01-01, the attack's exp
ROOT = Path(__file__).resolve().parents[2]


def configured(base, tmp_path, secret: str):
    return type("C", (base,), {"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                               "LOG_CONFIGURE": False, "ATTACHMENT_DIR": str(tmp_path / "files")})


def test_the_public_development_secret_signs_nothing_in_development(tmp_path, monkeypatch):
    """A bare `gunicorn "app:create_app()"` (development by default) and `make run` signed with
    dev-only-not-secret; now each instance makes a random key once and keeps it."""
    monkeypatch.setattr(settings.Development, "SECRET_KEY", "")
    monkeypatch.setattr("app.ROOT", tmp_path)
    first = create_app(type("D", (settings.Development,), {"SQLALCHEMY_DATABASE_URI": "sqlite://",
                                                            "LOG_CONFIGURE": False}))
    key = first.config["SECRET_KEY"]
    assert key != settings.DEV_SECRET and len(key) == 64
    stored = Path(first.instance_path) / "secret_key"
    assert stored.read_text() == key and stored.stat().st_mode & 0o777 == 0o600
    again = create_app(type("D", (settings.Development,), {"SQLALCHEMY_DATABASE_URI": "sqlite://",
                                                            "LOG_CONFIGURE": False}))
    assert again.config["SECRET_KEY"] == key  # every process of the instance (workers, scheduler) agrees


@pytest.mark.parametrize("secret", ["", settings.DEV_SECRET, "CHANGE-ME", "short-key"])
def test_production_refuses_to_start_without_a_real_key(tmp_path, secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(configured(settings.Production, tmp_path, secret))


def test_make_serve_runs_the_production_config():
    recipe = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "RECTIFY_ENV=${RECTIFY_ENV:-production}" in recipe or "RECTIFY_ENV=production" in recipe


def _sign(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_a_link_forged_with_the_old_public_key_is_refused(client, world):
    body = upload(client, world, world.to_state("rectifying").id, photo()).json
    sig = _sign(settings.DEV_SECRET, f"{body['id']}:original:{FAR_FUTURE}")
    response = client.get(f"/api/v1/attachments/{body['id']}/content?variant=original&exp={FAR_FUTURE}&sig={sig}")
    assert_problem_json(response, 403)


def test_a_correctly_signed_link_expiring_past_15_minutes_is_refused(client, world, app):
    """Even with the right key, an exp beyond now + 15 minutes was not made by us."""
    body = upload(client, world, world.to_state("rectifying").id, photo()).json
    key = app.config["SECRET_KEY"]
    sig = _sign(key, f"{body['id']}:original:{FAR_FUTURE}")
    far = client.get(f"/api/v1/attachments/{body['id']}/content?variant=original&exp={FAR_FUTURE}&sig={sig}")
    assert_problem_json(far, 403)
    assert client.get(body["url"]).status_code == 200


def test_an_inspection_photo_link_is_capped_too(client, world, app):
    response = client.post("/api/v1/inspection-photos", headers=world.auth("officer"),
                           data={"file": (io.BytesIO(photo()), "p.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    photo_id = response.json["id"]
    sig = _sign(app.config["SECRET_KEY"], f"inspection-photo:{photo_id}:original:{FAR_FUTURE}")
    far = client.get(f"/api/v1/inspection-photos/{photo_id}/content?variant=original&exp={FAR_FUTURE}&sig={sig}")
    assert_problem_json(far, 403)
