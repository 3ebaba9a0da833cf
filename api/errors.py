"""The one error shape: application/problem+json {type, title, status, detail, errors}."""

import logging

from flask import Response, current_app, has_app_context, has_request_context, json
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.context import lang
from models.base import db
from models.enums import label
from ops.logs import request_id
from workflow.errors import DomainError, kind_of
from workflow.health import database_unavailable

log = logging.getLogger(__name__)

class ProblemSchema(Schema):
    """An error (RFC 9457 problem details)."""

    type = fields.String(metadata={"description": "/errors/<slug>, stable for clients to switch on"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "field -> messages; {} when there are none"})
    request_id = fields.String(metadata={"description": "the request's id, as in its X-Request-Id header and "
                                                        "the server's log lines"})


def problem_response(status: int, *, slug: str | None = None, detail: str = "", errors: dict | None = None,
                     extra: dict | None = None, headers: dict | None = None) -> Response:
    """Render an error as application/problem+json, its title in the caller's language."""
    kind = kind_of(status=status, slug=slug)
    extra = dict(extra or {})
    if "state" in extra:
        extra["state_label"] = label(extra["state"], _lang())
    body = {"type": f"/errors/{kind.slug}", "title": kind.title(_lang()), "status": status, "detail": detail,
            "errors": errors or {}} | extra
    if (current := request_id.get()) is not None:
        body["request_id"] = current
    response = Response(_encode(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def _encode(body: dict) -> bytes:
    """UTF-8 JSON; an error that quotes a client's lone surrogate (a JSON key "\\ud800") is escaped
    (\\uXXXX) instead, which is still valid JSON, rather than failing to encode into a 500."""
    try:
        return json.dumps(body).encode()
    except UnicodeEncodeError:
        return json.dumps(body, ensure_ascii=True).encode()


def _lang() -> str:
    return lang() if has_request_context() else "zh"


def from_domain(error: DomainError) -> Response:
    return problem_response(error.status, slug=error.slug, detail=error.detail, errors=error.errors,
                            extra=error.extra)


def from_http(error: HTTPException) -> Response:
    """Render werkzeug and webargs errors (422 carries webargs' messages by location)."""
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or _flatten(data.get("messages") or {})
    return problem_response(error.code or 500, detail=_http_detail(error, data), errors=errors,
                            headers=_http_headers(error, data))


def _http_detail(error: HTTPException, data: dict) -> str:
    if error.code == 422 and not data.get("message"):
        return "The request does not match the schema; see errors."
    return data.get("message") or error.description or ""


def _http_headers(error: HTTPException, data: dict) -> dict:
    """webargs' headers, plus Allow on a 405."""
    headers = dict(data.get("headers") or {})
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return headers


def _flatten(messages: dict) -> dict:
    """webargs nests messages under their location (json, query, headers); clients want fields."""
    flat = {}
    for location, fields_ in messages.items():
        if isinstance(fields_, dict):
            flat.update(fields_)
        else:
            flat[location] = fields_
    return flat


def from_database(error: Exception) -> Response:
    """The database is down or busy: 503 with Retry-After, so clients retry; never a stack trace."""
    if not database_unavailable(error):
        return from_unexpected(error)
    _rollback_quietly()
    log.warning("database unavailable: %s: %s", error.__class__.__name__, str(error).splitlines()[0][:200])
    retry_after = current_app.config.get("DATABASE_RETRY_AFTER_SECONDS", 2) if has_app_context() else 2
    return problem_response(503, detail="The database is not answering; retry shortly.",
                            headers={"Retry-After": str(retry_after)})


def _rollback_quietly() -> None:
    """Roll the session back; with the connection gone that can fail too, and must not hide the 503."""
    try:
        db.session.rollback()
    except Exception:  # the connection is already broken; the pool discards it
        log.debug("rollback after a database failure failed", exc_info=True)


def from_unexpected(error: Exception) -> Response:
    _rollback_quietly()
    log.exception("unhandled error")
    return problem_response(500, detail="An unexpected error occurred; it has been logged.")


def register(app) -> None:
    app.register_error_handler(DomainError, from_domain)
    app.register_error_handler(HTTPException, from_http)
    for database_error in (DBAPIError, PoolTimeout, DisconnectionError):
        app.register_error_handler(database_error, from_database)
    app.register_error_handler(Exception, from_unexpected)
