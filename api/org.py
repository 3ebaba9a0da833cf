"""The organisation: units, users, grids, points and categories; edited under If-Match, retired, trailed."""

from flask import Response
from flask_smorest.fields import Upload

from api.blueprint import ID, Blueprint
from api.context import current_actor, if_match_version, request_now, require_role
from api.errors import ProblemSchema
from api.schemas import (
    ETAG,
    ActiveArgs,
    AdminEventArgs,
    AdminEventPage,
    CategoryEditIn,
    CategoryIn,
    CategoryOut,
    CategoryPage,
    GridEditIn,
    GridIn,
    GridOut,
    GridPage,
    ImportOut,
    In,
    NewUserOut,
    PasswordIn,
    PersonEditOut,
    PersonOut,
    PointEditIn,
    PointIn,
    PointOut,
    PointPage,
    UnitEditIn,
    UnitIn,
    UnitOut,
    UnitPage,
    UserArgs,
    UserEditIn,
    UserIn,
    UserOut,
    UserPage,
    edit_doc,
    etag,
)
from api.write import write
from models import Category, Grid, Point, Unit
from workflow import org, passwords
from workflow.roster import edits, imports, people, trail

blp = Blueprint("organisation", __name__, url_prefix="/api/v1",
                description="The organisation: units, users, grids, points, categories. Edits need If-Match; "
                            "`active: false` retires (nothing referred to is ever deleted); every change is on "
                            "the admin trail (/admin-events).")



def _edited(row):
    return row, 200, etag(row)


# --- units -------------------------------------------------------------------------------------

@blp.route("/units", methods=["GET"])
@blp.arguments(ActiveArgs, location="query")
@blp.response(200, UnitPage)
def list_units(args):
    """Units, a tree by parent_id (active ones unless ?active=false|all)."""
    return org.list_rows(Unit, **args)


@blp.route("/units", methods=["POST"])
@write
@blp.arguments(UnitIn)
@blp.response(201, UnitOut, headers=ETAG)
def create_unit(data):
    """Add a unit (admin)."""
    require_role("admin")
    unit = org.create_unit(actor=current_actor(), now=request_now(), **data)
    return unit, 201, etag(unit)


@blp.route(f"/units/<{ID}:unit_id>")
@blp.response(200, UnitOut, headers=ETAG)
@blp.alt_response(404, schema=ProblemSchema)
def get_unit(unit_id):
    """One unit (retired ones too)."""
    return _edited(org.get_row(Unit, unit_id))


@blp.route(f"/units/<{ID}:unit_id>", methods=["PATCH"])
@write
@blp.arguments(UnitEditIn)
@blp.response(200, UnitOut, headers=ETAG)
@edit_doc(blp)
def edit_unit(data, unit_id):
    """Edit, move, retire (`active: false`: 409 while people, grids, sub-units or open problems remain) or
    reactivate a unit (admin)."""
    return _edited(edits.edit_unit(actor=current_actor(), now=request_now(), unit_id=unit_id,
                                   expected_version=if_match_version(), **data))


# --- people ------------------------------------------------------------------------------------

@blp.route("/users", methods=["GET"])
@blp.arguments(UserArgs, location="query")
@blp.response(200, UserPage)
def list_users(args):
    """People: all for admins; for supervisors their subtree's people and every handler (active ones unless
    ?active=false|all)."""
    return org.list_users(actor=current_actor(), **args)


@blp.route("/users", methods=["POST"])
@write(scrub=("token",))
@blp.arguments(UserIn)
@blp.response(201, NewUserOut, headers=ETAG)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def create_user(data):
    """Add a person (admins anyone; supervisors officers and handlers of their subtree and supervisors of the
    units below their own); the response carries their token, once."""
    user, token = org.create_user(actor=current_actor(), now=request_now(), **data)
    user.token = token
    return user, 201, etag(user)


@blp.route(f"/users/<{ID}:user_id>")
@blp.response(200, PersonOut, headers=ETAG)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def get_user(user_id):
    """One person (admins; supervisors those they see)."""
    return _edited(people.get_person(actor=current_actor(), user_id=user_id))


@blp.route(f"/users/<{ID}:user_id>", methods=["PATCH"])
@write(scrub=("token",))
@blp.arguments(UserEditIn)
@blp.response(200, PersonEditOut, headers=ETAG)
@edit_doc(blp)
def edit_user(data, user_id):
    """Edit a person; `active: false` retires them: every token revoked at once, open problems back on their
    unit's queue, taken off patrol teams. `moved` says what moved; `token` is fresh on reactivation."""
    return _edited(people.edit_user(actor=current_actor(), now=request_now(), user_id=user_id,
                                    expected_version=if_match_version(), **data))


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
@blp.response(200, PersonOut)
def me():
    """The caller."""
    return current_actor()


# --- grids and points ------------------------------------------------------------------------------

@blp.route("/grids", methods=["GET"])
@blp.arguments(ActiveArgs, location="query")
@blp.response(200, GridPage)
def list_grids(args):
    """Grids (网格), active ones unless ?active=false|all."""
    return org.list_rows(Grid, **args)


@blp.route("/grids", methods=["POST"])
@write
@blp.arguments(GridIn)
@blp.response(201, GridOut, headers=ETAG)
def create_grid(data):
    """Add a grid (admin)."""
    require_role("admin")
    grid = org.create_grid(actor=current_actor(), now=request_now(), **data)
    return grid, 201, etag(grid)


