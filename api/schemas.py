"""Request and response schemas. In-schemas reject unknown fields; out-schemas are dump-only."""

from contextvars import ContextVar
from datetime import datetime
from typing import NamedTuple

from flask import g
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.context import current_actor, lang, request_now
from api.dumping import Plan
from api.fields import (
    AwareDateTime,
    CommaList,
    Computed,
    ComputedMethod,
    OneLine,
    StrictBoolean,
    StrictFloat,
    StrictString,
)
from models.enums import (
    Action,
    CancelReason,
    Light,
    Role,
    Satisfaction,
    Severity,
    Source,
    Stage,
    State,
    UnitKind,
    label,
)
from workflow.intake.contact import contact_for
from workflow.paging import MAX_ID
from workflow.problems.actions import allowed_actions
from workflow.problems.lifecycle import ACTIONS


def text(max_len: int, **kwargs) -> StrictString:
    return StrictString(validate=validate.Length(min=1, max=max_len), **kwargs)


def line(max_len: int, **kwargs) -> OneLine:
    """One line of text: names, codes, addresses (no control characters)."""
    return OneLine(validate=validate.Length(min=1, max=max_len), **kwargs)


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

UNIT_CODE = StrictString(validate=validate.Regexp(r"^[A-Za-z]{1,8}$"), metadata={
    "description": "the district's prefix of problem codes (LY), letters"})
KEY = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", error="1-32 letters, digits, _ . -")
PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{4,30}$", error="a phone number: digits, spaces, -, an optional +")
ETAG = {"ETag": {"schema": {"type": "string"}, "description": "the row's version, for If-Match"}}
IF_MATCH_ROW = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                "description": 'The ETag of the row as you last saw it, e.g. "3" (428 without, 412 when stale)'}
EDIT_ERRORS = (403, 404, 409, 412, 422, 428)


def etag(row) -> dict:
    """The ETag header of a versioned row."""
    return {"ETag": f'"{row.version}"'}


def edit_doc(blp):
    """A decorator that documents an edit's If-Match parameter and every refusal it can answer."""
    from api.errors import ProblemSchema  # api.errors imports api.context, as this module does

    def decorate(view):
        for status in EDIT_ERRORS:
            view = blp.alt_response(status, schema=ProblemSchema)(view)
        return blp.doc(parameters=[IF_MATCH_ROW])(view)
    return decorate


def natural_key(description: str, **kwargs) -> OneLine:
    return OneLine(allow_none=True, validate=KEY, metadata={"description": description}, **kwargs)


def reason_field() -> StrictString:
    return StrictString(allow_none=True, load_only=True, validate=validate.Length(min=1, max=500),
                        metadata={"description": "why (optional): kept on the admin trail"})


class RowEditIn(In):
    """At least one field besides `reason`: a PATCH that names nothing to change is refused."""

    reason = reason_field()
    active = StrictBoolean(metadata={"description": "false retires it (kept for history), true reactivates it"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("give at least one field to change", "_schema")


class ActiveArgs(PageArgs):
    active = fields.String(load_default="true", validate=validate.OneOf(["true", "false", "all"]), metadata={
        "description": "true (the default: what pickers offer), false (the retired ones) or all"})


class UnitIn(In):
    name = line(100, required=True)
    kind = choice(UnitKind, required=True)
    parent_id = _id(allow_none=True)
    timezone = line(64)
    code = UNIT_CODE
    unit_code = natural_key("the unit's code in the city's register (单位编码); unique")


class UnitEditIn(RowEditIn):
    name = line(100)
    kind = choice(UnitKind)
    parent_id = _id(allow_none=True, metadata={"description": "move the unit (and its subtree) under another"})
    timezone = line(64)
    code = StrictString(allow_none=True, validate=validate.Regexp(r"^[A-Za-z]{1,8}$"))
    unit_code = natural_key("the unit's code in the city's register (单位编码); unique")


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    code = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    timezone = fields.String()
    active = fields.Boolean()
    version = fields.Integer()


class UserIn(In):
    name = line(100, required=True)
    login = text(64, metadata={"description": "the console sign-in (employee number or phone), unique"})
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role if r != Role.PUBLIC]),
                         metadata={"description": "public accounts come with Open311 keys only"})
    unit_id = _id(allow_none=True)
    grid_ids = fields.List(_id(), validate=validate.Length(max=100))
    phone = OneLine(allow_none=True, validate=PHONE, metadata={"description": "unique; a natural key"})
    employee_no = natural_key("工号, unique; a natural key")


