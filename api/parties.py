"""Parties (经营主体) and the enforcement ladder: register, correct, read with history, the trail, steps."""

import functools

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.blueprint import ID, Blueprint
from api.context import current_actor, if_match_version, lang, request_now
from api.errors import ProblemSchema
from api.fields import CommaList, Computed, ComputedMethod, StrictFloat, StrictString
from api.schemas import ActorOut, In, PageArgs, _id, choice, page_of, text
from api.write import write
from models.enums import PartyKind, PartyStatus, State, label
from workflow.inspections import ladder, parties
from workflow.inspections.vocabulary import label as term
from workflow.paging import MAX_ID

blp = Blueprint("parties", __name__, url_prefix="/api/v1",
                description="Parties (经营主体): shops, restaurants, stalls and booths; their history and the "
                            "enforcement ladder (执法阶梯). Contacts are masked but for the party's supervisors "
                            "and the officers who inspected it.")

PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{4,30}$", error="a phone number: digits, spaces, -, an optional +")
TAG = StrictString(validate=validate.Regexp(r"^[a-z0-9_]{1,40}$", error="a-z, 0-9, _; at most 40"))
ETAG = {"ETag": {"schema": {"type": "string"}}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": 'The ETag of the party as you last saw it, e.g. "3"'}


class PartyFields(In):
    name = text(200)
    kind = choice(PartyKind)
    point_id = _id()
    credit_code = StrictString(allow_none=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "统一社会信用代码: 18 characters with the GB 32100 check character; optional for stalls"})
    licence_numbers = fields.List(StrictString(validate=validate.Length(min=1, max=50)),
                                  validate=validate.Length(max=10))
    contact_name = text(100, allow_none=True)
    contact_phone = StrictString(allow_none=True, validate=PHONE)
    tags = fields.List(TAG, validate=validate.Length(max=20))
    status = choice(PartyStatus)
    address = text(300, allow_none=True)


class PartyIn(PartyFields):
    name = text(200, required=True)
    kind = choice(PartyKind, required=True)
    point_id = _id(required=True)


class PartyEditIn(PartyFields):
    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one field to change", "_schema")


class PartyArgs(PageArgs):
    kind = CommaList(choice(PartyKind))
    status = CommaList(choice(PartyStatus))
    tag = TAG
    grid_id = CommaList(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)))
    ladder_step = CommaList(StrictString(validate=validate.Length(min=1, max=16)))
    q = StrictString(validate=validate.Length(min=1, max=100))


class PartyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = choice(PartyKind)
    kind_label = Computed(lambda p: term("party_kind", p.kind, lang()), returns=fields.String())
    credit_code = fields.String(allow_none=True)
    licence_numbers = fields.List(fields.String())
    contact_name = Computed(lambda p: parties.contact(p)["contact_name"], returns=fields.String(allow_none=True))
    contact_phone = Computed(lambda p: parties.contact(p)["contact_phone"], returns=fields.String(allow_none=True))
    contact_masked = Computed(lambda p: parties.contact(p)["contact_masked"], returns=fields.Boolean(), metadata={
        "description": "true: name and phone are masked (only the party's supervisors and the officers who "
                       "inspected it see them)"})
    tags = fields.List(fields.String())
    status = choice(PartyStatus)
    status_label = Computed(lambda p: term("party_status", p.status, lang()), returns=fields.String())
    point_id = fields.Integer()
    grid_id = fields.Integer()
    address = fields.String(allow_none=True)
    ladder_step = fields.String(allow_none=True)
    ladder_since = fields.DateTime(allow_none=True)
    proposed_step = fields.String(allow_none=True, metadata={"description": "a step up waiting for a supervisor"})
    last_failed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PartyHistoryProblemOut(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    state = choice(State)
    state_label = Computed(lambda p: label(p.state, lang()), returns=fields.String())
    reported_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)


class PartyHistoryInspectionOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    outcome = fields.String()
    officer_id = fields.Integer()
    list_id = fields.Integer(allow_none=True)


class PartyHistoryOrderOut(Schema):
    id = fields.Integer()
    number = fields.String()
    issued_at = fields.DateTime()
    deadline_on = fields.Date()
    state = fields.String()


class PartyEventOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    action = fields.String()
    action_label = Computed(lambda e: term("party_action", e.action, lang()), returns=fields.String())
    actor = Computed(
        lambda e: {"id": e.actor_id, "name": e.actor_name, "role": e.actor_role} if e.actor_role else None,
        returns=fields.Nested(ActorOut, allow_none=True),
        metadata={"description": "who decided it; null: the scheduler, by rule"})
    from_step = fields.String(allow_none=True)
    to_step = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    at = fields.DateTime()
    prev_hash = fields.String()
    hash = fields.String()


class PartyHistoryOut(Schema):
    problems = fields.List(fields.Nested(PartyHistoryProblemOut))
    inspections = fields.List(fields.Nested(PartyHistoryInspectionOut))
    orders = fields.List(fields.Nested(PartyHistoryOrderOut))
    steps = fields.List(fields.Nested(PartyEventOut))


