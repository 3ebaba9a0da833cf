"""The demo's campaigns (config/defaults/campaign_demo.toml): the 东关 street office's 五星支部 creation drive with
five stars, each led by its own unit, and a dozen shortfalls — some without a place — at every stage of the loop;
and the district's city-wide cleaning campaign (全城清洁) with three activity days."""

import io
import tomllib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from config.settings import DEFAULTS
from models import Point, Problem, Unit, User
from models.base import db
from workflow.evidence.storage import Storage
from workflow.inspections import photos
from workflow.ledger import activities, lists
from workflow.problems import actions, reporting

# Who dispatches each shortfall: its own unit when it has no place, else the unit that clears that kind of thing.
DISPATCH = {"sanitation": "区环卫所", "road_occupation": "东关执法中队", "shopfront_extension": "东关执法中队"}


def seed_campaigns(*, now: datetime, storage: Storage) -> dict[str, int]:
    """Seed the drive and the cleaning campaign; returns their list ids."""
    spec = tomllib.loads((DEFAULTS / "campaign_demo.toml").read_text(encoding="utf-8"))
    return {"drive": _seed_drive(spec["drive"], now), "cleaning": _seed_cleaning(spec["cleaning"], now, storage)}


def _seed_drive(spec: dict, now: datetime) -> int:
    supervisor = _user(spec["supervisor"])
    drive = _open(spec, supervisor, now)
    stars = {star["key"]: lists.create_list(
        actor=supervisor, now=drive.created_at, kind="star", name=star["name"], parent_id=drive.id,
        lead_unit_id=_unit(star["lead_unit"]).id, unit_ids=[_unit(name).id for name in star["cooperating"]],
        starts_on=drive.starts_on, target_on=drive.starts_on + timedelta(days=spec["starts_days_ago"]
                                                                         + star["target_in_days"]))
        for star in spec["stars"]}
    for shortfall in spec["shortfalls"]:
        problem_id = _shortfall(shortfall, supervisor, _user(spec["officer"]), now)
        for key in shortfall["stars"]:
            lists.add_problems(actor=supervisor, now=now, list_id=stars[key].id, problem_ids=[problem_id])
    return drive.id


def _open(spec: dict, supervisor: User, now: datetime):
    today = _today(now, _unit(spec["lead_unit"]))
    return lists.create_list(actor=supervisor, now=now - timedelta(days=spec["starts_days_ago"]), kind=spec["kind"],
                             name=spec["name"], lead_unit_id=_unit(spec["lead_unit"]).id,
                             unit_ids=[_unit(name).id for name in spec["cooperating"]],
                             starts_on=today - timedelta(days=spec["starts_days_ago"]),
                             ends_on=today + timedelta(days=spec["ends_in_days"]), description=spec.get("description"))


def _shortfall(spec: dict, supervisor: User, officer: User, now: datetime) -> int:
    """Report one shortfall `days_ago` and walk it as far as `to`, a few hours per step."""
    at = now - timedelta(days=spec["days_ago"])
    place = {"unit_id": _unit(spec["unit"]).id} if "unit" in spec else {
        "point_id": db.session.scalars(select(Point.id).where(Point.name == spec["point"])).one()}
    problem, _ = reporting.report_problem(actor=supervisor, now=at, category_code=spec["category"],
                                          title=spec["title"], **place)
    unit = _unit(spec.get("unit") or DISPATCH[spec["category"]])
    handler = db.session.scalars(select(User).where(User.unit_id == unit.id, User.role == "handler")).first()
    steps = [(supervisor, "assign", {"unit_id": unit.id}), (handler, "accept", {}),
             (handler, "submit", {"note": "已整改到位"}), (officer, "verify", {"note": "现场核查属实"}),
             (supervisor, "close", {})]
    count = {"reported": 0, "assigned": 1, "rectifying": 2, "closed": 5}[spec["to"]]
    for index, (actor, action, fields) in enumerate(steps[:count], 1):
        actions.apply_action(actor=actor, now=at + timedelta(hours=2 * index), problem_id=problem.id,
                             action=action, expected_version=db.session.get(Problem, problem.id).version, **fields)
    return problem.id


def _seed_cleaning(spec: dict, now: datetime, storage: Storage) -> int:
    campaign = _open(spec, _user(spec["supervisor"]), now)
    for day in spec["activities"]:
        unit, recorder = _unit(day["unit"]), _user(day["recorder"])
        tz = ZoneInfo(unit.timezone)
        date = _today(now, unit) - timedelta(days=day["days_ago"])
        starts, ends = (datetime.combine(date, time.fromisoformat(day[name]), tzinfo=tz) for name in ("start", "end"))
        photo_ids = [_photo(recorder, starts, storage)] if day.get("photo") else []
        point = db.session.scalars(select(Point.id).where(Point.name == day["point"])).one() if "point" in day else None
        activities.record_activity(
            actor=recorder, now=ends, list_id=campaign.id, kind=day["kind"], starts_at=starts, ends_at=ends,
            unit_id=unit.id, point_id=point, place=day.get("place"), participants=day["participants"],
            volunteers=day["volunteers"], reached=day["reached"], materials=day["materials"], note=day["note"],
            photo_ids=photo_ids)
    return campaign.id


def _photo(recorder: User, at: datetime, storage: Storage) -> int:
    """A small JPEG standing in for the photo of the day."""
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (60, 140, 80)).save(out, "JPEG")
    photo, _ = photos.add_photo(actor=recorder, now=at, data=out.getvalue(), storage=storage, max_bytes=1 << 20)
    return photo.id


def _today(now: datetime, unit: Unit):
    return now.astimezone(ZoneInfo(unit.timezone)).date()


def _user(name: str) -> User:
    return db.session.scalars(select(User).where(User.name == name)).one()


def _unit(name: str) -> Unit:
    return db.session.scalars(select(Unit).where(Unit.name == name)).one()
