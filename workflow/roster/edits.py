"""Editing, retiring and reactivating reference rows: units, grids, points and categories.

Every edit names the version it was made against (If-Match): 428 without one, 412 when the row moved on.
The changed columns and the new version go in one compare-and-set UPDATE, so of two admins editing the
same row one wins and the other gets 412. Every edit that changes something appends an event to the admin
trail with the changed fields' before and after. Rows are never deleted: `active: false` retires them.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from models import Category, Grid, Point, Problem, Unit, User
from models.base import db
from models.enums import Role, Stage
from workflow.calendar import check_timezone
from workflow.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionRequired, Stale
from workflow.lookup import known
from workflow.problems.lifecycle import OPEN_STATES
from workflow.roster import trail


@dataclass(frozen=True)
class Kind:
    """A kind of reference row: its name on the trail, its model, the fields the trail compares."""

    resource: str
    model: type
    fields: tuple[str, ...]


UNIT = Kind("unit", Unit, ("name", "kind", "code", "unit_code", "parent_id", "timezone", "active"))
GRID = Kind("grid", Grid, ("name", "unit_id", "code", "active"))
POINT = Kind("point", Point, ("name", "grid_id", "lat", "lng", "address", "code", "active"))
CATEGORY = Kind("category", Category, (
    "name", "name_en", "parent_code", "default_unit_id", "requires_after_photo", "requires_verification_photo",
    "pause_on_extension", "limits", "active"))


def require_precondition(expected_version: int | None, what: str) -> int:
    """428 when the request named no version."""
    if expected_version is None:
        raise PreconditionRequired(f"send If-Match with the {what}'s ETag")
    return expected_version


def check_version(row, expected_version: int | None, what: str) -> None:
    """428 without an expected version, 412 when it is not the row's."""
    require_precondition(expected_version, what)
    if expected_version != row.version:
        raise Stale(f"the {what} is at version {row.version}, not {expected_version}", extra={"version": row.version})


def save_versioned(row, what: str) -> None:
    """Write the changed columns and bump the version, only if nobody moved the row since it was read."""
    model, state = type(row), inspect(row)
    changes = {attr.key: attr.value for attr in state.attrs
               if attr.key in state.mapper.column_attrs and attr.history.has_changes()}
    stmt = (update(model).where(model.id == row.id, model.version == row.version)
            .values(**changes, version=model.version + 1).returning(model.version)
            .execution_options(synchronize_session=False))
    with db.session.no_autoflush:
        result = db.session.execute(stmt).first()
    if result is None:
        current = db.session.scalar(select(model.version).where(model.id == row.id))
        raise Stale(f"the {what} changed meanwhile: it is at version {current}", extra={"version": current})
    for key, value in changes.items():
        set_committed_value(row, key, value)
    set_committed_value(row, "version", result[0])


def action_of(before: dict, after: dict) -> str:
    """retire, reactivate or edit: what the trail calls a change."""
    if before.get("active") and not after.get("active", True):
        return "retire"
    if before.get("active") is False and after.get("active"):
        return "reactivate"
    return "edit"


def commit_edit(kind: Kind, row, *, actor: User | None, now: datetime, before: dict, reason: str | None,
                secret: tuple[str, ...] = ()) -> dict:
    """Save a changed row (compare-and-set) and put the change on the trail; {} when nothing changed."""
    after = trail.snapshot(row, kind.fields)
    changes = trail.diff(before, after, secret=secret)
    if not changes:
        return {}
    save_versioned(row, kind.resource)
    trail.record(actor=actor, now=now, resource=kind.resource, resource_id=row.id,
                 action=action_of(before, after), changes=changes, reason=reason)
    return changes


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin changes units, grids, points and categories")


def _row(model, row_id: int, what: str):
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def _edit(kind: Kind, *, actor: User | None, now: datetime, row_id: int, expected_version: int | None,
          reason: str | None, apply, changes: dict):
    """The shape of every reference edit: 404, 403, 428, 412, then the fields (422/409), then save."""
    row = _row(kind.model, row_id, kind.resource)
    _require_admin(actor)
    check_version(row, expected_version, kind.resource)
    before = trail.snapshot(row, kind.fields)
    with db.session.no_autoflush:
        apply(row, changes, now)
    commit_edit(kind, row, actor=actor, now=now, before=before, reason=reason)
    return row


