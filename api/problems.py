"""The problem ledger: report, read, edit, act, and the trail."""

import functools

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView

from api.blueprint import ID, Blueprint
from api.context import current_actor, if_match_version, request_now, require_role
from api.errors import ProblemSchema
from api.schemas import (
    ActionIn,
    EditIn,
    EventPage,
    ExportArgs,
    LedgerArgs,
    PageArgs,
    ProblemOut,
    ProblemPage,
    ReportIn,
    problem_items,
)
from api.write import write
from workflow.ledger import exports, query
from workflow.problems import actions, lifecycle, reporting, visibility

blp = Blueprint("problems", __name__, url_prefix="/api/v1/problems",
                description="Problems (问题): report, the ledger (台账), the workflow and the trail.")

IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": 'The ETag of the problem as you last saw it, e.g. "3"'}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "maxLength": 255},
                   "description": "Makes a retry safe: a replay returns the first response."}


DEPRECATED_SINCE = "@1796256000"  # 2026-12-03T00:00:00Z, when reason/note were sorted out (decision 0030)
DEPRECATION = {"schema": {"type": "string"},
               "description": "Present when the body used a field's deprecated name (RFC 9745 date)"}


def _ref(path: str, method: str) -> str:
    """A JSON pointer to an operation of this spec, for OpenAPI links (the operations have no ids)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


_BY_ID = "/api/v1/problems/{problem_id}"
_THIS = {"problem_id": "$response.body#/id"}
_THIS_VERSION = _THIS | {"header.If-Match": "$response.header.ETag"}
# OpenAPI links: what a client (and schemathesis' stateful phase) can do next with the problem it got.
LINKS = {
    "GetProblem": {"operationRef": _ref(_BY_ID, "get"), "parameters": _THIS,
                   "description": "Read the problem again (its ETag and allowed_actions)"},
    "ActOnProblem": {"operationRef": _ref(_BY_ID + "/actions", "post"), "parameters": _THIS_VERSION,
                     "description": "Take a workflow action, with If-Match from this ETag"},
    "ProblemEvents": {"operationRef": _ref(_BY_ID + "/events", "get"), "parameters": _THIS,
                      "description": "Read the problem's trail"},
}
EDIT_LINK = {"EditProblem": {"operationRef": _ref(_BY_ID, "patch"), "parameters": _THIS_VERSION,
                             "description": "Correct the report while it waits for dispatch"}}


def etag(problem) -> dict:
    return {"ETag": f'"{problem.version}"'}


def visible_problem(view=None, *, action: bool = False):
    """Answer 404 for a problem the caller cannot see before the body is even parsed.

    `action`: the read is the action's (workflow/problems/visibility.py): it also brings the rows the body's
    fields name, whatever they turn out to be worth when the body is checked."""
    if view is None:
        return functools.partial(visible_problem, action=action)

    @functools.wraps(view)
    def wrapper(*args, problem_id, **kwargs):
        body = request.get_json(silent=True) if action else None
        visibility.get_problem(actor=current_actor(), problem_id=problem_id,
                               naming=(body if isinstance(body, dict) else {}) if action else None)
        return view(*args, problem_id=problem_id, **kwargs)

    return wrapper


@blp.route("")
class Problems(MethodView):
    @blp.arguments(LedgerArgs, location="query")
    @blp.response(200, ProblemPage)
    def get(self, args):
        """The ledger: newest first, filtered, one keyset page at a time."""
        limit, cursor = args.pop("limit"), args.pop("cursor", None)
        page = query.list_problems(actor=current_actor(), now=request_now(), filters=args, limit=limit,
                                   cursor=cursor)
        # ProblemPage's JSON, its items dumped by a plan of ProblemOut (a third of marshmallow's Python per row).
        return current_app.json.response(items=problem_items(page.items), next_cursor=page.next_cursor)

    @write
    @blp.arguments(ReportIn)
    @blp.response(201, ProblemOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(200, schema=ProblemOut, description="A repeated client_id: the existing problem")
    @blp.doc(parameters=[IDEMPOTENCY_KEY], responses={201: {"links": LINKS | EDIT_LINK}, 200: {"links": LINKS}})
    def post(self, data):
        """Report a problem (officers in their grids, supervisors in their area, the hotline account anywhere)."""
        require_role("officer", "supervisor", "hotline")
        problem, created = reporting.report_problem(actor=current_actor(), now=request_now(), **_outside(data),
                                                    nearest_m=current_app.config["INTAKE_NEAREST_POINT_METRES"])
        return problem, 201 if created else 200, etag(problem) | {"Location": f"/api/v1/problems/{problem.id}"}


def _outside(data: dict) -> dict:
    """The contact fields travel together into the workflow."""
    contact = {name: data.pop(name) for name in ("contact_name", "contact_phone", "contact_email") if name in data}
    return data | ({"contact": contact} if contact else {})


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@blp.route("/export")
@blp.arguments(ExportArgs, location="query")
@blp.response(200, content_type="application/octet-stream",
              description="CSV (UTF-8 with BOM), XLSX or GeoJSON of the filtered ledger, streamed")
def export(args):
    """The filtered ledger as a file: ?format=csv|xlsx|geojson and the ledger's filters (no paging)."""
    fmt, include_contact = args.pop("format"), args.pop("include_contact")
    exports.check_contact_export(current_actor(), include_contact)  # refused before the stream starts
    options = {"actor": current_actor(), "now": request_now(), "filters": args, "include_contact": include_contact}
    name = f"rectify-ledger-{request_now():%Y%m%d-%H%M}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    chunks = {"csv": exports.csv_chunks, "xlsx": exports.xlsx_chunks, "geojson": exports.geojson_chunks}[fmt]
    return Response(stream_with_context(chunks(**options)), headers=headers, content_type=EXPORT_TYPES[fmt])


