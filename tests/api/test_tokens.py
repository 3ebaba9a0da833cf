"""Bearer tokens: one per device, expiry, revocation, last use, and slowing down repeated failures."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from models import ApiToken, User
from models.base import db
from tests.api.helpers import assert_problem_json, statements
from tests.conftest import BACKEND, NOW
from workflow import auth


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def issue(client, world, user_key: str, label: str = "desktop", by: str = "admin", **fields):
    user_id = world.users[user_key].id
    return client.post(f"/api/v1/users/{user_id}/tokens", json={"label": label} | fields, headers=world.auth(by))


# --- several tokens per user -----------------------------------------------------------------

def test_an_admin_issues_a_second_token_and_both_work(client, world):
    response = issue(client, world, "officer", label="phone")
    assert response.status_code == 201, response.json
    token = response.json["token"]
    assert len(token) >= 32 and response.json["label"] == "phone" and response.json["status"] == "active"
    assert response.json["expires_at"] == (NOW + auth.DEFAULT_LIFETIME).isoformat()
    assert client.get("/api/v1/me", headers=bearer(token)).json["id"] == world.users["officer"].id
    assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200


def test_a_user_lists_their_tokens_without_their_values_and_sees_which_is_current(client, world):
    token = issue(client, world, "officer", label="phone").json["token"]
    listed = client.get("/api/v1/me/tokens", headers=bearer(token))
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [(t["label"], t["current"]) for t in items] == [("initial", False), ("phone", True)]
    assert all("token" not in t and "token_hash" not in t for t in items)
    assert token not in listed.get_data(as_text=True)


def test_revoking_one_token_leaves_the_other_working_and_the_revoked_one_gets_a_clear_401(client, world):
    phone = issue(client, world, "officer", label="phone").json
    revoked = client.delete(f"/api/v1/users/{world.users['officer'].id}/tokens/{phone['id']}",
                            headers=world.auth("admin"))
    assert revoked.status_code == 204
    response = client.get("/api/v1/me", headers=bearer(phone["token"]))
    assert_problem_json(response, 401, "unauthenticated")
    assert "revoked" in response.json["detail"]
    assert phone["token"] not in response.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200


def test_a_user_revokes_the_token_in_use_and_it_stops_at_once_and_revoking_again_changes_nothing(client, world, app):
    own = client.get("/api/v1/me/tokens", headers=world.auth("handler")).json["items"][0]
    assert client.delete(f"/api/v1/me/tokens/{own['id']}", headers=world.auth("handler")).status_code == 204
    assert_problem_json(client.get("/api/v1/me", headers=world.auth("handler")), 401, "unauthenticated")
    first = db.session.get(ApiToken, own["id"]).revoked_at
    app.config["TEST_NOW"] = NOW + timedelta(hours=1)
    again = client.delete(f"/api/v1/users/{world.users['handler'].id}/tokens/{own['id']}", headers=world.auth("admin"))
    assert again.status_code == 204
    db.session.expire_all()
    assert db.session.get(ApiToken, own["id"]).revoked_at == first == NOW


def test_a_user_cannot_revoke_or_see_someone_elses_token(client, world):
    other = client.get("/api/v1/me/tokens", headers=world.auth("officer2")).json["items"][0]["id"]
    assert_problem_json(client.delete(f"/api/v1/me/tokens/{other}", headers=world.auth("officer")), 404, "not-found")
    officer2 = world.users["officer2"].id
    assert_problem_json(client.delete(f"/api/v1/users/{officer2}/tokens/{other}", headers=world.auth("officer")),
                        403, "forbidden")
    assert_problem_json(client.get(f"/api/v1/users/{officer2}/tokens", headers=world.auth("supervisor")),
                        403, "forbidden")
    assert client.get("/api/v1/me", headers=world.auth("officer2")).status_code == 200


def test_only_an_admin_issues_tokens_even_for_oneself(client, world):
    assert_problem_json(issue(client, world, "supervisor", by="supervisor"), 403, "forbidden")
    assert_problem_json(client.post("/api/v1/users/999999/tokens", json={"label": "x"}, headers=world.auth("admin")),
                        404, "not-found")


def test_an_admin_lists_a_users_tokens_with_who_issued_them(client, world):
    issue(client, world, "west_officer", label="phone")
    items = client.get(f"/api/v1/users/{world.users['west_officer'].id}/tokens", headers=world.auth("admin")).json
    assert [(t["label"], t["created_by"]) for t in items["items"]] == [("initial", None),
                                                                        ("phone", world.users["admin"].id)]


# --- expiry ----------------------------------------------------------------------------------

def test_an_expired_token_gets_401_saying_when_it_expired(client, world, app):
    expires = NOW + timedelta(hours=1)
    token = issue(client, world, "officer", expires_at=expires.isoformat()).json["token"]
    app.config["TEST_NOW"] = expires - timedelta(seconds=1)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    app.config["TEST_NOW"] = expires
    response = client.get("/api/v1/me", headers=bearer(token))
    assert_problem_json(response, 401, "unauthenticated")
    assert "expired" in response.json["detail"] and expires.isoformat() in response.json["detail"]
    listed = client.get("/api/v1/me/tokens", headers=world.auth("officer")).json["items"]
    assert [t["status"] for t in listed] == ["active", "expired"]


@pytest.mark.parametrize("expires_at", [NOW - timedelta(seconds=1), NOW, NOW + timedelta(days=3 * 365 + 1)],
                         ids=["past", "now", "beyond three years"])
def test_an_expiry_in_the_past_or_too_far_ahead_is_422(client, world, expires_at):
    response = issue(client, world, "officer", expires_at=expires_at.isoformat())
    assert_problem_json(response, 422, "validation")
    assert "expires_at" in response.json["errors"]


def test_an_expiry_without_an_offset_is_422(client, world):
    response = issue(client, world, "officer", expires_at="2027-01-01T00:00:00")
    assert_problem_json(response, 422, "validation")


def test_a_deactivated_users_tokens_stop_working(client, world):
    db.session.get(User, world.users["officer"].id).active = False
    db.session.commit()
    response = client.get("/api/v1/me", headers=world.auth("officer"))
    assert_problem_json(response, 401, "unauthenticated")
    assert "deactivated" in response.json["detail"]


def test_a_replayed_token_issue_never_replays_the_token(client, world):
    headers = world.auth("admin", **{"Idempotency-Key": "issue-phone-1"})
    path = f"/api/v1/users/{world.users['officer'].id}/tokens"
    first = client.post(path, json={"label": "phone"}, headers=headers)
    replay = client.post(path, json={"label": "phone"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert first.json["token"] and replay.json["token"] is None
    assert replay.headers["Idempotent-Replayed"] == "true"


# --- last use, and the cost of authentication --------------------------------------------------

def test_last_used_is_written_at_most_once_a_minute(client, world, app):
    first = client.get("/api/v1/me/tokens", headers=world.auth("officer")).json["items"][0]
    token_id = first["id"]
    assert first["last_used_at"] == NOW.isoformat()  # the request that stamps it already shows it

    def last_used():
        db.session.expire_all()
        return db.session.get(ApiToken, token_id).last_used_at

    assert last_used() == NOW
    app.config["TEST_NOW"] = NOW + timedelta(seconds=59)
    client.get("/api/v1/me", headers=world.auth("officer"))
    assert last_used() == NOW
    app.config["TEST_NOW"] = NOW + timedelta(seconds=60)
    client.get("/api/v1/me", headers=world.auth("officer"))
    assert last_used() == NOW + timedelta(seconds=60)


def test_authentication_reads_the_token_once_a_second_and_writes_nothing_when_last_use_is_fresh(client, world, app):
    client.get("/api/v1/me", headers=world.auth("officer"))  # records the first use, and caches the holder
    for later, reads in ((timedelta(milliseconds=999), 0), (auth.CACHE_TTL, 1)):
        app.config["TEST_NOW"] = NOW + later
        with statements(app) as seen:
            assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200
        token_statements = [s for s in seen if "api_tokens" in s]
        assert len(token_statements) == reads and all(s.lstrip().upper().startswith("SELECT") for s in token_statements)
        assert not [s for s in seen if s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def test_a_token_revoked_by_another_process_is_refused_within_a_second(client, world, app):
    assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200
    # Another worker or the CLI revokes it: nothing in this process hears of it.
    db.session.execute(text("UPDATE api_tokens SET revoked_at = :at WHERE user_id = :user"),
                       {"at": NOW, "user": world.users["officer"].id})
    db.session.commit()
    app.config["TEST_NOW"] = NOW + timedelta(milliseconds=999)
    assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200  # the cache's bound
    app.config["TEST_NOW"] = NOW + auth.CACHE_TTL
    assert_problem_json(client.get("/api/v1/me", headers=world.auth("officer")), 401, "unauthenticated")


def test_a_user_retired_or_demoted_in_this_process_is_read_anew_at_once(client, world):
    assert client.get("/api/v1/me", headers=world.auth("handler")).json["role"] == "handler"
    world.users["handler"].role = "officer"
    db.session.commit()
    assert client.get("/api/v1/me", headers=world.auth("handler")).json["role"] == "officer"
    world.users["handler"].active = False
    db.session.commit()
    assert_problem_json(client.get("/api/v1/me", headers=world.auth("handler")), 401, "unauthenticated")


def test_a_cached_token_is_refused_from_the_instant_it_expires(client, world, app):
    token = db.session.scalars(select(ApiToken).where(ApiToken.user_id == world.users["officer"].id)).one()
    token.expires_at = NOW + timedelta(milliseconds=500)
    db.session.commit()
    assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200
    app.config["TEST_NOW"] = NOW + timedelta(milliseconds=500)
    response = client.get("/api/v1/me", headers=world.auth("officer"))
    assert_problem_json(response, 401, "unauthenticated")
    assert "expired" in response.json["detail"]


def test_stamping_last_use_adds_one_update_and_no_reload_of_the_caller(client, world, app):
    def selects(at):
        app.config["TEST_NOW"] = at
        with statements(app) as seen:
            assert client.get("/api/v1/me", headers=world.auth("officer")).status_code == 200
        return [s for s in seen if s.lstrip().upper().startswith("SELECT")], \
            [s for s in seen if s.lstrip().upper().startswith("UPDATE")]

    stamping_selects, stamping_updates = selects(NOW)
    quiet_selects, quiet_updates = selects(NOW + timedelta(seconds=30))
    assert len(stamping_updates) == 1 and "api_tokens" in stamping_updates[0] and quiet_updates == []
    assert len(stamping_selects) == len(quiet_selects)


def test_a_stamp_the_database_cannot_take_now_does_not_fail_a_read_on_sqlite(client, world, monkeypatch):
    def busy(**kwargs):
        raise OperationalError("UPDATE api_tokens ...", {}, Exception("database is locked"))

    monkeypatch.setattr("api.context.touch_token", busy)
    response = client.get("/api/v1/problems", headers=world.auth("officer"))
    if BACKEND == "sqlite":  # a read could not take the write lock: it goes on, unstamped
        assert response.status_code == 200
        listed = client.get("/api/v1/me/tokens", headers=world.auth("officer")).json["items"]
        assert listed[0]["last_used_at"] is None
    else:  # PostgreSQL raises this only when the database is down
        assert_problem_json(response, 503, "unavailable")


# --- repeated failures from one address ----------------------------------------------------------

@pytest.fixture
def strict_limit(app, monkeypatch):
    """Three failures a minute, counted from a clean slate."""
    monkeypatch.setitem(app.config, "AUTH_FAILURE_LIMIT", 3)
    monkeypatch.setitem(app.config, "AUTH_FAILURE_WINDOW_SECONDS", 60)
    throttle = app.extensions["rectify_auth_throttle"]
    throttle.clear()
    yield
    throttle.clear()


def from_address(address: str, headers: dict) -> dict:
    return {"headers": headers, "environ_base": {"REMOTE_ADDR": address}}


def test_repeated_failures_from_one_address_get_429_with_retry_after_then_recover(client, world, app, strict_limit):
    bad = bearer("not-a-real-token")
    for _ in range(3):
        assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.7", bad)), 401, "unauthenticated")
    app.config["TEST_NOW"] = NOW + timedelta(seconds=10)
    blocked = client.get("/api/v1/me", **from_address("203.0.113.7", bad))
    assert_problem_json(blocked, 429, "too-many-requests")
    assert blocked.headers["Retry-After"] == "50"
    assert client.get("/api/v1/me", **from_address("198.51.100.2", bad)).status_code == 401
    app.config["TEST_NOW"] = NOW + timedelta(seconds=60)
    assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.7", bad)), 401, "unauthenticated")


def test_a_valid_token_passes_after_someone_elses_failures_from_the_same_address(client, world, app):
    """Issue 21, item 6: an office behind one NAT — 20 bad tokens (the default limit), then a colleague's
    valid token got 429 for five minutes."""
    throttle = app.extensions["rectify_auth_throttle"]
    throttle.clear()
    app.config["AUTH_FAILURE_LIMIT"] = 20
    try:
        for index in range(20):
            bad = bearer(f"guess-{index:02d}-" + "x" * 36)
            assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.50", bad)), 401)
        assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.50", bearer("guess-21" + "x" * 36))),
                            429, "too-many-requests")
        colleague = client.get("/api/v1/me", **from_address("203.0.113.50", world.auth("officer")))
        assert colleague.status_code == 200, colleague.json
        assert client.post("/api/v1/problems", json={"category_code": "hawker", "title": "早市占道",
                                                     "point_id": world.points["market"].id},
                           **from_address("203.0.113.50", world.auth("officer"))).status_code == 201
    finally:
        app.config["AUTH_FAILURE_LIMIT"] = 1_000_000
        throttle.clear()


def test_a_missing_header_is_401_but_not_counted_as_a_failure(client, world, strict_limit):
    for _ in range(5):
        assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.8", {})), 401, "unauthenticated")
    assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.8", bearer("x" * 43))), 401,
                        "unauthenticated")


def test_expired_revoked_and_wrong_scheme_credentials_count_as_failures(client, world, strict_limit):
    phone = issue(client, world, "officer", label="phone").json
    client.delete(f"/api/v1/me/tokens/{phone['id']}", headers=world.auth("officer"))
    for headers in (bearer(phone["token"]), {"Authorization": "Basic YTpi"}, bearer("x" * 43)):
        assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.9", headers)), 401)
    assert_problem_json(client.get("/api/v1/me", **from_address("203.0.113.9", bearer(phone["token"]))), 429)
    assert client.get("/api/v1/me", **from_address("203.0.113.9", world.auth("officer"))).status_code == 200


def test_failures_are_logged_with_the_address_but_never_the_token(client, world, caplog, strict_limit):
    secret = "s3cret-guess-0123456789abcdefghijklmnopqrstu"
    phone = issue(client, world, "officer", label="phone").json
    client.delete(f"/api/v1/me/tokens/{phone['id']}", headers=world.auth("officer"))
    with caplog.at_level(logging.WARNING, logger="api.context"):
        client.get("/api/v1/me", **from_address("203.0.113.10", bearer(secret)))
        client.get("/api/v1/me", **from_address("203.0.113.10", bearer(phone["token"])))
        client.get("/api/v1/me", **from_address("203.0.113.10", bearer(secret)))
    warnings = [r for r in caplog.records if r.name == "api.context" and r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("203.0.113.10" in r.getMessage() for r in warnings)
    assert "unknown" in warnings[0].getMessage()
    assert f"revoked (token id {phone['id']})" in warnings[1].getMessage()
    assert "429" not in warnings[1].getMessage() and "further attempts get 429" in warnings[2].getMessage()
    assert secret not in caplog.text and phone["token"] not in caplog.text
    assert auth.hash_token(secret) not in caplog.text


# --- the seed and the command line -----------------------------------------------------------

def test_reissuing_demo_tokens_revokes_the_old_ones(runner, client):
    first = runner.invoke(args=["seed", "demo"])
    old = [line.strip() for line in first.output.splitlines() if line.startswith("    ")]
    again = runner.invoke(args=["seed", "demo", "--reissue-tokens"])
    new = [line.strip() for line in again.output.splitlines() if line.startswith("    ")]
    assert again.exit_code == 0 and len(new) == len(old) > 0 and not set(new) & set(old)
    assert_problem_json(client.get("/api/v1/me", headers=bearer(old[0])), 401)
    assert client.get("/api/v1/me", headers=bearer(new[0])).status_code == 200
    with client.application.app_context():
        live = db.session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
        assert len(live) == len(new)


def test_a_holder_read_before_a_change_committed_is_not_kept(client, world):
    """The race of a request with a retirement: it read the user as active, the retirement committed (emptying
    the cache), then it put what it read. That put must be dropped, or the retired user works for a second."""
    token_hash = auth.hash_token(world.tokens["handler"])
    generation = auth.CACHE.generation  # the request begins
    api_token, user = db.session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                                         .where(ApiToken.token_hash == token_hash)).one()
    world.users["handler"].active = False  # another request retires the handler and commits meanwhile
    db.session.commit()
    auth.CACHE.put(token_hash, NOW, api_token, user, generation)  # the first request puts what it had read
    assert auth.CACHE.get(token_hash, NOW) == (None, None)
    assert_problem_json(client.get("/api/v1/me", headers=world.auth("handler")), 401, "unauthenticated")
