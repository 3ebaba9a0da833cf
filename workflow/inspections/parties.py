"""Parties (经营主体): register, correct, find and read them; whose contact details a caller may see."""

from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from models import Inspection, Party, PartyEvent, PartyTag, Point, Problem, RectificationOrder, User, user_grids
from models.base import db, mark_written
from models.enums import PartyAction, PartyKind, Role
from workflow.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionRequired, Stale
from workflow.inspections import credit_code, trail
from workflow.paging import Page, by_column
from workflow.scope import problem_filter, subtree_ids, unit_within

KEEPERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
EDITABLE = ("name", "kind", "licence_numbers", "contact_name", "contact_phone", "status", "address")
CONTACT_FIELDS = ("contact_name", "contact_phone")  # the trail says they changed, never what to
HISTORY_LIMIT = 20


# --- who sees what ---------------------------------------------------------------------------

def party_filter(actor: User) -> ColumnElement[bool]:
    """The parties `actor` may see: a supervisor's subtree, an officer's grids, the parties of a handler's
    unit's problems, every party for an admin."""
    if actor.role == Role.ADMIN:
        return true()
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        return Party.grid_unit_id.in_(subtree_ids(actor.unit))
    if actor.role == Role.OFFICER:
        return Party.grid_id.in_(select(user_grids.c.grid_id).where(user_grids.c.user_id == actor.id))
    if actor.role == Role.HANDLER and actor.unit_id is not None:
        return Party.id.in_(select(Problem.party_id).where(Problem.unit_id == actor.unit_id,
                                                           Problem.party_id.is_not(None)))
    return false()


def get_party(*, actor: User, party_id: int) -> Party:
    """The party if `actor` may see it (NotFound otherwise), its contact shown as `actor` may see it."""
    party = db.session.scalars(select(Party).where(Party.id == party_id, party_filter(actor))).first()
    if party is None:
        raise NotFound(f"party {party_id} not found")
    mark_contacts(actor, [party])
    return party


def list_parties(*, actor: User, limit: int, cursor: str | None = None, kind: list[str] | None = None,
                 status: list[str] | None = None, tag: str | None = None, grid_id: list[int] | None = None,
                 ladder_step: list[str] | None = None, q: str | None = None) -> Page:
    """A page of the parties `actor` may see, by id, filtered."""
    conds = [Party.kind.in_(kind) if kind else None, Party.status.in_(status) if status else None,
             Party.id.in_(select(PartyTag.party_id).where(PartyTag.tag == tag)) if tag else None,
             Party.grid_id.in_(grid_id) if grid_id else None,
             Party.ladder_step.in_(ladder_step) if ladder_step else None,
             or_(Party.name.contains(q, autoescape=True), Party.credit_code == q.upper()) if q else None]
    stmt = select(Party).where(party_filter(actor), *[cond for cond in conds if cond is not None])
    page = by_column(stmt, Party.id, limit=limit, cursor=cursor)
    mark_contacts(actor, page.items)
    return page


def mark_contacts(actor: User, parties: list[Party]) -> None:
    """Set `shows_contact` on each party: True only for its supervisors and the officers who inspected it.
    Anything that renders a party without this mark shows the contact masked."""
    ids = [party.id for party in parties]
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        area = set(db.session.scalars(subtree_ids(actor.unit)))
        shown = {party.id for party in parties if party.grid_unit_id in area}
    elif actor.role == Role.OFFICER and ids:
        shown = set(db.session.scalars(select(Inspection.party_id).where(
            Inspection.officer_id == actor.id, Inspection.party_id.in_(ids)).distinct()))
    else:
        shown = set()
    for party in parties:
        party.shows_contact = party.id in shown


def contact(party: Party) -> dict:
    """The contact as the party was marked for the caller: in full, or masked."""
    shown = getattr(party, "shows_contact", False)
    return {"contact_name": party.contact_name if shown else mask_name(party.contact_name),
            "contact_phone": party.contact_phone if shown else mask_phone(party.contact_phone),
            "contact_masked": not shown}


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the first three and last four digits of a mobile number; the last two of anything shorter."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


def mask_name(name: str | None) -> str | None:
    """张*: the family name only."""
    return name[0] + "*" * max(len(name) - 1, 1) if name else name


# --- registering and correcting ----------------------------------------------------------------

def _may_keep(actor: User, point: Point) -> None:
    if actor.role not in KEEPERS:
        raise Forbidden("supervisors and admins register and correct parties")
    if actor.role == Role.SUPERVISOR and not unit_within(point.grid.unit, actor.unit):
        raise Forbidden("supervisors keep the parties of their unit's area")


def _point(point_id: int) -> Point:
    point = db.session.get(Point, point_id)
    if point is None:
        raise Invalid(f"unknown point {point_id}", errors={"point_id": ["unknown point"]})
    return point


def checked_credit_code(code: str | None, kind: str) -> str | None:
    """A normalized credit code; Invalid naming `credit_code` when it is missing (but for stalls) or wrong."""
    if code is None:
        if kind != PartyKind.STALL:
            raise Invalid("a credit code is required", errors={"credit_code": ["required, except for stalls"]})
        return None
    code = credit_code.normalize(code)
    if (flaw := credit_code.flaw(code)) is not None:
        raise Invalid(f"not a valid unified social credit code: {flaw}", errors={"credit_code": [flaw]})
    return code


