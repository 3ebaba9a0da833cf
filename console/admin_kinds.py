"""The four kinds of roster row the admin pages manage, each with the API's schemas and the workflow's calls.

People are for admins and supervisors (whom a supervisor sees and manages is the workflow's rule,
docs/decisions/0071-who-manages-whom.md); grids, points and categories are for admins only, as in the API.
"""

from collections.abc import Callable
from dataclasses import dataclass

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.schemas import (
    ActiveArgs,
    CategoryEditIn,
    CategoryIn,
    GridEditIn,
    GridIn,
    PointEditIn,
    PointIn,
    UserArgs,
    UserEditIn,
    UserIn,
)
from console.admin_forms import Field
from models import Category, Grid, Point, Unit, User
from models.base import db
from models.enums import Role
from workflow import org
from workflow.errors import Forbidden
from workflow.paging import MAX_ID
from workflow.roster import edits, people
from workflow.scope import subtree_ids, unit_within

PAGE_SIZE = 50


def _filter_id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class GridArgs(ActiveArgs):
    unit_id = _filter_id()


class PointArgs(ActiveArgs):
    grid_id = _filter_id()


@dataclass(frozen=True)
class Kind:
    """A kind of row on the admin pages: its URL part, its title's word, its fields and the list's columns,
    the API's schemas for the list's filters, a creation and an edit, and the workflow's calls."""

    key: str
    fields: tuple[Field, ...]
    columns: tuple[str, ...]
    filters: tuple[str, ...]
    args: type[Schema]
    create_in: type[Schema]
    edit_in: type[Schema]
    listing: Callable
    get: Callable
    create: Callable
    edit: Callable
    admin_only: bool = True


def _list_people(actor: User, args: dict):
    return org.list_users(actor=actor, **args)


def _create_person(actor: User, now, data: dict):
    return org.create_user(actor=actor, now=now, **data)


def _edit_person(actor: User, now, row_id: int, expected: int, data: dict) -> User:
    return people.edit_user(actor=actor, now=now, user_id=row_id, expected_version=expected, **data)


def _rows(model):
    return lambda actor, args: org.list_rows(model, **args)


def _row(model):
    return lambda actor, row_id: org.get_row(model, row_id)


def _created(make):
    """A creation answers (row, token); only people have a token."""
    return lambda actor, now, data: (make(actor=actor, now=now, **data), None)


def _edited(edit, id_name: str):
    return lambda actor, now, row_id, expected, data: edit(actor=actor, now=now, expected_version=expected,
                                                           **{id_name: row_id}, **data)


PEOPLE = Kind(
    "people",
    (Field("name", required=True), Field("login"), Field("role", "role", required=True),
     Field("unit_id", "unit", label="member_unit"), Field("grid_ids", "grids"), Field("phone"), Field("employee_no")),
    ("name", "login", "role", "unit_id", "active"), ("role", "unit_id"), UserArgs, UserIn, UserEditIn,
    _list_people, lambda actor, row_id: people.get_person(actor=actor, user_id=row_id), _create_person,
    _edit_person, admin_only=False)
GRIDS = Kind(
    "grids",
    (Field("name", required=True), Field("unit_id", "unit", required=True, label="member_unit"), Field("code")),
    ("name", "code", "unit_id", "active"), ("unit_id",), GridArgs, GridIn, GridEditIn,
    _rows(Grid), _row(Grid), _created(org.create_grid), _edited(edits.edit_grid, "grid_id"))
POINTS = Kind(
    "points",
    (Field("name", required=True), Field("grid_id", "grid", required=True), Field("lat", "float", required=True),
     Field("lng", "float", required=True), Field("address"), Field("code")),
    ("name", "code", "grid_id", "address", "active"), ("grid_id",), PointArgs, PointIn, PointEditIn,
    _rows(Point), _row(Point), _created(org.create_point), _edited(edits.edit_point, "point_id"))
CATEGORIES = Kind(
    "categories",
    (Field("code", required=True, edit=False), Field("name", required=True), Field("name_en"),
     Field("parent_code", "category"), Field("default_unit_id", "unit"), Field("requires_after_photo", "flag"),
     Field("requires_verification_photo", "flag"), Field("pause_on_extension", "flag"),
     Field("spatial", "flag", edit=False), Field("limits", "limits")),
    ("code", "name", "parent_code", "default_unit_id", "active"), (), ActiveArgs, CategoryIn, CategoryEditIn,
    _rows(Category), _row(Category), _created(org.create_category), _edited(edits.edit_category, "category_id"))
KINDS = {kind.key: kind for kind in (PEOPLE, GRIDS, POINTS, CATEGORIES)}


def check_gate(kind: Kind, actor: User) -> None:
    """Admins open every admin page; supervisors the people's; nobody else any (403, as the API)."""
    if actor.role == Role.ADMIN or (not kind.admin_only and actor.role == Role.SUPERVISOR):
        return
    raise Forbidden("only admins (and, for people, supervisors) manage the roster")


def may_manage(kind: Kind, actor: User, row) -> bool:
    """Whether the forms of a row are shown: the workflow's own check of who manages whom."""
    if kind is not PEOPLE:
        return actor.role == Role.ADMIN
    try:
        people.check_may_manage(actor, row.role, row.unit)
    except Forbidden:
        return actor.id == row.id  # one's own name and contacts; role, unit and `active` the workflow refuses
    return True


def unit_choices(actor: User) -> list[Unit]:
    """The active units a picker offers: all for an admin, a supervisor's subtree."""
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.path)
    if actor.role != Role.ADMIN:
        stmt = stmt.where(Unit.id.in_(subtree_ids(actor.unit)) if actor.unit else Unit.id.is_(None))
    return db.session.scalars(stmt.limit(500)).all()


def grid_choices(actor: User) -> list[Grid]:
    grids = db.session.scalars(select(Grid).where(Grid.active.is_(True)).order_by(Grid.id).limit(500)).all()
    if actor.role == Role.ADMIN:
        return grids
    return [grid for grid in grids if actor.unit is not None and unit_within(grid.unit, actor.unit)]


def category_choices() -> list[Category]:
    return db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)
                              .limit(500)).all()


def names(model, ids) -> dict[int, str]:
    """{id: name} of the rows a page refers to."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())
