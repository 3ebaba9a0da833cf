"""The demo's winter gas-safety campaign (config/defaults/gas_demo.toml): five restaurants of the food street
inspected three weeks ago — two pass, three are ordered to rectify; one hazard rectified through the closed
loop and re-inspected clean; a repeat offender whose re-inspection failed, now 立案处罚; one order past its
deadline (the first scheduler tick makes its re-inspection); a hose whose expiry re-check comes in a few days.
"""

import io
import tomllib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from config.settings import DEFAULTS
from models import Point, Problem, Unit, User
from models.base import db
from workflow.evidence.storage import Storage
from workflow.inspections import coverage, defaults, inspections, ladder, parties, photos
from workflow.ledger import lists
from workflow.problems import actions

PHOTO_ITEMS = ("cylinder_storage", "leak_alarm")


def seed_gas_campaign(*, now: datetime, storage: Storage | None) -> int:
    """Seed the ladder, the default templates and, with a photo store, the demo campaign; returns its list id
    (0 without a photo store: benchmarks seed the district without it)."""
    defaults.seed_inspections(now=now)
    if storage is None:
        return 0
    spec = tomllib.loads((DEFAULTS / "gas_demo.toml").read_text(encoding="utf-8"))
    demo = _Demo(spec["campaign"], now, storage)
    restaurants = [demo.register(r) for r in spec["restaurants"]]
    campaign_id = demo.open_campaign()
    demo.run(restaurants, campaign_id)
    return campaign_id


