"""The desk pages: dashboard, the ledger, one problem with its actions, dispatch."""

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, current_app, flash, g, redirect, render_template, request, stream_with_context, url_for
from marshmallow import ValidationError
from sqlalchemy import or_, select
from werkzeug.exceptions import HTTPException

from api.context import request_now
from api.evidence import signed_url
from api.schemas import ActionIn, LedgerArgs
from console.blueprint import bp
from console.text import t
from models import Attachment, Category, Grid, PatrolPlan, PatrolRound, Point, Problem, ProblemEvent, Unit, User
from models.base import db
from models.enums import Role, State
from workflow.errors import DomainError, Forbidden, Stale
from workflow.ledger import dashboard as desk
from workflow.ledger import exports, query
from workflow.patrols.rounds import list_rounds
from workflow.problems import actions, visibility
from workflow.problems.lifecycle import TRANSITIONS
from workflow.scope import subtree_ids

PAGE_SIZE = 50
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PHOTO_KINDS = ("before", "after", "verification", "other")
FORM_FIELDS = ("unit_id", "handler_id", "reason", "note", "text", "until", "duplicate_of")


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    db.session.rollback()
    message = {403: t("forbidden"), 404: t("not_found")}.get(error.status, error.detail)
    return render_template("console/error.html", status=error.status, message=message), error.status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    message = {403: t("forbidden"), 404: t("not_found")}.get(error.code, error.description)
    return render_template("console/error.html", status=error.code, message=message), error.code


def supervisors_only(view):
    """Pages for those who dispatch: a handler or officer gets 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.actor.role not in (Role.SUPERVISOR, Role.ADMIN):
            raise Forbidden("dispatch is for supervisors")
        return view(*args, **kwargs)

    return wrapper


def local(at: datetime | None) -> str:
    """A moment as the district's wall clock reads it."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(current_app.config["RECTIFY_TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("local")
def local_filter(at):
    return local(at)


@bp.route("/")
def dashboard_page():
    return redirect(url_for("console.dashboard"))


@bp.route("/dashboard")
def dashboard():
    """工作台: open problems by light and state, what waits for me, today's rounds."""
    actor, now = g.actor, request_now()
    tz = ZoneInfo(current_app.config["RECTIFY_TIMEZONE"])
    day = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    rounds = db.session.scalars(list_rounds(actor=actor, start=day, end=day + timedelta(days=1))
                                .order_by(PatrolRound.planned_start, PatrolRound.id).limit(50)).all()
    return render_template("console/dashboard.html", counts=desk.counts(actor=actor, now=now),
                           waiting=desk.waiting_for(actor=actor, now=now), rounds=rounds, now=now,
                           plans=_plan_names(rounds))


def _plan_names(rounds) -> dict[int, str]:
    ids = {r.plan_id for r in rounds}
    return dict(db.session.execute(select(PatrolPlan.id, PatrolPlan.name).where(PatrolPlan.id.in_(ids)))) \
        if ids else {}


def _filters() -> tuple[dict, dict]:
    """The ledger's filters from the query string (the API's schema, empty fields ignored)."""
    given = {k: v for k, v in request.args.items() if v.strip() and k != "format"}
    try:
        return LedgerArgs().load(given), {}
    except ValidationError as error:
        return {"limit": PAGE_SIZE}, error.messages


@bp.route("/problems")
def problems():
    """问题台账: the API's filters and keyset pages."""
    filters, errors = _filters()
    filters.pop("limit", None)
    cursor = filters.pop("cursor", None)
    try:
        page = query.list_problems(actor=g.actor, now=request_now(), filters=filters, limit=PAGE_SIZE,
                                   cursor=cursor)
    except DomainError as error:  # a cursor that is not ours
        page, errors = query.list_problems(actor=g.actor, now=request_now(), filters={}, limit=PAGE_SIZE), \
            error.errors or {"cursor": [error.detail]}
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("console/problems.html", page=page, errors=errors, args=args, now=request_now(),
                           states=list(State), categories=_categories(), grids=_grids()), 422 if errors else 200


def _categories():
    return db.session.scalars(select(Category).where(Category.active).order_by(Category.code)).all()


def _grids():
    return db.session.scalars(select(Grid).order_by(Grid.id).limit(500)).all()


@bp.route("/problems/export")
def export():
    """The filtered ledger as CSV, XLSX or GeoJSON (the API's exports, under the session's scope)."""
    fmt = request.args.get("format")
    if fmt not in EXPORT_TYPES:
        return render_template("console/error.html", status=422, message="format: csv | xlsx | geojson"), 422
    filters, errors = _filters()
    if errors:
        return render_template("console/error.html", status=422, message=str(errors)), 422
    filters.pop("limit", None)
    filters.pop("cursor", None)
    now = request_now()
    chunks = {"csv": exports.csv_chunks, "xlsx": exports.xlsx_chunks, "geojson": exports.geojson_chunks}[fmt]
    headers = {"Content-Disposition": f'attachment; filename="rectify-ledger-{now:%Y%m%d-%H%M}.{fmt}"'}
    return Response(stream_with_context(chunks(actor=g.actor, now=now, filters=filters)), headers=headers,
                    content_type=EXPORT_TYPES[fmt])


@bp.route("/problems/<int:problem_id>")
def problem(problem_id):
    """One problem: fields, clocks, the trail, the photos side by side, a form per allowed action."""
    actor, now = g.actor, request_now()
    found = visibility.get_problem(actor=actor, problem_id=problem_id)
    return render_template("console/problem.html", **_problem_view(found, actor, now))


