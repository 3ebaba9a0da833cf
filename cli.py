"""Flask CLI groups: seed, users, calendar, audit; backup and restore; and `python app.py`, the embedded first run."""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from models import User
from models.base import db, sqlite_begin_mode, utcnow
from workflow import audit, calendar, org, passwords, seed
from workflow.errors import DomainError
from workflow.inspections import defaults as inspection_defaults
from workflow.intake import keys as intake_keys
from workflow.notifications import targets
from workflow.paging import MAX_ID
from workflow.roster import imports

seed_cli = AppGroup("seed", help="Seed reference and demo data.")
users_cli = AppGroup("users", help="Manage users.")
calendar_cli = AppGroup("calendar", help="The working calendar.")
audit_cli = AppGroup("audit", help="Tamper evidence of the problem trails.")
import_cli = AppGroup("import", help="Bulk imports.")
open311_cli = AppGroup("open311", help="The Open311 GeoReport v2 face.")
open311_keys_cli = AppGroup("keys", help="API keys of Open311 client applications.")
open311_cli.add_command(open311_keys_cli)


def _print_tokens(issued) -> None:
    click.echo("Demo users and their tokens (shown once; keep them):")
    for user, token in issued:
        unit = f" @ {user.unit.name}" if user.unit else ""
        click.echo(f"  {user.role:<10} {user.name}{unit}  (id {user.id})\n    {token}")
        if password := getattr(user, "demo_password", None):
            click.echo(f"  ↳ console (/console/login): login {user.login}, password {password}")


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has units.")
@click.option("--reissue-tokens", is_flag=True, help="On a seeded database, print fresh demo tokens.")
def seed_demo_command(if_empty, reissue_tokens):
    """Build the demo district (units, grids, points, categories, users) and print tokens."""
    from flask import current_app
    if not seed.is_empty():
        if reissue_tokens:
            _print_tokens(seed.reissue_tokens(list(db.session.scalars(select(User).order_by(User.id))), now=utcnow()))
            db.session.commit()
        elif not if_empty:
            raise click.ClickException("the database already has units; see --reissue-tokens")
        else:
            click.echo("Demo already seeded. `flask --app app seed demo --reissue-tokens` prints new tokens.")
        return
    issued = seed.seed_demo(now=utcnow(), timezone=current_app.config["RECTIFY_TIMEZONE"],
                            storage=current_app.extensions["rectify_storage"], robot_url=_robot_url(current_app))
    db.session.commit()
    _print_tokens(issued)


def _robot_url(app) -> str | None:
    """Development: the dev server's own WeCom stand-in (api/devecho.py), so the demo's chat shows in the log."""
    if not app.config.get("DEV_ROBOT_ECHO"):
        return None
    return targets.dev_echo_url(app.config["RUN_HOST"], app.config["RUN_PORT"])


@seed_cli.command("categories")
def seed_categories_command():
    """Add the default categories that are missing."""
    added = seed.seed_categories(now=utcnow())
    db.session.commit()
    click.echo(f"added {added} categories")


@seed_cli.command("inspections")
def seed_inspections_command():
    """Add the enforcement ladder and the default inspection templates (gas_safety) where missing, with the
    default categories their items raise problems in."""
    seed.seed_categories(now=utcnow())
    steps, templates = inspection_defaults.seed_inspections(now=utcnow())
    db.session.commit()
    click.echo(f"added {steps} ladder steps, {templates} inspection templates")


@users_cli.command("create")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["officer", "handler", "supervisor", "admin", "hotline"]))
@click.option("--unit", "unit_id", type=int, help="The unit id (required for every role but admin).")
@click.option("--grid", "grid_ids", type=int, multiple=True, help="A grid id (officers; repeatable).")
def create_user_command(name, role, unit_id, grid_ids):
    """Create a user; the token is printed alone on the last line, once."""
    try:
        user, token = org.create_user(actor=None, now=utcnow(), name=name, role=role, unit_id=unit_id,
                                      grid_ids=list(grid_ids))
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    db.session.commit()
    click.echo(f"created {user.role} {user.name} (id {user.id}); their token:")
    click.echo(token)


@open311_keys_cli.command("create")
@click.option("--name", required=True, help="The client application.")
def create_open311_key_command(name):
    """Create an API key for a client application; the key is printed alone on the last line, once."""
    try:
        row, key = intake_keys.create_key(actor=None, now=utcnow(), name=name)
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    db.session.commit()
    click.echo(f"created Open311 key {row.id} for {row.name}; the key:")
    click.echo(key)


