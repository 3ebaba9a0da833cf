"""Console sign-in: logins and argon2 password hashes (tokens stay for phones and systems).

A password an admin sets is temporary: the first sign-in with it must choose a new one. One an operator sets
on the command line, or the user chooses, is permanent. Setting a password stamps `password_set_at`, which
ends every console session opened before it.
"""

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from models import User
from models.base import db
from models.enums import Role
from workflow.errors import Forbidden, Invalid, NotFound

MIN_LENGTH, MAX_LENGTH = 10, 256
LOGIN_MAX = 64
HASHER = PasswordHasher()
# Verified against when the login is unknown, so an unknown login costs what a wrong password does.
_DECOY = HASHER.hash("not a password anyone has")


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user, or why not (unknown, wrong, inactive, no_password)."""

    user: User | None
    failure: str | None = None


def check_login(login: str) -> str:
    """A login as stored: trimmed; 1-64 printable characters without spaces."""
    login = (login or "").strip()
    if not login or len(login) > LOGIN_MAX or not login.isprintable() or any(c.isspace() for c in login):
        raise Invalid("a login is 1-64 printable characters without spaces",
                      errors={"login": ["1-64 printable characters, no spaces"]})
    return login


def check_new_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid(f"a password is {MIN_LENGTH}-{MAX_LENGTH} characters",
                      errors={"password": [f"{MIN_LENGTH}-{MAX_LENGTH} characters"]})
    if not password.isprintable():
        raise Invalid("a password has no control characters", errors={"password": ["no control characters"]})
    return password


def login_taken(login: str, *, except_user_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.login) == login.lower())
    if except_user_id is not None:
        stmt = stmt.where(User.id != except_user_id)
    return db.session.scalars(stmt).first() is not None


def set_login(user: User, login: str | None) -> None:
    """Give `user` a login (unique, case-insensitively) or none."""
    if login is None:
        user.login = None
        return
    login = check_login(login)
    if login_taken(login, except_user_id=user.id):
        raise Invalid(f"login {login!r} is taken", errors={"login": ["already taken"]})
    user.login = login


def set_password(*, actor: User | None, now: datetime, user_id: int, password: str) -> User:
    """Set a user's password: temporary when an admin sets another's, permanent from the command line
    (actor None) or when users set their own."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if actor is not None and actor.id != user.id and actor.role != Role.ADMIN:
        raise Forbidden("only an admin sets another person's password")
    user.password_hash = HASHER.hash(check_new_password(password))
    user.password_temporary = actor is not None and actor.id != user.id
    user.password_set_at = now
    return user


def change_own_password(*, actor: User, now: datetime, current: str, new: str) -> User:
    """A signed-in user replaces their password (the temporary one included), proving the current one."""
    if not _matches(actor.password_hash, current or ""):
        raise Invalid("the current password is wrong", errors={"current_password": ["wrong password"]})
    if current == new:
        raise Invalid("choose a password different from the current one",
                      errors={"password": ["same as the current one"]})
    return set_password(actor=actor, now=now, user_id=actor.id, password=new)


def sign_in(*, login: str, password: str) -> SignIn:
    """Who `login` and `password` name (one indexed query and one argon2 verification either way)."""
    user = db.session.scalars(select(User).where(func.lower(User.login) == (login or "").strip().lower())).first()
    if user is None or user.password_hash is None:
        _matches(_DECOY, password or "")
        return SignIn(None, "unknown" if user is None else "no_password")
    if not _matches(user.password_hash, password or ""):
        return SignIn(None, "wrong")
    if not user.active:
        return SignIn(None, "inactive")
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return SignIn(user)


def _matches(stored: str | None, password: str) -> bool:
    if stored is None:
        return False
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
