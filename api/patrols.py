"""Patrol plans (supervisors) and rounds (officers walk them; the scheduler opens and misses them)."""

from datetime import date

from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.blueprint import ID, Blueprint
from api.context import current_actor, if_match_version, request_now
from api.errors import ProblemSchema
from api.fields import AwareDateTime, CommaList, Computed, StrictBoolean, StrictFloat, StrictString
from api.schemas import ETAG, In, PageArgs, ProblemOut, ReportIn, _id, edit_doc, etag, page_of, reason_field
from api.write import write
from models.enums import RoundState
from workflow.paging import MAX_ID, by_column
from workflow.patrols import plans, rounds

blp = Blueprint("patrols", __name__, url_prefix="/api/v1",
                description="Patrols (巡查): plans on staggered hours, their rounds, check-ins and findings.")

HHMM = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="HH:MM, 00:00-23:59")
ROUND_STATES = tuple(state.value for state in RoundState)


class WindowIn(In):
    label = StrictString(required=True, validate=validate.Length(min=1, max=20))
    start = fields.String(required=True, validate=HHMM)
    end = fields.String(required=True, validate=HHMM)
    focus_categories = fields.List(StrictString(validate=validate.Length(min=1, max=40)),
                                   validate=validate.Length(max=20))


class Days(fields.Field):
    """every_day | workdays | rest_days, or a list of weekdays [mon..sun]."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value in plans.DAY_RULES:
            return value
        if isinstance(value, list) and value and all(isinstance(d, str) and d in plans.WEEKDAYS
                                                     for d in value):
            return value
        raise ValidationError("every_day, workdays, rest_days or a list of mon..sun")


DAYS = {"oneOf": [{"type": "string", "enum": list(plans.DAY_RULES)},
                  {"type": "array", "items": {"type": "string", "enum": list(plans.WEEKDAYS)}}]}


class PlanFields(In):
    name = StrictString(validate=validate.Length(min=1, max=100))
    mode = fields.String(validate=validate.OneOf(["fixed_post", "dynamic"]))
    grid_id = _id(allow_none=True)
    point_ids = fields.List(_id(), allow_none=True, validate=validate.Length(min=1, max=500))
    officer_ids = fields.List(_id(), validate=validate.Length(min=1, max=100))
    windows = fields.List(fields.Nested(WindowIn), validate=validate.Length(min=1, max=12))
    days = Days(metadata=DAYS)
    timezone = StrictString(validate=validate.Length(min=1, max=64))
    active_from = fields.Date(validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 1, 1)))
    active_until = fields.Date(allow_none=True, validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 1, 1)))
    late_grace_minutes = fields.Integer(strict=True, validate=validate.Range(min=0, max=240))
    sample_size = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=500))
    follow_up_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))
    checkin_radius_m = fields.Integer(strict=True, validate=validate.Range(min=10, max=5000))


class PlanIn(PlanFields):
    unit_id = _id(required=True)
    name = StrictString(required=True, validate=validate.Length(min=1, max=100))
    mode = fields.String(required=True, validate=validate.OneOf(["fixed_post", "dynamic"]))
    officer_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=100))
    windows = fields.List(fields.Nested(WindowIn), required=True, validate=validate.Length(min=1, max=12))
    days = Days(load_default="every_day", metadata=DAYS)


class PlanEditIn(PlanFields):
    active = StrictBoolean(metadata={"description": "false retires the plan: no more rounds, its rounds stay"})
    reason = reason_field()

    @validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("give at least one field to change", "_schema")


class PlanOut(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    name = fields.String()
    mode = fields.String()
    grid_id = fields.Integer(allow_none=True)
    point_ids = fields.List(fields.Integer(), allow_none=True)
    officer_ids = fields.List(fields.Integer())
    windows = fields.List(fields.Dict())
    days = fields.Raw(metadata=DAYS)
    timezone = fields.String()
    active_from = fields.Date()
    active_until = fields.Date(allow_none=True)
    late_grace_minutes = fields.Integer()
    sample_size = fields.Integer(allow_none=True)
    follow_up_days = fields.Integer()
    checkin_radius_m = fields.Integer()
    paused = fields.Boolean()
    active = fields.Boolean(metadata={"description": "false: retired"})
    version = fields.Integer()


class RoundOut(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    label = fields.String()
    planned_start = fields.DateTime()
    planned_end = fields.DateTime()
    state = fields.String()
    officer_ids = fields.List(fields.Integer())
    checklist = fields.Dict()
    focus_categories = fields.List(fields.String())
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    missed_reason = fields.String(allow_none=True)


class OutcomeIn(In):
    problem_id = _id(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(rounds.OUTCOMES))
    note = StrictString(allow_none=True, validate=validate.Length(max=2000))


class OutcomeOut(Schema):
    id = fields.Integer()
    round_id = fields.Integer()
    problem_id = fields.Integer()
    kind = fields.String(metadata={"description": "verify (复查) or follow_up (回头看)"})
    outcome = fields.String(metadata={"description": "still_there | fixed | not_seen"})
    finding_id = fields.Integer(allow_none=True, metadata={"description": "the finding reported when still there"})
    note = fields.String(allow_none=True)
    recorded_by_id = fields.Integer()
    recorded_at = fields.DateTime()


OUTCOME_OUT = OutcomeOut()


class RoundDetailOut(RoundOut):
    checklist_outcomes = Computed(lambda r: OUTCOME_OUT.dump(rounds.outcomes_of(r.id), many=True),
                                  returns=fields.List(fields.Nested(OutcomeOut)),
                                  metadata={"description": "what the round recorded of its listed problems"})


class RoundArgs(PageArgs):
    plan_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    state = CommaList(fields.String(validate=validate.OneOf(ROUND_STATES)))
    officer_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    from_ = AwareDateTime(data_key="from")
    to = AwareDateTime()


class AtIn(In):
    at = AwareDateTime(metadata={"description": "the phone's time, when it differs from ours"})


class CheckinIn(In):
    point_id = _id(required=True)
    lat = StrictFloat(required=True, validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(required=True, validate=validate.Range(min=-180, max=180))
    at = AwareDateTime()
    result = fields.String(required=True, validate=validate.OneOf(["ok", "problem_found", "closed_shop",
                                                                    "not_reachable"]))
    note = StrictString(allow_none=True, validate=validate.Length(max=2000))
    client_id = StrictString(allow_none=True, validate=validate.Length(min=1, max=100))


class CheckinOut(Schema):
    id = fields.Integer()
    round_id = fields.Integer()
    point_id = fields.Integer()
    officer_id = fields.Integer()
    at = fields.DateTime()
    received_at = fields.DateTime()
    result = fields.String()
    note = fields.String(allow_none=True)
    lat = fields.Float()
    lng = fields.Float()
    distance_m = fields.Float()
    flags = fields.List(fields.String())
    client_id = fields.String(allow_none=True)


class FindingIn(ReportIn):
    class Meta:
        unknown = RAISE
        exclude = ("grid_id", "lat", "lng", "address", "unit_id")

    point_id = _id(required=True)


PlanPage = page_of(PlanOut, "PlanPage")
RoundPage = page_of(RoundOut, "RoundPage")
CheckinList = page_of(CheckinOut, "CheckinList")


@blp.route("/patrol-plans")
class Plans(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PlanPage)
    def get(self, args):
        """Plans of the caller's unit subtree (supervisors; admins see all)."""
        stmt = plans.select_plans(actor=current_actor())
        return by_column(stmt, plans.PatrolPlan.id, **args)

    @write
    @blp.arguments(PlanIn)
    @blp.response(201, PlanOut)
    def post(self, data):
        """Add a plan (a supervisor of the unit or above, or an admin); rounds follow at the next tick."""
        return plans.create_plan(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/patrol-plans/<{ID}:plan_id>")
class PlanById(MethodView):
    @blp.response(200, PlanOut)
    @blp.alt_response(404, schema=ProblemSchema)
    def get(self, plan_id):
        """One plan."""
        return plans.get_plan(actor=current_actor(), plan_id=plan_id)

    @write
    @blp.arguments(PlanEditIn)
    @blp.response(200, PlanOut, headers=ETAG)
    @edit_doc(blp)
    def patch(self, data, plan_id):
        """Edit (If-Match) or retire a plan: rounds not yet started are cancelled and made again; history
        stays; the change goes on the admin trail."""
        plan = plans.edit_plan(actor=current_actor(), now=request_now(), plan_id=plan_id,
                               expected_version=if_match_version(), **data)
        return plan, 200, etag(plan)


@blp.route(f"/patrol-plans/<{ID}:plan_id>/pause", methods=["POST"])
@write
@blp.response(200, PlanOut)
@blp.alt_response(404, schema=ProblemSchema)
def pause_plan(plan_id):
    """Pause: no new rounds; unstarted rounds are cancelled."""
    return plans.set_paused(actor=current_actor(), now=request_now(), plan_id=plan_id, paused=True)


@blp.route(f"/patrol-plans/<{ID}:plan_id>/resume", methods=["POST"])
@write
@blp.response(200, PlanOut)
@blp.alt_response(404, schema=ProblemSchema)
def resume_plan(plan_id):
    """Resume: rounds start again from the next window (no backfill of the pause)."""
    return plans.set_paused(actor=current_actor(), now=request_now(), plan_id=plan_id, paused=False)


def _rounds(args: dict, **forced):
    limit, cursor = args.pop("limit"), args.pop("cursor", None)
    stmt = rounds.list_rounds(actor=current_actor(), start=args.pop("from_", None), end=args.pop("to", None),
                                     **(args | forced))
    return by_column(stmt, rounds.PatrolRound.id, limit=limit, cursor=cursor)


@blp.route("/patrol-rounds")
@blp.arguments(RoundArgs, location="query")
@blp.response(200, RoundPage)
def list_rounds(args):
    """Rounds the caller may see (their own, or their units' plans'), filtered."""
    return _rounds(args)


@blp.route("/me/rounds")
@blp.arguments(RoundArgs, location="query")
@blp.response(200, RoundPage)
def my_rounds(args):
    """The caller's own rounds."""
    return _rounds(args, officer_id=current_actor().id)


@blp.route(f"/patrol-rounds/<{ID}:round_id>")
@blp.response(200, RoundDetailOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_round(round_id):
    """One round with its checklist."""
    return rounds.get_round(actor=current_actor(), round_id=round_id)


@blp.route(f"/patrol-rounds/<{ID}:round_id>/start", methods=["POST"])
@write
@blp.arguments(AtIn)
@blp.response(200, RoundOut)
@blp.alt_response(409, schema=ProblemSchema)
@blp.alt_response(412, schema=ProblemSchema, description="Someone moved the round meanwhile: read it and retry")
def start_round(data, round_id):
    """Start walking the round (its officers)."""
    return rounds.start_round(actor=current_actor(), now=request_now(), round_id=round_id, **data)


@blp.route(f"/patrol-rounds/<{ID}:round_id>/complete", methods=["POST"])
@write
@blp.arguments(AtIn)
@blp.response(200, RoundOut)
@blp.alt_response(409, schema=ProblemSchema)
@blp.alt_response(412, schema=ProblemSchema, description="Someone moved the round meanwhile: read it and retry")
def complete_round(data, round_id):
    """Finish the round: completed, or completed_late after the window's end plus grace."""
    return rounds.complete_round(actor=current_actor(), now=request_now(), round_id=round_id, **data)


@blp.route(f"/patrol-rounds/<{ID}:round_id>/checkins", methods=["POST"])
@write
@blp.arguments(CheckinIn)
@blp.response(201, CheckinOut)
@blp.alt_response(200, schema=CheckinOut, description="A repeated client_id: the first check-in")
def check_in(data, round_id):
    """Check in at a checklist point (late offline check-ins carry the phone's `at`)."""
    checkin, created = rounds.check_in(actor=current_actor(), now=request_now(), round_id=round_id, **data)
    return checkin, 201 if created else 200


@blp.route(f"/patrol-rounds/<{ID}:round_id>/checkins", methods=["GET"])
@blp.response(200, CheckinList)
def list_checkins(round_id):
    """The round's check-ins, in order."""
    return {"items": rounds.list_checkins(actor=current_actor(), round_id=round_id), "next_cursor": None}


@blp.route(f"/patrol-rounds/<{ID}:round_id>/findings", methods=["POST"])
@write
@blp.arguments(FindingIn)
@blp.response(201, ProblemOut)
@blp.alt_response(200, schema=ProblemOut, description="A repeated client_id: the existing problem")
def report_finding(data, round_id):
    """Report a problem found on the round at one of its points (linked to the round)."""
    problem, created = rounds.report_finding(actor=current_actor(), now=request_now(), round_id=round_id,
                                                    **data)
    return problem, 201 if created else 200, {"ETag": f'"{problem.version}"'}


@blp.route(f"/patrol-rounds/<{ID}:round_id>/outcomes", methods=["POST"])
@write
@blp.arguments(OutcomeIn)
@blp.response(201, OutcomeOut)
@blp.alt_response(200, schema=OutcomeOut, description="Already recorded for this round: the first record")
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def record_outcome(data, round_id):
    """Record what the round found of a problem its checklist lists (复查 / 回头看): still_there (a finding is
    reported for it, linked to the round), fixed or not_seen."""
    record, created = rounds.record_outcome(actor=current_actor(), now=request_now(), round_id=round_id, **data)
    return record, 201 if created else 200