class PartyDetailOut(PartyOut):
    history = ComputedMethod("_history", returns=fields.Nested(PartyHistoryOut),
                             metadata={"description": "the latest 20 of each, newest first"})

    def _history(self, party) -> dict:
        return PartyHistoryOut().dump(parties.history(actor=current_actor(), party=party))


class LadderStepIn(In):
    step = StrictString(required=True, validate=validate.Length(min=1, max=16), metadata={
        "description": "a ladder step code (advice, order, case, watch) or none; the current step with a "
                       "proposal pending dismisses the proposal"})
    note = StrictString(validate=validate.Length(min=1, max=2000))
    case_number = StrictString(validate=validate.Length(min=1, max=60), metadata={"description": "立案 case number"})
    penalty = StrictString(validate=validate.Length(min=1, max=500), metadata={"description": "the penalty decided"})
    penalty_amount = StrictFloat(validate=validate.Range(min=0, max=1e9), metadata={"description": "yuan"})


class LadderStepOut(Schema):
    code = fields.String()
    rank = fields.Integer()
    name = ComputedMethod("_name", returns=fields.String())
    name_zh = fields.String(attribute="name")
    name_en = fields.String(allow_none=True)
    decided_by = fields.List(fields.String())
    requires = fields.List(fields.String())
    repeat_within_days = fields.Integer(allow_none=True)
    clean_days = fields.Integer(allow_none=True)

    def _name(self, step) -> str:
        return step.name_en if lang() == "en" and step.name_en else step.name


class LadderStepList(Schema):
    items = fields.List(fields.Nested(LadderStepOut))


PartyPage = page_of(PartyOut, "PartyPage")
PartyEventPage = page_of(PartyEventOut, "PartyEventPage")


def etag(party) -> dict:
    return {"ETag": f'"{party.version}"'}


def visible_party(view):
    """Answer 404 for a party the caller cannot see before the body is even parsed."""

    @functools.wraps(view)
    def wrapper(*args, party_id, **kwargs):
        parties.get_party(actor=current_actor(), party_id=party_id)
        return view(*args, party_id=party_id, **kwargs)

    return wrapper


@blp.route("/parties")
class Parties(MethodView):
    @blp.arguments(PartyArgs, location="query")
    @blp.response(200, PartyPage)
    def get(self, args):
        """The parties the caller may see (officers: their grids; handlers: their unit's problems'), by id."""
        return parties.list_parties(actor=current_actor(), **args)

    @write
    @blp.arguments(PartyIn)
    @blp.response(201, PartyOut, headers=ETAG)
    @blp.alt_response(409, schema=ProblemSchema)
    def post(self, data):
        """Register a party at a point (supervisors of its area, admins); a wrong credit code is 422."""
        party = parties.create_party(actor=current_actor(), now=request_now(), **data)
        return party, 201, etag(party) | {"Location": f"/api/v1/parties/{party.id}"}


@blp.route(f"/parties/<{ID}:party_id>")
class PartyById(MethodView):
    @blp.response(200, PartyDetailOut, headers=ETAG)
    @blp.alt_response(404, schema=ProblemSchema)
    def get(self, party_id):
        """One party with its history: problems, inspections, orders and ladder steps."""
        party = parties.get_party(actor=current_actor(), party_id=party_id)
        return party, 200, etag(party)

    @write
    @visible_party
    @blp.arguments(PartyEditIn)
    @blp.response(200, PartyOut, headers=ETAG)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema)
    @blp.alt_response(412, schema=ProblemSchema)
    @blp.alt_response(428, schema=ProblemSchema)
    @blp.doc(parameters=[IF_MATCH])
    def patch(self, data, party_id):
        """Correct a party (If-Match required); the trail says which fields changed."""
        party = parties.edit_party(actor=current_actor(), now=request_now(), party_id=party_id,
                                   expected_version=if_match_version(), **data)
        return party, 200, etag(party)


@blp.route(f"/parties/<{ID}:party_id>/events")
@blp.arguments(PageArgs, location="query")
@blp.response(200, PartyEventPage)
@blp.alt_response(404, schema=ProblemSchema)
def events(args, party_id):
    """The party's append-only trail, oldest first, hash-chained (`flask audit verify` checks it)."""
    return parties.events(actor=current_actor(), party_id=party_id, **args)


@blp.route(f"/parties/<{ID}:party_id>/ladder-steps", methods=["POST"])
@write
@visible_party
@blp.arguments(LadderStepIn)
@blp.response(200, PartyOut, headers=ETAG)
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def take_step(data, party_id):
    """Put the party on a ladder step, as the step allows your role (立案处罚 and 重点监管: supervisors;
    down: supervisors); 立案处罚 needs `case_number` and `penalty`."""
    party = ladder.take_step(actor=current_actor(), now=request_now(), party_id=party_id, **data)
    return party, 200, etag(party)


@blp.route("/ladder-steps")
@blp.response(200, LadderStepList)
def ladder_steps():
    """The enforcement ladder's steps, lowest first: who decides each, what it needs, its day counts."""
    return {"items": ladder.steps()}
