"""Request and response schemas. In-schemas reject unknown fields; out-schemas are dump-only."""

from flask import g
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.context import current_actor, lang, request_now
from api.fields import AwareDateTime, CommaList, StrictBoolean, StrictFloat, StrictString
from models.enums import CancelReason, Light, Role, Satisfaction, Severity, Source, Stage, State, UnitKind, label
from workflow.intake.contact import contact_for
from workflow.paging import MAX_ID
from workflow.problems.actions import allowed_actions
from workflow.problems.lifecycle import ACTIONS


def text(max_len: int, **kwargs) -> StrictString:
    return StrictString(validate=validate.Length(min=1, max=max_len), **kwargs)


def choice(enum, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf([e.value for e in enum]), **kwargs)


class In(Schema):
    class Meta:
        unknown = RAISE


def _id(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# --- pages -----------------------------------------------------------------------------------

class PageArgs(In):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=500))


def page_of(item_schema, name: str):
    return type(name, (Schema,), {"items": fields.List(fields.Nested(item_schema)),
                                  "next_cursor": fields.String(allow_none=True)})


# --- organisation ----------------------------------------------------------------------------

class UnitIn(In):
    name = text(100, required=True)
    kind = choice(UnitKind, required=True)
    parent_id = _id(allow_none=True)
    timezone = text(64)
    code = StrictString(validate=validate.Regexp(r"^[A-Za-z]{1,8}$"))


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    code = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    timezone = fields.String()


class UserIn(In):
    name = text(100, required=True)
    login = text(64, metadata={"description": "the console sign-in (employee number or phone), unique"})
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role if r != Role.PUBLIC]),
                         metadata={"description": "public accounts come with Open311 keys only"})
    unit_id = _id(allow_none=True)
    grid_ids = fields.List(_id(), validate=validate.Length(max=100))


class PasswordIn(In):
    password = StrictString(required=True, validate=validate.Length(min=10, max=256),
                            metadata={"description": "temporary: the first console sign-in must change it"})


class UserArgs(PageArgs):
    role = choice(Role)
    unit_id = _id()


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    role_label = fields.Function(lambda u: label(u.role, lang()))
    unit_id = fields.Integer(allow_none=True)
    grid_ids = fields.List(fields.Integer())
    active = fields.Boolean()
    login = fields.String(allow_none=True)
    has_password = fields.Function(lambda u: u.password_hash is not None)


class NewUserOut(UserOut):
    token = fields.String(allow_none=True, metadata={"description": "shown once; null on replays"})


BOUNDARY_DOC = {"description": "GeoJSON Polygon or MultiPolygon ([lng, lat], closed rings): public reports "
                                "inside it land in this grid", "type": "object", "nullable": True}


class GridIn(In):
    name = text(100, required=True)
    unit_id = _id(required=True)
    boundary = fields.Dict(allow_none=True, metadata=BOUNDARY_DOC)


class GridBoundaryIn(In):
    boundary = fields.Dict(required=True, allow_none=True, metadata=BOUNDARY_DOC)


class GridOut(Schema):
    id = fields.Integer()
    name = fields.String()
    unit_id = fields.Integer()
    boundary = fields.Dict(allow_none=True, metadata=BOUNDARY_DOC)


class PointIn(In):
    name = text(200, required=True)
    grid_id = _id(required=True)
    lat = StrictFloat(required=True, validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(required=True, validate=validate.Range(min=-180, max=180))
    address = text(300, allow_none=True)


class PointOut(Schema):
    id = fields.Integer()
    name = fields.String()
    grid_id = fields.Integer()
    lat = fields.Float()
    lng = fields.Float()
    address = fields.String(allow_none=True)


class LimitIn(In):
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=525600))
    clock = fields.String(required=True, validate=validate.OneOf(["natural", "working"]))


class AttributeValueIn(In):
    key = StrictString(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,40}$"))
    name = text(100, required=True)


class AttributeIn(In):
    """An Open311 attribute of a public category's service definition."""

    code = StrictString(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_]{1,40}$"))
    datatype = fields.String(required=True, validate=validate.OneOf(
        ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]))
    required = StrictBoolean(load_default=False)
    description = text(200, required=True)
    datatype_description = text(200, allow_none=True)
    values = fields.List(fields.Nested(AttributeValueIn), validate=validate.Length(max=50))


class CategoryIn(In):
    code = StrictString(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,39}$"))
    name = text(100, required=True)
    name_en = text(100, allow_none=True)
    parent_code = StrictString(allow_none=True, validate=validate.Length(max=40))
    default_unit_id = _id(allow_none=True)
    requires_after_photo = StrictBoolean(load_default=False)
    requires_verification_photo = StrictBoolean(load_default=False)
    pause_on_extension = StrictBoolean(load_default=False)
    limits = fields.Dict(keys=choice(Stage), values=fields.Nested(LimitIn), load_default=dict)
    public = StrictBoolean(load_default=False, metadata={"description": "offered as an Open311 service"})
    public_description = text(500, allow_none=True)
    attributes = fields.List(fields.Nested(AttributeIn), allow_none=True,
                             validate=validate.Length(max=30))


