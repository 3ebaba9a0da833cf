"""Reporting a problem, and correcting the report while it waits for dispatch."""

import functools
from datetime import datetime

from sqlalchemy import bindparam, exists, inspect, select, text, update
from sqlalchemy.orm import contains_eager

from models import Category, Grid, Party, Point, Problem, Unit, User, user_grids
from models.base import db, mark_written
from models.enums import OUTSIDE_SOURCES, Action, Role, Source, Stage, State
from workflow import tally
from workflow.calendar import CLOCK_SKEW
from workflow.errors import Forbidden, Invalid, InvalidTransition
from workflow.intake import contact as contacts
from workflow.intake import locate
from workflow.intake.links import check_link
from workflow.notifications import outbox
from workflow.problems import clocks, codes
from workflow.problems.actions import allowed_actions, check_version
from workflow.problems.events import Entry, Row, append_event, event_fields
from workflow.problems.recurrence import duplicates, link, relink_repeats_of, repeats
from workflow.problems.visibility import get_problem
from workflow.scope import unit_within

REPORTERS = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.HOTLINE, Role.PUBLIC})
# The sources each role may name (the first is its default; a round's finding is `patrol` whoever reports).
SOURCES_OF_ROLE = {
    Role.OFFICER: (Source.OFFICER, Source.INSPECTION),
    Role.SUPERVISOR: (Source.OFFICER, Source.INSPECTION, Source.PUBLIC, Source.HOTLINE, Source.MEDIA),
    Role.HOTLINE: (Source.HOTLINE,),
    Role.PUBLIC: (Source.PUBLIC,),
}
NEAREST_POINT_M = 500.0  # the default of INTAKE_NEAREST_POINT_METRES
EDITABLE = ("title", "description", "severity", "address", "lat", "lng")


def report_problem(*, actor: User, now: datetime, category_code: str, title: str,
                   severity: str = "normal", description: str | None = None,
                   point_id: int | None = None, grid_id: int | None = None,
                   lat: float | None = None, lng: float | None = None, address: str | None = None,
                   resolved_on_site: bool = False, observed_at: datetime | None = None,
                   client_id: str | None = None, round_id: int | None = None, party_id: int | None = None,
                   due_at: datetime | None = None, unit_id: int | None = None, source: str | None = None,
                   external_ref: str | None = None, contact: dict | None = None, media_url: str | None = None,
                   intake_attributes: dict | None = None, nearest_m: float = NEAREST_POINT_M) -> tuple[Problem, bool]:
    """Report a problem; returns it and whether it is new (a repeated `client_id`, or `external_ref` of the
    same source, is not). `party_id` names the party (经营主体) it is about; `due_at` fixes its whole-case
    deadline from the report on (an order to rectify sets one) instead of the category's limit from the
    assignment. Without `point_id` and `grid_id`, the grid is found from `lat`, `lng` (locate.py). A problem
    of a non-spatial category names the unit it belongs to (`unit_id`) instead of a place."""
    if actor.role not in REPORTERS:
        raise Forbidden("only officers, supervisors, the hotline and Open311 clients report problems")
    source = _source(actor, source, round_id, external_ref, contact)
    if existing := _repeated(actor, client_id, source, external_ref):
        return existing, False
    category = _category(category_code)
    area, grid, point = _placement(actor, category, unit_id=unit_id, point_id=point_id, grid_id=grid_id,
                                   place={"lat": lat, "lng": lng, "address": address, "party_id": party_id},
                                   nearest_m=nearest_m)
    _check_observed(observed_at, now)
    problem = Problem(
        category=category, category_id=category.id, title=title, description=description,
        severity=severity, point_id=point.id if point else None, grid_id=grid.id if grid else None,
        grid_unit_id=area.id, **_place(point, lat, lng, address), timezone=area.timezone,
        reporter_id=actor.id, client_id=client_id, resolved_on_site=resolved_on_site,
        observed_at=observed_at, reported_at=now, updated_at=now, version=1, last_seq=1, round_id=round_id,
        next_check_at=now, party_id=party_id, due_at=due_at,
        stage_cycle=0, rework_count=0, escalation_level=0, supervised=False, extension_count=0,
        source=source, external_ref=external_ref, media_url=check_link(media_url), intake_attributes=intake_attributes,
        **contacts.check_contact(contact or {}),
    )
    _start(problem, actor, now)
    link(problem)
    # Last: the day's counter row stays locked until the commit, so concurrent reports queue only for the rest.
    problem.code = codes.next_code(unit=area, tz=area.timezone, now=now)
    return _insert_report(problem, actor, now)


def _check_observed(observed_at: datetime | None, now: datetime) -> None:
    if observed_at is not None and observed_at > now + CLOCK_SKEW:
        raise Invalid("observed_at lies in the future", errors={"observed_at": ["must not be in the future"]})


