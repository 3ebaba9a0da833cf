"""Statistics (`/api/v1/reports`): figures per unit, grid, category, officer, list or period; drill-down."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now, require_role
from api.errors import ProblemSchema
from api.fields import EARLIEST, LATEST, Computed, StrictString
from api.schemas import In, PageArgs, page_of
from workflow.ledger import reports, unit_reports
from workflow.paging import MAX_ID, by_column
from workflow.patrols import coverage

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports",
                description="Statistics over the ledger. " + (reports.__doc__ or "").split("\n", 1)[1]
                + "\nPatrols. " + (coverage.__doc__ or "").split("\n", 1)[1])


class DayOrInstant(fields.Field):
    """A local date (YYYY-MM-DD) or an ISO 8601 instant with an offset."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("a date or an instant with an offset")
        try:
            parsed = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("a date (YYYY-MM-DD) or an instant with an offset") from None
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            raise ValidationError("give the instant an offset")
        check = parsed if isinstance(parsed, datetime) else datetime.combine(parsed, time(), tzinfo=UTC)
        if not EARLIEST <= check <= LATEST:
            raise ValidationError("between 1970 and 2100")
        return parsed


class PeriodArgs(In):
    from_ = DayOrInstant(data_key="from", required=True, metadata={"type": "string"})
    to = DayOrInstant(required=True, metadata={"type": "string"})
    group_by = fields.String(load_default="unit", validate=validate.OneOf(reports.GROUPS))

    @validates_schema
    def _order(self, data, **kwargs):
        if "from_" in data and "to" in data and _bounds(data)[1] <= _bounds(data)[0]:
            raise ValidationError("to must come after from", "to")


class DrillArgs(PeriodArgs):
    figure = fields.String(required=True, validate=validate.OneOf(reports.DRILLABLE),
                           metadata={"description": "a counted figure, or left_<stage> for the problems behind "
                                                    "stage_times"})
    group_by = fields.String(validate=validate.OneOf(reports.GROUPS))
    key = StrictString(validate=validate.Length(min=1, max=40))


def _int_key(key: str) -> int:
    """An id given as a drill key; anything else matches nothing."""
    return int(key) if key.isdigit() and len(key) < 10 else -1


def _tz() -> str:
    return current_app.config["RECTIFY_TIMEZONE"]


def _bounds(args) -> tuple[datetime, datetime]:
    """Dates are local and `to` is inclusive; instants are taken as given and `to` is exclusive."""
    def at(value, inclusive_end=False):
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        day = value + timedelta(days=1) if inclusive_end else value
        return datetime.combine(day, time(), tzinfo=ZoneInfo(_tz())).astimezone(UTC)
    return at(args["from_"]), at(args["to"], inclusive_end=True)


class StageTime(Schema):
    count = fields.Integer()
    natural_avg_s = fields.Integer()
    natural_p90_s = fields.Integer()
    working_avg_s = fields.Integer()
    working_p90_s = fields.Integer()


# A row's key and label; the totals have neither (x-optional: api/openapi.py leaves them out of `required`).
GROUP_KEY = {"description": "the group's key: a unit, grid or point id, a category code or a day; absent "
                            "from the totals", "x-optional": True,
             "anyOf": [{"type": "integer", "nullable": True}, {"type": "string", "nullable": True}]}


class Figures(Schema):
    key = fields.Raw(allow_none=True, metadata=GROUP_KEY)
    label = fields.String(metadata={"x-optional": True, "description": "the group's name; absent from the totals"})
    reported = fields.Integer()
    dispatched = fields.Integer()
    closed = fields.Integer()
    cancelled = fields.Integer()
    on_time = fields.Integer()
    submitted = fields.Integer()
    reworked = fields.Integer()
    extended = fields.Integer()
    overdue = fields.Integer()
    overdue_avg_s = fields.Integer(allow_none=True)
    overdue_max_s = fields.Integer(allow_none=True)
    recurred = fields.Integer()
    self_resolved = fields.Integer()
    closure_rate = fields.Float(allow_none=True)
    on_time_rate = fields.Float(allow_none=True)
    rework_rate = fields.Float(allow_none=True)
    extension_rate = fields.Float(allow_none=True)
    overdue_rate = fields.Float(allow_none=True)
    recurrence_rate = fields.Float(allow_none=True)
    self_resolved_share = fields.Float(allow_none=True)
    stage_times = fields.Dict(keys=fields.String(validate=validate.OneOf(reports.STAGES)),
                              values=fields.Nested(StageTime))


