"""Signing in to the console from the test client: logins, passwords and the CSRF token of a page."""

import re

from models.base import db
from workflow import passwords

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def give_password(world, key: str, *, password: str = PASSWORD, temporary: bool = False):
    """A console login (the user's key) and a password for a world user."""
    user = world.users[key]
    passwords.set_login(user, key)
    passwords.set_password(actor=world.users["admin"] if temporary and key != "admin" else None,
                           now=world.now, user_id=user.id, password=password)
    db.session.commit()
    return user


def csrf(client, path: str = "/console/login") -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}: {page.status_code}"
    return match.group(1)


def sign_in(client, world, key: str, *, password: str = PASSWORD, temporary: bool = False):
    give_password(world, key, password=password, temporary=temporary)
    response = client.post("/console/login", data={"login": key, "password": password,
                                                   "csrf_token": csrf(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def post(client, path: str, data: dict, *, page: str | None = None):
    """A console form post with the CSRF token of `page` (default: the path's own page)."""
    return client.post(path, data={"csrf_token": csrf(client, page or path), **data})