class UserEditIn(RowEditIn):
    name = line(100)
    login = text(64, allow_none=True, metadata={
        "description": "the console sign-in, unique; null removes it (the person can no longer sign in)"})
    role = choice(Role)
    unit_id = _id(allow_none=True)
    grid_ids = fields.List(_id(), validate=validate.Length(max=100), metadata={
        "description": "an officer's grids: replaces them; visibility and new rounds follow at once"})
    phone = OneLine(allow_none=True, validate=PHONE)
    employee_no = natural_key("工号, unique")


class PasswordIn(In):
    password = StrictString(required=True, validate=validate.Length(min=10, max=256),
                            metadata={"description": "temporary: the first console sign-in must change it"})


class UserArgs(ActiveArgs):
    role = choice(Role)
    unit_id = _id()


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    role_label = Computed(lambda u: label(u.role, lang()), returns=fields.String())
    unit_id = fields.Integer(allow_none=True)
    grid_ids = fields.List(fields.Integer())
    active = fields.Boolean()
    login = fields.String(allow_none=True)
    has_password = Computed(lambda u: u.password_hash is not None, returns=fields.Boolean())


class PersonOut(UserOut):
    """A person as those who manage them see them."""

    phone = fields.String(allow_none=True)
    employee_no = fields.String(allow_none=True)
    version = fields.Integer()
    retired_at = fields.DateTime(allow_none=True)


class MovedOut(Schema):
    """Only what moved is present ({} when nothing did): each member is x-optional (api/openapi.py)."""

    tokens_revoked = fields.Integer(metadata={"description": "tokens revoked at once (retirement)",
                                              "x-optional": True})
    problems_released = fields.List(fields.Integer(), metadata={
        "description": "open problems handed back to their unit's queue (handler unset, a release event)",
        "x-optional": True})
    plans_changed = fields.List(fields.Integer(), metadata={
        "description": "patrol plans they were taken off; unstarted rounds are made again without them",
        "x-optional": True})
    plans_paused = fields.List(fields.Integer(), metadata={"description": "plans left with nobody, paused",
                                                           "x-optional": True})


class PersonEditOut(PersonOut):
    moved = fields.Nested(MovedOut, metadata={"description": "what moved with the change ({} when nothing)"})
    token = fields.String(allow_none=True, metadata={
        "description": "a fresh token when the person was reactivated (shown once; null on replays), else null"})


class NewUserOut(PersonOut):
    token = fields.String(allow_none=True, metadata={"description": "shown once; null on replays"})


BOUNDARY_DOC = {"description": "GeoJSON Polygon or MultiPolygon ([lng, lat], closed rings): public reports "
                                "inside it land in this grid", "type": "object", "nullable": True}


class GridIn(In):
    name = line(100, required=True)
    unit_id = _id(required=True)
    code = natural_key("the grid's code (网格编码); unique")
    boundary = fields.Dict(allow_none=True, metadata=BOUNDARY_DOC)


class GridBoundaryIn(In):
    boundary = fields.Dict(required=True, allow_none=True, metadata=BOUNDARY_DOC)


class GridEditIn(RowEditIn):
    name = line(100)
    unit_id = _id()
    code = natural_key("the grid's code (网格编码); unique")


class GridOut(Schema):
    id = fields.Integer()
    name = fields.String()
    unit_id = fields.Integer()
    code = fields.String(allow_none=True)
    active = fields.Boolean()
    version = fields.Integer()
    boundary = fields.Dict(allow_none=True, metadata=BOUNDARY_DOC)


