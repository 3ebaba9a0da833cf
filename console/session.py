"""Who is at the console: sign-in, the idle timeout, the forced change of a temporary password, CSRF, sign-out."""

import logging
from datetime import datetime

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

from api.context import request_now
from console.blueprint import bp
from console.text import lang, t
from models import User
from models.base import db, sqlite_begin_mode
from ops.requests import identify
from workflow import passwords
from workflow.errors import DomainError

log = logging.getLogger(__name__)
OPEN_ENDPOINTS = frozenset({"console.login", "console.static", "console.language"})
# What a signed-in user with a temporary password may still do.
CHANGE_ENDPOINTS = frozenset({"console.password", "console.logout"})


@bp.before_request
def sign_in_required():
    """Every console request: check the CSRF token of a POST, then who is signed in (else to the login)."""
    sqlite_begin_mode.set("IMMEDIATE" if request.method == "POST" else "DEFERRED")
    g.pop("actor", None)
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user = _session_user(request_now())
    if user is None:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    g.actor = user
    identify(user.id)
    if user.password_temporary and request.endpoint not in CHANGE_ENDPOINTS:
        return redirect(url_for("console.password"))
    return None


@bp.context_processor
def page_context():
    return {"csrf_token": generate_csrf, "t": t, "me": g.get("actor"), "lang": lang()}


def _check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError) as error:
        log.warning("console form refused: %s", error)
        abort(400, description=t("csrf"))


def _session_user(now: datetime) -> User | None:
    """The signed-in user, unless the session idled out, the password changed since, or the account closed."""
    user_id, seen = session.get("uid"), session.get("seen")
    if user_id is None or seen is None:
        return None
    if now.timestamp() - seen > current_app.config["CONSOLE_IDLE_SECONDS"]:
        session.clear()
        flash(t("idle"), "info")
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or _stamp(user.password_set_at) != session.get("pw"):
        session.clear()
        return None
    session["seen"] = now.timestamp()
    return user


def _stamp(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _begin(user: User, now: datetime) -> None:
    lang = session.get("lang")
    session.clear()  # nothing from before the sign-in survives it
    session.update(uid=user.id, seen=now.timestamp(), pw=_stamp(user.password_set_at))
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form: login (employee number or phone) and password; failures slow the address down."""
    if request.method == "GET":
        return render_template("console/login.html", next=_safe_next(request.args.get("next")))
    now, address = request_now(), request.remote_addr or "unknown"
    throttle = current_app.extensions["rectify_auth_throttle"]
    if (wait := throttle.retry_after(address, now=now)) is not None:
        return render_template("console/login.html", error=t("throttled"), next=None), 429, \
            {"Retry-After": str(wait)}
    result = passwords.sign_in(login=request.form.get("login", ""), password=request.form.get("password", ""))
    if result.user is None:
        throttle.record(address, now=now)
        log.warning("console sign-in failed from %s: %s", address, result.failure)
        db.session.rollback()
        return render_template("console/login.html", error=t("bad_login"), next=request.form.get("next")), 401
    db.session.commit()  # a rehashed password
    _begin(result.user, now)
    log.info("console sign-in of user %d", result.user.id)
    return redirect(_safe_next(request.form.get("next")) or url_for("console.dashboard"), 303)


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never another site (an open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target.rstrip("?")
    return None


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash(t("signed_out"), "info")
    return redirect(url_for("console.login"), 303)


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Choose a new password (required after an admin set a temporary one)."""
    if request.method == "GET":
        return render_template("console/password.html")
    form, now = request.form, request_now()
    if form.get("password") != form.get("confirm"):
        return render_template("console/password.html", errors={"confirm": [t("mismatch")]}), 422
    try:
        user = passwords.change_own_password(actor=g.actor, now=now, current=form.get("current_password", ""),
                                             new=form.get("password", ""))
    except DomainError as error:
        db.session.rollback()
        return render_template("console/password.html", errors=error.errors), error.status
    db.session.commit()
    _begin(user, now)
    flash(t("password_changed"), "info")
    return redirect(url_for("console.dashboard"), 303)


@bp.route("/language/<any(zh, en):code>", methods=["POST"])
def language(code):
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")) or url_for("console.dashboard"), 303)
