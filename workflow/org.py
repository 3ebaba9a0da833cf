"""The organisation an admin sets up: units, users, grids, points and categories."""

from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import or_, select

from models import Category, Grid, Point, Unit, User
from models.base import db
from models.enums import Role, Stage
from workflow import passwords
from workflow.auth import issue_token
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.intake.locate import check_boundary
from workflow.paging import Page, by_column
from workflow.scope import subtree_ids

DEFAULT_TIMEZONE = "Asia/Shanghai"


def check_attributes(attributes: list | None) -> list | None:
    """Open311 attributes: unique codes; list types carry their values, other types none."""
    if not attributes:
        return None
    codes = [a["code"] for a in attributes]
    if len(codes) != len(set(codes)):
        raise Invalid("attribute codes repeat", errors={"attributes": ["each code once"]})
    for attribute in attributes:
        listed = attribute["datatype"] in ("singlevaluelist", "multivaluelist")
        if listed != bool(attribute.get("values")):
            raise Invalid(f"attribute {attribute['code']!r}: values go with the list datatypes, and only with them",
                          errors={"attributes": ["values go with singlevaluelist and multivaluelist only"]})
    return [dict(a) for a in attributes]


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin may change the organisation")


def _get(model, object_id: int, field: str):
    row = db.session.get(model, object_id)
    if row is None:
        raise Invalid(f"unknown {field} {object_id}", errors={field: [f"unknown {model.__tablename__[:-1]}"]})
    return row


def check_timezone(name: str) -> str:
    """An IANA zone name (not "localtime" or a path), else Invalid."""
    if name not in _zones():
        raise Invalid(f"unknown timezone {name!r}", errors={"timezone": ["not an IANA timezone"]})
    return name


@cache
def _zones() -> frozenset[str]:
    """IANA names, less what some systems add that depends on the host ("localtime", posix/, right/)."""
    host_specific = ("localtime", "posixrules", "Factory")
    return frozenset(name for name in available_timezones()
                     if name not in host_specific and not name.startswith(("posix/", "right/")))


def create_unit(*, actor: User | None, now: datetime, name: str, kind: str, parent_id: int | None = None,
                timezone: str | None = None, code: str | None = None,
                default_timezone: str = DEFAULT_TIMEZONE) -> Unit:
    """Add a unit under `parent_id` (or a new root); it inherits the parent's timezone."""
    _require_admin(actor)
    parent = _get(Unit, parent_id, "parent_id") if parent_id is not None else None
    tz = check_timezone(timezone) if timezone else (parent.timezone if parent else default_timezone)
    unit = Unit(name=name, kind=kind, code=code, parent_id=parent_id, timezone=tz, created_at=now)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


def create_user(*, actor: User | None, now: datetime, name: str, role: str, unit_id: int | None = None,
                grid_ids: list[int] | None = None, login: str | None = None) -> tuple[User, str]:
    """Add a user (with a console login when given); returns the user and their token, shown only now."""
    _require_admin(actor)
    if unit_id is None and role != Role.ADMIN:
        raise Invalid("every role but admin belongs to a unit", errors={"unit_id": ["required for this role"]})
    unit = _get(Unit, unit_id, "unit_id") if unit_id is not None else None
    grids = [_get(Grid, grid_id, "grid_ids") for grid_id in dict.fromkeys(grid_ids or [])]
    if grids and role != Role.OFFICER:
        raise Invalid("only officers patrol grids", errors={"grid_ids": ["only for officers"]})
    user = User(name=name, role=role, unit=unit, unit_id=unit_id, grids=grids, created_at=now, active=True)
    passwords.set_login(user, login)
    db.session.add(user)
    db.session.flush()
    _, token = issue_token(user=user, now=now, label="initial", actor=actor)
    return user, token


def create_grid(*, actor: User | None, now: datetime, name: str, unit_id: int,
                boundary: dict | None = None) -> Grid:
    """Add a grid (网格) managed by a unit, with an optional GeoJSON boundary."""
    _require_admin(actor)
    grid = Grid(name=name, unit_id=_get(Unit, unit_id, "unit_id").id, boundary=check_boundary(boundary),
                created_at=now)
    db.session.add(grid)
    db.session.flush()
    return grid


