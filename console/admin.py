"""The roster's admin pages: people, grids, points and categories — lists, a page per row, creation, edits
under the row's version, retiring and reactivating, a person's temporary password.

Each page calls what the API calls (workflow/org.py, workflow/roster/, workflow/passwords.py) with the API's
schemas: a form can do nothing the API would refuse, and a refusal is a page saying why, never a 500.
"""

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from api.context import request_now
from api.schemas import PasswordIn
from console import admin_forms as forms
from console.admin_kinds import (
    KINDS,
    PAGE_SIZE,
    PEOPLE,
    Kind,
    category_choices,
    check_gate,
    grid_choices,
    may_manage,
    names,
    unit_choices,
)
from console.blueprint import bp
from console.text import t
from models import Grid, Unit
from models.base import db
from models.enums import Role
from workflow import passwords
from workflow.errors import DomainError, Forbidden, Stale

KIND = "<any(people, grids, points, categories):kind>"
ROW = "<int(max=2147483647):row_id>"


def _kind(key: str) -> Kind:
    kind = KINDS[key]
    check_gate(kind, g.actor)
    return kind


@bp.route("/admin/")
def admin_home():
    return redirect(url_for("console.admin_list", kind="people"))


@bp.route(f"/admin/{KIND}")
def admin_list(kind):
    """A kind's rows with the API's filters (active, and role, unit or grid) and keyset pages."""
    kind = _kind(kind)
    args, errors = _list_args(kind)
    page = kind.listing(g.actor, args)
    return render_template("console/admin/list.html", kind=kind, page=page, errors=errors, **_choices(),
                           query={k: v for k, v in request.args.items() if k != "cursor"},
                           refs=_refs(page.items)), 422 if errors else 200


def _list_args(kind: Kind) -> tuple[dict, dict]:
    given = {k: forms.READERS["unit"](v) if k.endswith("_id") else v
             for k, v in request.args.items() if v.strip() and k in (*kind.filters, "active", "cursor")}
    try:
        return kind.args().load(given) | {"limit": PAGE_SIZE}, {}
    except ValidationError as error:
        return {"limit": PAGE_SIZE}, error.messages


def _choices() -> dict:
    return {"units": unit_choices(g.actor), "grids": grid_choices(g.actor), "categories": category_choices(),
            "roles": [role.value for role in Role], "stages": forms.STAGES, "clocks": forms.CLOCKS}


def _refs(rows) -> dict:
    """Names of the units and grids the rows refer to."""
    return {"unit_id": names(Unit, [getattr(r, "unit_id", None) for r in rows] +
                             [getattr(r, "default_unit_id", None) for r in rows]),
            "grid_id": names(Grid, [getattr(r, "grid_id", None) for r in rows])}


@bp.route(f"/admin/{KIND}/new", methods=["GET", "POST"])
def admin_new(kind):
    """The creation form; a new person's token is shown once, on the answer to the form."""
    kind = _kind(kind)
    if request.method == "GET":
        return render_template("console/admin/new.html", kind=kind, values={}, **_choices())
    try:
        data = kind.create_in().load(forms.body(request.form, kind.fields, editing=False))
        row, token = kind.create(g.actor, request_now(), data)
        db.session.commit()
    except (ValidationError, DomainError) as error:
        db.session.rollback()
        status, message, errors = _refusal(error)
        return render_template("console/admin/new.html", kind=kind, values=forms.echo(request.form, kind.fields),
                               error=message,
                               errors=errors, **_choices()), status
    if token is None:
        flash(t("created"), "info")
        return redirect(url_for("console.admin_item", kind=kind.key, row_id=row.id), 303)
    return render_template("console/admin/token.html", kind=kind, row=row, token=token, note=t("created")), 201


