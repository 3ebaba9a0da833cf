"""Admin endpoints for the organisation: units, users, grids, points and categories."""

from flask import g

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now, require_role
from api.errors import ProblemSchema
from api.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPage,
    GridIn,
    GridOut,
    GridPage,
    NewUserOut,
    PageArgs,
    PointIn,
    PointOut,
    PointPage,
    UnitIn,
    UnitOut,
    UnitPage,
    UserIn,
    UserOut,
    UserPage,
)
from api.write import check_replay, write
from models import Category, Grid, Point, Unit, User
from workflow import org
from workflow.ledger import Page, decode_int_cursor, encode_cursor

blp = Blueprint("organisation", __name__, url_prefix="/api/v1",
                description="The organisation (admin): units, users, grids, points, categories.")


def page(model, args: dict, **equals) -> Page:
    """A keyset page of reference rows ordered by id."""
    after = decode_int_cursor(args["cursor"]) if args.get("cursor") else None
    rows = org.list_rows(model, limit=args["limit"], after=after, **equals)
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


def created(view_result):
    check_replay()
    return view_result(), 201


@blp.route("/units", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, UnitPage)
def list_units(args):
    """Units, a tree by parent_id."""
    return page(Unit, args)


@blp.route("/units", methods=["POST"])
@write
@blp.arguments(UnitIn)
@blp.response(201, UnitOut)
def create_unit(data):
    """Add a unit (admin)."""
    require_role("admin")
    return created(lambda: org.create_unit(actor=current_actor(), now=request_now(), **data))


@blp.route(f"/units/<{ID}:unit_id>")
@blp.response(200, UnitOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_unit(unit_id):
    """One unit."""
    return org.get_row(Unit, unit_id)


@blp.route("/users", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, UserPage)
def list_users(args):
    """Users (admins and supervisors)."""
    require_role("admin", "supervisor")
    return page(User, args)


@blp.route("/users", methods=["POST"])
@write
@blp.arguments(UserIn)
@blp.response(201, NewUserOut)
def create_user(data):
    """Add a user (admin); the response carries their token, once."""
    require_role("admin")
    g.idempotency_scrub = ("token",)
    check_replay()
    user, token = org.create_user(actor=current_actor(), now=request_now(), **data)
    user.token = token
    return user, 201


@blp.route("/me")
@blp.response(200, UserOut)
def me():
    """The caller."""
    return current_actor()


@blp.route("/grids", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, GridPage)
def list_grids(args):
    """Grids (网格)."""
    return page(Grid, args)


@blp.route("/grids", methods=["POST"])
@write
@blp.arguments(GridIn)
@blp.response(201, GridOut)
def create_grid(data):
    """Add a grid (admin)."""
    require_role("admin")
    return created(lambda: org.create_grid(actor=current_actor(), now=request_now(), **data))


@blp.route("/points", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, PointPage)
def list_points(args):
    """Points (点位)."""
    return page(Point, args)


@blp.route("/points", methods=["POST"])
@write
@blp.arguments(PointIn)
@blp.response(201, PointOut)
def create_point(data):
    """Add a point (admin)."""
    require_role("admin")
    return created(lambda: org.create_point(actor=current_actor(), now=request_now(), **data))


@blp.route("/categories", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, CategoryPage)
def list_categories(args):
    """Problem categories with their time limits."""
    return page(Category, args)


@blp.route("/categories", methods=["POST"])
@write
@blp.arguments(CategoryIn)
@blp.response(201, CategoryOut)
def create_category(data):
    """Add a category (admin)."""
    require_role("admin")
    return created(lambda: org.create_category(actor=current_actor(), now=request_now(), **data))
