"""The Open311 GeoReport v2 face: `/open311/discovery.{fmt}` and `/open311/v2/...`, JSON and XML.

Reads are public (rate-limited per client address); posting needs an application's `api_key` (403 in the
spec's error format when it is wrong or revoked; rate-limited per key). Errors use the spec's shape
`[{code, description}]` with the HTTP status. Handlers parse, call workflow/intake/georeport.py and render;
the one write commits once here.
"""

from datetime import datetime

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from models.base import db, utcnow
from open311 import render
from open311.limits import RateLimit
from workflow.errors import DomainError
from workflow.intake import georeport, keys

blp = Blueprint("open311", __name__, url_prefix="/open311")

POST_FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
               "email", "device_id", "account_id", "first_name", "last_name", "phone", "description",
               "media_url"}
QUERY_FIELDS = {
    "services": {"jurisdiction_id", "api_key"},
    "requests": {"jurisdiction_id", "api_key", "service_request_id", "service_code", "start_date", "end_date",
                 "status"},
}


def _now() -> datetime:
    return current_app.extensions.get("rectify_clock", utcnow)()


def _lang() -> str:
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return "en" if best == "en" else "zh"


class Refusal(Exception):
    def __init__(self, status: int, description: str, headers: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers or {}


def _format(name: str) -> tuple[str, str]:
    """Split `services.json` into (`services`, `json`); an unknown format is 404."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in render.FORMATS:
        raise Refusal(404, "answers come as .json or .xml")
    return stem, fmt


def _fmt_of_path() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@blp.errorhandler(Refusal)
def _refused(refusal: Refusal):
    response = render.errors(_fmt_of_path(), refusal.status, refusal.description)
    response.headers.update(refusal.headers)
    return response


@blp.errorhandler(DomainError)
def _domain(error: DomainError):
    db.session.rollback()
    status = {422: 400}.get(error.status, error.status)  # Open311 calls a bad field 400
    fields = "; ".join(f"{name}: {', '.join(map(str, messages))}" for name, messages in error.errors.items())
    return render.errors(_fmt_of_path(), status, error.detail + (f" ({fields})" if fields else ""))


@blp.errorhandler(HTTPException)
def _http(error: HTTPException):
    return render.errors(_fmt_of_path(), error.code or 400, error.description or error.name)


@blp.before_request
def _guard():
    """Reads are limited per address, unknown query parameters refused; bodies held to a size."""
    if request.method == "GET":
        _limit_reads()
    if (request.content_length or 0) > current_app.config["OPEN311_MAX_BYTES"]:
        raise Refusal(413, "the request is too large")
    for name in request.args:
        if len(request.args.getlist(name)) > 1:
            raise Refusal(400, f"{name}: give it once; lists are comma-separated")
        if any(not c.isprintable() for c in request.args[name]) or len(request.args[name]) > 2000:
            raise Refusal(400, f"{name}: control characters or too long")


def _limit_reads() -> None:
    limiter: RateLimit = current_app.extensions["rectify_open311_reads"]
    address = request.remote_addr or "unknown"
    wait = limiter.hit(address, limit=current_app.config["OPEN311_READS_PER_MINUTE"], now=_now())
    if wait is not None:
        raise Refusal(429, "too many requests from this address; retry later", {"Retry-After": str(wait)})


def _query(kind: str) -> dict:
    unknown = sorted(set(request.args) - QUERY_FIELDS[kind])
    if unknown:
        raise Refusal(400, f"unknown parameters: {', '.join(unknown)}")
    if "api_key" in request.args:
        _key_holder(request.args["api_key"])  # a key given on a read must still be a valid one
    return {name: value for name, value in request.args.items() if name not in ("jurisdiction_id", "api_key")}


def _key_holder(key: str):
    """The key's row, or 403 (and the failure counted: an address guessing keys gets 429)."""
    throttle, now = current_app.extensions["rectify_auth_throttle"], _now()
    address = request.remote_addr or "unknown"
    if (wait := throttle.retry_after(address, now=now)) is not None:
        raise Refusal(429, "too many failed api_key attempts from this address", {"Retry-After": str(wait)})
    holder = keys.key_holder(key=key, now=now)
    if holder is None:
        throttle.record(address, now=now)
        current_app.logger.warning("Open311 api_key refused from %s", address)
        raise Refusal(403, "api_key is not valid or has been revoked")
    return holder


@blp.get("/discovery.<fmt>")
def discovery(fmt):
    """Where the endpoint is and what it speaks."""
    _, fmt = _format(f"discovery.{fmt}")
    base = request.host_url.rstrip("/") + "/open311/v2"
    formats = ["application/json", "text/xml"]
    data = {"changeset": georeport.CHANGESET, "contact": current_app.config.get("OPEN311_CONTACT", ""),
            "key_service": current_app.config.get("OPEN311_KEY_SERVICE", ""),
            "endpoints": [{"specification": georeport.SPECIFICATION, "url": base, "changeset": georeport.CHANGESET,
                           "type": "production", "formats": formats}]}
    return render.answer(fmt, "discovery", data)


@blp.get("/v2/<name>")
def listing(name):
    """services.{fmt} and requests.{fmt}."""
    stem, fmt = _format(name)
    if stem == "services":
        _query("services")
        return render.answer(fmt, "services", georeport.services(lang=_lang()))
    if stem == "requests":
        found = georeport.find_requests(now=_now(), lang=_lang(), **_query("requests"))
        return render.answer(fmt, "service_requests", found)
    raise Refusal(404, f"no such resource: {stem}")


@blp.get("/v2/services/<name>")
def service_definition(name):
    """services/{service_code}.{fmt}: the attributes of a service."""
    code, fmt = _format(name)
    _query("services")
    return render.answer(fmt, "service_definition", georeport.service_definition(code))


@blp.get("/v2/requests/<name>")
def one_request(name):
    """requests/{service_request_id}.{fmt}: one request, in a list as the spec has it."""
    code, fmt = _format(name)
    _query("services")
    return render.answer(fmt, "service_requests", [georeport.get_request(code, lang=_lang())])


@blp.post("/v2/<name>")
def post_request(name):
    """requests.{fmt}: a public report, form-encoded as the spec says."""
    stem, fmt = _format(name)
    if stem != "requests":
        raise Refusal(404 if stem != "services" else 405, f"cannot POST to {stem}")
    form = _form()
    holder = _key_holder(form.get("api_key", ""))
    wait = current_app.extensions["rectify_open311_posts"].hit(
        f"key:{holder.id}", limit=current_app.config["OPEN311_POSTS_PER_MINUTE"], now=_now())
    if wait is not None:
        raise Refusal(429, "this api_key has posted too often; retry later", {"Retry-After": str(wait)})
    problem = georeport.submit_request(account=holder.user, now=_now(), form=form, attributes=_attributes(),
                                       nearest_m=current_app.config["INTAKE_NEAREST_POINT_METRES"])
    code = problem.code
    db.session.commit()
    return render.answer(fmt, "service_requests",
                         [{"service_request_id": code, "service_notice": "", "account_id": None}], status=201)


def _form() -> dict:
    """The form fields (url-encoded or multipart without files); unknown fields and repeats are refused."""
    _check_form_type()
    form = request.form
    fields = [name for name in form if not _is_attribute(name)]
    if unknown := sorted(set(fields) - POST_FIELDS):
        raise Refusal(400, f"unknown fields: {', '.join(unknown)}")
    if repeated := sorted(n for n in fields if len(form.getlist(n)) > 1):
        raise Refusal(400, f"give each field once: {', '.join(repeated)}")
    return {name: form[name] for name in fields}


def _check_form_type() -> None:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Refusal(415 if request.content_length else 400,
                      "send the request form-encoded (application/x-www-form-urlencoded)")
    if request.files:
        raise Refusal(400, "media is a link (media_url); files are not accepted")


def _is_attribute(name: str) -> bool:
    return name.startswith("attribute[") and name.endswith("]")


def _attributes() -> dict[str, list[str]]:
    """attribute[code]=value (repeated, or attribute[code][]=, for multivaluelist)."""
    answers: dict[str, list[str]] = {}
    for name in request.form:
        if _is_attribute(name):
            code = name[len("attribute["):-1].removesuffix("][")
            answers.setdefault(code, []).extend(request.form.getlist(name))
    return answers


def init_app(app) -> None:
    app.extensions["rectify_open311_reads"] = RateLimit()
    app.extensions["rectify_open311_posts"] = RateLimit()
    app.register_blueprint(blp)


