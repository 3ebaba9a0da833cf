"""Problem lists (问题清单): campaigns and shortfall lists with live progress."""

from flask.views import MethodView
from marshmallow import Schema, fields, pre_dump, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now
from api.errors import ProblemSchema
from api.fields import StrictString
from api.schemas import In, PageArgs, _id, choice, page_of
from api.write import write
from models.enums import State
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
    parent_id = _id(allow_none=True, metadata={
        "description": "the drive this list is a star (child) of; lists are one level deep"})


class ListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(KINDS))
    parent_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                               metadata={"description": "only the children of this list"})
    top = fields.Boolean(metadata={"description": "true: only lists without a parent (drives and plain lists)"})


class ProblemIdsIn(In):
    problem_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=1000))


class ProgressOut(Schema):
    total = fields.Integer(required=True, metadata={"description": "items (a problem on two children counts twice)"})
    by_state = fields.Dict(keys=choice(State), values=fields.Integer(), required=True)
    open = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    closed_on_time = fields.Integer(required=True)
    closed_with_deadline = fields.Integer(required=True)
    on_time_rate = fields.Float(required=True, allow_none=True,
                                metadata={"description": "closed_on_time / closed_with_deadline; null when 0"})


class ChildOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    lead_unit_id = fields.Integer(required=True)
    unit_ids = fields.List(fields.Integer(), required=True)
    target_on = fields.Date(required=True, allow_none=True)
    ends_on = fields.Date(required=True, allow_none=True)
    state = fields.String(required=True)
    progress = fields.Nested(ProgressOut, required=True)


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
    parent_id = fields.Integer(allow_none=True)
    progress = fields.Nested(ProgressOut, metadata={"description": "own items plus the sum of the children's"})
    children = fields.List(fields.Nested(ChildOut), metadata={"description": "the child lists (a drive's stars)"})

    @pre_dump
    def _rolled_up(self, problem_list, **kwargs) -> dict:
        children = lists.children_of(problem_list.id)
        progress = lists.rolled_up(problem_list, children, request_now())
        shown = {name: getattr(problem_list, name) for name in self.fields if name not in ("progress", "children")}
        return shown | {"progress": progress[problem_list.id],
                        "children": [{name: getattr(child, name) for name in ChildOut._declared_fields
                                      if name != "progress"} | {"progress": progress[child.id]}
                                     for child in children]}


ListPage = page_of(ListOut, "ListPage")


@blp.route("/problem-lists")
class Lists(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, ListPage)
    def get(self, args):
        """Lists led by the caller's subtree (admins: all), with progress; filters: kind, parent_id, top."""
        stmt = lists.select_lists(actor=current_actor(), kind=args.pop("kind", None),
                                  parent_id=args.pop("parent_id", None), top=args.pop("top", False))
        return by_column(stmt, lists.ProblemList.id, **args)

    @write
    @blp.arguments(ListIn)
    @blp.response(201, ListOut)
    def post(self, data):
        """Open a list (a supervisor of the lead unit or above, or an admin); `parent_id` makes it a drive's star."""
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
