"""Open311 API keys: one per client application, admin-managed, stored as a SHA-256, revocable.

Each key owns a system account of role `public` (created with it), which is the reporter of what the
application posts: the trail and the statistics name the application, and revoking the key stops it.
"""

from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import Open311Key, User
from models.base import db
from models.enums import Role
from workflow.auth import hash_token, new_token
from workflow.errors import Forbidden, NotFound
from workflow.intake.contact import clean_text
from workflow.paging import Page, by_column

LAST_USED_RESOLUTION = timedelta(minutes=1)


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin manages Open311 keys")


def create_key(*, actor: User | None, now: datetime, name: str) -> tuple[Open311Key, str]:
    """A new key for client application `name`; returns the row and the key, which is never shown again."""
    _require_admin(actor)
    name = clean_text(name, name="name", max_len=100) or ""
    account = User(name=f"Open311: {name}"[:100], role=Role.PUBLIC, unit_id=None, active=True, created_at=now)
    db.session.add(account)
    db.session.flush()
    key, key_hash = new_token()
    row = Open311Key(name=name, key_hash=key_hash, user_id=account.id, created_at=now,
                     created_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    return row, key


def list_keys(*, actor: User, limit: int, cursor: str | None = None) -> Page:
    """Every key, oldest first (admins)."""
    _require_admin(actor)
    return by_column(select(Open311Key), Open311Key.id, limit=limit, cursor=cursor)


def revoke_key(*, actor: User | None, now: datetime, key_id: int) -> Open311Key:
    """Revoke a key (once; revoking again keeps the first time): its application can no longer post."""
    _require_admin(actor)
    row = db.session.get(Open311Key, key_id)
    if row is None:
        raise NotFound(f"Open311 key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = now
        row.user.active = False
        db.session.flush()
    return row


def key_holder(*, key: str, now: datetime) -> Open311Key | None:
    """The active key row for `key`, or None (unknown or revoked); remembers the use to the minute."""
    if not key or len(key) > 200:
        return None
    row = db.session.scalars(select(Open311Key).where(Open311Key.key_hash == hash_token(key))).first()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(Open311Key).where(Open311Key.id == row.id).values(last_used_at=now)
                           .execution_options(synchronize_session=False))
    return row