@open311_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_open311_key_command(key_id):
    """Revoke an API key: its application can no longer post."""
    try:
        row = intake_keys.revoke_key(actor=None, now=utcnow(), key_id=key_id)
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    db.session.commit()
    click.echo(f"revoked Open311 key {row.id} ({row.name})")


@users_cli.command("password")
@click.option("--login", "login", required=True, help="The person's console login.")
def password_command(login):
    """Set a console password, read from stdin (one line): permanent, as an operator's act."""
    user = db.session.scalars(select(User).where(User.login == login)).first()
    if user is None:
        raise click.ClickException(f"no user with login {login!r}")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        passwords.set_password(actor=None, now=utcnow(), user_id=user.id, password=password)
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    db.session.commit()
    click.echo(f"password set for {user.name} (id {user.id}, login {login})")


@users_cli.command("login")
@click.option("--user", "user_id", type=int, required=True, help="The user id.")
@click.option("--login", "login", required=True, help="Their console login (employee number or phone).")
def login_command(user_id, login):
    """Give a user a console login."""
    user = db.session.get(User, user_id)
    if user is None:
        raise click.ClickException(f"no user {user_id}")
    try:
        passwords.set_login(user, login)
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    db.session.commit()
    click.echo(f"{user.name} (id {user.id}) signs in as {user.login}")


@calendar_cli.command("seed")
@click.option("--year", "years", type=int, multiple=True, help="Years to seed (default: config).")
def seed_calendar_command(years):
    """Load statutory holidays and make-up workdays (调休) from the holiday library."""
    written = calendar.seed_calendar(db.session, years=list(years) or calendar.default_years(), now=utcnow())
    db.session.commit()
    click.echo(f"wrote {written} calendar rows; estimated years: {calendar.estimated_years(db.session)}")


@import_cli.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_template_command(path):
    """Write the empty import template (XLSX) to PATH."""
    path.write_bytes(imports.template())
    click.echo(f"wrote the template to {path}")


@import_cli.command("org")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_org_command(path):
    """Import units, grids, points and people from an XLSX or CSV: all or nothing; a rerun changes nothing.
    Prints what it did and each new person's token (once); exits 1 naming every bad row."""
    try:
        report = imports.import_roster(actor=None, now=utcnow(), data=path.read_bytes(), filename=path.name)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        click.echo(f"refused: {error.detail}", err=True)
        for where, messages in error.errors.items():
            click.echo(f"  {where}: {'; '.join(messages)}", err=True)
        raise SystemExit(1) from None
    for what in ("created", "updated", "unchanged"):
        click.echo(f"{what}: " + ", ".join(f"{n} {sheet}" for sheet, n in getattr(report, what).items()))
    for issued in report.tokens:
        click.echo(f"  {issued['name']} (id {issued['user_id']}, {issued['phone'] or issued['employee_no']})"
                   f"\n    {issued['token']}")


@audit_cli.command("verify")
@click.option("--problem", "problem_id", type=click.IntRange(1, MAX_ID), help="Check this problem only.")
@click.option("--party", "party_id", type=click.IntRange(1, MAX_ID), help="Check this party only.")
@click.option("--admin", "admin_only", is_flag=True, help="Check the admin trail only.")
@click.pass_context
def audit_verify_command(ctx, problem_id, party_id, admin_only):
    """Walk every trail's hash chain, problems, parties, then the admin trail; exit 1 naming the first broken
    link."""
    if sum((problem_id is not None, party_id is not None, admin_only)) > 1:
        raise click.BadParameter("give one of --problem, --party, --admin", param_hint="--party")
    mode = sqlite_begin_mode.set("DEFERRED")  # only reads: do not hold SQLite's write lock meanwhile
    try:
        verdict = audit.verify_chains(problem_id=problem_id, party_id=party_id, admin_only=admin_only)
    finally:
        db.session.rollback()
        sqlite_begin_mode.reset(mode)
    if problem_id is not None and verdict.problems == 0:
        raise click.BadParameter(f"no problem {problem_id}", param_hint="--problem")
    if party_id is not None and verdict.parties == 0:
        raise click.BadParameter(f"no party {party_id}", param_hint="--party")
    if not verdict.intact:
        click.echo(str(verdict.broken))
        ctx.exit(1)
    click.echo(_intact(verdict, party_only=party_id is not None, admin_only=admin_only))


