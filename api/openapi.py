"""The published document made exact: stable operationIds, every refusal as problem+json, every header.

flask-smorest writes the operations from the schemas; `finish()` then completes each one from rules that hold
for the whole API (which statuses an operation can answer, which headers it takes and sends), so a new
endpoint is documented precisely without repeating them. `refuses()` adds what a rule cannot know.
"""

import functools
import re
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from models.enums import Action, RoundState, State
from workflow.errors import ERROR_KINDS

# --- stable operation ids: clients generate method names from them; renaming a handler must not rename these

OPERATION_IDS = {
    ("post", "/api/v1/patrol-rounds/{round_id}/outcomes"): "recordRoundOutcomes",
    ("patch", "/api/v1/units/{unit_id}"): "editUnit",
    ("get", "/api/v1/users/{user_id}"): "getUser",
    ("patch", "/api/v1/users/{user_id}"): "editUser",
    ("get", "/api/v1/grids/{grid_id}"): "getGrid",
    ("patch", "/api/v1/grids/{grid_id}"): "editGrid",
    ("put", "/api/v1/grids/{grid_id}/boundary"): "setGridBoundary",
    ("get", "/api/v1/points/{point_id}"): "getPoint",
    ("patch", "/api/v1/points/{point_id}"): "editPoint",
    ("get", "/api/v1/categories/{category_id}"): "getCategory",
    ("patch", "/api/v1/categories/{category_id}"): "editCategory",
    ("put", "/api/v1/categories/{category_id}/public"): "publishCategory",
    ("get", "/api/v1/admin-events"): "listAdminEvents",
    ("post", "/api/v1/imports"): "importRoster",
    ("get", "/api/v1/imports/template"): "getImportTemplate",
    ("get", "/api/v1/problems"): "listProblems",
    ("post", "/api/v1/problems"): "reportProblem",
    ("get", "/api/v1/problems/export"): "exportProblems",
    ("get", "/api/v1/problems/{problem_id}"): "getProblem",
    ("patch", "/api/v1/problems/{problem_id}"): "editProblem",
    ("post", "/api/v1/problems/{problem_id}/actions"): "actOnProblem",
    ("get", "/api/v1/problems/{problem_id}/events"): "listProblemEvents",
    ("post", "/api/v1/problems/{problem_id}/attachments"): "uploadAttachment",
    ("get", "/api/v1/problems/{problem_id}/attachments"): "listAttachments",
    ("get", "/api/v1/attachments/{attachment_id}/content"): "getAttachmentContent",
    ("get", "/api/v1/problem-lists"): "listProblemLists",
    ("post", "/api/v1/problem-lists"): "createProblemList",
    ("get", "/api/v1/problem-lists/{list_id}"): "getProblemList",
    ("post", "/api/v1/problem-lists/{list_id}/problems"): "addProblemsToList",
    ("delete", "/api/v1/problem-lists/{list_id}/problems/{problem_id}"): "removeProblemFromList",
    ("post", "/api/v1/problem-lists/{list_id}/close"): "closeProblemList",
    ("get", "/api/v1/problem-lists/{list_id}/scope"): "getCampaignScope",
    ("put", "/api/v1/problem-lists/{list_id}/scope"): "setCampaignScope",
    ("get", "/api/v1/problem-lists/{list_id}/coverage"): "getCampaignCoverage",
    ("get", "/api/v1/problem-lists/{list_id}/inspection-ledger"): "exportCampaignInspectionLedger",
    ("get", "/api/v1/problem-lists/{list_id}/activities"): "listCampaignActivities",
    ("post", "/api/v1/problem-lists/{list_id}/activities"): "recordCampaignActivity",
    ("get", "/api/v1/problem-lists/{list_id}/activity-totals"): "getCampaignActivityTotals",
    ("get", "/api/v1/problem-lists/{list_id}/report"): "exportCampaignReport",
    ("get", "/api/v1/units"): "listUnits",
    ("post", "/api/v1/units"): "createUnit",
    ("get", "/api/v1/units/{unit_id}"): "getUnit",
    ("get", "/api/v1/users"): "listUsers",
    ("post", "/api/v1/users"): "createUser",
    ("put", "/api/v1/users/{user_id}/password"): "setUserPassword",
    ("get", "/api/v1/me"): "getMe",
    ("get", "/api/v1/grids"): "listGrids",
    ("post", "/api/v1/grids"): "createGrid",
    ("get", "/api/v1/points"): "listPoints",
    ("post", "/api/v1/points"): "createPoint",
    ("get", "/api/v1/categories"): "listCategories",
    ("post", "/api/v1/categories"): "createCategory",
    ("get", "/api/v1/patrol-plans"): "listPatrolPlans",
    ("post", "/api/v1/patrol-plans"): "createPatrolPlan",
    ("get", "/api/v1/patrol-plans/{plan_id}"): "getPatrolPlan",
    ("patch", "/api/v1/patrol-plans/{plan_id}"): "editPatrolPlan",
    ("post", "/api/v1/patrol-plans/{plan_id}/pause"): "pausePatrolPlan",
    ("post", "/api/v1/patrol-plans/{plan_id}/resume"): "resumePatrolPlan",
    ("get", "/api/v1/patrol-rounds"): "listPatrolRounds",
    ("get", "/api/v1/me/rounds"): "listMyRounds",
    ("get", "/api/v1/patrol-rounds/{round_id}"): "getPatrolRound",
    ("post", "/api/v1/patrol-rounds/{round_id}/start"): "startPatrolRound",
    ("post", "/api/v1/patrol-rounds/{round_id}/complete"): "completePatrolRound",
    ("post", "/api/v1/patrol-rounds/{round_id}/checkins"): "checkInOnRound",
    ("get", "/api/v1/patrol-rounds/{round_id}/checkins"): "listRoundCheckins",
    ("post", "/api/v1/patrol-rounds/{round_id}/findings"): "reportRoundFinding",
    ("get", "/api/v1/escalation-rules"): "listEscalationRules",
    ("post", "/api/v1/escalation-rules"): "createEscalationRule",
    ("get", "/api/v1/escalation-rules/{rule_id}"): "getEscalationRule",
    ("patch", "/api/v1/escalation-rules/{rule_id}"): "editEscalationRule",
    ("post", "/api/v1/escalation-rules/dry-run"): "dryRunEscalationRule",
    ("get", "/api/v1/me/notifications"): "listMyNotifications",
    ("post", "/api/v1/me/notifications/{notification_id}/read"): "markNotificationRead",
    ("post", "/api/v1/me/notifications/read-all"): "markAllNotificationsRead",
    ("get", "/api/v1/me/tasks"): "listMyTasks",
    ("get", "/api/v1/me/tasks/summary"): "summarizeMyTasks",
    ("get", "/api/v1/webhooks"): "listWebhooks",
    ("post", "/api/v1/webhooks"): "createWebhook",
    ("patch", "/api/v1/webhooks/{webhook_id}"): "editWebhook",
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
    ("post", "/api/v1/webhook-deliveries/{delivery_id}/redrive"): "redriveWebhookDelivery",
    ("get", "/api/v1/reports/summary"): "getReportSummary",
    ("get", "/api/v1/reports/drill"): "drillReportFigure",
    ("get", "/api/v1/reports/patrols"): "getPatrolReport",
    ("get", "/api/v1/reports/patrols/drill"): "drillPatrolFigure",
    ("get", "/api/v1/reports/evaluation"): "getUnitEvaluation",
    ("get", "/api/v1/reports/units"): "listUnitReports",
    ("get", "/api/v1/reports/units/{report_id}"): "getUnitReport",
    ("get", "/api/v1/reports/units/{report_id}/xlsx"): "exportUnitReport",
    ("get", "/api/v1/calendar"): "getCalendar",
    ("post", "/api/v1/calendar/days"): "setCalendarDays",
    ("get", "/api/v1/me/tokens"): "listMyTokens",
    ("delete", "/api/v1/me/tokens/{token_id}"): "revokeMyToken",
    ("get", "/api/v1/users/{user_id}/tokens"): "listUserTokens",
    ("post", "/api/v1/users/{user_id}/tokens"): "issueUserToken",
    ("delete", "/api/v1/users/{user_id}/tokens/{token_id}"): "revokeUserToken",
    ("get", "/api/v1/parties"): "listParties",
    ("post", "/api/v1/parties"): "registerParty",
    ("get", "/api/v1/parties/{party_id}"): "getParty",
    ("patch", "/api/v1/parties/{party_id}"): "editParty",
    ("get", "/api/v1/parties/{party_id}/events"): "listPartyEvents",
    ("post", "/api/v1/parties/{party_id}/ladder-steps"): "setPartyLadderStep",
    ("get", "/api/v1/ladder-steps"): "listLadderSteps",
    ("get", "/api/v1/inspection-templates"): "listInspectionTemplates",
    ("post", "/api/v1/inspection-templates"): "createInspectionTemplate",
    ("get", "/api/v1/inspection-templates/{code}"): "getInspectionTemplate",
    ("put", "/api/v1/inspection-templates/{code}"): "saveInspectionTemplate",
    ("get", "/api/v1/inspections"): "listInspections",
    ("post", "/api/v1/inspections"): "recordInspection",
    ("get", "/api/v1/inspections/{inspection_id}"): "getInspection",
    ("get", "/api/v1/orders"): "listRectificationOrders",
    ("get", "/api/v1/orders/{order_id}"): "getRectificationOrder",
    ("get", "/api/v1/orders/{order_id}/print"): "printRectificationOrder",
    ("get", "/api/v1/inspection-tasks"): "listInspectionTasks",
    ("post", "/api/v1/inspection-photos"): "uploadInspectionPhoto",
    ("get", "/api/v1/inspection-photos/{photo_id}"): "getInspectionPhoto",
    ("get", "/api/v1/inspection-photos/{photo_id}/content"): "getInspectionPhotoContent",
    ("get", "/api/v1/open311-keys"): "listOpen311Keys",
    ("post", "/api/v1/open311-keys"): "createOpen311Key",
    ("delete", "/api/v1/open311-keys/{key_id}"): "revokeOpen311Key",
    ("get", "/livez"): "getLiveness",
    ("get", "/healthz"): "getHealth",
}