class CategoryPublicIn(In):
    public = StrictBoolean()
    public_description = text(500)
    attributes = fields.List(fields.Nested(AttributeIn), validate=validate.Length(max=30))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one field to change", "_schema")


class CategoryOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.Method("_name")
    name_zh = fields.String(attribute="name")
    name_en = fields.String(allow_none=True)
    parent_code = fields.String(allow_none=True)
    default_unit_id = fields.Integer(allow_none=True)
    requires_after_photo = fields.Boolean()
    requires_verification_photo = fields.Boolean()
    pause_on_extension = fields.Boolean()
    limits = fields.Dict(keys=fields.String(), values=fields.Dict())
    public = fields.Boolean()
    public_description = fields.String(allow_none=True)
    attributes = fields.List(fields.Dict(), allow_none=True)

    def _name(self, category) -> str:
        return category_label(category)


def category_label(category) -> str:
    """The category's name in the caller's language."""
    return category.name_en if lang() == "en" and category.name_en else category.name


# --- problems --------------------------------------------------------------------------------

class ReportIn(In):
    category_code = StrictString(required=True, validate=validate.Length(min=1, max=40))
    title = text(200, required=True)
    description = StrictString(allow_none=True, validate=validate.Length(max=5000))
    severity = choice(Severity, load_default="normal")
    point_id = _id(allow_none=True)
    grid_id = _id(allow_none=True)
    lat = StrictFloat(validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(validate=validate.Range(min=-180, max=180))
    address = text(300, allow_none=True)
    resolved_on_site = StrictBoolean(load_default=False)
    observed_at = AwareDateTime(allow_none=True)
    client_id = StrictString(allow_none=True, validate=validate.Length(min=1, max=100))
    party_id = _id(allow_none=True, metadata={"description": "the party (经营主体) it is about, in the same grid"})
    source = choice(Source, metadata={"description": "officer (default), inspection; supervisors also public, "
                                                     "hotline, media; the hotline account: hotline"})
    external_ref = StrictString(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"), metadata={
        "description": "the outside reference (the 12345 ticket number): one problem per source and reference"})
    contact_name = text(100, allow_none=True, metadata={"description": "the outside reporter's name"})
    contact_phone = text(40, allow_none=True)
    contact_email = text(254, allow_none=True)
    media_url = text(2000, allow_none=True, metadata={"description": "a link to a photo; stored, never fetched"})

    @validates_schema
    def _one_location(self, data, **kwargs):
        if data.get("point_id") is not None:
            if any(data.get(name) is not None for name in ("lat", "lng", "grid_id")):
                raise ValidationError("give point_id, or lat, lng, address and grid_id, not both", "point_id")
            return
        # Without grid_id the grid is found from lat, lng (a boundary, else the nearest point).
        missing = {name: ["required without point_id"] for name in ("lat", "lng", "address")
                   if data.get(name) is None}
        if missing:
            raise ValidationError(missing)