class SummaryOut(Schema):
    basis = fields.String()
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    group_by = fields.String()
    rows = fields.List(fields.Nested(Figures))
    totals = fields.Nested(Figures)


class DrillOut(Schema):
    problem_ids = fields.List(fields.Integer())


@blp.route("/summary")
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, SummaryOut)
def summary(args):
    """Figures for problems reported in the period, grouped (definitions in the description above)."""
    require_role("admin", "supervisor")
    start, end = _bounds(args)
    return reports.summary(actor=current_actor(), now=request_now(), start=start, end=end,
                           group_by=args["group_by"], tz=_tz())


@blp.route("/drill")
@blp.arguments(DrillArgs, location="query")
@blp.response(200, DrillOut)
def drill(args):
    """The problem ids behind one figure, of one group when `group_by` and `key` are given."""
    require_role("admin", "supervisor")
    start, end = _bounds(args)
    group_by, key = args.get("group_by"), args.get("key")
    if group_by in ("unit", "grid", "category", "officer", "list") and key is not None:
        key = _int_key(key)
    ids = reports.drill(actor=current_actor(), now=request_now(), start=start, end=end, figure=args["figure"],
                        group_by=group_by if key is not None else None, key=key, tz=_tz())
    return {"problem_ids": ids}


class PatrolArgs(PeriodArgs):
    group_by = fields.String(load_default="plan", validate=validate.OneOf(coverage.GROUPS))


class PatrolDrillArgs(PatrolArgs):
    figure = fields.String(required=True, validate=validate.OneOf(coverage.FIGURES))
    group_by = fields.String(validate=validate.OneOf(coverage.GROUPS))
    key = StrictString(validate=validate.Length(min=1, max=40))


class PatrolFigures(Schema):
    key = fields.Raw(allow_none=True, metadata=GROUP_KEY)
    label = fields.String(metadata={"x-optional": True, "description": "the group's name; absent from the totals"})
    scheduled = fields.Integer()
    completed = fields.Integer()
    completed_late = fields.Integer()
    incomplete = fields.Integer()
    missed = fields.Integer()
    pending = fields.Integer()
    points_planned = fields.Integer()
    points_checked = fields.Integer()
    findings = fields.Integer()
    round_hours = fields.Float()
    items_still_there = fields.Integer()
    items_fixed = fields.Integer()
    items_not_seen = fields.Integer()
    completion_rate = fields.Float(allow_none=True)
    missed_rate = fields.Float(allow_none=True)
    checkpoint_coverage = fields.Float(allow_none=True)
    findings_per_round_hour = fields.Float(allow_none=True)


class PatrolSummaryOut(Schema):
    basis = fields.String()
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    group_by = fields.String()
    rows = fields.List(fields.Nested(PatrolFigures))
    totals = fields.Nested(PatrolFigures)


class RoundDrillOut(Schema):
    round_ids = fields.List(fields.Integer())


@blp.route("/patrols")
@blp.arguments(PatrolArgs, location="query")
@blp.response(200, PatrolSummaryOut)
def patrols(args):
    """Patrol coverage for rounds whose window starts in the period (definitions in the description above)."""
    require_role("admin", "supervisor")
    start, end = _bounds(args)
    return coverage.coverage(actor=current_actor(), start=start, end=end, group_by=args["group_by"], tz=_tz())


@blp.route("/patrols/drill")
@blp.arguments(PatrolDrillArgs, location="query")
@blp.response(200, RoundDrillOut)
def patrols_drill(args):
    """The round ids behind one patrol count, of one group when `group_by` and `key` are given."""
    require_role("admin", "supervisor")
    start, end = _bounds(args)
    group_by, key = args.get("group_by"), args.get("key")
    if group_by in ("plan", "officer") and key is not None:
        key = _int_key(key)
    ids = coverage.drill(actor=current_actor(), start=start, end=end, figure=args["figure"],
                              group_by=group_by if key is not None else None, key=key, tz=_tz())
    return {"round_ids": ids}


class Indicator(Schema):
    name = fields.String()
    weight = fields.Float()
    better = fields.String()
    min_volume = fields.Integer(metadata={"description": "below this many cases a unit is not ranked (absent: none)",
                                          "x-optional": True})