WRITE_METHODS = ("post", "put", "patch", "delete")
# Rules: who may answer what. Every /api operation may refuse the query string (422) and every operation
# may find the database down (503) or meet a bug (500, logged, never with details); authenticated ones
# refuse callers (401, 429 after repeated failures) and roles (403); an id in the path may name nothing the
# caller can see (404); a JSON body may not parse (400), be too large (413) or not be JSON (415); a write
# with an Idempotency-Key may meet its twin in flight (409); an operation that takes If-Match answers 428
# without it and 412 when it is stale.
ALWAYS = {500, 503}
API = {422}
AUTHENTICATED = {401, 403, 429}
BODY = {400, 413, 415}
WRITE = {409}
PRECONDITION = {412, 428}

PROBLEM_JSON = "application/problem+json"

# Headers every success of an operation carries (a replay too: api/write.py keeps them with the response).
SENT = {
    "reportProblem": ("ETag", "Location"), "getProblem": ("ETag",), "editProblem": ("ETag",),
    "actOnProblem": ("ETag",), "registerParty": ("ETag", "Location"), "getParty": ("ETag",),
    "editParty": ("ETag",), "setPartyLadderStep": ("ETag",), "recordInspection": ("Location",),
}


def refuses(*statuses: int):
    """Document statuses an operation answers that the rules above do not imply (e.g. 409 on a read)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        manual = wrapper._apidoc.setdefault("manual_doc", {})
        manual["x-refuses"] = sorted(set(manual.get("x-refuses", [])) | set(statuses))
        return wrapper

    return decorator


# --- deprecations: what still works but will go (docs/openapi.md#versions-and-deprecation) -----------------

@dataclass(frozen=True)
class Deprecation:
    since: datetime  # aware
    sunset: datetime  # aware; at least 180 days after `since`
    note: str  # what replaces it, as in CHANGELOG.md

    def headers(self) -> dict[str, str]:
        return {"Deprecation": f"@{int(self.since.timestamp())}", "Sunset": format_datetime(self.sunset, usegmt=True)}


# operationId -> its deprecation. Every response of a listed operation carries Deprecation and Sunset, and the
# document marks the operation deprecated and declares both headers. Nothing is deprecated today.
DEPRECATIONS: dict[str, Deprecation] = {}


def deprecation_headers(method: str, rule: str) -> dict[str, str]:
    """The Deprecation and Sunset headers for a request to `rule` (a Flask rule), or none."""
    path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)
    deprecation = DEPRECATIONS.get(OPERATION_IDS.get((method.lower(), path), ""))
    return deprecation.headers() if deprecation else {}


# --- components ------------------------------------------------------------------------------------

def _error_slugs() -> list[str]:
    return sorted({f"/errors/{kind.slug}" for kind in ERROR_KINDS})


# Not recursive on purpose: client generators refuse a self-referencing schema.
FIELD_MESSAGES = {"description": "The messages about one field: a list, or for a nested field an object by member "
                                 "(or list index) holding the same shape.",
                  "oneOf": [{"type": "array", "items": {"type": "string"}},
                            {"type": "object", "additionalProperties": True}]}


def _problem_schema() -> dict:
    return {
        "type": "object",
        "description": "An error (RFC 9457 problem details). Members beyond these are extensions a kind "
                       "adds (see the 409 and 412 schemas); clients must ignore ones they do not know.",
        "required": ["type", "title", "status", "detail", "errors"],
        "properties": {
            "type": {"type": "string", "enum": _error_slugs(),
                     "description": "/errors/<slug>, stable for clients to switch on"},
            "title": {"type": "string", "description": "the kind's title in the caller's language"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "object", "description": "field -> messages; {} when there are none",
                       "additionalProperties": FIELD_MESSAGES},
            "request_id": {"type": "string", "description": "the request's id, as in its X-Request-Id header "
                                                            "and the server's log lines"},
        },
        "additionalProperties": True,
    }


def _extension(description: str, required: list[str], properties: dict) -> dict:
    member = {"type": "object", "properties": properties} | ({"required": required} if required else {})
    return {"description": description, "allOf": [{"$ref": "#/components/schemas/Problem"}, member]}


ALL_STATES = sorted({s.value for s in State} | {s.value for s in RoundState})


def _schemas() -> dict:
    return {
        "Problem": _problem_schema(),
        "ValidationProblem": _extension("422: `errors` names each refused field (or `_schema` for the body "
                                        "as a whole).", ["errors"], {}),
        "ConflictProblem": _extension(
            "409. A transition the state does not allow (/errors/invalid-transition) adds the current `state`, "
            "its `state_label` and the caller's `allowed_actions`; a round adds its `state`.", [], {
                "state": {"type": "string", "enum": ALL_STATES},
                "state_label": {"type": "string"},
                "allowed_actions": {"type": "array", "items": {"type": "string", "enum": [a.value for a in Action]}},
            }),
        "StaleVersionProblem": _extension("412: the `version` the resource is at now, for a client that "
                                          "wants to reread and retry.", [], {
                                              "version": {"type": "integer", "minimum": 1}}),
    }


ERROR_RESPONSES = {
    400: ("BadRequest", "The body is not valid JSON (or nests too deeply).", "Problem"),
    401: ("Unauthenticated", "No valid bearer token.", "Problem"),
    403: ("Forbidden", "The caller's role may not do this (or a signed link is forged or expired).", "Problem"),
    404: ("NotFound", "Unknown, or outside the caller's scope (never revealing that it exists).", "Problem"),
    409: ("Conflict", "The state does not allow it, or a request with the same Idempotency-Key is in flight.",
          "ConflictProblem"),
    412: ("StaleVersion", "If-Match names a version that is no longer current.", "StaleVersionProblem"),
    413: ("PayloadTooLarge", "The body is over the limit (JSON 1 MiB; photos ATTACHMENT_MAX_BYTES).", "Problem"),
    415: ("UnsupportedMediaType", "The body is not JSON, or an upload is not an image we read.", "Problem"),
    422: ("Invalid", "The request does not match the schema, or a field is refused; see errors.",
          "ValidationProblem"),
    428: ("IfMatchRequired", "Send If-Match with the ETag you last saw.", "Problem"),
    429: ("TooManyRequests", "Too many failed authentications from this address; wait Retry-After seconds.",
          "Problem"),
    500: ("Internal", "A bug: logged with the request id, answered without details.", "Problem"),
    503: ("Unavailable", "The database is not answering; retry after Retry-After seconds.", "Problem"),
}
ERROR_HEADERS = {401: {"WWW-Authenticate": "WWWAuthenticate"}, 429: {"Retry-After": "RetryAfter"},
                 503: {"Retry-After": "RetryAfter"}}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _responses() -> dict:
    responses = {}
    for status, (name, description, schema) in ERROR_RESPONSES.items():
        headers = {header: _ref("headers", ref) for header, ref in ERROR_HEADERS.get(status, {}).items()}
        headers["Idempotent-Replayed"] = _ref("headers", "IdempotentReplayed")
        responses[name] = {"description": description, "headers": headers,
                           "content": {PROBLEM_JSON: {"schema": _ref("schemas", schema)}}}
    return responses


HEADERS = {
    "ETag": {"description": 'The resource\'s version as a strong entity tag, e.g. "3": send it back as If-Match.',
             "required": True, "schema": {"type": "string", "pattern": '^"[0-9]+"$'}},
    "Location": {"description": "Where the created resource lives.", "required": True,
                 "schema": {"type": "string", "format": "uri-reference"}},
    "IdempotentReplayed": {"description": "`true` when this is the stored response to an earlier request with "
                                          "the same Idempotency-Key (absent otherwise).",
                           "schema": {"type": "string", "enum": ["true"]}},
    "RetryAfter": {"description": "Seconds to wait before retrying.", "required": True,
                   "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "WWWAuthenticate": {"description": 'The challenge: `Bearer realm="rectify"` (with `error="invalid_token"` '
                                       "when a token was sent).", "required": True, "schema": {"type": "string"}},
    "Deprecation": {"description": "RFC 9745: the operation, or a field it serves, is deprecated since this "
                                   "date (`@<unix seconds>`); see CHANGELOG.md.", "required": True,
                    "schema": {"type": "string", "pattern": "^@[0-9]+$"}},
    "Sunset": {"description": "RFC 8594: the HTTP date after which the deprecated thing is gone.",
               "required": True, "schema": {"type": "string"}},
}

PARAMETERS = {
    "AcceptLanguage": {"name": "Accept-Language", "in": "header", "required": False,
                       "description": "Labels and error titles in Chinese (default) or English (`en`, `en-US`).",
                       "schema": {"type": "string", "maxLength": 200}},
    "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "Makes a retry safe: the same key (per user, kept 7 days) answers with the "
                                      "first response and `Idempotent-Replayed: true`; another body with the same "
                                      "key is 422; while the first is still running, 409.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
    "IfMatch": {"name": "If-Match", "in": "header", "required": True,
                "description": 'The ETag you last saw, e.g. "3": without it 428, stale 412.',
                "schema": {"type": "string", "minLength": 1}},
}


# --- finishing the document ------------------------------------------------------------------------

def finish(spec) -> None:
    """Complete every operation of `spec` (an apispec APISpec) in place; called once all routes are in."""
    _health_paths(spec)
    _components(spec.components)
    for path, operations in spec._paths.items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                _finish_operation(spec.components.schemas, path, method, operation)
    _require_outputs(spec)
    for schema in spec.components.schemas.values():
        _tidy(schema)
    if not _refs_in(list(spec._paths.values())) & {"PaginationMetadata"}:
        spec.components.schemas.pop("PaginationMetadata", None)  # flask-smorest's, for pagination we do not use


def _components(components) -> None:
    for name, schema in _schemas().items():
        components.schemas[name] = schema
    for name, header in HEADERS.items():
        components.header(name, header)
    for name, parameter in PARAMETERS.items():
        components.parameter(name, parameter["in"], {k: v for k, v in parameter.items() if k != "in"})
    components.responses.clear()
    for name, response in _responses().items():
        components.response(name, response)


def _finish_operation(schemas: dict, path: str, method: str, operation: dict) -> None:
    operation["operationId"] = OPERATION_IDS.get((method, path)) or _derived_id(method, path)
    statuses = _statuses(path, method, operation)
    responses = operation["responses"]
    # flask-smorest's error responses say application/json; ours are problem+json (the probes keep their own)
    for status in [s for s in responses if s == "default" or (int(s) >= 400 and path.startswith("/api/"))]:
        del responses[status]
    for status in sorted(statuses):
        responses.setdefault(str(status), _ref("responses", ERROR_RESPONSES[status][0]))
    operation["parameters"] = _parameters(schemas, path, method, operation, statuses)
    _success_headers(method, operation)
    if (deprecation := DEPRECATIONS.get(operation["operationId"])) is not None:
        _deprecate(operation, deprecation)


def _deprecate(operation: dict, deprecation: Deprecation) -> None:
    operation["deprecated"] = True
    operation["description"] = (operation.get("description", "") + f"\n\nDeprecated: {deprecation.note}").strip()
    for status, response in operation["responses"].items():
        if "$ref" not in response and int(status) < 400:
            response.setdefault("headers", {}).update(
                {name: _ref("headers", name) for name in ("Deprecation", "Sunset")})


def _derived_id(method: str, path: str) -> str:
    """An id for a route missing from OPERATION_IDS (tests/api/test_openapi.py fails until it is added)."""
    words = [method] + [w for part in path.split("/") if part and not part.startswith("{") and part not in
                        ("api", "v1") for w in part.split("-")]
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _statuses(path: str, method: str, operation: dict) -> set[int]:
    declared = {int(s) for s in operation["responses"] if s != "default" and int(s) >= 400}
    statuses = declared | set(operation.pop("x-refuses", [])) | ALWAYS | _by_rule(path, method, operation)
    if any(p.get("name") == "If-Match" for p in operation.get("parameters", [])):
        statuses |= PRECONDITION
    return statuses


def _by_rule(path: str, method: str, operation: dict) -> set[int]:
    on_api = path.startswith("/api/")
    rules = [(on_api, API), (on_api and operation.get("security") != [], AUTHENTICATED), ("{" in path, {404}),
             ("requestBody" in operation, BODY), (on_api and method in WRITE_METHODS, WRITE)]
    return set().union(*(statuses for applies, statuses in rules if applies))


def _parameters(schemas: dict, path: str, method: str, operation: dict, statuses: set[int]) -> list:
    kept, form = [], []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "formData":
            form.append(parameter)
        elif parameter.get("name") not in ("If-Match", "Idempotency-Key", "Accept-Language"):
            kept.append(parameter)
    if form:
        _merge_form(schemas, operation, form)
    kept.append(_ref("parameters", "AcceptLanguage"))
    if method in WRITE_METHODS and path.startswith("/api/"):
        kept.append(_ref("parameters", "IdempotencyKey"))
    if 428 in statuses:
        kept.append(_ref("parameters", "IfMatch"))
    return kept


def _merge_form(schemas: dict, operation: dict, form: list) -> None:
    """flask-smorest writes form fields next to a file upload as OpenAPI 2 `formData` parameters: put them in
    the multipart body's schema (the upload's own), where OpenAPI 3 and a generated client expect them."""
    name = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = schemas[name]
    for parameter in form:
        schema["properties"][parameter["name"]] = parameter["schema"] | (
            {"description": parameter["description"]} if "description" in parameter else {})
        if parameter.get("required"):
            schema.setdefault("required", []).append(parameter["name"])


def _success_headers(method: str, operation: dict) -> None:
    sent = SENT.get(operation["operationId"], ())
    for status, response in operation["responses"].items():
        if "$ref" in response or int(status) >= 400:
            continue
        headers = response.setdefault("headers", {})
        headers.pop("ETag", None)
        for name in sent:
            headers[name] = _ref("headers", name)
        if method in WRITE_METHODS:
            headers["Idempotent-Replayed"] = _ref("headers", "IdempotentReplayed")
        if not headers:
            del response["headers"]


def _require_outputs(spec) -> None:
    """Output schemas: every property is always present (marshmallow dumps every field), unless marked
    `x-optional`; a schema that is also read from requests keeps its own `required`."""
    schemas = spec.components.schemas
    inputs = _reached(schemas, _refs_in([op.get("requestBody", {}) for op in _operations(spec)]))
    outputs = _reached(schemas, _refs_in([op["responses"] for op in _operations(spec)]))
    for name in outputs - inputs:
        schema = schemas[name]
        properties = schema.get("properties")
        if schema.get("type") != "object" or not properties:
            continue
        required = [key for key, value in properties.items() if not value.pop("x-optional", False)]
        if required:
            schema["required"] = required


def _tidy(node) -> None:
    """apispec writes a nullable nested object as `{nullable, anyOf: [{type: object, nullable}, {$ref}]}`; in
    OpenAPI 3.0 `nullable` means nothing without a `type` beside it, and the first branch already admits null.
    A `$ref` ignores its siblings (readOnly, description): wrap it in allOf so they count."""
    if isinstance(node, dict):
        if "nullable" in node and "type" not in node and "anyOf" in node:
            del node["nullable"]
        if "$ref" in node and len(node) > 1:
            node["allOf"] = [{"$ref": node.pop("$ref")}]
        for value in node.values():
            _tidy(value)
    elif isinstance(node, list):
        for value in node:
            _tidy(value)


def _operations(spec):
    for operations in spec._paths.values():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield operation


def _refs_in(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs_in(value)
    return found


def _reached(schemas: dict, start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs_in(schemas[name]))
    return seen


HEALTH = {
    "type": "object", "required": ["status", "warnings", "database", "scheduler"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "database": {"type": "string", "enum": ["ok", "down"]},
        "scheduler": {"type": "object", "nullable": True, "additionalProperties": True,
                      "description": "the scheduler's heartbeat and jobs; null when the database is down"},
    },
}


def _health_paths(spec) -> None:
    """The probes are plain Flask routes (no token, no /api prefix); document them all the same."""
    spec.components.schema("Liveness", {"type": "object", "required": ["status"],
                                        "properties": {"status": {"type": "string", "enum": ["ok"]}}})
    spec.components.schema("Health", HEALTH)
    spec.tag({"name": "health", "description": "Probes for load balancers and operators."})
    live = {"200": {"description": "The process serves.",
                    "content": {"application/json": {"schema": _ref("schemas", "Liveness")}}}}
    health = {"200": {"description": "It can serve (`degraded` lists what an operator should fix).",
                      "content": {"application/json": {"schema": _ref("schemas", "Health")}}},
              "503": {"description": "The database does not answer.",
                      "content": {"application/json": {"schema": _ref("schemas", "Health")}}}}
    # apispec's Flask plugin wants a view for spec.path(); these need none
    spec._paths["/livez"] = {"get": {"summary": "Liveness: the process serves (no database).",
                                            "tags": ["health"], "security": [], "responses": live}}
    spec._paths["/healthz"] = {"get": {"summary": "Readiness: the database answers; warnings for operators.",
                                              "tags": ["health"], "security": [], "responses": health}}
