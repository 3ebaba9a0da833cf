"""What a request knows about its caller and its moment: the actor, the clock, the language."""

from datetime import datetime

from flask import current_app, g, request

from models import User
from models.base import utcnow
from workflow.errors import Forbidden


def current_actor() -> User:
    return g.actor


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


def if_match_version() -> int | None:
    """The version named by If-Match ("3", W/"3" or 3); -1 for anything that names no version."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() and len(value) < 12 else -1
