"""Problem lists (问题清单): campaigns and shortfall lists with live progress."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now
from api.errors import ProblemSchema
from api.fields import StrictString
from api.schemas import In, PageArgs, _id, page_of
from api.write import write
from workflow.ledger import lists
from workflow.paging import by_column

blp = Blueprint("lists", __name__, url_prefix="/api/v1",
                description="Problem lists (问题清单): campaigns, star-creation shortfalls, round findings.")

KINDS = ("campaign", "star", "round_findings", "other")


class ListIn(In):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    name = StrictString(required=True, validate=validate.Length(min=1, max=200))
    lead_unit_id = _id(required=True)
    unit_ids = fields.List(_id(), load_default=list, validate=validate.Length(max=100))
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    target_on = fields.Date(allow_none=True)
    description = StrictString(allow_none=True, validate=validate.Length(max=5000))


class ProblemIdsIn(In):
    problem_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=1000))


class ListOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    lead_unit_id = fields.Integer()
    unit_ids = fields.List(fields.Integer())
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    target_on = fields.Date(allow_none=True)
    description = fields.String(allow_none=True)
    state = fields.String()
    progress = fields.Function(lambda item: lists.progress(item, request_now()))


ListPage = page_of(ListOut, "ListPage")


@blp.route("/problem-lists")
class Lists(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ListPage)
    def get(self, args):
        """Lists led by the caller's subtree (admins: all), with progress."""
        return by_column(lists.select_lists(actor=current_actor()), lists.ProblemList.id, **args)

    @write
    @blp.arguments(ListIn)
    @blp.response(201, ListOut)
    def post(self, data):
        """Open a list (a supervisor of the lead unit or above, or an admin)."""
        return lists.create_list(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/problem-lists/<{ID}:list_id>")
@blp.response(200, ListOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_list(list_id):
    """One list and its live progress; its problems: GET /api/v1/problems?list_id=<id>."""
    return lists.get_list(actor=current_actor(), list_id=list_id)


@blp.route(f"/problem-lists/<{ID}:list_id>/problems", methods=["POST"])
@write
@blp.arguments(ProblemIdsIn)
@blp.response(200, ListOut)
@blp.alt_response(409, schema=ProblemSchema)
def add_problems(data, list_id):
    """Put problems on the list."""
    return lists.add_problems(actor=current_actor(), now=request_now(), list_id=list_id, **data)


@blp.route(f"/problem-lists/<{ID}:list_id>/problems/<{ID}:problem_id>", methods=["DELETE"])
@write
@blp.response(204)
@blp.alt_response(404, schema=ProblemSchema)
def remove_problem(list_id, problem_id):
    """Take a problem off the list."""
    lists.remove_problem(actor=current_actor(), list_id=list_id, problem_id=problem_id)


@blp.route(f"/problem-lists/<{ID}:list_id>/close", methods=["POST"])
@write
@blp.response(200, ListOut)
@blp.alt_response(409, schema=ProblemSchema)
def close_list(list_id):
    """Close the list: only when every problem on it is closed or cancelled."""
    return lists.close_list(actor=current_actor(), now=request_now(), list_id=list_id)