class UnitScore(Schema):
    unit_id = fields.Integer()
    label = fields.String()
    reported = fields.Integer()
    score = fields.Float(allow_none=True)
    rank = fields.Integer(allow_none=True)
    insufficient_data = fields.Boolean(metadata={
        "description": "below an indicator's min_volume (or no value at all): shown, not ranked"})
    values = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))


class EvaluationOut(Schema):
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    indicators = fields.List(fields.Nested(Indicator))
    rows = fields.List(fields.Nested(UnitScore))


class EvaluationArgs(PeriodArgs):
    class Meta(PeriodArgs.Meta):
        exclude = ("group_by",)


@blp.route("/evaluation")
@blp.arguments(EvaluationArgs, location="query")
@blp.response(200, EvaluationOut)
def evaluation(args):
    """Unit evaluation (综合评价): each responsible unit's score from the weighted indicators of the
    configured evaluation file, its rank and the indicator values that made it. Each value drills down with
    `/reports/drill?group_by=unit&key=<unit_id>` and the figures of its rate."""
    require_role("admin", "supervisor")
    start, end = _bounds(args)
    return reports.evaluate(actor=current_actor(), now=request_now(), start=start, end=end, tz=_tz(),
                            indicators=current_app.config["EVALUATION_INDICATORS"])


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UnitReportArgs(PageArgs):
    unit_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    kind = fields.String(validate=validate.OneOf(unit_reports.KINDS))
    since = fields.Date(metadata={"description": "periods starting on or after this local date"})
    until = fields.Date(metadata={"description": "periods starting on or before this local date"})


class TopPoint(Schema):
    point_id = fields.Integer()
    name = fields.String()
    problems = fields.Integer()


class ActivityFigures(Schema):
    activities = fields.Integer(required=True)
    participants = fields.Integer(required=True)
    volunteers = fields.Integer(required=True)
    reached = fields.Integer(required=True)
    materials = fields.Integer(required=True)


class UnitReportFigures(Schema):
    new = fields.Integer()
    closed = fields.Integer()
    cancelled = fields.Integer()
    overdue = fields.Integer()
    overdue_max_hours = fields.Float(allow_none=True)
    escalated = fields.Integer()
    rounds_scheduled = fields.Integer()
    rounds_missed = fields.Integer()
    top_points = fields.List(fields.Nested(TopPoint))
    activities = fields.Nested(ActivityFigures, metadata={
        "description": "campaign activity days the unit's subtree organised in the period (absent before 0092)"})


class UnitReportOut(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    kind = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    timezone = fields.String()
    figures = fields.Nested(UnitReportFigures)
    created_at = fields.DateTime()
    xlsx_url = Computed(lambda report: f"/api/v1/reports/units/{report.id}/xlsx", returns=fields.String())


UnitReportPage = page_of(UnitReportOut, "UnitReportPage")


@blp.route("/units")
@blp.arguments(UnitReportArgs, location="query")
@blp.response(200, UnitReportPage)
def unit_report_list(args):
    """Stored daily and weekly unit reports (日报 / 周报) of the caller's subtree (admins: all), oldest first.
    The scheduler makes each unit's report for its local yesterday after midnight, and on Mondays last week's.
    """
    paging = {name: args.pop(name) for name in ("limit", "cursor") if name in args}
    stmt = unit_reports.select_reports(actor=current_actor(), **args)
    return by_column(stmt, unit_reports.UnitReport.id, **paging)


@blp.route(f"/units/<{ID}:report_id>")
@blp.response(200, UnitReportOut)
@blp.alt_response(404, schema=ProblemSchema)
def unit_report(report_id):
    """One stored unit report's figures (definitions in workflow/ledger/unit_reports.py and docs/statistics.md)."""
    return unit_reports.get_report(actor=current_actor(), report_id=report_id)


@blp.route(f"/units/<{ID}:report_id>/xlsx")
@blp.response(200, content_type=XLSX, description="the stored report as an XLSX workbook")
@blp.alt_response(404, schema=ProblemSchema)
def unit_report_xlsx(report_id):
    """The stored report as XLSX: 汇总 (figures), 高发点位 (top points), 超期问题 (overdue problems)."""
    report = unit_reports.get_report(actor=current_actor(), report_id=report_id)
    name = f"rectify-{report.kind}-{report.unit_id}-{report.period_start:%Y%m%d}.xlsx"
    return Response(report.xlsx, content_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