def _problem_view(problem: Problem, actor: User, now: datetime) -> dict:
    events = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                                .order_by(ProblemEvent.seq).limit(500)).all()
    allowed = [a for a in actions.allowed_actions(problem, actor, now) if a != "attach"]
    return {"p": problem, "events": events, "photos": _photos(problem), "people": _handler(problem), "now": now,
            "allowed": allowed, "fields": {a: _form_fields(a) for a in allowed}, "point": _point(problem),
            "units": _units(actor), "handlers": _handlers(actor), "light": problem.light(now),
            "unit": db.session.get(Unit, problem.unit_id) if problem.unit_id else None}


def _photos(problem: Problem) -> dict:
    """Each kind's photos with their thumbnail and original signed URLs, oldest first."""
    photos = db.session.scalars(select(Attachment).where(Attachment.problem_id == problem.id)
                                .order_by(Attachment.id)).all()
    return {kind: [(a, signed_url(a, "thumbnail"), signed_url(a, "original")) for a in photos if a.kind == kind]
            for kind in PHOTO_KINDS}


def _handler(problem: Problem) -> dict:
    handler = db.session.get(User, problem.handler_id) if problem.handler_id else None
    return {handler.id: handler} if handler else {}


def _point(problem: Problem) -> Point | None:
    return db.session.get(Point, problem.point_id) if problem.point_id else None


def _form_fields(action: str) -> list[tuple[str, bool]]:
    """The fields an action's form shows: (name, required), required first."""
    rule = TRANSITIONS[action]
    return [(name, True) for name in FORM_FIELDS if name in rule.required] + \
        [(name, False) for name in FORM_FIELDS if name in rule.optional]


def _units(actor: User) -> list[Unit]:
    """Units a supervisor may dispatch to: their own subtree and the responsible departments and companies."""
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        return []
    stmt = select(Unit).order_by(Unit.path)
    if actor.role == Role.SUPERVISOR:
        stmt = stmt.where(or_(Unit.id.in_(subtree_ids(actor.unit)), Unit.kind.in_(("department", "company"))))
    return db.session.scalars(stmt.limit(500)).all()


def _handlers(actor: User) -> list[User]:
    units = [u.id for u in _units(actor)]
    if not units:
        return []
    return db.session.scalars(select(User).where(User.role == Role.HANDLER, User.active, User.unit_id.in_(units))
                              .order_by(User.unit_id, User.name)).all()


@bp.route("/problems/<int:problem_id>/actions", methods=["POST"])
def act(problem_id):
    """Apply one action from the problem page (or dispatch), with the version the page was drawn at: a stale
    page is told someone acted first instead of overwriting."""
    actor, now, form = g.actor, request_now(), request.form
    back = _back(problem_id)
    try:
        data = ActionIn().load(_action_body(form))
        action = data.pop("action")
        actions.check_action(actor=actor, action=action, fields=data)
        actions.apply_action(actor=actor, now=now, problem_id=problem_id, action=action,
                             expected_version=_version(form.get("version")), **data)
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        return _refused(problem_id, 422, "; ".join(f"{t(k)}: {' '.join(map(str, v))}"
                                                   for k, v in _flat(error.messages).items()))
    except Stale:
        db.session.rollback()
        return _refused(problem_id, 409, t("stale"))
    except DomainError as error:
        db.session.rollback()
        if error.status == 404:
            raise
        return _refused(problem_id, error.status, error.detail)
    flash(t("done") + t(action), "info")
    return redirect(back, 303)


def _back(problem_id: int) -> str:
    return url_for("console.dispatch") if request.form.get("from") == "dispatch" else \
        url_for("console.problem", problem_id=problem_id)


def _flat(messages) -> dict:
    return messages if isinstance(messages, dict) else {"form": messages}


def _version(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else -1


def _action_body(form) -> dict:
    """The form's fields as the API's action body: empty fields dropped, ids as numbers, a local datetime
    (datetime-local) in the district's timezone."""
    body = {"action": form.get("action", "")}
    for name in FORM_FIELDS:
        value = (form.get(name) or "").strip()
        if not value:
            continue
        if name in ("unit_id", "handler_id", "duplicate_of"):
            body[name] = int(value) if value.isdigit() and len(value) < 10 else value
        elif name == "until":
            body[name] = _aware(value)
        else:
            body[name] = value
    return body


def _aware(value: str) -> str:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names it
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(current_app.config["RECTIFY_TIMEZONE"]))
    return at.isoformat()


def _refused(problem_id: int, status: int, message: str):
    """The page again, as it is now, with why the action was refused."""
    if request.form.get("from") == "dispatch":
        return render_template("console/dispatch.html", **_dispatch_view(), error=message), status
    found = visibility.get_problem(actor=g.actor, problem_id=problem_id)
    return render_template("console/problem.html", **_problem_view(found, g.actor, request_now()),
                           error=message), status


@bp.route("/dispatch")
@supervisors_only
def dispatch():
    """派遣: what waits for dispatch in my scope, each with a unit and handler picker."""
    return render_template("console/dispatch.html", **_dispatch_view())


def _dispatch_view() -> dict:
    page = query.list_problems(actor=g.actor, now=request_now(), filters={"state": [State.REPORTED]},
                               limit=PAGE_SIZE)
    return {"page": page, "units": _units(g.actor), "handlers": _handlers(g.actor), "now": request_now()}
