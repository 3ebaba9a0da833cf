"""Work reaching its person: the to-do queue (/me/tasks) and the group-chat robots' subscriptions."""

from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.context import current_actor, lang, request_now
from api.fields import CommaList, Computed
from api.schemas import In, choice
from models.enums import Light, Severity, State
from workflow.notifications import tasks

blp = Blueprint("work", __name__, url_prefix="/api/v1",
                description="The caller's to-do queue, computed from the state of problems, rounds and inspection "
                            "tasks.")


class TaskArgs(In):
    kind = CommaList(fields.String(validate=validate.OneOf(tasks.KINDS)))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=500))


class TaskOut(Schema):
    kind = fields.String(required=True, metadata={"enum": list(tasks.KINDS)})
    kind_label = Computed(lambda task: tasks.kind_label(task.kind, lang()), returns=fields.String(), required=True)
    title = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True, required=True, metadata={
        "description": "the deadline of the running stage (the whole case when none runs; a round's end)"})
    since = fields.DateTime(allow_none=True, required=True, metadata={"description": "since when it waits"})
    light = choice(Light, allow_none=True, required=True)
    problem_id = fields.Integer(allow_none=True, required=True)
    code = fields.String(allow_none=True, required=True)
    state = choice(State, allow_none=True, required=True)
    severity = choice(Severity, allow_none=True, required=True)
    rework_count = fields.Integer(required=True, metadata={"description": "返工: times sent back to rectify"})
    round_id = fields.Integer(allow_none=True, required=True)
    inspection_task_id = fields.Integer(allow_none=True, required=True)
    party_id = fields.Integer(allow_none=True, required=True)


class TaskPage(Schema):
    items = fields.List(fields.Nested(TaskOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TaskSummary(Schema):
    total = fields.Integer(required=True)
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "every kind, zero included: " + ", ".join(tasks.KINDS)})


@blp.route("/me/tasks")
@blp.arguments(TaskArgs, location="query")
@blp.response(200, TaskPage)
def my_tasks(args):
    """What waits for the caller now, the most pressing first (overdue, then the soonest deadline)."""
    found = tasks.my_tasks(actor=current_actor(), now=request_now(), kinds=args.get("kind"))
    return tasks.page(found, limit=args["limit"], cursor=args.get("cursor"))


@blp.route("/me/tasks/summary")
@blp.response(200, TaskSummary)
def my_task_summary():
    """How many tasks of each kind wait for the caller (a phone's badge)."""
    return tasks.summary(actor=current_actor(), now=request_now())