def _refusal(error) -> tuple[int, str, dict]:
    """(status, message, field errors) of a refused form: the schema's 422, or the workflow's answer."""
    if isinstance(error, ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return 422, t("invalid"), messages
    if isinstance(error, Stale):
        return 409, t("stale"), {}
    if error.status == 404:
        raise error
    return error.status, t("forbidden_action") if isinstance(error, Forbidden) else error.detail, \
        error.errors or {}


@bp.route(f"/admin/{KIND}/{ROW}")
def admin_item(kind, row_id):
    """One row: what it is, its edit form carrying the version, retire or reactivate, a password."""
    kind = _kind(kind)
    return _item_page(kind, kind.get(g.actor, row_id))


def _item_page(kind: Kind, row, *, status: int = 200, values=None, **shown):
    return render_template("console/admin/item.html", kind=kind, row=row, values=values or _values(kind, row),
                           manage=may_manage(kind, g.actor, row), refs=_refs([row]), **_choices(),
                           **shown), status


def _values(kind: Kind, row) -> dict:
    """The form's values as the row holds them."""
    return {field.name: getattr(row, field.name) for field in kind.fields}


@bp.route(f"/admin/{KIND}/{ROW}", methods=["POST"])
def admin_save(kind, row_id):
    """An edit, a retirement or a reactivation with the version the page was drawn at: a page drawn before
    someone else saved is told so and shows the row as it is now."""
    kind, form = _kind(kind), request.form
    try:
        data = kind.edit_in().load(_edit_body(kind, form))
        row = kind.edit(g.actor, request_now(), row_id, forms.version(form.get("version")), data)
        db.session.commit()
    except (ValidationError, DomainError) as error:
        db.session.rollback()
        status, message, errors = _refusal(error)
        values = None if status == 409 or form.get("form") == "active" else forms.echo(form, kind.fields)
        return _item_page(kind, kind.get(g.actor, row_id), status=status, values=values, error=message,
                          errors=errors)
    return _saved(kind, row, data)


def _edit_body(kind: Kind, form) -> dict:
    if form.get("form") == "active":
        return {"active": form.get("active") == "true"} | forms.reason(form)
    return forms.body(form, kind.fields, editing=True) | forms.reason(form)


def _saved(kind: Kind, row, data: dict):
    """Back to the row's page with what was done and what moved with it; a reactivated person's new token is
    shown once, on this answer."""
    done = {False: t("retired"), True: t("reactivated")}.get(data.get("active"), t("saved"))
    moved = getattr(row, "moved", None) or {}
    token = getattr(row, "token", None)
    if token:
        return render_template("console/admin/token.html", kind=kind, row=row, token=token, note=done,
                               moved=moved), 200
    flash(" ".join([done, *_moved_words(moved)]), "info")
    return redirect(url_for("console.admin_item", kind=kind.key, row_id=row.id), 303)


def _moved_words(moved: dict) -> list[str]:
    """What moved with a person, in words (decision 0073)."""
    words = []
    if "tokens_revoked" in moved:
        words.append(t("tokens_revoked").format(moved["tokens_revoked"]))
    for key in ("problems_released", "plans_changed", "plans_paused"):
        if moved.get(key):
            words.append(t(key).format(len(moved[key]), "、".join(f"#{i}" for i in moved[key])))
    return words


@bp.route(f"/admin/people/{ROW}/password", methods=["POST"])
def admin_password(row_id):
    """Set a person's temporary password (admin, as `PUT /api/v1/users/{id}/password`): their first sign-in
    must choose their own, and their open sessions end."""
    if g.actor.role != Role.ADMIN:
        raise Forbidden("only an admin sets another person's password")
    person = PEOPLE.get(g.actor, row_id)
    try:
        if request.form.get("password") != request.form.get("confirm"):
            raise ValidationError({"confirm": [t("mismatch")]})
        data = PasswordIn().load({"password": request.form.get("password", "")})
        passwords.set_password(actor=g.actor, now=request_now(), user_id=person.id, **data)
        db.session.commit()
    except (ValidationError, DomainError) as error:
        db.session.rollback()
        status, message, errors = _refusal(error)
        return _item_page(PEOPLE, person, status=status, error=message, errors=errors)
    flash(t("password_reset"), "info")
    return redirect(url_for("console.admin_item", kind="people", row_id=person.id), 303)
