"""Patrol plans and the windows they open: who patrols where, when, on which days (错时执法)."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from models import Grid, PatrolPlan, PatrolRound, Point, Unit, User
from models.base import db
from models.enums import Role, RoundState
from workflow.calendar import WorkCalendar, check_timezone
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.roster import trail
from workflow.roster.edits import Kind, check_version, commit_edit
from workflow.scope import subtree_ids, unit_within

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_RULES = ("every_day", "workdays", "rest_days")
EDITABLE = ("name", "mode", "grid_id", "point_ids", "officer_ids", "windows", "days", "timezone",
            "active_from", "active_until", "late_grace_minutes", "sample_size", "follow_up_days",
            "checkin_radius_m")
PLAN = Kind("patrol_plan", PatrolPlan, (*EDITABLE, "paused", "active"))


@dataclass(frozen=True)
class Window:
    """One concrete window of a plan: a label and its start and end instants (UTC)."""

    index: int
    label: str
    start: datetime
    end: datetime
    focus_categories: tuple[str, ...]
    day: date  # the local date of the start: days count by it


def _wall(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def runs_on(plan: PatrolPlan, day: date, calendar: WorkCalendar) -> bool:
    """Whether the plan patrols on a local date (active dates, then its day rule)."""
    if day < plan.active_from or (plan.active_until is not None and day > plan.active_until):
        return False
    if plan.days == "every_day":
        return True
    if plan.days in ("workdays", "rest_days"):
        return calendar.is_workday(day) == (plan.days == "workdays")
    return WEEKDAYS[day.weekday()] in plan.days


def windows_between(plan: PatrolPlan, calendar: WorkCalendar, start: datetime, end: datetime) -> list[Window]:
    """The plan's windows whose start lies in [start, end), in order; a window may cross midnight."""
    tz = ZoneInfo(plan.timezone)
    day, last = start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date()
    found = []
    while day <= last:
        if runs_on(plan, day, calendar):
            for index, spec in enumerate(plan.windows):
                begins = _wall(day, spec["start"], tz)
                ends = _wall(day + timedelta(days=spec["end"] <= spec["start"]), spec["end"], tz)
                if start <= begins < end:
                    found.append(Window(index, spec["label"], begins, ends,
                                        tuple(spec.get("focus_categories") or ()), day))
        day += timedelta(days=1)
    return sorted(found, key=lambda window: window.start)


# --- the plan API ----------------------------------------------------------------------------

def _may_manage(actor: User, unit: Unit) -> None:
    if actor.role == Role.ADMIN:
        return
    if actor.role != Role.SUPERVISOR or not unit_within(unit, actor.unit):
        raise Forbidden("only supervisors of the plan's unit (or above) and admins manage patrol plans")


def visible_plans(actor: User):
    """The SQL condition for the plans `actor` may see."""
    if actor.role == Role.ADMIN:
        return PatrolPlan.id.is_not(None)
    if actor.role == Role.SUPERVISOR:
        return PatrolPlan.unit_id.in_(subtree_ids(actor.unit))
    raise Forbidden("patrol plans are for supervisors; officers see their rounds at /api/v1/me/rounds")


def select_plans(*, actor: User):
    """The statement for the plans `actor` may see."""
    return select(PatrolPlan).where(visible_plans(actor))


def get_plan(*, actor: User, plan_id: int, lock: bool = False) -> PatrolPlan:
    """A plan the caller may see, or NotFound (`lock`: hold its row, so no tick materializes it meanwhile)."""
    stmt = select(PatrolPlan).where(PatrolPlan.id == plan_id, visible_plans(actor))
    plan = db.session.scalars(stmt.with_for_update() if lock else stmt).first()
    if plan is None:
        raise NotFound(f"patrol plan {plan_id} not found")
    return plan


def create_plan(*, actor: User | None, now: datetime, unit_id: int, **fields) -> PatrolPlan:
    """Add a plan; rounds appear from the next scheduler tick on."""
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise Invalid(f"unknown unit {unit_id}", errors={"unit_id": ["unknown unit"]})
    if actor is not None:
        _may_manage(actor, unit)
    fields.setdefault("timezone", unit.timezone)
    fields.setdefault("active_from", now.astimezone(ZoneInfo(check_timezone(fields["timezone"]))).date())
    plan = PatrolPlan(unit_id=unit.id, seed=secrets.token_hex(8), paused=False, version=1, created_at=now,
                      updated_at=now, late_grace_minutes=15, follow_up_days=7, checkin_radius_m=200)
    _apply(plan, fields)
    db.session.add(plan)
    db.session.flush()
    if actor is not None:  # a person's creation goes on the admin trail (seeds and fixtures do not)
        trail.record_creation(PLAN.resource, plan, PLAN.fields, actor=actor, now=now)
    return plan


def edit_plan(*, actor: User, now: datetime, plan_id: int, expected_version: int | None,
              reason: str | None = None, **changes) -> PatrolPlan:
    """Change a plan under If-Match: rounds that have not started are cancelled and made again from the new
    plan. `active: false` retires it (no more rounds; its rounds stay as history). On the admin trail."""
    plan = get_plan(actor=actor, plan_id=plan_id, lock=True)
    _may_manage(actor, db.session.get(Unit, plan.unit_id))
    check_version(plan, expected_version, "patrol plan")
    before = {name: getattr(plan, name) for name in PLAN.fields}
    with db.session.no_autoflush:  # check the new values before anything reaches the database
        _apply(plan, {name: value for name, value in changes.items() if name in EDITABLE})
        if "active" in changes:
            plan.active = changes["active"]
        changed = commit_edit(PLAN, plan, actor=actor, now=now, before=before, reason=reason)
    if changed:
        plan.updated_at = now
        cancel_unstarted(plan, now)
        if plan.watermark is not None and plan.active:  # make the cancelled windows again, from the new plan
            plan.watermark = min(plan.watermark, now)
    return plan


