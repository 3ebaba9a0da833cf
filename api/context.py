"""What a request knows about its caller and its moment: the actor, the clock, the language."""

import re
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


IF_MATCH = re.compile(r'(?:W/)?"?([0-9]{1,10})"?')


def if_match_version() -> int | None:
    """The version named by If-Match ("3", W/"3" or 3): None when absent, empty or `*` (they name no
    version, so the caller gets 428); -1 for anything else that is not a version (it never matches: 412)."""
    header = (request.headers.get("If-Match") or "").strip()
    if header in ("", "*"):
        return None
    match = IF_MATCH.fullmatch(header)
    return int(match.group(1)) if match else -1
