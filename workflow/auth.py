"""Bearer tokens: random, shown once, stored as a SHA-256 hash (they carry 256 bits of entropy).

A user holds one token per device; each can expire and be revoked on its own, and remembers when it was
last used (to the minute: writing it on every request would cost a write per read).
"""

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, inspect, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from models import ApiToken, Unit, User
from models.base import db
from models.enums import Role
from workflow.errors import Forbidden, Invalid, NotFound

# Tokens issued without an explicit expiry live this long; a lost phone's token dies on its own.
DEFAULT_LIFETIME = timedelta(days=365)
MAX_LIFETIME = timedelta(days=3 * 365)
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Who holds a token is read again after this long: a revocation by another process takes effect within it.
CACHE_TTL = timedelta(seconds=1)
CACHE_SIZE = 10_000


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
    """Who holds `token` now: from this process's cache when it was read less than CACHE_TTL ago, else one
    indexed query (token by hash, joined to its user)."""
    token_hash = hash_token(token)
    generation = CACHE.generation
    api_token, user = CACHE.get(token_hash, now)
    if api_token is None:
        row = db.session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                                 .where(ApiToken.token_hash == token_hash)).first()
        if row is None:
            return Authentication(None, None, "unknown")
        api_token, user = row
        CACHE.put(token_hash, now, api_token, user, generation)
    status = api_token.status(now)
    if status != "active":
        return Authentication(None, api_token, status)
    if not user.active or user.role == Role.PUBLIC:  # an Open311 application's account speaks Open311 only
        return Authentication(None, api_token, "inactive")
    return Authentication(user, api_token)


class TokenCache:
    """Per process: who held a token when it was last read, for CACHE_TTL (docs/decisions/0121).

    A hit costs no statement: the cached rows (the token, its user and the user's unit) enter the request's
    session as they were read (`merge` without loading). Any change to a user, a token or a unit flushed by
    this process empties it at once; another process's change (an admin revoking through another worker, the
    CLI) shows within CACHE_TTL.
    """

    def __init__(self):
        self.entries: dict[str, tuple[datetime, ApiToken, User]] = {}
        # Bumped by every clear: a read that began before a change must not put what it saw after the change
        # emptied the cache (a request racing the commit of a retirement would keep the retired user for a second).
        self.generation = 0
        self._lock = threading.Lock()

    def get(self, token_hash: str, now: datetime) -> tuple[ApiToken | None, User | None]:
        entry = self.entries.get(token_hash)
        if entry is None or not entry[0] <= now < entry[0] + CACHE_TTL:
            return None, None
        return db.session.merge(entry[1], load=False), db.session.merge(entry[2], load=False)

    def put(self, token_hash: str, now: datetime, api_token: ApiToken, user: User, generation: int) -> None:
        """Keep what a read found, unless the cache was emptied since `generation` (taken before the read)."""
        holder = _detached_copy(user)
        # The caller's unit comes along (every scope check reads it), so a hit needs no statement for it either.
        set_committed_value(holder, "unit", _detached_copy(user.unit) if user.unit is not None else None)
        with self._lock:
            if generation != self.generation:
                return
            if len(self.entries) >= CACHE_SIZE:
                self.entries.clear()
            self.entries[token_hash] = (now, _detached_copy(api_token), holder)

    def stamped(self, token_id: int, last_used_at: datetime) -> None:
        """The token's last use was written down: later hits must not write it again within the minute."""
        for _, api_token, _ in self.entries.values():
            if api_token.id == token_id:
                set_committed_value(api_token, "last_used_at", last_used_at)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.generation += 1


def _detached_copy(row):
    """A copy of a loaded row that belongs to no session, as if loaded and then closed."""
    mapper = inspect(type(row))
    copy = mapper.class_manager.new_instance()
    for attr in mapper.column_attrs:
        set_committed_value(copy, attr.key, getattr(row, attr.key))
    make_transient_to_detached(copy)
    return copy


CACHE = TokenCache()


@event.listens_for(Session, "after_flush")
def _forget_changed_holders(session: Session, _context) -> None:
    """A user, token or unit written by this process (revoked, retired, its role changed, a unit moved) is
    read anew at once."""
    if any(isinstance(row, User | ApiToken | Unit) for row in (*session.dirty, *session.deleted, *session.new)):
        forget_holders(session)


def forget_holders(session: Session) -> None:
    """Empty the cache now and again once this transaction commits: a request that read the rows before the
    commit cannot keep them (its generation is behind)."""
    session.info["holders_changed"] = True
    CACHE.clear()


@event.listens_for(Session, "after_commit")
def _forget_committed_holders(session: Session) -> None:
    if session.info.pop("holders_changed", False):
        CACHE.clear()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop("holders_changed", None)


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
    CACHE.stamped(token_id, now)


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
    forget_holders(db.session)
    return result.rowcount
