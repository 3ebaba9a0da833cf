"""The working calendar: statutory holidays, make-up workdays (调休) and admin corrections."""

from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.context import current_actor, request_now, require_role
from api.fields import StrictBoolean, StrictString
from api.schemas import In
from api.write import write
from models.base import db
from workflow import calendar as work_calendar

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar",
                description="The working calendar that working-time clocks count on.")


class YearArgs(In):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class DayIn(In):
    day = fields.Date(required=True)
    workday = StrictBoolean(required=True)
    name = StrictString(allow_none=True, load_default=None, validate=validate.Length(max=100))


class DaysIn(In):
    days = fields.List(fields.Nested(DayIn), required=True, validate=validate.Length(min=1, max=400))


class DayOut(Schema):
    day = fields.Date()
    workday = fields.Boolean()
    name = fields.String(allow_none=True)
    source = fields.String()


class CalendarOut(Schema):
    year = fields.Integer()
    periods = fields.List(fields.Dict())
    days = fields.List(fields.Nested(DayOut))


@blp.route("", methods=["GET"])
@blp.arguments(YearArgs, location="query")
@blp.response(200, CalendarOut)
def get_year(args):
    """A year's exceptions to the Mon-Fri week, and the daily working periods."""
    return work_calendar.year_view(db.session, year=args["year"])


@blp.route("/days", methods=["POST"])
@write
@blp.arguments(DaysIn)
@blp.response(200, CalendarOut)
def set_days(data):
    """Import or correct days (admin); corrected days are never overwritten by seeding."""
    require_role("admin")
    year = work_calendar.import_days(db.session, actor=current_actor(), now=request_now(), days=data["days"])
    return work_calendar.year_view(db.session, year=year)
