"""What a request knows about its caller and its moment: the actor, the clock, the language."""

import logging
import re
from datetime import datetime

from flask import current_app, g, request
from sqlalchemy.exc import OperationalError

from models import ApiToken, User
from models.base import db, mark_written, utcnow
from ops.requests import identify
from workflow.auth import authenticate, last_used_due, touch_token
from workflow.errors import Forbidden

log = logging.getLogger(__name__)


def current_actor() -> User:
    return g.actor


def current_token() -> ApiToken:
    """The token the caller authenticated with (so a phone can tell which of its tokens it is)."""
    return g.api_token


class AuthFailure(Exception):
    """Why a request is not authenticated: a 401 (or 429 when this address failed too often)."""

    def __init__(self, status: int, detail: str, *, retry_after: int | None = None):
        super().__init__(detail)
        self.status, self.detail, self.retry_after = status, detail, retry_after


FAILURE_DETAILS = {
    "missing": "Send Authorization: Bearer <token>.",
    "unknown": "The bearer token is not valid.",
    "revoked": "The bearer token has been revoked; ask an admin for a new one.",
    "inactive": "The account holding this token is deactivated.",
}


def authenticate_caller() -> None:
    """Set g.actor from the bearer token, or raise AuthFailure; an address that keeps failing gets 429 for its
    failures (never for a valid token)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header.strip():
        raise AuthFailure(401, FAILURE_DETAILS["missing"])
    throttle, now = current_app.extensions["rectify_auth_throttle"], request_now()
    address = request.remote_addr or "unknown"
    # The credential is looked at first: a valid one always passes, whoever failed from this address before
    # (an office behind one NAT shares an address with whoever keeps guessing). Only failures are throttled.
    result = authenticate(token, now=now) if scheme.lower() == "bearer" and token else None
    if result is None or result.user is None:
        _refuse_throttled(throttle, address, now)
        reason = result.failure if result else "missing"
        _fail(throttle, address, now, reason, result.token if result else None)
    g.actor, g.api_token = result.user, result.token
    identify(result.user.id)
    if last_used_due(result.token, now):
        _stamp_last_use(result.token, now)


def _refuse_throttled(throttle, address: str, now: datetime) -> None:
    """429 for a failing credential from an address that failed too often lately (a valid one never gets here)."""
    if (wait := throttle.retry_after(address, now=now)) is not None:
        log.info("authentication refused from %s for %d s more: too many failures", address, wait)
        raise AuthFailure(429, "Too many failed authentications from this address; retry later.",
                          retry_after=wait)


def _stamp_last_use(token: ApiToken, now: datetime) -> None:
    """Record the use (best effort): a read on SQLite that cannot take the write lock goes on unstamped."""
    try:
        with db.session.begin_nested():
            touch_token(token_id=token.id, now=now)
    except OperationalError as error:
        if db.session.get_bind().dialect.name != "sqlite":
            raise  # PostgreSQL: the database is down; the error handler answers 503
        log.info("last use of token %d not recorded now (%s); a later request will", token.id,
                 error.__class__.__name__)
        return
    _commit_keeping_loaded()
    mark_written(token, {"last_used_at": now})  # what the row now holds, without a new change to flush


def _commit_keeping_loaded() -> None:
    """Commit the last-use stamp (once a minute per token at most) without expiring the actor just
    loaded: it is current, and reloading it would cost a query (or fail in a streamed response)."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def _fail(throttle, address: str, now: datetime, reason: str, token: ApiToken | None):
    """Count and log a failure (never the token itself: at most the id of the row it matched)."""
    failures = throttle.record(address, now=now)
    limit = current_app.config["AUTH_FAILURE_LIMIT"]
    log.warning("authentication failed from %s: %s%s (%d of %d allowed in the window%s)", address, reason,
                f" (token id {token.id})" if token is not None else "", failures, limit,
                "; further attempts get 429" if failures >= limit else "")
    if reason == "expired":
        raise AuthFailure(401, f"The bearer token expired at {token.expires_at.isoformat()}; "
                               "ask an admin for a new one.")
    raise AuthFailure(401, FAILURE_DETAILS.get(reason, FAILURE_DETAILS["unknown"]))


def request_now() -> datetime:
    """The real clock (tests may replace it), read once per request so every part of it agrees."""
    if "now" not in g:
        g.now = current_app.extensions.get("rectify_clock", utcnow)()
    return g.now


def lang() -> str:
    """'en' when the caller prefers English, else 'zh' (the default)."""
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return "en" if best == "en" else "zh"


def require_role(*roles: str) -> None:
    if current_actor().role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")


IF_MATCH = re.compile(r'(?:W/)?"?([0-9]{1,10})"?')


def if_match_version() -> int | None:
    """The version named by If-Match ("3", W/"3" or 3): None when absent, empty or `*` (they name no
    version, so the caller gets 428); -1 for anything else that is not a version (it never matches: 412)."""
    header = (request.headers.get("If-Match") or "").strip()
    if header in ("", "*"):
        return None
    match = IF_MATCH.fullmatch(header)
    return int(match.group(1)) if match else -1
