"""Reporting a problem, and correcting the report while it waits for dispatch."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Category, Grid, Party, Point, Problem, Unit, User
from models.base import db, mark_written
from models.enums import Action, Role, Stage, State
from workflow import tally
from workflow.calendar import CLOCK_SKEW
from workflow.errors import Forbidden, Invalid, InvalidTransition
from workflow.notifications import outbox
from workflow.problems import clocks, codes
from workflow.problems.actions import allowed_actions, check_version
from workflow.problems.events import Entry, Row, append_event, event_fields
from workflow.problems.recurrence import duplicates, link, relink_repeats_of, repeats
from workflow.problems.visibility import get_problem
from workflow.scope import unit_within

REPORTERS = frozenset({Role.OFFICER, Role.SUPERVISOR})
EDITABLE = ("title", "description", "severity", "address", "lat", "lng")


def report_problem(*, actor: User, now: datetime, category_code: str, title: str,
                   severity: str = "normal", description: str | None = None,
                   point_id: int | None = None, grid_id: int | None = None,
                   lat: float | None = None, lng: float | None = None, address: str | None = None,
                   resolved_on_site: bool = False, observed_at: datetime | None = None,
                   client_id: str | None = None, round_id: int | None = None, party_id: int | None = None,
                   due_at: datetime | None = None, unit_id: int | None = None) -> tuple[Problem, bool]:
    """Report a problem; returns it and whether it is new (a repeated `client_id` is not). `party_id` names
    the party (经营主体) it is about; `due_at` fixes its whole-case deadline from the report on (an order to
    rectify sets one) instead of the category's limit from the assignment. A problem of a non-spatial category
    names the unit it belongs to (`unit_id`) instead of a place."""
    if actor.role not in REPORTERS:
        raise Forbidden("only officers and supervisors report problems")
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing, False
    category = _category(category_code)
    area, grid, point = _placement(actor, category, unit_id=unit_id, point_id=point_id, grid_id=grid_id,
                                   place={"lat": lat, "lng": lng, "address": address, "party_id": party_id})
    _check_observed(observed_at, now)
    problem = Problem(
        category=category, category_id=category.id, title=title, description=description,
        severity=severity, point_id=point.id if point else None, grid_id=grid.id if grid else None,
        grid_unit_id=area.id, **_place(point, lat, lng, address), timezone=area.timezone,
        reporter_id=actor.id, client_id=client_id, resolved_on_site=resolved_on_site,
        observed_at=observed_at, reported_at=now, updated_at=now, version=1, last_seq=1, round_id=round_id,
        next_check_at=now, party_id=party_id, due_at=due_at,
        stage_cycle=0, rework_count=0, escalation_level=0, supervised=False, extension_count=0,
    )
    _start(problem, actor, now)
    link(problem)
    # Last: the day's counter row stays locked until the commit, so concurrent reports queue only for the rest.
    problem.code = codes.next_code(prefix=codes.code_prefix(area), tz=area.timezone, now=now)
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


def _insert_report(problem: Problem, actor: User, now: datetime) -> tuple[Problem, bool]:
    try:
        with db.session.begin_nested():
            db.session.add(problem)
            db.session.flush()
    except IntegrityError:
        # A concurrent retry with the same client_id won the race: answer with its problem.
        existing = _by_client_id(actor, problem.client_id) if problem.client_id else None
        if existing is None:
            raise
        return existing, False
    # The category's name of the day stays on the trail; the ledger shows its current name (decision 0072).
    fields = {"category_code": problem.category.code, "category_name": problem.category.name}
    fields |= {"resolved_on_site": True} if problem.resolved_on_site else {}
    event = append_event(problem, actor, now, Action.REPORT, Entry(None, fields), row=Row.INSERTED)
    outbox.enqueue(topic="problem.created", now=now, payload={
        "problem_id": problem.id, "event_id": event.id, "data": outbox.problem_data(problem)})
    tally.count("report", source=report_source(problem, actor))
    return problem, True


def report_source(problem: Problem, actor: User) -> str:
    """Where a report came from, for the metrics: a patrol round's finding, else the reporter's role."""
    return "patrol_round" if problem.round_id is not None else str(actor.role)


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


def _location(point_id: int | None, grid_id: int | None) -> tuple[Grid, Point | None]:
    if point_id is not None:
        point = db.session.get(Point, point_id)
        if point is None:
            raise Invalid(f"unknown point {point_id}", errors={"point_id": ["unknown point"]})
        if not point.active or not point.grid.active:
            raise Invalid(f"point {point_id} is retired", errors={"point_id": ["retired point"]})
        return point.grid, point
    grid = db.session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None:
        raise Invalid(f"unknown grid {grid_id}", errors={"grid_id": ["unknown grid"]})
    if not grid.active:
        raise Invalid(f"grid {grid_id} is retired", errors={"grid_id": ["retired grid"]})
    return grid, None


def _placement(actor: User, category: Category, *, unit_id: int | None, point_id: int | None,
               grid_id: int | None, place: dict) -> tuple[Unit, Grid | None, Point | None]:
    """(area unit, grid, point) of a report: a place for a spatial category, the named unit for another."""
    if not category.spatial:
        area = _owner(category, unit_id, place | {"point_id": point_id, "grid_id": grid_id})
        _check_may_report_for(actor, area)
        return area, None, None
    if unit_id is not None:
        raise Invalid(f"category {category.code!r} needs a place", errors={
            "unit_id": ["only for a non-spatial category; give point_id, or lat, lng, address and grid_id"]})
    grid, point = _location(point_id, grid_id)
    _check_may_report_in(actor, grid)
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
    """A shortfall of a unit is reported by an officer or a supervisor of that unit or of a unit above it."""
    if not unit_within(unit, actor.unit):
        raise Forbidden("report shortfalls only of units in your own unit's subtree")


def _check_party(party_id: int | None, grid: Grid) -> None:
    """A problem about a party lies in the party's grid."""
    if party_id is None:
        return
    party = db.session.get(Party, party_id)
    if party is None or party.grid_id != grid.id:
        raise Invalid(f"no party {party_id} in this grid", errors={"party_id": ["unknown party, or not in this grid"]})


def _check_may_report_in(actor: User, grid: Grid) -> None:
    if actor.role == Role.OFFICER and grid.id not in actor.grid_ids:
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
        grid, point = _location(changes["point_id"], None)
        _check_may_report_in(actor, grid)
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