@blp.route(f"/<{ID}:problem_id>")
class ProblemById(MethodView):
    @blp.response(200, ProblemOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.doc(responses={200: {"links": LINKS | EDIT_LINK}})
    def get(self, problem_id):
        """One problem, with the actions the caller can take now."""
        problem = visibility.get_problem(actor=current_actor(), problem_id=problem_id)
        return problem, 200, etag(problem)

    @write
    @visible_problem
    @blp.arguments(EditIn)
    @blp.response(200, ProblemOut)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema)
    @blp.alt_response(412, schema=ProblemSchema)
    @blp.alt_response(428, schema=ProblemSchema)
    @blp.doc(parameters=[IF_MATCH])
    def patch(self, data, problem_id):
        """Correct a report that still waits for dispatch (If-Match required)."""
        problem = reporting.edit_problem(actor=current_actor(), now=request_now(), problem_id=problem_id,
                                        expected_version=if_match_version(), **data)
        return problem, 200, etag(problem)


@blp.route(f"/<{ID}:problem_id>/actions", methods=["POST"])
@write
@visible_problem(action=True)
@blp.arguments(ActionIn)
@blp.response(200, ProblemOut, headers={"ETag": {"schema": {"type": "string"}}, "Deprecation": DEPRECATION})
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
@blp.alt_response(412, schema=ProblemSchema)
@blp.alt_response(428, schema=ProblemSchema)
@blp.doc(parameters=[IF_MATCH, IDEMPOTENCY_KEY], responses={200: {"links": LINKS}})
def act(data, problem_id):
    """Apply a workflow action: {"action": "accept", ...fields} with If-Match (not for comment).

    Refusals (return, reject, send_back, cancel, deny_extension) take `reason`, every other action `note`;
    the old names (`reason` of reassign, suspend and request_extension, `note` of deny_extension) still
    work and answer with a `Deprecation` header."""
    actor, action = current_actor(), data.pop("action")
    data, deprecated = lifecycle.current_names(action, data)
    actions.check_action(actor=actor, action=action, fields=data)
    problem = actions.apply_action(actor=actor, now=request_now(), problem_id=problem_id, action=action,
                                    expected_version=if_match_version(), **data)
    return problem, 200, etag(problem) | deprecation(deprecated)


def deprecation(names: list[str]) -> dict:
    """The Deprecation header (RFC 9745) of an action whose body used a field's old name."""
    return {"Deprecation": DEPRECATED_SINCE} if names else {}


@blp.route(f"/<{ID}:problem_id>/events")
@blp.arguments(PageArgs, location="query")
@blp.response(200, EventPage)
@blp.alt_response(404, schema=ProblemSchema)
def events(args, problem_id):
    """The append-only trail of a problem, oldest first."""
    return query.list_events(actor=current_actor(), problem_id=problem_id, **args)