def create_party(*, actor: User, now: datetime, name: str, kind: str, point_id: int,
                 credit_code: str | None = None, tags: list[str] | None = None, **fields) -> Party:
    """Register a party at a point (its grid comes from the point); a trail starts with `register`."""
    point = _point(point_id)
    _may_keep(actor, point)
    party = Party(name=name, kind=kind, credit_code=checked_credit_code(credit_code, kind), point_id=point.id,
                  grid_id=point.grid_id, grid_unit_id=point.grid.unit_id, address=fields.pop("address", None)
                  or point.address, licence_numbers=fields.pop("licence_numbers", None) or [],
                  status=fields.pop("status", None) or "operating", version=1, last_seq=0, created_at=now,
                  updated_at=now, **fields)
    party.tag_rows = [PartyTag(tag=tag) for tag in dict.fromkeys(tags or [])]
    _insert(party)
    trail.record(party, actor, now, PartyAction.REGISTER, fields={
        "name": name, "kind": kind, "credit_code": party.credit_code, "point_id": point.id, "tags": party.tags})
    mark_contacts(actor, [party])
    return party


def _insert(party: Party) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(party)
            db.session.flush()
    except IntegrityError:
        taken = db.session.scalar(select(Party.id).where(Party.credit_code == party.credit_code))
        if taken is None:
            raise
        raise Conflict(f"credit code {party.credit_code} is registered to party {taken}",
                       errors={"credit_code": [f"already registered (party {taken})"]}) from None


def edit_party(*, actor: User, now: datetime, party_id: int, expected_version: int | None, **changes) -> Party:
    """Correct a party (If-Match); the trail records which fields changed (never the contact's values)."""
    party = get_party(actor=actor, party_id=party_id)
    _may_keep(actor, party_point(party))
    if expected_version is None:
        raise PreconditionRequired("send If-Match with the party's ETag")
    if "credit_code" in changes:
        changes["credit_code"] = checked_credit_code(changes["credit_code"], changes.get("kind", party.kind))
    elif changes.get("kind") and changes["kind"] != PartyKind.STALL and party.credit_code is None:
        raise Invalid("a credit code is required", errors={"credit_code": ["required, except for stalls"]})
    if "point_id" in changes:
        _move(actor, party, _point(changes.pop("point_id")))
    _apply(party, changes)
    party.updated_at = now
    _compare_and_set(party, expected_version)
    recorded = {name: ("changed" if name in CONTACT_FIELDS else value) for name, value in changes.items()}
    trail.record(party, actor, now, PartyAction.EDIT, fields=recorded)
    mark_contacts(actor, [party])
    return party


def party_point(party: Party) -> Point:
    """The point a party stands at."""
    return db.session.get(Point, party.point_id)


def _move(actor: User, party: Party, point: Point) -> None:
    _may_keep(actor, point)
    party.point_id, party.grid_id, party.grid_unit_id = point.id, point.grid_id, point.grid.unit_id


def _apply(party: Party, changes: dict) -> None:
    for name in (*EDITABLE, "credit_code"):
        if name in changes:
            setattr(party, name, changes[name])
    if "tags" in changes:
        party.tag_rows = [PartyTag(tag=tag) for tag in dict.fromkeys(changes["tags"])]


def _compare_and_set(party: Party, expected_version: int) -> None:
    """Bump the version only if it is still the one the caller saw (412 otherwise)."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("that credit code is registered to another party",
                       errors={"credit_code": ["already registered"]}) from None
    row = db.session.execute(update(Party).where(Party.id == party.id, Party.version == expected_version)
                             .values(version=Party.version + 1).returning(Party.version)
                             .execution_options(synchronize_session=False)).first()
    if row is None:
        current = db.session.scalar(select(Party.version).where(Party.id == party.id))
        raise Stale(f"the party is at version {current}, not {expected_version}", extra={"version": current})
    mark_written(party, {"version": row[0]})


# --- history -----------------------------------------------------------------------------------

def history(*, actor: User, party: Party) -> dict:
    """The latest problems (those `actor` may see), inspections, orders and ladder steps of a party."""
    def latest(stmt, *order):
        return list(db.session.scalars(stmt.order_by(*order).limit(HISTORY_LIMIT)))

    steps = (PartyAction.STEP_UP, PartyAction.STEP_DOWN, PartyAction.PROPOSE, PartyAction.DISMISS)
    return {
        "problems": latest(select(Problem).where(Problem.party_id == party.id, problem_filter(actor)),
                           Problem.reported_at.desc(), Problem.id.desc()),
        "inspections": latest(select(Inspection).where(Inspection.party_id == party.id),
                              Inspection.at.desc(), Inspection.id.desc()),
        "orders": latest(select(RectificationOrder).where(RectificationOrder.party_id == party.id),
                         RectificationOrder.id.desc()),
        "steps": latest(select(PartyEvent).where(PartyEvent.party_id == party.id, PartyEvent.action.in_(steps)),
                        PartyEvent.seq.desc()),
    }


def events(*, actor: User, party_id: int, limit: int, cursor: str | None = None) -> Page:
    """The party's trail, oldest first, with its hashes."""
    get_party(actor=actor, party_id=party_id)
    return by_column(select(PartyEvent).where(PartyEvent.party_id == party_id), PartyEvent.seq,
                     limit=limit, cursor=cursor)
