"""The gas-safety scene the inspection tests share: the gas category, the default ladder and template, a
campaign and restaurants in the World's east grid, valid credit codes, answers that pass."""

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from models import Party
from models.base import db
from tests.api.test_evidence import photo
from tests.factories import WORKING, World
from workflow import org
from workflow.inspections import coverage, credit_code, defaults, inspections, parties, photos
from workflow.ledger import lists

PHOTO = photo()
PHONES = ["13800000001", "13900000002", "13700000003", "13600000004", "13500000005"]
NAMES = ["老王烧烤", "川味小馆", "兰州拉面", "东关饺子馆", "好再来快餐"]


def valid_code(body: str) -> str:
    """A credit code: 17 characters and their check character."""
    return body + credit_code.check_character(body)


def passing(**changes) -> list[dict]:
    """Answers to every gas_safety item that pass; `changes` replace values (None drops an answer)."""
    values = {"cylinder_storage": "pass", "cylinder_count": 1, "cylinder_inspection_date": "2025-06-01",
              "hose_type": "metal", "hose_length": 1.2, "hose_replaced_on": "2026-01-10",
              "regulator_replaced_on": "2024-03-01", "leak_alarm": "pass", "shutoff_valve": "pass",
              "ventilation": "pass", "fire_extinguisher": "pass", "staff_trained": "pass",
              "supplier_ledger": "pass"} | changes
    return [{"item": item, "value": value} for item, value in values.items() if value is not None]


@dataclass
class Gas:
    world: World
    restaurants: list[Party] = field(default_factory=list)
    campaign_id: int | None = None

    def photo_ids(self, by: str = "officer", count: int = 2) -> list[int]:
        """Fresh photos uploaded by `by`, for the items that need one."""
        made = [photos.add_photo(actor=self.world.users[by], now=self.world.now, data=PHOTO,
                                 storage=current_app.extensions["rectify_storage"], max_bytes=10 * 2**20)[0].id
                for _ in range(count)]
        db.session.commit()
        return made

    def with_photos(self, results: list[dict], by: str = "officer") -> list[dict]:
        """The results with a photo on each item that requires one (cylinder storage, leak alarm)."""
        ids = iter(self.photo_ids(by))
        return [r | {"photo_ids": [next(ids)]} if r["item"] in ("cylinder_storage", "leak_alarm") else r
                for r in results]

    def inspect(self, party: Party, results: list[dict], *, by: str = "officer", at: datetime | None = None,
                campaign: bool = True, **extra):
        """Record an inspection as a request would (photos uploaded first) and commit."""
        inspection, _ = inspections.record_inspection(
            actor=self.world.users[by], now=at or self.world.now, party_id=party.id, template_code="gas_safety",
            results=self.with_photos(results, by), list_id=self.campaign_id if campaign else None, at=at, **extra)
        db.session.commit()
        return inspection


def build_gas(world: World, *, count: int = 5) -> Gas:
    """The gas category, ladder and template; `count` restaurants at the east market; a campaign over them."""
    now = world.now
    org.create_category(actor=None, now=now, code="gas_safety", name="燃气安全隐患", name_en="Bottled-gas hazard",
                        limits=WORKING)
    defaults.seed_inspections(now=now)
    gas = Gas(world)
    for index in range(count):
        gas.restaurants.append(parties.create_party(
            actor=world.users["east_supervisor"], now=now, name=NAMES[index % 5] + ("" if index < 5 else str(index)),
            kind="restaurant", point_id=world.points["market"].id, credit_code=valid_code(f"9137130{index:09d}M"),
            contact_name="王老板", contact_phone=PHONES[index % 5], tags=["bottled_gas"],
            address=f"东关路 {index + 1} 号"))
    campaign = lists.create_list(actor=world.users["east_supervisor"], now=now, lead_unit_id=world.units["east"].id,
                                 kind="campaign", name="冬季燃气安全专项检查")
    coverage.set_scope(actor=world.users["east_supervisor"], now=now, list_id=campaign.id,
                       template_code="gas_safety", tags=["bottled_gas"])
    gas.campaign_id = campaign.id
    db.session.commit()
    return gas
