"""The organisation an admin sets up: units, users, grids, points and categories."""

from datetime import datetime

from sqlalchemy import select

from models import Category, Grid, Point, Unit, User
from models.base import db
from models.enums import Role, Stage
from workflow import passwords
from workflow.auth import issue_token
from workflow.calendar import check_timezone
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.paging import Page, by_column
from workflow.roster import trail
from workflow.roster.edits import CATEGORY, GRID, POINT, UNIT, check_unique
from workflow.roster.people import PERSON, PERSONAL, check_keys_free, check_may_manage, grids_for, visible_people

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin may change the organisation")


def _get(model, object_id: int, field: str):
    """The row a field names: 422 naming the field when it is unknown or retired."""
    row = db.session.get(model, object_id)
    what = model.__tablename__[:-1]
    if row is None:
        raise Invalid(f"unknown {field} {object_id}", errors={field: [f"unknown {what}"]})
    if not row.active:
        raise Invalid(f"{what} {object_id} is retired", errors={field: [f"retired {what}"]})
    return row


def _trail(resource: str, row, names: tuple[str, ...], actor: User | None, now: datetime, **kwargs) -> None:
    """Creations by a person go on the admin trail (the seeds and the tests' fixtures, actor None, do not)."""
    if actor is not None:
        trail.record_creation(resource, row, names, actor=actor, now=now, **kwargs)


def create_unit(*, actor: User | None, now: datetime, name: str, kind: str, parent_id: int | None = None,
                timezone: str | None = None, code: str | None = None, unit_code: str | None = None,
                default_timezone: str = DEFAULT_TIMEZONE) -> Unit:
    """Add a unit under `parent_id` (or a new root); it inherits the parent's timezone."""
    _require_admin(actor)
    parent = _get(Unit, parent_id, "parent_id") if parent_id is not None else None
    tz = check_timezone(timezone) if timezone else (parent.timezone if parent else default_timezone)
    if unit_code is not None:
        _taken(Unit, Unit.unit_code, unit_code, "unit_code")
    unit = Unit(name=name, kind=kind, code=code, unit_code=unit_code, parent_id=parent_id, timezone=tz,
                created_at=now, active=True, version=1)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    _trail(UNIT.resource, unit, UNIT.fields, actor, now)
    return unit


def _taken(model, column, value, field: str) -> None:
    check_unique(model, column, value, None, field)


def create_user(*, actor: User | None, now: datetime, name: str, role: str, unit_id: int | None = None,
                grid_ids: list[int] | None = None, phone: str | None = None,
                employee_no: str | None = None, login: str | None = None) -> tuple[User, str]:
    """Add a user (admins anyone; supervisors the people of their subtree, docs/decisions/0071), with a console
    login when given; returns the user and their token, which is never shown again."""
    if actor is not None and actor.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden("only admins and supervisors add people")
    if unit_id is None and role != Role.ADMIN:
        raise Invalid("every role but admin belongs to a unit", errors={"unit_id": ["required for this role"]})
    unit = _get(Unit, unit_id, "unit_id") if unit_id is not None else None
    check_may_manage(actor, role, unit)
    grids = grids_for(actor, role, grid_ids, field="grid_ids")
    check_keys_free(phone=phone, employee_no=employee_no, own_id=None)
    user = User(name=name, role=role, unit=unit, unit_id=unit_id, grids=grids, created_at=now, active=True,
                phone=phone, employee_no=employee_no, version=1)
    passwords.set_login(user, login)
    db.session.add(user)
    db.session.flush()
    _, token = issue_token(user=user, now=now, label="initial", actor=actor)
    _trail(PERSON.resource, user, PERSON.fields, actor, now, secret=PERSONAL)
    return user, token


def create_grid(*, actor: User | None, now: datetime, name: str, unit_id: int, code: str | None = None) -> Grid:
    """Add a grid (网格) managed by a unit."""
    _require_admin(actor)
    if code is not None:
        _taken(Grid, Grid.code, code, "code")
    grid = Grid(name=name, unit_id=_get(Unit, unit_id, "unit_id").id, code=code, created_at=now, active=True,
                version=1)
    db.session.add(grid)
    db.session.flush()
    _trail(GRID.resource, grid, GRID.fields, actor, now)
    return grid


