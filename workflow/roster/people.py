"""People: who may manage whom, editing a person, moving an officer between grids, retiring and reactivating.

Admins manage everyone. A supervisor manages the officers and handlers of their unit's subtree and the
supervisors of units strictly below their own; never an admin, never a supervisor of their own, a parent or a
sibling unit, never their own role or account (docs/decisions/0071-who-manages-whom.md).

Retiring a person revokes every token they hold (the next request is 401), hands their open problems back to
their unit's queue (handler unset, a `release` event by the system on each trail), takes them off patrol teams
(unstarted rounds are cancelled and made again without them by the next tick; a plan left with nobody is
paused) and answers with what was moved.
"""

from datetime import datetime

from sqlalchemy import or_, select

from models import Grid, PatrolPlan, Problem, Unit, User
from models.base import db
from models.enums import Action, Role
from workflow import passwords
from workflow.auth import issue_token, revoke_all
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.lookup import known
from workflow.patrols import plans as patrol_plans
from workflow.patrols.rounds import having_member
from workflow.problems import clocks
from workflow.problems.events import Entry, Row, append_event
from workflow.problems.lifecycle import OPEN_STATES
from workflow.roster import trail
from workflow.roster.edits import Kind, check_unique, check_version, commit_edit
from workflow.scope import subtree_ids, unit_within

PERSON = Kind("user", User, ("name", "login", "role", "unit_id", "grid_ids", "phone", "employee_no", "active"))
PERSONAL = ("login", "phone", "employee_no")  # the trail says they changed, never to what
MANAGED_BY_SUPERVISORS = frozenset({Role.OFFICER, Role.HANDLER})
RELEASE_NOTE = "处置人员已离岗或调岗，问题退回单位待派 (handler left: back on the unit's queue)"


# --- who manages whom ----------------------------------------------------------------------------

def check_may_manage(actor: User | None, role: str, unit: Unit | None) -> None:
    """Forbidden unless `actor` may hold a person of `role` at `unit` (None: the system may)."""
    if actor is None or actor.role == Role.ADMIN:
        return
    if actor.role != Role.SUPERVISOR or actor.unit is None:
        raise Forbidden("only admins and supervisors manage people")
    if role == Role.ADMIN:
        raise Forbidden("only an admin makes an admin")
    if unit is None or not unit_within(unit, actor.unit):
        raise Forbidden("supervisors manage the people of their own unit's subtree")
    if role == Role.SUPERVISOR and unit.id == actor.unit_id:
        raise Forbidden("a supervisor manages supervisors of the units below their own only")


def visible_people(actor: User):
    """The condition for the people `actor` may see: all for admins; a supervisor's subtree and every
    handler (the unit they dispatch to may be a department outside their subtree)."""
    if actor.role == Role.ADMIN:
        return User.id.is_not(None)
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        return or_(User.unit_id.in_(subtree_ids(actor.unit)), User.role == Role.HANDLER)
    raise Forbidden("only admins and supervisors manage people")


def get_person(*, actor: User, user_id: int) -> User:
    """A person `actor` may see (NotFound otherwise)."""
    user = db.session.scalars(select(User).where(User.id == user_id, visible_people(actor))).first()
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def check_keys_free(*, phone: str | None, employee_no: str | None, own_id: int | None) -> None:
    """409 naming the field when a phone or employee number is someone else's."""
    if phone is not None:
        check_unique(User, User.phone, phone, own_id, "phone")
    if employee_no is not None:
        check_unique(User, User.employee_no, employee_no, own_id, "employee_no")


# --- editing a person ------------------------------------------------------------------------------

def edit_user(*, actor: User, now: datetime, user_id: int, expected_version: int | None,
              reason: str | None = None, **changes) -> User:
    """Edit a person (If-Match): name, login, role, unit, grids, phone, employee number, `active`. Retiring or moving
    them moves their open work; `user.moved` says what moved, `user.token` is a fresh token on reactivation."""
    user = get_person(actor=actor, user_id=user_id)
    check_may_manage(actor, user.role, user.unit)
    _check_self(actor, user, changes)
    check_version(user, expected_version, "user")
    before = trail.snapshot(user, PERSON.fields)
    with db.session.no_autoflush:
        _apply(actor, user, changes)
    user.moved, user.token = _move_work(actor, user, before, now, reason), None
    if before["active"] is False and user.active:
        user.retired_at = None
        user.token = issue_token(user=user, now=now, label="reactivated", actor=actor)[1]
    commit_edit(PERSON, user, actor=actor, now=now, before=before, reason=reason, secret=PERSONAL)
    return user


def _check_self(actor: User, user: User, changes: dict) -> None:
    if actor.id != user.id:
        return
    for name in ("role", "unit_id", "active"):
        if name in changes and changes[name] != getattr(user, name):
            raise Forbidden(f"nobody changes their own {name.replace('_id', '')}; ask another admin or supervisor")


def _apply(actor: User, user: User, changes: dict) -> None:
    """Set and check the new values: the new role and unit must be ones `actor` may manage too."""
    role, unit = changes.get("role", user.role), _new_unit(user, changes)
    if unit is None and role != Role.ADMIN:
        raise Invalid("every role but admin belongs to a unit", errors={"unit_id": ["required for this role"]})
    check_may_manage(actor, role, unit)
    check_keys_free(phone=changes.get("phone"), employee_no=changes.get("employee_no"), own_id=user.id)
    _set_names(user, changes)
    user.role, user.unit_id, user.unit = role, unit.id if unit else None, unit
    if "grid_ids" in changes or role != Role.OFFICER:  # a new role other than officer leaves the grids
        user.grids = grids_for(actor, role, changes.get("grid_ids", []), field="grid_ids")
    if "active" in changes:
        user.active = changes["active"]


