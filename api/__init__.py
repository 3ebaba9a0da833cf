"""The HTTP API: flask-smorest blueprints behind bearer-token auth, every error as problem+json."""

from flask import current_app, g, request
from flask_smorest import Api

from api import (
    calendar,
    devecho,
    errors,
    escalation,
    evidence,
    health,
    inspections,
    lists,
    org,
    parties,
    patrols,
    problems,
    reports,
    tokens,
    work,
)
from api.context import AuthFailure, authenticate_caller
from api.errors import ProblemSchema, problem_response
from api.fields import CommaList
from api.throttle import FailureThrottle
from models.base import sqlite_begin_mode
from workflow.errors import ERROR_TYPES

BODY_METHODS = ("POST", "PUT", "PATCH")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class RectifyApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        errors.register(self._app)


def _description() -> str:
    http = [("unauthenticated", 401), ("too-many-requests", 429), ("payload-too-large", 413),
            ("unsupported-media-type", 415), ("bad-request", 400), ("unavailable", 503)]
    rows = [f"- `/errors/{e.slug}` ({e.status}): {e.title}" for e in ERROR_TYPES]
    rows += [f"- `/errors/{slug}` ({status})" for slug, status in http]
    return ("Every error is application/problem+json `{type, title, status, detail, errors}`; "
            "clients switch on `type`:\n\n" + "\n".join(rows))


api = RectifyApi(spec_kwargs={
    "info": {"description": _description()},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}]})


SIGNED_ENDPOINTS = {"evidence.content", "inspections.photo_content"}
REQUEST_STATE = ("actor", "api_token", "now", "allowed_actions", "idempotency_key", "idempotency_scrub",
                 "inspection_outcomes")


def authenticate_request():
    """401 for every /api route without a valid bearer token."""
    for name in REQUEST_STATE:  # an app context may outlive one request (tests, CLI): start clean
        g.pop(name, None)
    sqlite_begin_mode.set("DEFERRED" if request.method in SAFE_METHODS else "IMMEDIATE")
    if not request.path.startswith("/api/") or request.endpoint in SIGNED_ENDPOINTS:
        return None  # signed attachment URLs carry their own proof
    try:
        authenticate_caller()
    except AuthFailure as failure:
        if failure.status == 429:
            return problem_response(429, detail=failure.detail, headers={"Retry-After": str(failure.retry_after)})
        challenge = 'Bearer realm="rectify"' + (', error="invalid_token"' if "Authorization" in request.headers else "")
        return problem_response(401, detail=failure.detail, headers={"WWW-Authenticate": challenge})
    return None


def refuse_stray_query():
    """422 for a query parameter given twice or sent to an endpoint that takes none: never ignore one."""
    if not request.path.startswith("/api/") or not request.args:
        return None
    errors = {name: ["give it once; lists are comma-separated"] for name in request.args
              if len(request.args.getlist(name)) > 1}
    if not _takes_query():
        errors |= {name: ["Unknown field."] for name in request.args}
    if errors:
        return problem_response(422, detail="The query string does not match this endpoint.", errors=errors)
    return None


def _takes_query() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    view = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(parameter.get("in") == "query" for parameter in parameters)


MULTIPART_ENDPOINTS = {"evidence.upload", "inspections.upload_photo"}


def require_json_body():
    """415 for a body that is not JSON (uploads excepted); 413 for JSON over JSON_MAX_BYTES."""
    has_body = request.method in BODY_METHODS and request.path.startswith("/api/") and request.content_length
    if not has_body or request.endpoint in MULTIPART_ENDPOINTS:
        return None
    if not request.is_json:
        return problem_response(415, detail="Send the body as application/json.")
    if request.content_length > current_app.config["JSON_MAX_BYTES"]:
        return problem_response(413, detail="JSON bodies are limited to 1 MiB.")
    return None


def init_app(app) -> None:
    app.extensions["rectify_auth_throttle"] = FailureThrottle()
    app.before_request(authenticate_request)
    app.before_request(refuse_stray_query)
    app.before_request(require_json_body)
    api.init_app(app)
    api.register_field(CommaList, "string", None)
    for blueprint in (problems.blp, evidence.blp, lists.blp, org.blp, patrols.blp, escalation.blp, reports.blp,
                      calendar.blp, tokens.blp, parties.blp, inspections.blp, work.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    if app.config.get("DEV_ROBOT_ECHO"):
        app.register_blueprint(devecho.blp)
