"""Admin endpoints for the organisation: units, users, grids, points and categories."""


from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now, require_role
from api.errors import ProblemSchema
from api.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPage,
    CategoryPublicIn,
    GridBoundaryIn,
    GridIn,
    GridOut,
    GridPage,
    NewUserOut,
    PageArgs,
    PasswordIn,
    PointIn,
    PointOut,
    PointPage,
    UnitIn,
    UnitOut,
    UnitPage,
    UserArgs,
    UserIn,
    UserOut,
    UserPage,
)
from api.write import write
from models import Category, Grid, Point, Unit
from workflow import org, passwords

blp = Blueprint("organisation", __name__, url_prefix="/api/v1",
                description="The organisation (admin): units, users, grids, points, categories.")


@blp.route("/units", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, UnitPage)
def list_units(args):
    """Units, a tree by parent_id."""
    return org.list_rows(Unit, **args)


@blp.route("/units", methods=["POST"])
@write
@blp.arguments(UnitIn)
@blp.response(201, UnitOut)
def create_unit(data):
    """Add a unit (admin)."""
    require_role("admin")
    return org.create_unit(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/units/<{ID}:unit_id>")
@blp.response(200, UnitOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_unit(unit_id):
    """One unit."""
    return org.get_row(Unit, unit_id)


@blp.route("/users", methods=["GET"])
@blp.arguments(UserArgs, location="query")
@blp.response(200, UserPage)
def list_users(args):
    """Users: all for admins; for supervisors their subtree's people and every handler."""
    return org.list_users(actor=current_actor(), **args)


@blp.route("/users", methods=["POST"])
@write(scrub=("token",))
@blp.arguments(UserIn)
@blp.response(201, NewUserOut)
def create_user(data):
    """Add a user (admin); the response carries their token, once."""
    require_role("admin")
    user, token = org.create_user(actor=current_actor(), now=request_now(), **data)
    user.token = token
    return user, 201


@blp.route(f"/users/<{ID}:user_id>/password", methods=["PUT"])
@write
@blp.arguments(PasswordIn)
@blp.response(200, UserOut)
@blp.alt_response(404, schema=ProblemSchema)
def set_password(data, user_id):
    """Set a person's console password (admin): temporary, so their first sign-in must choose their own."""
    require_role("admin")
    return passwords.set_password(actor=current_actor(), now=request_now(), user_id=user_id, **data)


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
    return org.list_rows(Grid, **args)


@blp.route("/grids", methods=["POST"])
@write
@blp.arguments(GridIn)
@blp.response(201, GridOut)
def create_grid(data):
    """Add a grid (admin)."""
    require_role("admin")
    return org.create_grid(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/grids/<{ID}:grid_id>", methods=["PATCH"])
@write
@blp.arguments(GridBoundaryIn)
@blp.response(200, GridOut)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def update_grid(data, grid_id):
    """Draw or erase a grid's boundary (admin): public reports inside it land in this grid."""
    require_role("admin")
    return org.update_grid(actor=current_actor(), now=request_now(), grid_id=grid_id, **data)


@blp.route("/points", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, PointPage)
def list_points(args):
    """Points (点位)."""
    return org.list_rows(Point, **args)


@blp.route("/points", methods=["POST"])
@write
@blp.arguments(PointIn)
@blp.response(201, PointOut)
def create_point(data):
    """Add a point (admin)."""
    require_role("admin")
    return org.create_point(actor=current_actor(), now=request_now(), **data), 201


@blp.route("/categories", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, CategoryPage)
def list_categories(args):
    """Problem categories with their time limits."""
    return org.list_rows(Category, **args)


@blp.route("/categories", methods=["POST"])
@write
@blp.arguments(CategoryIn)
@blp.response(201, CategoryOut)
def create_category(data):
    """Add a category (admin)."""
    require_role("admin")
    return org.create_category(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/categories/<{ID}:category_id>", methods=["PATCH"])
@write
@blp.arguments(CategoryPublicIn)
@blp.response(200, CategoryOut)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def publish_category(data, category_id):
    """Offer a category to the public as an Open311 service, or withdraw it, with its attributes (admin)."""
    require_role("admin")
    return org.publish_category(actor=current_actor(), now=request_now(), category_id=category_id, **data)