def _place(point: Point | None, lat: float | None, lng: float | None, address: str | None) -> dict:
    """Where the problem is: what the report says, else its point's."""
    if point is None:
        return {"lat": lat, "lng": lng, "address": address or None}
    return {"lat": lat if lat is not None else point.lat, "lng": lng if lng is not None else point.lng,
            "address": address or point.address}


def _start(problem: Problem, actor: User, now: datetime) -> None:
    """A report waits for dispatch; one resolved on site (自处理) waits for a supervisor to close it."""
    if problem.resolved_on_site:
        problem.state, problem.verified_by_id = State.VERIFIED, actor.id
        clocks.start_stage(problem, None, now)
    else:
        problem.state = State.REPORTED
        clocks.start_stage(problem, Stage.DISPATCH, now)


def _insert_report(report: Problem, actor: User, now: datetime) -> tuple[Problem, bool]:
    problem = _inserted(report)
    if problem is None:
        # A concurrent retry with the same client_id (or outside reference) won the race: answer with its problem.
        existing = _by_client_id(actor, report.client_id) if report.client_id else None
        if existing is None and report.external_ref is not None:
            existing = _by_external_ref(report.source, report.external_ref)
        if existing is None:
            raise RuntimeError(f"the problem code {report.code} is taken: the code counter is behind")
        return existing, False
    # The category's name of the day stays on the trail; the ledger shows its current name (decision 0072).
    fields = {"category_code": problem.category.code, "category_name": problem.category.name}
    fields |= {"resolved_on_site": True} if problem.resolved_on_site else {}
    event = append_event(problem, actor, now, Action.REPORT, Entry(None, fields), row=Row.INSERTED)
    outbox.enqueue_many([outbox.message(topic="problem.created", now=now, payload={
        "problem_id": problem.id, "event_id": event.id, "data": outbox.problem_data(problem)})])
    tally.count("report", source=report_source(problem, actor))
    return problem, True


def _inserted(report: Problem) -> Problem | None:
    """INSERT the new problem's row, or nothing when a unique key is taken (a repeated client_id or outside
    reference that a concurrent request committed first); the row as a loaded Problem, else None.

    One statement: ON CONFLICT DO NOTHING instead of a SAVEPOINT around the INSERT (which PostgreSQL needs to
    go on after a unique violation), and no unit-of-work flush of the ~70 columns."""
    columns = {attr.key: value for attr in inspect(Problem).column_attrs
               if (value := report.__dict__.get(attr.key, _UNSET)) is not _UNSET}
    # The text INSERT applies no column defaults of the model: a None where there is one takes it, as the ORM.
    columns = _DEFAULTS | {name: value for name, value in columns.items()
                           if value is not None or name not in _DEFAULTS}
    return db.session.scalars(_insert_statement(tuple(columns)), columns).first()


_UNSET = object()
_DEFAULTS = {column.name: column.default.arg for column in Problem.__table__.c
             if column.default is not None and column.default.is_scalar}


@functools.cache
def _insert_statement(names: tuple[str, ...]):
    """INSERT INTO problems (<names>) VALUES (:<names>) ON CONFLICT DO NOTHING RETURNING <every column>, as text
    (same on both databases) built once per set of columns: SQLAlchemy's dialect upserts have no cache key,
    so built as one they were compiled anew for every report."""
    table = Problem.__table__
    sql = (f"INSERT INTO problems ({', '.join(names)}) VALUES ({', '.join(':' + name for name in names)}) "
           f"ON CONFLICT DO NOTHING RETURNING {', '.join(column.name for column in table.c)}")
    stmt = text(sql).bindparams(*(bindparam(name, type_=table.c[name].type) for name in names)).columns(*table.c)
    return select(Problem).from_statement(stmt)


def report_source(problem: Problem, actor: User) -> str:
    """Where a report came from, for the metrics: a patrol round's finding, else the reporter's role."""
    return "patrol_round" if problem.round_id is not None else str(actor.role)


def _repeated(actor: User, client_id: str | None, source: str, external_ref: str | None) -> Problem | None:
    """The problem a repeated `client_id` (per reporter) or outside reference (per source) already made."""
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing
    return _by_external_ref(source, external_ref) if external_ref is not None else None


def _named_source(actor: User, source: str | None, round_id: int | None) -> Source:
    allowed = SOURCES_OF_ROLE[Role(actor.role)]
    if source is not None and source not in allowed:
        raise Invalid(f"a {actor.role} may not report as {source!r}",
                      errors={"source": [f"one of: {', '.join(allowed)}"]})
    chosen = Source(source) if source is not None else allowed[0]
    return Source.PATROL if round_id is not None and chosen == Source.OFFICER else chosen