def _intact(verdict: audit.Verdict, *, party_only: bool, admin_only: bool = False) -> str:
    problems = f"{verdict.problems} problems, {verdict.events} events"
    parties = f"{verdict.parties} parties, {verdict.party_events} party events"
    admin = f"{verdict.admin_events} admin events"
    if party_only:
        return f"intact: {parties}"
    if admin_only:
        return f"intact: {admin}"
    return (f"intact: {problems}" + (f"; {parties}" if verdict.parties else "")
            + (f"; {admin}" if verdict.admin_events else ""))


@audit_cli.command("digest")
@click.option("--as-of", "as_of", required=True, type=click.DateTime(["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"]),
              help="The instant of an anchor (its as_of, with an offset).")
def audit_digest_command(as_of):
    """Recompute the digest of the chain heads as of an anchor's instant; compare it with the anchor sent out."""
    mode = sqlite_begin_mode.set("DEFERRED")
    try:
        heads = audit.heads_digest(as_of)
    finally:
        db.session.rollback()
        sqlite_begin_mode.reset(mode)
    click.echo(f"{heads['digest']} over {heads['problems']} trails, {heads['events']} events, as of {heads['as_of']}")


@click.command("backup")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive to write (a tar: manifest, database dump, attachments).")
@with_appcontext
def backup_command(output):
    """Write the database and the attachment store into one archive; `flask restore` reads it back."""
    from flask import current_app

    from ops import backup
    mode = sqlite_begin_mode.set("DEFERRED")  # only reads: do not hold SQLite's write lock meanwhile
    try:
        manifest = backup.create_backup(url=current_app.config["SQLALCHEMY_DATABASE_URI"], output=output,
                                        attachment_dir=current_app.config["ATTACHMENT_DIR"], now=utcnow())
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    finally:
        sqlite_begin_mode.reset(mode)
    heads = manifest["audit"]
    click.echo(f"wrote {output}: {manifest['dialect']} at migration {', '.join(manifest['revisions'])}; "
               f"audit digest {heads['digest']} over {heads['problems']} trails as of {heads['as_of']}")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@with_appcontext
def restore_command(ctx, archive):
    """Restore an archive of `flask backup` into an empty database and ATTACHMENT_DIR, then check it."""
    from flask import current_app

    from ops import backup
    try:
        manifest = backup.restore_backup(url=current_app.config["SQLALCHEMY_DATABASE_URI"], archive=archive,
                                         attachment_dir=current_app.config["ATTACHMENT_DIR"])
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    problems = backup.check_restored(manifest=manifest, storage=current_app.extensions["rectify_storage"])
    for problem in problems:
        click.echo(f"PROBLEM: {problem}")
    if problems:
        ctx.exit(1)
    click.echo(f"restored {archive} (made {manifest['created_at']}): trails intact, audit digest "
               f"{manifest['audit']['digest']} as of {manifest['audit']['as_of']} matches, attachments present")


def first_run() -> None:
    """`python app.py`: migrate, seed the demo when empty, then serve the API with the scheduler in-process."""
    from flask_migrate import upgrade

    from app import create_app
    from config.settings import embedded_config
    from ops import logs
    from schedules.runner import start_in_process
    config = embedded_config()
    app = create_app(type("FirstRun", (config,), {"SCHEDULER_ENABLED": False}))
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory))
        if seed.is_empty():
            _print_tokens(seed.seed_demo(now=utcnow(), timezone=app.config["RECTIFY_TIMEZONE"],
                                         storage=app.extensions["rectify_storage"], robot_url=_robot_url(app)))
            db.session.commit()
        else:
            click.echo("Demo already seeded. `flask --app app seed demo --reissue-tokens` prints new tokens.")
    if app.config["LOG_CONFIGURE"]:  # Alembic's env.py set the root logger to its own ini (WARN): ours again,
        # so the scheduler's jobs and the demo robot's echo show in the log
        logs.configure(fmt=app.config["LOG_FORMAT"], level=app.config["LOG_LEVEL"])
    if config.SCHEDULER_ENABLED:
        start_in_process(app)
    app.run(host=app.config["RUN_HOST"], port=app.config["RUN_PORT"], threaded=True, use_reloader=False)