class PointIn(In):
    name = line(200, required=True)
    grid_id = _id(required=True)
    lat = StrictFloat(required=True, validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(required=True, validate=validate.Range(min=-180, max=180))
    address = line(300, allow_none=True)
    code = natural_key("the point's code (点位编码); unique")


class PointEditIn(RowEditIn):
    name = line(200)
    grid_id = _id()
    lat = StrictFloat(validate=validate.Range(min=-90, max=90))
    lng = StrictFloat(validate=validate.Range(min=-180, max=180))
    address = line(300, allow_none=True)
    code = natural_key("the point's code (点位编码); unique")


class PointOut(Schema):
    id = fields.Integer()
    name = fields.String()
    grid_id = fields.Integer()
    lat = fields.Float()
    lng = fields.Float()
    address = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    active = fields.Boolean()
    version = fields.Integer()


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
    name = line(100, required=True)
    name_en = line(100, allow_none=True)
    parent_code = StrictString(allow_none=True, validate=validate.Length(max=40))
    default_unit_id = _id(allow_none=True)
    # Left out: the parent's setting (off for a category without parent); the answer shows what applies.
    requires_after_photo = StrictBoolean()
    requires_verification_photo = StrictBoolean()
    pause_on_extension = StrictBoolean()
    # Stages left out take the parent's limit.
    limits = fields.Dict(keys=choice(Stage), values=fields.Nested(LimitIn), load_default=dict)
    spatial = StrictBoolean(load_default=True, metadata={
        "description": "false: a shortfall without a place (支部建设, 制度建设); its reports name unit_id"})
    public = StrictBoolean(load_default=False, metadata={"description": "offered as an Open311 service"})
    public_description = text(500, allow_none=True)
    attributes = fields.List(fields.Nested(AttributeIn), allow_none=True,
                             validate=validate.Length(max=30))


class CategoryPublicIn(In):
    public = StrictBoolean()
    public_description = text(500, allow_none=True)
    attributes = fields.List(fields.Nested(AttributeIn), allow_none=True, validate=validate.Length(max=30))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one field to change", "_schema")


class CategoryEditIn(RowEditIn):
    """The code is the category's identity (problems, rules and templates name it): it does not change."""

    name = line(100)
    name_en = line(100, allow_none=True)
    parent_code = StrictString(allow_none=True, validate=validate.Length(max=40))
    default_unit_id = _id(allow_none=True)
    requires_after_photo = StrictBoolean()
    requires_verification_photo = StrictBoolean()
    pause_on_extension = StrictBoolean()
    limits = fields.Dict(keys=choice(Stage), values=fields.Nested(LimitIn))


class CategoryOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = ComputedMethod("_name", returns=fields.String())
    name_zh = fields.String(attribute="name")
    name_en = fields.String(allow_none=True)
    parent_code = fields.String(allow_none=True)
    default_unit_id = fields.Integer(allow_none=True)
    requires_after_photo = fields.Boolean()
    requires_verification_photo = fields.Boolean()
    pause_on_extension = fields.Boolean()
    limits = fields.Dict(keys=fields.String(), values=fields.Dict())
    spatial = fields.Boolean()
    active = fields.Boolean()
    version = fields.Integer()
    public = fields.Boolean()
    public_description = fields.String(allow_none=True)
    attributes = fields.List(fields.Dict(), allow_none=True)

    def _name(self, category) -> str:
        return category_label(category)


def category_label(category, language: str | None = None) -> str:
    """The category's name in the caller's language."""
    return category.name_en if (language or lang()) == "en" and category.name_en else category.name


class ImportCounts(Schema):
    units = fields.Integer()
    grids = fields.Integer()
    points = fields.Integer()
    people = fields.Integer()


class ImportedToken(Schema):
    user_id = fields.Integer()
    name = fields.String()
    phone = fields.String(allow_none=True)
    employee_no = fields.String(allow_none=True)
    token = fields.String()


class ImportOut(Schema):
    created = fields.Nested(ImportCounts)
    updated = fields.Nested(ImportCounts)
    unchanged = fields.Nested(ImportCounts)
    tokens = fields.List(fields.Nested(ImportedToken), allow_none=True, metadata={
        "description": "a token for each person created, shown once (hand them out); null on replays"})


class AdminEventArgs(PageArgs):
    resource = fields.String(validate=validate.OneOf(
        ["unit", "user", "grid", "point", "category", "patrol_plan", "escalation_rule", "webhook"]))
    id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                        metadata={"description": "the resource's id (with resource)"})
    actor_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class ActorOut(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String()
    role = choice(Role)


class AdminEventOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    resource = fields.String()
    resource_id = fields.Integer()
    action = fields.String(metadata={"description": "create | edit | retire | reactivate | import"})
    actor = Computed(
        lambda e: {"id": e.actor_id, "name": e.actor_name, "role": e.actor_role} if e.actor_role else None,
        returns=fields.Nested(ActorOut, allow_none=True),
        metadata={"description": "who; null: the system or the command line"})
    changes = fields.Dict(attribute="fields", metadata={
        "description": "field -> {before, after}; personal numbers read \"changed\""})
    reason = fields.String(allow_none=True)
    at = fields.DateTime()
    prev_hash = fields.String()
    hash = fields.String()


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
    unit_id = _id(allow_none=True, metadata={
        "description": "instead of a place, for a category with spatial: false: the unit the shortfall belongs to"})
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
        if data.get("unit_id") is not None:
            _no_place(data)
            return
        if data.get("point_id") is not None:
            if any(data.get(name) is not None for name in ("lat", "lng", "grid_id")):
                raise ValidationError("give point_id, or lat, lng, address and grid_id, not both", "point_id")
            return
        # Without grid_id the grid is found from lat, lng (a boundary, else the nearest point).
        missing = {name: ["required without point_id (or unit_id)"] for name in ("lat", "lng", "address")
                   if data.get(name) is None}
        if missing:
            raise ValidationError(missing)


def _no_place(data: dict) -> None:
    """A report naming `unit_id` (a shortfall of a non-spatial category) has no place."""
    places = ("point_id", "grid_id", "lat", "lng", "address", "party_id")
    placed = [name for name in places if data.get(name) is not None]
    if placed:
        raise ValidationError({name: ["a report naming unit_id has no place"] for name in placed})


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


class ContactOut(Schema):
    """An outside reporter's contact; `masked` when the viewer is not a supervisor or an admin."""

    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    masked = fields.Boolean()


class Viewer(NamedTuple):
    """Who asks, when and in which language, and the allowed actions worked out so far in this request."""

    actor: object
    now: datetime
    lang: str
    allowed: dict


_VIEWER: ContextVar[Viewer | None] = ContextVar("problem_viewer", default=None)


def _viewer_of_request() -> Viewer:
    return Viewer(current_actor(), request_now(), lang(), g.setdefault("allowed_actions", {}))


# A ledger page reads the request's viewer once (problem_items); one problem reads each part from the request
# as it needs it. (A lookup in Flask's `g` costs microseconds, and a page of 50 asked ~650 of them.)
def _lang() -> str:
    return lang() if (seen := _VIEWER.get()) is None else seen.lang


def _now() -> datetime:
    return request_now() if (seen := _VIEWER.get()) is None else seen.now


def _actor():
    return current_actor() if (seen := _VIEWER.get()) is None else seen.actor


def _viewer() -> Viewer:
    return _VIEWER.get() or _viewer_of_request()


class ExtensionOut(Schema):
    until = fields.DateTime(attribute="extension_until")
    reason = fields.String(attribute="extension_reason")
    requested_by = fields.Integer(attribute="extension_requested_by_id")
    requested_at = fields.DateTime(attribute="extension_requested_at")


EXTENSION_OUT = ExtensionOut()


class ProblemOut(Schema):
    id = fields.Integer()
    code = fields.String()
    state = choice(State)
    state_label = Computed(lambda p: label(p.state, _lang()), returns=fields.String())
    category_code = Computed(lambda p: p.category.code, returns=fields.String())
    # Plain functions, not a Schema() per problem: building schemas per item was ~15 % of a ledger page.
    category_name = Computed(lambda p: category_label(p.category, _lang()), returns=fields.String())
    title = fields.String()
    description = fields.String(allow_none=True)
    severity = choice(Severity)
    point_id = fields.Integer(allow_none=True)
    grid_id = fields.Integer(allow_none=True, metadata={"description": "null for a problem without a place"})
    area_unit_id = fields.Integer(attribute="grid_unit_id", metadata={
        "description": "the unit whose area it lies in: its grid's unit, or the unit a non-spatial report named"})
    spatial = Computed(lambda p: p.grid_id is not None, returns=fields.Boolean(), metadata={
        "description": "false: a shortfall of a unit (non-spatial category), absent from maps and GeoJSON"})
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
    stage = choice(Stage, allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    stage_due_at = fields.DateTime(allow_none=True)
    light = Computed(lambda p: p.light(_now()), returns=choice(Light, allow_none=True))
    overdue = Computed(lambda p: p.is_overdue(_now()), returns=fields.Boolean())
    paused = Computed(lambda p: p.paused_at is not None, returns=fields.Boolean())
    rework_count = fields.Integer()
    escalation_level = fields.Integer()
    supervised = fields.Boolean()
    duplicate_of = fields.Integer(allow_none=True)
    recurrence_of = fields.Integer(allow_none=True, metadata={
        "description": "反弹: the problem this one repeats, same category and point, fixed (verified or closed) "
                       "before this report, reported within the 30 days before"})
    possible_duplicate_of = fields.Integer(allow_none=True, metadata={
        "description": "an earlier problem of the same category at the same point still open when this was "
                       "reported: a supervisor may cancel this one with duplicate_of"})
    round_id = fields.Integer(allow_none=True, metadata={"description": "the patrol round that found it"})
    party_id = fields.Integer(allow_none=True, metadata={"description": "the party (经营主体) it is about"})
    source = choice(Source, metadata={"description": "officer, patrol, inspection, public, hotline or media"})
    source_label = Computed(lambda p: label(p.source, _lang()), returns=fields.String())
    external_ref = fields.String(allow_none=True)
    media_url = fields.String(allow_none=True, metadata={"description": "the reporter's link; never fetched"})
    contact = ComputedMethod("_contact", returns=fields.Nested(ContactOut, allow_none=True), metadata={
        "description": "the outside reporter's contact: whole for supervisors and admins, masked for others"})
    callback_satisfaction = choice(Satisfaction, allow_none=True)
    callback_at = fields.DateTime(allow_none=True)
    extension = Computed(lambda p: EXTENSION_OUT.dump(p) if p.extension_until else None,
                         returns=fields.Nested(ExtensionOut, allow_none=True))
    version = fields.Integer()
    allowed_actions = ComputedMethod("_allowed", returns=fields.List(choice(Action)))
    action_labels = ComputedMethod("_labels", returns=fields.Dict(keys=choice(Action), values=fields.String()),
                                   metadata={"description": "allowed action -> its label"})

    def _contact(self, problem) -> dict | None:
        return contact_for(_actor(), problem)

    def _allowed(self, problem) -> list[str]:
        actor, now, _, cache = _viewer()
        if problem.id not in cache:
            cache[problem.id] = allowed_actions(problem, actor, now)
        return cache[problem.id]

    def _labels(self, problem) -> dict[str, str]:
        language = _lang()
        return {action: label(action, language) for action in self._allowed(problem)}


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
    action = choice(Action)
    action_label = Computed(lambda e: label(e.action, lang()), returns=fields.String())
    actor = Computed(
        lambda e: {"id": e.actor_id, "name": e.actor_name, "role": e.actor_role} if e.actor_role else None,
        returns=fields.Nested(ActorOut, allow_none=True), metadata={"description": "null: the scheduler"})
    from_state = choice(State, allow_none=True)
    to_state = choice(State)
    note = fields.String(allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    stage = fields.String(allow_none=True)
    stage_overdue = fields.Boolean(allow_none=True)
    at = fields.DateTime()
    prev_hash = fields.String(metadata={"description": "The previous event's hash (64 zeros for seq 1)."})
    hash = fields.String(metadata={"description": "sha256 hex of prev_hash and this event's canonical content; "
                                                  "`flask audit verify` checks the chain."})


ProblemPage = page_of(ProblemOut, "ProblemPage")
# The ledger's items, dumped as ProblemOut dumps them with a fraction of the Python (api/dumping.py).
PROBLEM_ITEMS = Plan(ProblemOut())


def problem_items(problems: list) -> list[dict]:
    """A page of problems as ProblemOut dumps them, the request's viewer read once for the page."""
    token = _VIEWER.set(_viewer_of_request())
    try:
        return PROBLEM_ITEMS.dump_many(problems)
    finally:
        _VIEWER.reset(token)
EventPage = page_of(EventOut, "EventPage")
UnitPage = page_of(UnitOut, "UnitPage")
UserPage = page_of(PersonOut, "UserPage")
AdminEventPage = page_of(AdminEventOut, "AdminEventPage")
GridPage = page_of(GridOut, "GridPage")
PointPage = page_of(PointOut, "PointPage")
CategoryPage = page_of(CategoryOut, "CategoryPage")