def set_paused(*, actor: User, now: datetime, plan_id: int, paused: bool) -> PatrolPlan:
    """Pause a plan (no new rounds; unstarted ones are cancelled) or resume it (no backfill); on the trail."""
    plan = get_plan(actor=actor, plan_id=plan_id, lock=True)
    _may_manage(actor, db.session.get(Unit, plan.unit_id))
    if plan.paused != paused:
        before = {name: getattr(plan, name) for name in PLAN.fields}
        plan.paused, plan.updated_at = paused, now
        commit_edit(PLAN, plan, actor=actor, now=now, before=before, reason=None)
        if paused:
            cancel_unstarted(plan, now)
        elif plan.watermark is not None:  # no backfill of the paused time
            plan.watermark = max(plan.watermark, now)
    return plan


def cancel_unstarted(plan: PatrolPlan, now: datetime) -> None:
    """Cancel the plan's rounds that have not started (a new plan, team or pause makes them again or not)."""
    db.session.flush()
    db.session.execute(
        update(PatrolRound)
        .where(PatrolRound.plan_id == plan.id, PatrolRound.state == RoundState.SCHEDULED,
               PatrolRound.planned_start > now)
        .values(state=RoundState.CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False))


def _apply(plan: PatrolPlan, fields: dict) -> None:
    """Set and check the fields of a plan (what a schema cannot check alone)."""
    for name, value in fields.items():
        setattr(plan, name, value)
    check_timezone(plan.timezone)
    _check_place(plan)
    _check_team(plan)
    _check_windows(plan.windows)
    _check_days(plan.days)
    if plan.active_until is not None and plan.active_until < plan.active_from:
        raise Invalid("active_until is before active_from", errors={"active_until": ["before active_from"]})
    if plan.mode == "fixed_post" and plan.sample_size is not None:
        raise Invalid("only dynamic plans sample points", errors={"sample_size": ["only for dynamic plans"]})


def _check_place(plan: PatrolPlan) -> None:
    if (plan.grid_id is None) == (not plan.point_ids):
        raise Invalid("give a route (point_ids) or a grid_id, one of them",
                      errors={"point_ids": ["give point_ids or grid_id"]})
    units = subtree_ids(db.session.get(Unit, plan.unit_id))
    if plan.grid_id is not None and db.session.scalars(
            select(Grid.id).where(Grid.id == plan.grid_id, Grid.unit_id.in_(units))).first() is None:
        raise Invalid("unknown grid, or not the plan unit's", errors={"grid_id": ["not a grid of this unit"]})
    if plan.point_ids:
        known = set(db.session.scalars(select(Point.id).join(Grid).where(Point.id.in_(plan.point_ids),
                                                                          Grid.unit_id.in_(units))))
        unknown = [point for point in plan.point_ids if point not in known]
        if unknown or len(set(plan.point_ids)) != len(plan.point_ids):
            raise Invalid("the route names unknown or repeated points", errors={"point_ids": [str(unknown)]})


def _check_team(plan: PatrolPlan) -> None:
    officer_ids = plan.officer_ids
    found = set(db.session.scalars(select(User.id).where(
        User.id.in_(officer_ids), User.role == Role.OFFICER, User.active.is_(True),
        User.unit_id.in_(subtree_ids(db.session.get(Unit, plan.unit_id))))))
    if not officer_ids or found != set(officer_ids) or len(officer_ids) != len(found):
        raise Invalid("the team must be distinct active officers of the plan's unit or below",
                      errors={"officer_ids": ["not all officers of this unit's subtree"]})


def _check_windows(windows: list[dict]) -> None:
    for spec in windows:
        if spec["start"] == spec["end"]:
            raise Invalid("a window needs a length", errors={"windows": ["start equals end"]})
    labels = [spec["label"] for spec in windows]
    if len(set(labels)) != len(labels):
        raise Invalid("window labels must differ", errors={"windows": ["repeated label"]})
    starts = [spec["start"] for spec in windows]
    if len(set(starts)) != len(starts):  # one round per (plan, window start): two windows cannot share one
        raise Invalid("windows must start at different times", errors={"windows": ["repeated start"]})


def _check_days(days) -> None:
    if isinstance(days, str) and days in DAY_RULES:
        return
    if isinstance(days, list) and days and all(day in WEEKDAYS for day in days) and len(set(days)) == len(days):
        return
    raise Invalid("days is every_day, workdays, rest_days or a list of weekdays",
                  errors={"days": ["every_day | workdays | rest_days | [mon..sun]"]})


def plan_points(plan: PatrolPlan) -> list[int]:
    """The plan's points in route order (a grid's points by id)."""
    if plan.point_ids:
        return list(plan.point_ids)
    return list(db.session.scalars(select(Point.id).where(Point.grid_id == plan.grid_id).order_by(Point.id)))