def _set(row, changes: dict, names: tuple[str, ...]) -> None:
    for name in names:
        if name in changes:
            setattr(row, name, changes[name])


# --- units -------------------------------------------------------------------------------------

def edit_unit(*, actor: User | None, now: datetime, unit_id: int, expected_version: int | None,
              reason: str | None = None, **changes) -> Unit:
    """Rename, recode, move (parent_id) or retire a unit (If-Match)."""
    return _edit(UNIT, actor=actor, now=now, row_id=unit_id, expected_version=expected_version, reason=reason,
                 apply=_apply_unit, changes=changes)


def _apply_unit(unit: Unit, changes: dict, now: datetime) -> None:
    _check_unit_keys(unit, changes)
    _set(unit, changes, ("name", "kind", "code", "unit_code", "timezone"))
    if "parent_id" in changes and changes["parent_id"] != unit.parent_id:
        move_unit(unit, changes["parent_id"])
    _apply_unit_active(unit, changes)


def _check_unit_keys(unit: Unit, changes: dict) -> None:
    """The new timezone normalised and the new unit_code free, before anything is set."""
    if "timezone" in changes:
        changes["timezone"] = check_timezone(changes["timezone"])
    if "unit_code" in changes and changes["unit_code"] is not None:
        check_unique(Unit, Unit.unit_code, changes["unit_code"], unit.id, "unit_code")


def _apply_unit_active(unit: Unit, changes: dict) -> None:
    """Retire (once nothing live hangs on it) or reactivate (under an active parent only)."""
    if changes.get("active") is False and unit.active:
        _check_unit_may_retire(unit)
    if "active" in changes:
        unit.active = changes["active"]
    if changes.get("active") and unit.parent_id is not None and not db.session.get(Unit, unit.parent_id).active:
        raise Invalid("the parent unit is retired", errors={"active": ["reactivate the parent unit first"]})


def move_unit(unit: Unit, parent_id: int | None) -> None:
    """Hang the unit (and its subtree) under another parent: every path below it is rewritten."""
    if parent_id is None:
        raise Invalid("a unit cannot become a root", errors={"parent_id": ["a unit moves under another unit"]})
    parent = known(Unit, parent_id, "parent_id", "unit")
    if parent.path.startswith(unit.path):
        raise Invalid("a unit cannot move under itself", errors={"parent_id": ["lies in the unit's own subtree"]})
    old, new = unit.path, f"{parent.path}{unit.id}/"
    db.session.execute(update(Unit).where(Unit.path.startswith(old), Unit.id != unit.id)
                       .values(path=new + func.substr(Unit.path, len(old) + 1))
                       .execution_options(synchronize_session=False))
    for other in db.session.identity_map.values():
        if isinstance(other, Unit) and other is not unit and other.path.startswith(old):
            db.session.expire(other, ["path"])
    unit.parent_id, unit.path = parent.id, new


def _check_unit_may_retire(unit: Unit) -> None:
    """A unit retires once nothing live hangs on it: sub-units, people, grids, open problems."""
    live = {
        "units": select(func.count()).select_from(Unit).where(Unit.parent_id == unit.id, Unit.active.is_(True)),
        "users": select(func.count()).select_from(User).where(User.unit_id == unit.id, User.active.is_(True)),
        "grids": select(func.count()).select_from(Grid).where(Grid.unit_id == unit.id, Grid.active.is_(True)),
        "open_problems": select(func.count()).select_from(Problem).where(
            Problem.unit_id == unit.id, Problem.state.in_([str(s) for s in OPEN_STATES])),
    }
    left = {name: db.session.scalar(stmt) for name, stmt in live.items()}
    left = {name: count for name, count in left.items() if count}
    if left:
        raise Conflict(f"unit {unit.id} still has " + ", ".join(f"{n} {name}" for name, n in left.items()),
                       errors={"active": [f"{count} active {name}" for name, count in left.items()]})


