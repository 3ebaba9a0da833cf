"""Logins and passwords through the API and the command line, and their refusals."""

from models import User
from models.base import db
from tests.console.helpers import PASSWORD, csrf


def _user(user_id: int) -> User:
    db.session.commit()
    return db.session.get(User, user_id)


def test_an_admin_creates_a_user_with_a_login_and_sets_a_temporary_password(client, world):
    created = client.post("/api/v1/users", headers=world.auth("admin"),
                          json={"name": "张三", "role": "supervisor", "unit_id": world.units["east"].id,
                                "login": "E1024"})
    assert created.status_code == 201, created.json
    assert created.json["login"] == "E1024" and created.json["has_password"] is False
    user_id = created.json["id"]
    response = client.put(f"/api/v1/users/{user_id}/password", headers=world.auth("admin"),
                          json={"password": PASSWORD})
    assert response.status_code == 200 and response.json["has_password"] is True
    assert "password" not in response.json
    assert _user(user_id).password_temporary
    signed = client.post("/console/login", data={"login": "e1024", "password": PASSWORD, "csrf_token": csrf(client)})
    assert signed.status_code == 303  # logins are case-insensitive
    assert client.get("/console/dashboard").headers["Location"] == "/console/password"


def test_a_taken_login_a_bad_login_and_a_short_password_are_named(client, world):
    body = {"name": "李四", "role": "handler", "unit_id": world.units["squad"].id}
    assert client.post("/api/v1/users", headers=world.auth("admin"), json=body | {"login": "H7"}).status_code == 201
    taken = client.post("/api/v1/users", headers=world.auth("admin"), json=body | {"login": "h7"})
    assert taken.status_code == 422 and "login" in taken.json["errors"]
    spaced = client.post("/api/v1/users", headers=world.auth("admin"), json=body | {"login": "a b"})
    assert spaced.status_code == 422 and "login" in spaced.json["errors"]
    short = client.put(f"/api/v1/users/{world.users['handler'].id}/password", headers=world.auth("admin"),
                       json={"password": "short"})
    assert short.status_code == 422 and "password" in short.json["errors"]
    control = client.put(f"/api/v1/users/{world.users['handler'].id}/password", headers=world.auth("admin"),
                         json={"password": "long enough\u0001"})
    assert control.status_code == 422
    assert _user(world.users["handler"].id).password_hash is None


def test_only_an_admin_sets_passwords_and_an_unknown_user_is_404(client, world):
    path = f"/api/v1/users/{world.users['handler'].id}/password"
    refused = client.put(path, headers=world.auth("supervisor"), json={"password": PASSWORD})
    assert refused.status_code == 403
    assert client.put("/api/v1/users/999999/password", headers=world.auth("admin"),
                      json={"password": PASSWORD}).status_code == 404
    assert _user(world.users["handler"].id).password_hash is None


def test_the_command_line_sets_a_permanent_password_from_stdin(runner, world):
    assert runner.invoke(args=["users", "login", "--user", str(world.users["supervisor"].id),
                               "--login", "S001"]).exit_code == 0
    result = runner.invoke(args=["users", "password", "--login", "S001"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = _user(world.users["supervisor"].id)
    assert user.password_hash.startswith("$argon2") and not user.password_temporary
    assert runner.invoke(args=["users", "password", "--login", "nobody"], input=PASSWORD + "\n").exit_code != 0
    short = runner.invoke(args=["users", "password", "--login", "S001"], input="short\n")
    assert short.exit_code != 0 and "password" in short.output


def test_a_login_is_changed_or_removed_by_patch_and_a_taken_one_is_refused(client, world):
    path = f"/api/v1/users/{world.users['officer'].id}"
    etag = client.get(path, headers=world.auth("admin")).headers["ETag"]
    changed = client.patch(path, headers=world.auth("admin", **{"If-Match": etag}), json={"login": "E2048"})
    assert changed.status_code == 200 and changed.json["login"] == "E2048"
    trail = client.get("/api/v1/admin-events", headers=world.auth("admin"),
                       query_string={"resource": "user", "id": world.users["officer"].id}).json["items"]
    assert "E2048" not in str(trail[-1]) and "login" in trail[-1]["changes"]  # that it changed, not to what
    other = f"/api/v1/users/{world.users['officer2'].id}"
    etag2 = client.get(other, headers=world.auth("admin")).headers["ETag"]
    taken = client.patch(other, headers=world.auth("admin", **{"If-Match": etag2}), json={"login": "e2048"})
    assert taken.status_code == 422 and "login" in taken.json["errors"]
    removed = client.patch(path, headers=world.auth("admin", **{"If-Match": changed.headers["ETag"]}),
                           json={"login": None})
    assert removed.status_code == 200 and removed.json["login"] is None
    assert _user(world.users["officer2"].id).login is None