@blp.route(f"/grids/<{ID}:grid_id>")
@blp.response(200, GridOut, headers=ETAG)
@blp.alt_response(404, schema=ProblemSchema)
def get_grid(grid_id):
    """One grid (retired ones too)."""
    return _edited(org.get_row(Grid, grid_id))


@blp.route(f"/grids/<{ID}:grid_id>", methods=["PATCH"])
@write
@blp.arguments(GridEditIn)
@blp.response(200, GridOut, headers=ETAG)
@edit_doc(blp)
def edit_grid(data, grid_id):
    """Edit, hand to another unit, retire (409 while active points remain) or reactivate a grid (admin)."""
    return _edited(edits.edit_grid(actor=current_actor(), now=request_now(), grid_id=grid_id,
                                   expected_version=if_match_version(), **data))


@blp.route("/points", methods=["GET"])
@blp.arguments(ActiveArgs, location="query")
@blp.response(200, PointPage)
def list_points(args):
    """Points (点位), active ones unless ?active=false|all."""
    return org.list_rows(Point, **args)


@blp.route("/points", methods=["POST"])
@write
@blp.arguments(PointIn)
@blp.response(201, PointOut, headers=ETAG)
def create_point(data):
    """Add a point (admin)."""
    require_role("admin")
    point = org.create_point(actor=current_actor(), now=request_now(), **data)
    return point, 201, etag(point)


@blp.route(f"/points/<{ID}:point_id>")
@blp.response(200, PointOut, headers=ETAG)
@blp.alt_response(404, schema=ProblemSchema)
def get_point(point_id):
    """One point (retired ones too)."""
    return _edited(org.get_row(Point, point_id))


@blp.route(f"/points/<{ID}:point_id>", methods=["PATCH"])
@write
@blp.arguments(PointEditIn)
@blp.response(200, PointOut, headers=ETAG)
@edit_doc(blp)
def edit_point(data, point_id):
    """Edit, move, retire or reactivate a point (admin); problems reported there keep where they were."""
    return _edited(edits.edit_point(actor=current_actor(), now=request_now(), point_id=point_id,
                                    expected_version=if_match_version(), **data))


# --- categories ----------------------------------------------------------------------------------

@blp.route("/categories", methods=["GET"])
@blp.arguments(ActiveArgs, location="query")
@blp.response(200, CategoryPage)
def list_categories(args):
    """Problem categories with their time limits, active ones unless ?active=false|all."""
    return org.list_rows(Category, **args)


@blp.route("/categories", methods=["POST"])
@write
@blp.arguments(CategoryIn)
@blp.response(201, CategoryOut, headers=ETAG)
def create_category(data):
    """Add a category (admin)."""
    require_role("admin")
    category = org.create_category(actor=current_actor(), now=request_now(), **data)
    return category, 201, etag(category)


@blp.route(f"/categories/<{ID}:category_id>")
@blp.response(200, CategoryOut, headers=ETAG)
@blp.alt_response(404, schema=ProblemSchema)
def get_category(category_id):
    """One category (retired ones too)."""
    return _edited(org.get_row(Category, category_id))


@blp.route(f"/categories/<{ID}:category_id>", methods=["PATCH"])
@write
@blp.arguments(CategoryEditIn)
@blp.response(200, CategoryOut, headers=ETAG)
@edit_doc(blp)
def edit_category(data, category_id):
    """Rename, change limits or photo rules, retire or reactivate a category (admin). A problem's trail keeps
    the name of the day; the ledger shows the current name."""
    return _edited(edits.edit_category(actor=current_actor(), now=request_now(), category_id=category_id,
                                       expected_version=if_match_version(), **data))


# --- the admin trail -------------------------------------------------------------------------------

@blp.route("/admin-events")
@blp.arguments(AdminEventArgs, location="query")
@blp.response(200, AdminEventPage)
@blp.alt_response(403, schema=ProblemSchema)
def admin_events(args):
    """The admin trail, oldest first: who changed which reference row or person, when, what (admin)."""
    require_role("admin")
    return trail.list_events(resource_id=args.pop("id", None), **args)


# --- the first day's roster from a spreadsheet -------------------------------------------------------

class ImportFile(In):
    file = Upload(required=True, metadata={"description": "XLSX (the template's four sheets) or CSV (a 类别 "
                                                          "column naming each row's kind), at most 5 MiB"})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/imports", methods=["POST"], endpoint="import_roster")
@write(scrub=("tokens",))
@blp.arguments(ImportFile, location="files")
@blp.response(200, ImportOut)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(413, schema=ProblemSchema)
@blp.alt_response(415, schema=ProblemSchema)
@blp.alt_response(422, schema=ProblemSchema, description="Refused whole: `errors` names each bad row "
                                                          "(`points[5].lat`) and field; nothing was written")
def import_roster(files):
    """Import units, grids, points and people (admin): all or nothing, matched by natural keys, so a rerun
    changes nothing. New people's tokens are in the answer, once."""
    require_role("admin")
    upload = files["file"]
    return imports.import_roster(actor=current_actor(), now=request_now(), data=upload.read(imports.MAX_BYTES + 1),
                                 filename=upload.filename or "")


@blp.route("/imports/template", methods=["GET"])
@blp.response(200, content_type=XLSX, description="The XLSX to fill in: a sheet per kind, and notes")
@blp.alt_response(403, schema=ProblemSchema)
def import_template():
    """The import template (admin)."""
    require_role("admin")
    return Response(imports.template(), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=roster-template.xlsx"})