class _Demo:
    def __init__(self, campaign: dict, now: datetime, storage: Storage):
        self.spec, self.now, self.storage = campaign, now, storage
        self.supervisor = _user(campaign["supervisor"])
        self.officers = [_user(name) for name in campaign["officers"]]
        self.handler = _user(campaign["handler"])
        self.unit = _unit(campaign["lead_unit"])
        self.tz = ZoneInfo(self.unit.timezone)
        self.base = now.astimezone(self.tz).date() - timedelta(days=21)

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """Local wall time `day` days after the campaign's first day."""
        return datetime.combine(self.base + timedelta(days=day), time(hour, minute), tzinfo=self.tz)

    def register(self, spec: dict):
        """Register one of the demo's restaurants."""
        point = db.session.scalars(select(Point).where(Point.name == spec["point"])).one()
        return parties.create_party(actor=self.supervisor, now=self.at(0, 8), name=spec["name"], kind="restaurant",
                                    point_id=point.id, credit_code=spec["credit_code"], tags=self.spec["tags"],
                                    contact_name=spec["contact_name"], contact_phone=spec["contact_phone"],
                                    address=spec["address"])

    def open_campaign(self) -> int:
        """Open the campaign list and give it its scope of parties."""
        campaign = lists.create_list(actor=self.supervisor, now=self.at(0, 8), lead_unit_id=self.unit.id,
                                     kind="campaign", name=self.spec["name"],
                                     unit_ids=[_unit(name).id for name in self.spec["cooperating"]],
                                     starts_on=self.base, ends_on=self.base + timedelta(days=60),
                                     description="对辖区瓶装液化石油气餐饮用户逐户检查，隐患当场责令限期整改，逾期复查。")
        coverage.set_scope(actor=self.supervisor, now=self.at(0, 8), list_id=campaign.id, template_code="gas_safety",
                           tags=self.spec["tags"])
        return campaign.id

    def inspect(self, party, officer: User, when: datetime, campaign_id: int, **changes):
        """Record an inspection at `when`, photos taken for the items that need them."""
        results = [self._with_photo(r, officer, when) for r in _answers(self.now.astimezone(self.tz).date(), **changes)]
        inspection, _ = inspections.record_inspection(actor=officer, now=when, party_id=party.id,
                                                      template_code="gas_safety", results=results,
                                                      list_id=campaign_id, at=when)
        return inspection

    def _with_photo(self, result: dict, officer: User, when: datetime) -> dict:
        if result["item"] not in PHOTO_ITEMS:
            return result
        photo, _ = photos.add_photo(actor=officer, now=when, data=_photo_bytes(result["item"]), storage=self.storage,
                                    max_bytes=10 * 2**20)
        return result | {"photo_ids": [photo.id]}

    def run(self, restaurants: list, campaign_id: int) -> None:
        """Walk the campaign: first inspections, a rectification, re-inspections, a case."""
        li, sun = self.officers
        bbq, sichuan, noodles, dumplings, fast_food = restaurants
        self.inspect(bbq, li, self.at(0, 10), campaign_id, hose_due_in_days=33)
        self.inspect(sichuan, li, self.at(0, 10, 30), campaign_id)
        rubber = self.inspect(noodles, li, self.at(0, 11), campaign_id, hose_type="rubber")
        self.inspect(dumplings, sun, self.at(0, 14), campaign_id, leak_alarm="fail")
        self.inspect(fast_food, sun, self.at(0, 15), campaign_id, cylinder_storage="fail")
        self.rectify(inspections.outcome_of(rubber)["problem_ids"][0])
        self.inspect(noodles, li, self.at(10, 10), campaign_id)  # re-inspected after its deadline: complied
        self.inspect(dumplings, sun, self.at(12, 10), campaign_id, leak_alarm="fail")  # failed again
        ladder.take_step(actor=self.supervisor, now=self.at(12, 16), party_id=dumplings.id, step="case",
                         case_number=f"东综执罚〔{self.at(12, 16).year}〕第0015号", penalty="罚款人民币三千元",
                         penalty_amount=3000.0, note="复查仍未安装可燃气体泄漏报警器，立案处罚")

    def rectify(self, problem_id: int) -> None:
        """The rubber hose through the closed loop: dispatched, accepted, replaced, verified, closed."""
        steps = [(self.supervisor, "assign", self.at(1, 9), {"unit_id": _unit(self.spec["handler_unit"]).id,
                                                              "handler_id": self.handler.id}),
                 (self.handler, "accept", self.at(1, 9, 10), {}),
                 (self.handler, "submit", self.at(2, 15), {"note": "已督促商户更换为金属波纹管"}),
                 (self.officers[0], "verify", self.at(3, 10), {"note": "现场核查：已使用金属波纹管"}),
                 (self.supervisor, "close", self.at(3, 11), {})]
        for actor, action, when, fields in steps:
            version = db.session.get(Problem, problem_id).version
            actions.apply_action(actor=actor, now=when, problem_id=problem_id, action=action,
                                 expected_version=version, **fields)


def _answers(today: date, *, hose_due_in_days: int | None = None, **changes) -> list[dict]:
    hose = today - timedelta(days=730 - hose_due_in_days) if hose_due_in_days else today - timedelta(days=200)
    values = {"cylinder_storage": "pass", "cylinder_count": 2, "cylinder_inspection_date": "2025-03-18",
              "hose_type": "metal", "hose_length": 1.5, "hose_replaced_on": hose.isoformat(),
              "regulator_replaced_on": "2023-05-20", "leak_alarm": "pass", "shutoff_valve": "pass",
              "ventilation": "pass", "fire_extinguisher": "pass", "staff_trained": "pass",
              "supplier_ledger": "pass"} | changes
    return [{"item": item, "value": value} for item, value in values.items()]


def _photo_bytes(item: str) -> bytes:
    """A small JPEG standing in for the photo an officer takes of the item."""
    colour = (180, 60, 40) if item == "leak_alarm" else (90, 110, 140)
    out = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(out, "JPEG")
    return out.getvalue()


def _user(name: str) -> User:
    return db.session.scalars(select(User).where(User.name == name)).one()


def _unit(name: str) -> Unit:
    return db.session.scalars(select(Unit).where(Unit.name == name)).one()

