"""The roster import from the console (admin): upload the XLSX or CSV, see what it would do, then apply it.

Both buttons run `workflow/roster/imports.py::import_roster`, the API's import, in one transaction: the check
rolls it back and shows the counts or every refused row; the import commits it and shows new people's tokens
once. Nothing is kept between the two: the import reads the file again (a rerun changes nothing).
"""

from flask import Response, g, render_template, request

from api.context import request_now
from console.blueprint import bp
from console.text import t
from models.base import db
from models.enums import Role
from workflow.errors import DomainError, Forbidden
from workflow.roster import imports

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _admin() -> None:
    if g.actor.role != Role.ADMIN:
        raise Forbidden("only an admin imports the roster")


@bp.route("/admin/import", methods=["GET", "POST"])
def admin_import():
    """The upload form; its answer is the check's or the import's report."""
    _admin()
    if request.method == "GET":
        return render_template("console/admin/import.html")
    upload, apply = request.files.get("file"), request.form.get("apply") == "1"
    if upload is None or not upload.filename:
        return render_template("console/admin/import.html", error=t("no_file")), 422
    try:
        report = imports.import_roster(actor=g.actor, now=request_now(), data=upload.read(imports.MAX_BYTES + 1),
                                       filename=upload.filename)
    except DomainError as error:
        db.session.rollback()
        return render_template("console/admin/import.html", error=error.detail, errors=error.errors or {},
                               filename=upload.filename), error.status
    if apply:
        db.session.commit()
    else:
        db.session.rollback()
    return render_template("console/admin/import.html", report=report, applied=apply, filename=upload.filename)


@bp.route("/admin/import/template")
def admin_import_template():
    """The XLSX to fill in (the API's template)."""
    _admin()
    return Response(imports.template(), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=roster-template.xlsx"})