def create_point(*, actor: User | None, now: datetime, name: str, grid_id: int, lat: float, lng: float,
                 address: str | None = None, code: str | None = None) -> Point:
    """Add a point (点位) in a grid."""
    _require_admin(actor)
    if code is not None:
        _taken(Point, Point.code, code, "code")
    point = Point(name=name, grid_id=_get(Grid, grid_id, "grid_id").id, lat=lat, lng=lng, address=address,
                  code=code, created_at=now, active=True, version=1)
    db.session.add(point)
    db.session.flush()
    _trail(POINT.resource, point, POINT.fields, actor, now)
    return point


def create_category(*, actor: User | None, now: datetime, code: str, name: str, limits: dict,
                    name_en: str | None = None, parent_code: str | None = None,
                    default_unit_id: int | None = None, requires_after_photo: bool | None = None,
                    requires_verification_photo: bool | None = None,
                    pause_on_extension: bool | None = None, spatial: bool = True) -> Category:
    """Add a category with its time limits per stage; what a child leaves unset it takes from its parent;
    `spatial=False`: its problems name a unit, not a place."""
    _require_admin(actor)
    if db.session.scalars(select(Category.id).where(Category.code == code)).first() is not None:
        raise Invalid(f"category {code!r} exists", errors={"code": ["already taken"]})
    parent = None
    if parent_code is not None:
        parent = db.session.scalars(select(Category).where(Category.code == parent_code)).first()
        if parent is None:
            raise Invalid(f"unknown parent {parent_code!r}", errors={"parent_code": ["unknown category"]})
    if default_unit_id is not None:
        _get(Unit, default_unit_id, "default_unit_id")
    own = {"requires_after_photo": requires_after_photo, "pause_on_extension": pause_on_extension,
           "requires_verification_photo": requires_verification_photo}
    category = Category(
        code=code, name=name, name_en=name_en, parent_code=parent_code, default_unit_id=default_unit_id,
        active=True, spatial=spatial, version=1, **inherited_settings(parent, own),
        limits=(dict(parent.limits or {}) if parent else {}) | {Stage(stage).value: dict(limit)
                                                                 for stage, limit in limits.items()},
    )
    db.session.add(category)
    db.session.flush()
    _trail(CATEGORY.resource, category, CATEGORY.fields, actor, now)
    return category


def inherited_settings(parent: Category | None, own: dict) -> dict:
    """A child's flags: its own where it set them (not None), else its parent's, else off (decision 0032)."""
    return {name: value if value is not None else bool(parent is not None and getattr(parent, name))
            for name, value in own.items()}


def get_row(model, object_id: int):
    """A row by id, or NotFound."""
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound(f"{model.__tablename__[:-1]} {object_id} not found")
    return row


def list_rows(model, *, limit: int, cursor: str | None = None, active: str = "true", **equals) -> Page:
    """A keyset page of reference rows ordered by id, filtered by equality on the given columns; `active`:
    "true" (the default: what a picker offers), "false" (the retired) or "all"."""
    stmt = select(model)
    if active != "all":
        stmt = stmt.where(model.active.is_(active == "true"))
    for name, value in equals.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    return by_column(stmt, model.id, limit=limit, cursor=cursor)


def list_users(*, actor: User, limit: int, cursor: str | None = None, role: str | None = None,
               unit_id: int | None = None, active: str = "true") -> Page:
    """Users an admin sees all of; a supervisor sees their subtree's people and every handler
    (the unit they assign to may be a functional department outside their subtree). Active ones by default."""
    stmt = select(User).where(visible_people(actor))
    if active != "all":
        stmt = stmt.where(User.active.is_(active == "true"))
    for column, value in ((User.role, role), (User.unit_id, unit_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return by_column(stmt, User.id, limit=limit, cursor=cursor)
