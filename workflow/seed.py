"""Seed data from config/defaults: the categories and a realistic demo district."""

import secrets
from datetime import datetime
from functools import partial

from sqlalchemy import select

from models import Category, EscalationRule, Unit, User
from models.base import db
from workflow import calendar, defaults, org, passwords
from workflow.auth import issue_token, revoke_all
from workflow.escalation import rules
from workflow.evidence.storage import Storage
from workflow.inspections import demo as gas_demo
from workflow.ledger import campaign_demo
from workflow.patrols import plans


def seed_categories(*, now: datetime) -> int:
    """Add the default categories that do not exist yet."""
    return defaults.add_missing(defaults.load("categories.toml")["categories"],
                                db.session.scalars(select(Category.code)),
                                partial(org.create_category, actor=None, now=now))


def seed_escalation_rules(*, now: datetime) -> int:
    """Add the default ladder when there are no rules yet."""
    if db.session.scalars(select(EscalationRule.id).limit(1)).first() is not None:
        return 0
    specs = defaults.load("escalation.toml")["rules"]
    for spec in specs:
        rules.create_rule(actor=None, now=now, **spec)
    return len(specs)


def is_empty() -> bool:
    return db.session.scalars(select(Unit.id).limit(1)).first() is None


def seed_demo(*, now: datetime, timezone: str, storage: Storage | None = None) -> list[tuple[User, str]]:
    """Build the demo district on an empty database; returns each demo user with their token. With a photo
    `storage`, the gas-safety campaign, the 五星支部 drive and the 全城清洁 campaign too."""
    spec = defaults.load("demo.toml")
    calendar.seed_calendar(db.session, years=calendar.default_years(), now=now)
    units = _seed_units(spec["units"], now, timezone)
    grids = {g["key"]: org.create_grid(actor=None, now=now, name=g["name"], unit_id=units[g["unit"]].id)
             for g in spec["grids"]}
    points = {p["name"]: org.create_point(actor=None, now=now, name=p["name"], grid_id=grids[p["grid"]].id,
                                          lat=p["lat"], lng=p["lng"], address=p.get("address"))
              for p in spec["points"]}
    seed_categories(now=now)
    seed_escalation_rules(now=now)
    issued = _seed_users(spec["users"], now, units, grids)
    for user, _ in issued:  # the console's demo sign-ins: a random password, printed once with the token
        if user.login:
            user.demo_password = secrets.token_urlsafe(12)
            passwords.set_password(actor=None, now=now, user_id=user.id, password=user.demo_password)
    people = {u["key"]: user.id for u, (user, _) in zip(spec["users"], issued, strict=True) if "key" in u}
    for plan in spec["plans"]:
        _seed_plan(plan, now, units, grids, points, people)
    gas_demo.seed_gas_campaign(now=now, storage=storage)
    if storage is not None:  # benchmarks seed the district without them: they write problems with their own ids
        campaign_demo.seed_campaigns(now=now, storage=storage)
    return issued


def _seed_units(specs: list[dict], now: datetime, timezone: str) -> dict[str, Unit]:
    units = {}
    for u in specs:  # parents first, as the file lists them
        units[u["key"]] = org.create_unit(actor=None, now=now, name=u["name"], kind=u["kind"],
                                          code=u.get("code"), default_timezone=timezone,
                                          parent_id=units[u["parent"]].id if "parent" in u else None)
    return units


def _seed_users(specs: list[dict], now: datetime, units: dict, grids: dict) -> list[tuple[User, str]]:
    return [org.create_user(actor=None, now=now, name=u["name"], role=u["role"], login=u.get("login"),
                            unit_id=units[u["unit"]].id if "unit" in u else None,
                            grid_ids=[grids[key].id for key in u.get("grids", [])])
            for u in specs]


def _seed_plan(p: dict, now: datetime, units: dict, grids: dict, points: dict, people: dict) -> None:
    plans.create_plan(
        actor=None, now=now, unit_id=units[p["unit"]].id, name=p["name"], mode=p["mode"], days=p["days"],
        windows=p["windows"], officer_ids=[people[key] for key in p["team"]],
        grid_id=grids[p["grid"]].id if "grid" in p else None, sample_size=p.get("sample_size"),
        active_from=p["active_from"],
        point_ids=[points[name].id for name in p["points"]] if "points" in p else None)


def reissue_tokens(users: list[User], *, now: datetime) -> list[tuple[User, str]]:
    """Give each user a fresh token (their old ones are revoked)."""
    issued = []
    for user in users:
        revoke_all(user=user, now=now)
        _, token = issue_token(user=user, now=now, label="demo")
        issued.append((user, token))
    return issued