def _source(actor: User, source: str | None, round_id: int | None, external_ref: str | None,
            contact: dict | None) -> Source:
    """The report's source: what the caller's role may name (422 otherwise); outside details only from outside."""
    chosen = _named_source(actor, source, round_id)
    outside = chosen in OUTSIDE_SOURCES
    if not outside and (external_ref is not None or any((contact or {}).values())):
        raise Invalid("external_ref and the reporter's contact belong to outside reports (public, hotline, media)",
                      errors={"source": ["external_ref and contact need source public, hotline or media"]})
    if chosen == Source.HOTLINE and external_ref is None:
        raise Invalid("a hotline report names its ticket", errors={"external_ref": ["the 12345 ticket number"]})
    return chosen


def _by_external_ref(source: str, external_ref: str) -> Problem | None:
    stmt = select(Problem).where(Problem.source == source, Problem.external_ref == external_ref)
    return db.session.scalars(stmt).first()


def _by_client_id(actor: User, client_id: str) -> Problem | None:
    stmt = select(Problem).where(Problem.reporter_id == actor.id, Problem.client_id == client_id)
    return db.session.scalars(stmt).first()


def _category(code: str) -> Category:
    category = db.session.scalars(select(Category).where(Category.code == code)).first()
    if category is None:
        raise Invalid(f"unknown category {code!r}", errors={"category_code": ["unknown category"]})
    if not category.active:
        raise Invalid(f"category {code!r} is retired", errors={"category_code": ["retired category"]})
    return category


def point_by_address(address: str) -> Point | None:
    """The one point an address names exactly (Open311 address_string without coordinates)."""
    return locate.point_by_address(address)


def _location(actor: User, point_id: int | None, grid_id: int | None, lat: float | None = None,
              lng: float | None = None, nearest_m: float = NEAREST_POINT_M) -> tuple[Grid, Point | None]:
    """The grid (and point) a report names; 422 unless active; 403 unless `actor` may report there."""
    if point_id is None and grid_id is None and lat is not None and lng is not None:
        grid, _ = locate.grid_at(lat=lat, lng=lng, max_m=nearest_m)
        _check_may_report_in(actor, grid)
        return grid, None
    if point_id is not None:
        point, holds = _point(actor, point_id)
        _check_may_report_in(actor, point.grid, holds=holds)
        return point.grid, point
    grid = db.session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None:
        raise Invalid(f"unknown grid {grid_id}", errors={"grid_id": ["unknown grid"]})
    if not grid.active:
        raise Invalid(f"grid {grid_id} is retired", errors={"grid_id": ["retired grid"]})
    _check_may_report_in(actor, grid)
    return grid, None


def _point(actor: User, point_id: int) -> tuple[Point, bool]:
    """The active point a report names, in an active grid (422 otherwise), with its grid and whether `actor`
    holds that grid (an officer reports only in theirs), all read in one statement."""
    holds = exists().where(user_grids.c.user_id == actor.id, user_grids.c.grid_id == Point.grid_id)
    stmt = (select(Point, holds).join(Point.grid).options(contains_eager(Point.grid))
            .where(Point.id == point_id))
    row = db.session.execute(stmt).first()
    if row is None:
        raise Invalid(f"unknown point {point_id}", errors={"point_id": ["unknown point"]})
    point, holds = row
    if not point.active or not point.grid.active:
        raise Invalid(f"point {point_id} is retired", errors={"point_id": ["retired point"]})
    return point, holds


def _placement(actor: User, category: Category, *, unit_id: int | None, point_id: int | None,
               grid_id: int | None, place: dict,
               nearest_m: float = NEAREST_POINT_M) -> tuple[Unit, Grid | None, Point | None]:
    """(area unit, grid, point) of a report: a place for a spatial category (found from lat, lng without
    point_id and grid_id), the named unit for another."""
    if not category.spatial:
        area = _owner(category, unit_id, place | {"point_id": point_id, "grid_id": grid_id})
        _check_may_report_for(actor, area)
        return area, None, None
    if unit_id is not None:
        raise Invalid(f"category {category.code!r} needs a place", errors={
            "unit_id": ["only for a non-spatial category; give point_id, or lat, lng and address"]})
    grid, point = _location(actor, point_id, grid_id, place["lat"], place["lng"], nearest_m)
    _check_party(place["party_id"], grid)
    return grid.unit, grid, point


def _owner(category: Category, unit_id: int | None, placed: dict) -> Unit:
    """The unit a shortfall of a non-spatial category belongs to; it has no place."""
    if given := [name for name, value in placed.items() if value is not None]:
        raise Invalid(f"category {category.code!r} has no place",
                      errors={name: ["a non-spatial category names unit_id instead"] for name in given})
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None:
        raise Invalid("unknown unit", errors={"unit_id": ["required for a non-spatial category" if unit_id is None
                                                          else "unknown unit"]})
    return unit