class EditIn(In):
    """At least one field; a PATCH that changes nothing is refused rather than counted as an edit."""

    title = text(200)
    description = StrictString(allow_none=True, validate=validate.Length(max=5000))
    category_code = StrictString(validate=validate.Length(min=1, max=40))
    severity = choice(Severity)
    point_id = _id()
    lat = StrictFloat(validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(validate=validate.Range(min=-180, max=180))
    address = text(300, allow_none=True)

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one field to change", "_schema")


class ActionIn(In):
    action = fields.String(required=True, validate=validate.OneOf([a.value for a in ACTIONS]))
    note = StrictString(validate=validate.Length(min=1, max=2000))
    reason = StrictString(validate=validate.Length(min=1, max=2000))
    text = StrictString(validate=validate.Length(min=1, max=2000))
    unit_id = _id()
    handler_id = _id()
    duplicate_of = _id()
    reason_code = choice(CancelReason, metadata={"description": "cancel: why an intake refuses a report"})
    satisfaction = choice(Satisfaction, metadata={"description": "callback: the reporter's satisfaction"})
    until = AwareDateTime()


class ExtensionOut(Schema):
    until = fields.DateTime(attribute="extension_until")
    reason = fields.String(attribute="extension_reason")
    requested_by = fields.Integer(attribute="extension_requested_by_id")
    requested_at = fields.DateTime(attribute="extension_requested_at")


EXTENSION_OUT = ExtensionOut()


class ProblemOut(Schema):
    id = fields.Integer()
    code = fields.String()
    state = fields.String()
    state_label = fields.Function(lambda p: label(p.state, lang()))
    category_code = fields.Function(lambda p: p.category.code)
    # Plain functions, not a Schema() per problem: building schemas per item was ~15 % of a ledger page.
    category_name = fields.Function(lambda p: category_label(p.category))
    title = fields.String()
    description = fields.String(allow_none=True)
    severity = fields.String()
    point_id = fields.Integer(allow_none=True)
    grid_id = fields.Integer()
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    address = fields.String(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    handler_id = fields.Integer(allow_none=True)
    reporter_id = fields.Integer()
    client_id = fields.String(allow_none=True)
    resolved_on_site = fields.Boolean()
    observed_at = fields.DateTime(allow_none=True)
    reported_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    stage = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    stage_due_at = fields.DateTime(allow_none=True)
    light = fields.Function(lambda p: p.light(request_now()), allow_none=True)
    overdue = fields.Function(lambda p: p.is_overdue(request_now()))
    paused = fields.Function(lambda p: p.paused_at is not None)
    rework_count = fields.Integer()
    escalation_level = fields.Integer()
    supervised = fields.Boolean()
    duplicate_of = fields.Integer(allow_none=True)
    recurrence_of = fields.Integer(allow_none=True, metadata={
        "description": "the problem this one repeats: same category, same point, within the 30 days before"})
    round_id = fields.Integer(allow_none=True, metadata={"description": "the patrol round that found it"})
    party_id = fields.Integer(allow_none=True, metadata={"description": "the party (经营主体) it is about"})
    source = fields.String(metadata={"description": "officer, patrol, inspection, public, hotline or media"})
    source_label = fields.Function(lambda p: label(p.source, lang()))
    external_ref = fields.String(allow_none=True)
    media_url = fields.String(allow_none=True, metadata={"description": "the reporter's link; never fetched"})
    contact = fields.Method("_contact", allow_none=True, metadata={
        "type": "object", "nullable": True,
        "description": "the outside reporter's contact: whole for supervisors and admins, masked for others"})
    callback_satisfaction = fields.String(allow_none=True)
    callback_at = fields.DateTime(allow_none=True)
    extension = fields.Function(lambda p: EXTENSION_OUT.dump(p) if p.extension_until else None,
                                allow_none=True)
    version = fields.Integer()
    allowed_actions = fields.Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    action_labels = fields.Method("_labels")

    def _contact(self, problem) -> dict | None:
        return contact_for(current_actor(), problem)

    def _allowed(self, problem) -> list[str]:
        cache = g.setdefault("allowed_actions", {})
        if problem.id not in cache:
            cache[problem.id] = allowed_actions(problem, current_actor(), request_now())
        return cache[problem.id]

    def _labels(self, problem) -> dict[str, str]:
        return {action: label(action, lang()) for action in self._allowed(problem)}


class LedgerArgs(PageArgs):
    state = CommaList(choice(State))
    category = CommaList(StrictString(validate=validate.Length(min=1, max=40)))
    grid_id = CommaList(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)))
    unit_id = CommaList(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)))
    severity = CommaList(choice(Severity))
    light = CommaList(fields.String(validate=validate.OneOf([light.value for light in Light])))
    overdue = fields.Boolean()
    reported_from = AwareDateTime()
    reported_to = AwareDateTime()
    q = StrictString(validate=validate.Length(min=1, max=100))
    list_id = CommaList(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)))


class ExportArgs(LedgerArgs):
    class Meta:
        unknown = RAISE
        exclude = ("limit", "cursor")

    format = fields.String(required=True, validate=validate.OneOf(["csv", "xlsx", "geojson"]))
    include_contact = fields.Boolean(load_default=False, metadata={
        "description": "csv and xlsx: add source, outside reference and the reporter's contact (supervisors and "
                       "admins only, 403 otherwise)"})

    @validates_schema
    def _contact_in_tables(self, data, **kwargs):
        if data.get("include_contact") and data.get("format") == "geojson":
            raise ValidationError("the contact goes into csv or xlsx only", "include_contact")


class EventOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    action = fields.String()
    action_label = fields.Function(lambda e: label(e.action, lang()))
    actor = fields.Function(
        lambda e: {"id": e.actor_id, "name": e.actor_name, "role": e.actor_role} if e.actor_role else None,
        allow_none=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    note = fields.String(allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    stage = fields.String(allow_none=True)
    stage_overdue = fields.Boolean(allow_none=True)
    at = fields.DateTime()
    prev_hash = fields.String(metadata={"description": "The previous event's hash (64 zeros for seq 1)."})
    hash = fields.String(metadata={"description": "sha256 hex of prev_hash and this event's canonical content; "
                                                  "`flask audit verify` checks the chain."})


ProblemPage = page_of(ProblemOut, "ProblemPage")
EventPage = page_of(EventOut, "EventPage")
UnitPage = page_of(UnitOut, "UnitPage")
UserPage = page_of(UserOut, "UserPage")
GridPage = page_of(GridOut, "GridPage")
PointPage = page_of(PointOut, "PointPage")
CategoryPage = page_of(CategoryOut, "CategoryPage")