def update_grid(*, actor: User | None, now: datetime, grid_id: int, boundary: dict | None) -> Grid:
    """Draw (or, with None, erase) a grid's boundary: public reports inside it land in this grid."""
    _require_admin(actor)
    grid = get_row(Grid, grid_id)
    grid.boundary = check_boundary(boundary)
    db.session.flush()
    return grid


def create_point(*, actor: User | None, now: datetime, name: str, grid_id: int, lat: float, lng: float,
                 address: str | None = None) -> Point:
    """Add a point (点位) in a grid."""
    _require_admin(actor)
    point = Point(name=name, grid_id=_get(Grid, grid_id, "grid_id").id, lat=lat, lng=lng, address=address,
                  created_at=now)
    db.session.add(point)
    db.session.flush()
    return point


def create_category(*, actor: User | None, now: datetime, code: str, name: str, limits: dict,
                    name_en: str | None = None, parent_code: str | None = None,
                    default_unit_id: int | None = None, requires_after_photo: bool = False,
                    requires_verification_photo: bool = False, pause_on_extension: bool = False,
                    public: bool = False, public_description: str | None = None,
                    attributes: list | None = None) -> Category:
    """Add a category with its time limits per stage (public: offered as an Open311 service)."""
    _require_admin(actor)
    if db.session.scalars(select(Category.id).where(Category.code == code)).first() is not None:
        raise Invalid(f"category {code!r} exists", errors={"code": ["already taken"]})
    if parent_code is not None and db.session.scalars(
            select(Category.id).where(Category.code == parent_code)).first() is None:
        raise Invalid(f"unknown parent {parent_code!r}", errors={"parent_code": ["unknown category"]})
    if default_unit_id is not None:
        _get(Unit, default_unit_id, "default_unit_id")
    category = Category(
        code=code, name=name, name_en=name_en, parent_code=parent_code, default_unit_id=default_unit_id,
        requires_after_photo=requires_after_photo, requires_verification_photo=requires_verification_photo,
        pause_on_extension=pause_on_extension, active=True,
        limits={Stage(stage).value: dict(limit) for stage, limit in limits.items()},
        public=public, public_description=public_description, attributes=check_attributes(attributes),
    )
    db.session.add(category)
    db.session.flush()
    return category


def publish_category(*, actor: User | None, now: datetime, category_id: int, public: bool | None = None,
                     public_description: str | None = None, attributes: list | None = None) -> Category:
    """Offer a category to the public as an Open311 service (or withdraw it), with its attributes."""
    _require_admin(actor)
    category = get_row(Category, category_id)
    if public is not None:
        category.public = public
    if public_description is not None:
        category.public_description = public_description
    if attributes is not None:
        category.attributes = check_attributes(attributes)
    db.session.flush()
    return category


def get_row(model, object_id: int):
    """A row by id, or NotFound."""
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound(f"{model.__tablename__[:-1]} {object_id} not found")
    return row


def list_rows(model, *, limit: int, cursor: str | None = None, **equals) -> Page:
    """A keyset page of reference rows ordered by id, filtered by equality on the given columns."""
    stmt = select(model)
    for name, value in equals.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    return by_column(stmt, model.id, limit=limit, cursor=cursor)


def list_users(*, actor: User, limit: int, cursor: str | None = None, role: str | None = None,
               unit_id: int | None = None) -> Page:
    """Users an admin sees all of; a supervisor sees their subtree's people and every handler
    (the unit they assign to may be a functional department outside their subtree)."""
    stmt = select(User)
    if actor.role == Role.SUPERVISOR:
        stmt = stmt.where(or_(User.unit_id.in_(subtree_ids(actor.unit)), User.role == Role.HANDLER))
    elif actor.role != Role.ADMIN:
        raise Forbidden("only admins and supervisors list users")
    for column, value in ((User.role, role), (User.unit_id, unit_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return by_column(stmt, User.id, limit=limit, cursor=cursor)