def _check_may_report_for(actor: User, unit: Unit) -> None:
    """A shortfall of a unit is reported by an officer or a supervisor of that unit or of a unit above it (or
    the hotline account of the district, for a 12345 ticket about a unit)."""
    if not unit_within(unit, actor.unit):
        raise Forbidden("report shortfalls only of units in your own unit's subtree")


def _check_party(party_id: int | None, grid: Grid) -> None:
    """A problem about a party lies in the party's grid."""
    if party_id is None:
        return
    party = db.session.get(Party, party_id)
    if party is None or party.grid_id != grid.id:
        raise Invalid(f"no party {party_id} in this grid", errors={"party_id": ["unknown party, or not in this grid"]})


def _check_may_report_in(actor: User, grid: Grid, *, holds: bool | None = None) -> None:
    """Officers in their grids (`holds`: whether the actor holds `grid`, if already read), supervisors in their
    area; the hotline and Open311 anywhere in the district."""
    if actor.role == Role.OFFICER and not (holds if holds is not None else grid.id in actor.grid_ids):
        raise Forbidden("officers report only in their own grids")
    if actor.role == Role.SUPERVISOR and not unit_within(grid.unit, actor.unit):
        raise Forbidden("supervisors report only in their unit's area")


# --- editing a report ------------------------------------------------------------------------

def edit_problem(*, actor: User, now: datetime, problem_id: int, expected_version: int | None,
                 **changes) -> Problem:
    """Correct a report while it waits for dispatch: by its reporter or a supervisor."""
    problem = get_problem(actor=actor, problem_id=problem_id)
    if actor.id != problem.reporter_id and actor.role != Role.SUPERVISOR:
        raise Forbidden("only the reporter or a supervisor may edit a report")
    check_version(problem, expected_version)
    if problem.state != State.REPORTED:
        raise InvalidTransition("only a report waiting for dispatch can be edited",
                                extra={"state": problem.state, "allowed_actions": allowed_actions(problem, actor, now)})
    with db.session.no_autoflush:
        _edit_fields(problem, actor, now, changes)
        problem.updated_at = now
        fields = event_fields(changes) | (
            {"category_name": problem.category.name} if "category_code" in changes else {})
        entry = Entry(problem.state, fields, stage=problem.stage, overdue=clocks.stage_overdue(problem, now))
        append_event(problem, actor, now, Action.EDIT, entry, row=Row.COMPARE_AND_SET)
    if "category_code" in changes or "point_id" in changes:
        _relink(problem)
    return problem


def _relink(problem: Problem) -> None:
    """A report moved to another point or category repeats something else, and is repeated by others."""
    links = {"recurrence_of": repeats(problem), "possible_duplicate_of": duplicates(problem)}
    if links != {name: getattr(problem, name) for name in links}:
        db.session.execute(update(Problem).where(Problem.id == problem.id).values(**links)
                           .execution_options(synchronize_session=False))
        mark_written(problem, links)
    relink_repeats_of(problem.id, gone=False)


PLACE_FIELDS = ("point_id", "lat", "lng", "address")


def _check_edit_keeps_kind(problem: Problem, changes: dict) -> None:
    """A shortfall without a place stays one, and a problem at a place keeps a place (decision 0091)."""
    spatial = problem.grid_id is not None
    if not spatial and (placed := [name for name in PLACE_FIELDS if name in changes]):
        raise Invalid("a problem of a non-spatial category has no place",
                      errors={name: ["not for a problem without a place"] for name in placed})
    if "category_code" in changes and _category(changes["category_code"]).spatial != spatial:
        raise Invalid("the new category differs in having a place", errors={
            "category_code": ["a spatial and a non-spatial category cannot replace each other"]})


def _edit_fields(problem: Problem, actor: User, now: datetime, changes: dict) -> None:
    _check_edit_keeps_kind(problem, changes)
    for name in EDITABLE:
        if name in changes:
            setattr(problem, name, changes[name])
    if "point_id" in changes:
        grid, point = _location(actor, changes["point_id"], None)
        problem.point_id, problem.grid_id, problem.grid_unit_id = point.id, grid.id, grid.unit_id
        problem.timezone = grid.unit.timezone
        problem.lat = changes.get("lat", point.lat)
        problem.lng = changes.get("lng", point.lng)
        problem.address = changes.get("address", point.address)
    if "category_code" in changes:
        problem.category = _category(changes["category_code"])
        problem.category_id = problem.category.id
    if "category_code" in changes or "point_id" in changes:
        clocks.recompute_stage(problem)
