"""The HTTP API: flask-smorest blueprints behind bearer-token auth, every error as problem+json."""

from flask import current_app, g, request
from flask_smorest import Api

from api import (
    activities,
    calendar,
    devecho,
    docs,
    errors,
    escalation,
    evidence,
    health,
    inspections,
    lists,
    open311_keys,
    openapi,
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
from api.fields import CommaList, computed_property
from api.throttle import FailureThrottle
from models.base import sqlite_begin_mode
from workflow.errors import ERROR_TYPES

BODY_METHODS = ("POST", "PUT", "PATCH")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class RectifyApi(Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # every refusal is listed by status (api/openapi.py)

    def _register_error_handlers(self):
        errors.register(self._app)


def _description() -> str:
    http = [("unauthenticated", 401), ("too-many-requests", 429), ("payload-too-large", 413),
            ("unsupported-media-type", 415), ("bad-request", 400), ("unavailable", 503)]
    rows = [f"- `/errors/{e.slug}` ({e.status}): {e.kind.en}" for e in ERROR_TYPES]
    known = {e.slug for e in ERROR_TYPES}
    rows += [f"- `/errors/{slug}` ({status})" for slug, status in http if slug not in known]
    return ("Every error is application/problem+json `{type, title, status, detail, errors}`; "
            "clients switch on `type`:\n\n" + "\n".join(rows))


api = RectifyApi(spec_kwargs={
    "info": {"description": _description(),
             "license": {"name": "Proprietary: the city owns the code and the data"}},
    "servers": [{"url": "/", "description": "This server (the document is served by the API it describes)"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}]})


SIGNED_ENDPOINTS = {"evidence.content", "inspections.photo_content"}
REQUEST_STATE = ("actor", "api_token", "now", "allowed_actions", "inspection_outcomes")


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


MULTIPART_ENDPOINTS = {"evidence.upload", "inspections.upload_photo", "organisation.import_roster"}


def require_json_body():
    """415 for a body that is not JSON (uploads excepted); 413 for JSON over JSON_MAX_BYTES and for any body
    over MAX_CONTENT_LENGTH — whether it announces its length or comes chunked (then read up to the limit)."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/") or not _has_body():
        return None
    upload = request.endpoint in MULTIPART_ENDPOINTS
    if not upload and not request.is_json:
        return problem_response(415, detail="Send the body as application/json.")
    limit = current_app.config["MAX_CONTENT_LENGTH" if upload else "JSON_MAX_BYTES"]
    if not _over(limit):
        return None
    return problem_response(413, detail="Uploads are limited to ATTACHMENT_MAX_BYTES." if upload
                            else "JSON bodies are limited to 1 MiB.")


def _has_body() -> bool:
    return bool(request.content_length) or _chunked()


def _chunked() -> bool:
    return request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _over(limit: int) -> bool:
    """Whether the body exceeds `limit`. Chunked: nothing says how long it is, so read it now, one byte past
    the limit at most; the form or JSON parser later reads what was kept (werkzeug parses a cached body)."""
    if request.content_length is not None:
        return request.content_length > limit
    request.max_content_length = limit + 1
    return len(request.get_data(cache=True, parse_form_data=False)) > limit


def announce_deprecation(response):
    """Deprecation and Sunset on every answer of a deprecated operation (api/openapi.py::DEPRECATIONS)."""
    if request.url_rule is not None:
        response.headers.update(openapi.deprecation_headers(request.method, request.url_rule.rule))
    return response


def init_app(app) -> None:
    app.extensions["rectify_auth_throttle"] = FailureThrottle()
    app.before_request(authenticate_request)
    app.before_request(refuse_stray_query)
    app.before_request(require_json_body)
    app.after_request(announce_deprecation)
    api.init_app(app)
    api.register_field(CommaList, "string", None)
    if computed_property not in api.ma_plugin.converter.attribute_functions:
        api.ma_plugin.converter.add_attribute_function(computed_property)
    for blueprint in (problems.blp, evidence.blp, lists.blp, org.blp, patrols.blp, escalation.blp, reports.blp,
                      calendar.blp, tokens.blp, parties.blp, inspections.blp, activities.blp, open311_keys.blp,
                      work.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    app.register_blueprint(docs.blp)
    if app.config.get("DEV_ROBOT_ECHO"):
        app.register_blueprint(devecho.blp)
    openapi.finish(api.spec)
