"""Bearer tokens: random, shown once, stored as a SHA-256 hash (they carry 256 bits of entropy)."""

import hashlib
import secrets

from sqlalchemy import select

from models import User
from models.base import db


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(token: str) -> User | None:
    """The active user holding `token`, or None."""
    stmt = select(User).where(User.token_hash == hash_token(token), User.active.is_(True))
    return db.session.scalars(stmt).first()