def check_unique(model, column, value, own_id: int | None, field: str) -> None:
    """409 naming the field when another row holds the value."""
    taken = db.session.scalar(select(model.id).where(column == value))
    if taken is not None and taken != own_id:
        raise Conflict(f"{field} {value!r} is taken by {model.__tablename__[:-1]} {taken}",
                       errors={field: [f"already taken ({model.__tablename__[:-1]} {taken})"]})


# --- grids and points ----------------------------------------------------------------------------

def _move_and_rename(row, changes: dict, parent: tuple[str, type, str], names: tuple[str, ...]) -> None:
    """Hand a grid or point to another (active) parent, then set its names; a new code must be free."""
    field, model, what = parent
    if field in changes and changes[field] != getattr(row, field):
        setattr(row, field, known(model, changes[field], field, what).id)
    if changes.get("code") is not None:
        check_unique(type(row), type(row).code, changes["code"], row.id, "code")
    _set(row, changes, names)


def edit_grid(*, actor: User | None, now: datetime, grid_id: int, expected_version: int | None,
              reason: str | None = None, **changes) -> Grid:
    """Rename, recode, hand to another unit or retire a grid (If-Match). Its old problems keep their unit."""
    return _edit(GRID, actor=actor, now=now, row_id=grid_id, expected_version=expected_version, reason=reason,
                 apply=_apply_grid, changes=changes)


def _apply_grid(grid: Grid, changes: dict, now: datetime) -> None:
    _move_and_rename(grid, changes, ("unit_id", Unit, "unit"), ("name", "code"))
    if changes.get("active") is False and grid.active:
        points = db.session.scalar(select(func.count()).select_from(Point).where(
            Point.grid_id == grid.id, Point.active.is_(True)))
        if points:
            raise Conflict(f"grid {grid.id} still has {points} active points",
                           errors={"active": [f"{points} active points: retire or move them first"]})
    if changes.get("active") and not db.session.get(Unit, grid.unit_id).active:
        raise Invalid("the grid's unit is retired", errors={"active": ["the grid's unit is retired"]})
    if "active" in changes:
        grid.active = changes["active"]


def edit_point(*, actor: User | None, now: datetime, point_id: int, expected_version: int | None,
               reason: str | None = None, **changes) -> Point:
    """Rename, move (coordinates or grid), recode or retire a point (If-Match); old problems keep where they
    were reported."""
    return _edit(POINT, actor=actor, now=now, row_id=point_id, expected_version=expected_version, reason=reason,
                 apply=_apply_point, changes=changes)


def _apply_point(point: Point, changes: dict, now: datetime) -> None:
    _move_and_rename(point, changes, ("grid_id", Grid, "grid"), ("name", "lat", "lng", "address", "code"))
    if changes.get("active") and not db.session.get(Grid, point.grid_id).active:
        raise Invalid("the point's grid is retired", errors={"active": ["the point's grid is retired"]})
    if "active" in changes:
        point.active = changes["active"]


# --- categories ----------------------------------------------------------------------------------

def edit_category(*, actor: User | None, now: datetime, category_id: int, expected_version: int | None,
                  reason: str | None = None, **changes) -> Category:
    """Rename a category, change its time limits or photo rules, or retire it (If-Match). Problems keep
    their stage deadlines; new stages use the new limits."""
    return _edit(CATEGORY, actor=actor, now=now, row_id=category_id, expected_version=expected_version,
                 reason=reason, apply=_apply_category, changes=changes)


def _apply_category(category: Category, changes: dict, now: datetime) -> None:
    parent = changes.get("parent_code")
    if parent is not None and (parent == category.code or db.session.scalar(
            select(Category.id).where(Category.code == parent)) is None):
        raise Invalid(f"unknown parent {parent!r}",
                      errors={"parent_code": ["unknown category, or the category itself"]})
    if changes.get("default_unit_id") is not None:
        known(Unit, changes["default_unit_id"], "default_unit_id", "unit")
    if "limits" in changes:
        changes["limits"] = {Stage(stage).value: dict(limit) for stage, limit in changes["limits"].items()}
    _set(category, changes, ("name", "name_en", "parent_code", "default_unit_id", "requires_after_photo",
                             "requires_verification_photo", "pause_on_extension", "limits", "active"))