def _new_unit(user: User, changes: dict) -> Unit | None:
    """The unit the change names (active, or Invalid), None when it unsets it, else the person's own."""
    if "unit_id" not in changes:
        return user.unit
    return known(Unit, changes["unit_id"], "unit_id", "unit") if changes["unit_id"] is not None else None


def _set_names(user: User, changes: dict) -> None:
    for name in ("name", "phone", "employee_no"):
        if name in changes:
            setattr(user, name, changes[name])
    if "login" in changes:
        passwords.set_login(user, changes["login"])


def grids_for(actor: User | None, role: str, grid_ids: list[int] | None, *, field: str) -> list[Grid]:
    """The active grids named, which only officers patrol; a supervisor hands out their subtree's grids only."""
    grids = []
    for grid_id in dict.fromkeys(grid_ids or []):
        grid = db.session.get(Grid, grid_id)
        if grid is None or not grid.active:
            raise Invalid(f"unknown or retired grid {grid_id}", errors={field: [f"unknown or retired grid {grid_id}"]})
        if actor is not None and actor.role == Role.SUPERVISOR and not unit_within(grid.unit, actor.unit):
            raise Forbidden("supervisors hand out the grids of their own unit's subtree")
        grids.append(grid)
    if grids and role != Role.OFFICER:
        raise Invalid("only officers patrol grids", errors={field: ["only for officers"]})
    return grids


# --- what moves with a person --------------------------------------------------------------------------

def _move_work(actor: User, user: User, before: dict, now: datetime, reason: str | None) -> dict:
    """Revoke, release and take off teams as the change requires; {} when nothing moved."""
    retired = before["active"] and not user.active
    left_unit = before["unit_id"] != user.unit_id or before["role"] != user.role
    moved = _retire(user, now) if retired else {}
    if retired or (left_unit and before["role"] == Role.HANDLER):
        moved["problems_released"] = release_problems(user, now)
    moved |= _off_teams(actor, user, before, now, reason, retired=retired, left_unit=left_unit)
    return moved


def _retire(user: User, now: datetime) -> dict:
    """Stamp the retirement and revoke every token the person holds."""
    user.retired_at = now
    return {"tokens_revoked": revoke_all(user=user, now=now)}


def _off_teams(actor: User, user: User, before: dict, now: datetime, reason: str | None, *, retired,
               left_unit) -> dict:
    """An officer who retired or left leaves every team; one moved off grids leaves those grids' plans."""
    dropped = set(before["grid_ids"]) - set(user.grid_ids)
    if not (before["role"] == Role.OFFICER and (retired or left_unit or dropped)):
        return {}
    plan_filter = None if (retired or left_unit) else PatrolPlan.grid_id.in_(dropped)
    return leave_teams(actor, user, now, plan_filter, reason or _why(retired, left_unit))


def _why(retired: bool, left_unit: bool) -> str:
    if retired:
        return "officer retired"
    return "officer changed unit or role" if left_unit else "officer moved off the plan's grid"


def release_problems(user: User, now: datetime) -> list[int]:
    """Hand a handler's open problems back to their unit's queue: handler unset, one `release` event each."""
    stmt = (select(Problem).where(Problem.handler_id == user.id, Problem.state.in_([str(s) for s in OPEN_STATES]))
            .order_by(Problem.id).with_for_update())
    released = []
    for problem in db.session.scalars(stmt):
        problem.handler_id = None
        fields = {"released_handler_id": user.id, "unit_id": problem.unit_id, "handler_id": None}
        entry = Entry(problem.state, fields, note=RELEASE_NOTE, stage=problem.stage,
                      overdue=clocks.stage_overdue(problem, now))
        append_event(problem, None, now, Action.RELEASE, entry, row=Row.COMPARE_AND_SET)
        released.append(problem.id)
    return released


def leave_teams(actor: User | None, user: User, now: datetime, plan_filter, reason: str) -> dict:
    """Take an officer off the patrol teams they are on (those matching `plan_filter`, or all): unstarted
    rounds are cancelled and made again without them; a plan left with nobody is paused."""
    stmt = select(PatrolPlan).where(PatrolPlan.id.in_(having_member(PatrolPlan, user.id)))
    if plan_filter is not None:
        stmt = stmt.where(plan_filter)
    changed, paused = [], []
    for plan in db.session.scalars(stmt.order_by(PatrolPlan.id).with_for_update()):
        before = {"officer_ids": list(plan.officer_ids), "paused": plan.paused}
        plan.officer_ids = [officer for officer in plan.officer_ids if officer != user.id]
        patrol_plans.cancel_unstarted(plan, now)
        if plan.officer_ids:
            if plan.watermark is not None:
                plan.watermark = min(plan.watermark, now)
            changed.append(plan.id)
        else:
            plan.officer_ids, plan.paused = before["officer_ids"], True  # the team is history; the plan stops
            paused.append(plan.id)
        plan.version, plan.updated_at = plan.version + 1, now
        trail.record(actor=actor, now=now, resource="patrol_plan", resource_id=plan.id,
                     action="edit", reason=reason,
                     changes=trail.diff(before, {"officer_ids": plan.officer_ids, "paused": plan.paused}))
    return {"plans_changed": changed, "plans_paused": paused}
