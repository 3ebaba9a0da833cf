"""Campaign activity days (志愿服务日, 宣传, 清洁, 培训) with their counts and totals, and the campaign report."""

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now
from api.errors import ProblemSchema
from api.fields import AwareDateTime, Computed, StrictString
from api.inspections import InspectionPhotoOut
from api.schemas import In, PageArgs, _id, page_of
from api.write import write
from workflow.ledger import activities, campaign_report
from workflow.paging import by_column

blp = Blueprint("activities", __name__, url_prefix="/api/v1",
                description="Campaign activity days with participation counts, their totals, the campaign report.")

COUNT = {"strict": True, "validate": validate.Range(min=0, max=1_000_000)}


class ActivityIn(In):
    kind = fields.String(required=True, validate=validate.OneOf(activities.KINDS))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(allow_none=True)
    point_id = _id(allow_none=True)
    place = StrictString(allow_none=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "where, in words, when there is no point (or besides it)"})
    unit_id = _id(required=True, metadata={"description": "the organising unit"})
    participants = fields.Integer(required=True, **COUNT)
    volunteers = fields.Integer(allow_none=True, **COUNT)
    reached = fields.Integer(allow_none=True, metadata={"description": "households or people reached"}, **COUNT)
    materials = fields.Integer(allow_none=True, metadata={"description": "leaflets and materials handed out"},
                               **COUNT)
    note = StrictString(allow_none=True, validate=validate.Length(max=2000))
    client_id = StrictString(allow_none=True, validate=validate.Length(min=1, max=100))
    photo_ids = fields.List(_id(), validate=validate.Length(max=20), metadata={
        "description": "photos uploaded first through POST /api/v1/inspection-photos"})

    @validates_schema
    def _somewhere(self, data, **kwargs):
        if data.get("point_id") is None and not data.get("place"):
            raise ValidationError("give point_id or place", "place")


class ActivityArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(activities.KINDS))
    unit_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "organised by this unit or a unit below it"})


class ActivityOut(Schema):
    id = fields.Integer(required=True)
    list_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    kind_label = Computed(lambda a: activities.KIND_LABELS[a.kind], returns=fields.String(), required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True, allow_none=True)
    point_id = fields.Integer(required=True, allow_none=True)
    place = fields.String(required=True, allow_none=True)
    unit_id = fields.Integer(required=True)
    participants = fields.Integer(required=True)
    volunteers = fields.Integer(required=True, allow_none=True)
    reached = fields.Integer(required=True, allow_none=True)
    materials = fields.Integer(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    client_id = fields.String(required=True, allow_none=True)
    photos = fields.Function(lambda a: InspectionPhotoOut(many=True).dump(activities.photos_of([a.id])[a.id]),
                             required=True, metadata={"type": "array", "items": {"type": "object"}})
    created_by = fields.Integer(attribute="created_by_id", required=True)
    created_at = fields.DateTime(required=True)


class FiguresOut(Schema):
    activities = fields.Integer(required=True)
    participants = fields.Integer(required=True)
    volunteers = fields.Integer(required=True)
    reached = fields.Integer(required=True)
    materials = fields.Integer(required=True)


class UnitFiguresOut(FiguresOut):
    unit_id = fields.Integer(required=True)
    label = fields.String(required=True)


class WeekFiguresOut(FiguresOut):
    week = fields.Date(required=True, metadata={"description": "the Monday of the local week"})


class KindFiguresOut(FiguresOut):
    kind = fields.String(required=True)
    label = fields.String(required=True)


class TotalsOut(Schema):
    list_id = fields.Integer(required=True)
    totals = fields.Nested(FiguresOut, required=True)
    by_unit = fields.List(fields.Nested(UnitFiguresOut), required=True)
    by_week = fields.List(fields.Nested(WeekFiguresOut), required=True)
    by_kind = fields.List(fields.Nested(KindFiguresOut), required=True)


ActivityPage = page_of(ActivityOut, "ActivityPage")


@blp.route(f"/problem-lists/<{ID}:list_id>/activities")
class Activities(MethodView):
    @blp.arguments(ActivityArgs, location="query")
    @blp.response(200, ActivityPage)
    @blp.alt_response(404, schema=ProblemSchema)
    def get(self, args, list_id):
        """The activity days of a list and of its child lists (a drive: its stars'), oldest record first."""
        stmt = activities.select_activities(actor=current_actor(), list_id=list_id, kind=args.pop("kind", None),
                                            unit_id=args.pop("unit_id", None))
        return by_column(stmt, activities.CampaignActivity.id, **args)

    @write
    @blp.arguments(ActivityIn)
    @blp.response(201, ActivityOut)
    @blp.alt_response(200, schema=ActivityOut, description="A repeated client_id: the first record")
    @blp.alt_response(404, schema=ProblemSchema)
    def post(self, data, list_id):
        """Record an activity day (officers and supervisors of a unit taking part; admins)."""
        activity, created = activities.record_activity(actor=current_actor(), now=request_now(), list_id=list_id,
                                                       **data)
        return activity, 201 if created else 200


@blp.route(f"/problem-lists/<{ID}:list_id>/activity-totals")
@blp.response(200, TotalsOut)
@blp.alt_response(404, schema=ProblemSchema)
def activity_totals(list_id):
    """The list's activities added up: in total, per organising unit, per local week (Monday) and per kind."""
    return activities.totals(actor=current_actor(), list_id=list_id)


@blp.route(f"/problem-lists/<{ID}:list_id>/report")
@blp.response(200, description="The campaign report (XLSX)", content_type=campaign_report.XLSX)
@blp.alt_response(404, schema=ProblemSchema)
def report(list_id):
    """The campaign's report as XLSX: cover, stars with progress, items, activities, overdue items and owners."""
    name, data = campaign_report.workbook(actor=current_actor(), list_id=list_id, now=request_now())
    return Response(data, mimetype=campaign_report.XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})
