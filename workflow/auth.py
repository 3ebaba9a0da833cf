"""Bearer tokens: random, shown once, stored as a SHA-256 hash (they carry 256 bits of entropy).

A user holds one token per device; each can expire and be revoked on its own, and remembers when it was
last used (to the minute: writing it on every request would cost a write per read).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from models import ApiToken, User
from models.base import db
from models.enums import Role
from workflow.errors import Forbidden, Invalid, NotFound

# Tokens issued without an explicit expiry live this long; a lost phone's token dies on its own.
DEFAULT_LIFETIME = timedelta(days=365)
MAX_LIFETIME = timedelta(days=3 * 365)
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Authentication:
    """The outcome of presenting a token: the user and token, or why not (unknown, expired, revoked)."""

    user: User | None
    token: ApiToken | None
    failure: str | None = None


def authenticate(token: str, *, now: datetime) -> Authentication:
    """Who holds `token` now: one indexed query (token by hash, joined to its user and unit)."""
    stmt = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token)))
    row = db.session.execute(stmt).first()
    if row is None:
        return Authentication(None, None, "unknown")
    api_token, user = row
    status = api_token.status(now)
    if status != "active":
        return Authentication(None, api_token, status)
    if not user.active or user.role == Role.PUBLIC:  # an Open311 application's account speaks Open311 only
        return Authentication(None, api_token, "inactive")
    return Authentication(user, api_token)


def last_used_due(token: ApiToken, now: datetime) -> bool:
    """Whether this use should be written down (at most once a minute per token)."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def touch_token(*, token_id: int, now: datetime) -> None:
    """Record a use; a concurrent request that already did finds nothing to update."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id,
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False))


def issue_token(*, user: User, now: datetime, label: str, actor: User | None = None,
                expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Add a token for `user`; returns the row and the token, which is never shown again."""
    if expires_at is None:
        expires_at = now + DEFAULT_LIFETIME
    elif expires_at <= now:
        raise Invalid("expires_at must lie in the future", errors={"expires_at": ["must lie in the future"]})
    elif expires_at > now + MAX_LIFETIME:
        raise Invalid("a token may live at most three years", errors={"expires_at": ["at most three years"]})
    token, token_hash = new_token()
    row = ApiToken(user_id=user.id, token_hash=token_hash, label=label, created_at=now, expires_at=expires_at,
                   created_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    return row, token


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin may issue or revoke another user's tokens")


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def issue_token_for(*, actor: User | None, now: datetime, user_id: int, label: str,
                    expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """An admin gives a user a token for another device (never to an Open311 application's account)."""
    _require_admin(actor)
    user = _user(user_id)
    if user.role == Role.PUBLIC:
        raise Invalid("an Open311 application's account holds an API key, not tokens",
                      errors={"user_id": ["an Open311 application's account"]})
    return issue_token(user=user, now=now, label=label, actor=actor, expires_at=expires_at)


def list_tokens(*, actor: User, user_id: int) -> list[ApiToken]:
    """A user's tokens, oldest first: their own, or anyone's for an admin."""
    if user_id != actor.id:
        _require_admin(actor)
        _user(user_id)
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def revoke_token(*, actor: User, now: datetime, user_id: int, token_id: int) -> ApiToken:
    """Revoke one token (its holder's own, or anyone's by an admin); revoking twice changes nothing."""
    if user_id != actor.id:
        _require_admin(actor)
    token = db.session.scalars(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
                               .with_for_update()).first()
    if token is None:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.flush()
    return token


def revoke_all(*, user: User, now: datetime) -> int:
    """Revoke every live token of `user` (when reissuing)."""
    result = db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=now).execution_options(synchronize_session=False))
    return result.rowcount
