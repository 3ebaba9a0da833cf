"""Inspection templates: versioned checklists of typed items, and checking an inspection's answers against one.

An item: `code, label, type (check|choice|number|date), required, photo_required`, and by type `choices`
[{value, label, pass}], `min`/`max` (a number outside fails), `max_age_days` (a date older fails; an expiry
re-check comes `recheck_days_before` it, 30 by default). What a failure raises: `category`, `severity`,
`rectify_days` (working days), `on_fail` (`order`: an order to rectify; `advice`: 劝导 unless repeated) and
the `requirement` an order writes down. A version that an inspection used is never changed: saving it makes
the next version.
"""

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from models import Category, Inspection, InspectionTemplate, User
from models.base import db
from models.enums import ItemType, Role, Severity
from workflow.errors import Conflict, Forbidden, Invalid, NotFound

CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CHECK_VALUES = ("pass", "fail", "na")
ON_FAIL = ("order", "advice")
DEFAULT_RECHECK_DAYS = 30
LARGEST = 1e9
ITEM_DEFAULTS = {"required": True, "photo_required": False, "category": "gas_safety", "severity": "normal",
                 "rectify_days": 3, "on_fail": "order"}


# --- reading ---------------------------------------------------------------------------------

def latest_versions():
    """The statement for the newest version of every template, by code."""
    newest = (select(InspectionTemplate.code, func.max(InspectionTemplate.version).label("version"))
              .group_by(InspectionTemplate.code).subquery())
    return (select(InspectionTemplate)
            .join(newest, (newest.c.code == InspectionTemplate.code) & (newest.c.version == InspectionTemplate.version))
            .order_by(InspectionTemplate.code))


def list_latest() -> list[InspectionTemplate]:
    """The newest version of every template, by code."""
    return list(db.session.scalars(latest_versions()))


def by_id(template_id: int) -> InspectionTemplate:
    """A template version by its id."""
    return db.session.get(InspectionTemplate, template_id)


def get_template(*, code: str, version: int | None = None, field: str | None = None) -> InspectionTemplate:
    """A version of a template (the newest by default). Unknown: NotFound, or Invalid naming `field`."""
    stmt = select(InspectionTemplate).where(InspectionTemplate.code == code)
    stmt = stmt.where(InspectionTemplate.version == version) if version is not None else \
        stmt.order_by(InspectionTemplate.version.desc())
    template = db.session.scalars(stmt.limit(1)).first()
    if template is None:
        what = f"template {code!r}" + (f" version {version}" if version is not None else "")
        if field is not None:
            raise Invalid(f"unknown {what}", errors={field: [f"unknown {what}"]})
        raise NotFound(f"{what} not found")
    return template


def versions(*, code: str) -> list[InspectionTemplate]:
    """Every version of a template, oldest first (NotFound for an unknown code)."""
    found = list(db.session.scalars(select(InspectionTemplate).where(InspectionTemplate.code == code)
                                    .order_by(InspectionTemplate.version)))
    if not found:
        raise NotFound(f"template {code!r} not found")
    return found


def in_use(template: InspectionTemplate) -> bool:
    """Whether an inspection used this version (then it is never changed)."""
    return db.session.scalar(select(Inspection.id).where(Inspection.template_id == template.id).limit(1)) is not None


def item(template: InspectionTemplate, code: str) -> dict | None:
    """The item of a version with this code, or None."""
    return next((spec for spec in template.items if spec["code"] == code), None)


# --- writing (admins) ----------------------------------------------------------------------------

def create_template(*, actor: User | None, now: datetime, code: str, name: str,
                    items: list[dict]) -> InspectionTemplate:
    """Make version 1 of a new template."""
    _require_admin(actor)
    if not CODE.match(code):
        raise Invalid("a template code is lower-case letters, digits and _", errors={"code": ["a-z, 0-9, _"]})
    if db.session.scalar(select(InspectionTemplate.id).where(InspectionTemplate.code == code).limit(1)):
        raise Conflict(f"template {code!r} exists; PUT a new version", errors={"code": ["already exists"]})
    return _add_version(actor, now, code, 1, name, checked_items(items))


def save_template(*, actor: User | None, now: datetime, code: str, name: str, items: list[dict]) -> tuple[
        InspectionTemplate, bool]:
    """Change a template: the newest version in place while no inspection used it, otherwise as the next
    version (the used one stays as it was). Returns the version and whether it is new."""
    _require_admin(actor)
    current = get_template(code=code)
    items = checked_items(items)
    if not in_use(current):
        current.name, current.items = name, items
        db.session.flush()
        return current, False
    return _add_version(actor, now, code, current.version + 1, name, items), True


def _add_version(actor: User | None, now: datetime, code: str, version: int, name: str,
                 items: list[dict]) -> InspectionTemplate:
    template = InspectionTemplate(code=code, version=version, name=name, items=items,
                                  created_by_id=actor.id if actor else None, created_at=now)
    db.session.add(template)
    db.session.flush()
    return template


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin changes inspection templates")


def checked_items(items: list[dict]) -> list[dict]:
    """The items with their defaults filled in; Invalid naming `items[i].<field>` for each flaw."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    categories = set(db.session.scalars(select(Category.code).where(Category.active.is_(True))))
    filled = []
    for index, given in enumerate(items):
        spec = ITEM_DEFAULTS | given
        for field, message in _item_flaws(spec, seen, categories):
            errors.setdefault(f"items[{index}].{field}", []).append(message)
        seen.add(spec.get("code"))
        filled.append(spec)
    if not items:
        errors["items"] = ["a template needs at least one item"]
    if errors:
        raise Invalid("the template's items are not valid", errors=errors)
    return filled


def _item_flaws(spec: dict, seen: set[str], categories: set[str]):
    """(field, message) for what is wrong with one item."""
    kind = spec.get("type")
    if not CODE.match(spec.get("code") or ""):
        yield "code", "lower-case letters, digits and _, starting with a letter"
    elif spec["code"] in seen:
        yield "code", "given twice"
    if kind not in set(ItemType):
        yield "type", "check, choice, number or date"
    if spec["category"] not in categories:
        yield "category", f"unknown category {spec['category']!r}"
    if spec["severity"] not in set(Severity):
        yield "severity", "low, normal, high or urgent"
    if spec["on_fail"] not in ON_FAIL:
        yield "on_fail", "order or advice"
    yield from _type_flaws(kind, spec)


def _type_flaws(kind: str, spec: dict):
    """What one type of item needs, and the fields that belong to another type."""
    if kind == ItemType.CHOICE:
        yield from _choice_flaws(spec.get("choices") or [])
    if kind == ItemType.NUMBER:
        yield from _number_flaws(spec.get("min"), spec.get("max"))
    for field, owner in (("choices", ItemType.CHOICE), ("min", ItemType.NUMBER), ("max", ItemType.NUMBER),
                         ("max_age_days", ItemType.DATE)):
        if kind != owner and spec.get(field) is not None:
            yield field, f"only {owner} items have {field}"


def _choice_flaws(choices: list[dict]):
    values = [choice.get("value") for choice in choices]
    if len(values) < 2 or len(set(values)) != len(values):
        yield "choices", "at least two choices with distinct values"
    elif not any(choice.get("pass") for choice in choices):
        yield "choices", "at least one choice must pass"


def _number_flaws(low, high):
    if low is None and high is None:
        yield "max", "a number item needs a min or a max (the limits outside which it fails)"
    elif low is not None and high is not None and low > high:
        yield "min", "min is above max"


# --- checking an inspection's answers ---------------------------------------------------------------

@dataclass
class Answer:
    """One item's answer, checked: `failed` by the template's limits; `expires_on` for dated items."""

    item: dict
    value: object
    note: str | None
    photo_ids: list[int]
    failed: bool
    expires_on: date | None = None

    def stored(self) -> dict:
        """The answer as the inspection keeps it."""
        return {"item": self.item["code"], "value": self.value, "note": self.note, "photo_ids": self.photo_ids,
                "failed": self.failed}


def check_results(template: InspectionTemplate, results: list[dict], today: date) -> list[Answer]:
    """The answers in the template's item order; Invalid naming `items[i].value` (i: the item's place in the
    template) or `results[j].item` for every flaw at once."""
    errors: dict[str, list[str]] = {}
    given = _by_item(template, results, errors)
    answers = []
    for index, spec in enumerate(template.items):
        result = given.get(spec["code"])
        flaws, answer = _answer(spec, result, today)
        for field, message in flaws:
            errors.setdefault(f"items[{index}].{field}", []).append(f"{spec['code']}: {message}")
        if answer is not None:
            answers.append(answer)
    if errors:
        raise Invalid("some results do not fit the template", errors=errors)
    return answers


def _by_item(template: InspectionTemplate, results: list[dict], errors: dict) -> dict[str, dict]:
    codes = {spec["code"] for spec in template.items}
    given: dict[str, dict] = {}
    for index, result in enumerate(results):
        code = result["item"]
        if code not in codes:
            errors[f"results[{index}].item"] = [f"{code!r} is not an item of {template.code} v{template.version}"]
        elif code in given:
            errors[f"results[{index}].item"] = [f"{code!r} is answered twice"]
        else:
            given[code] = result
    return given


def _answer(spec: dict, result: dict | None, today: date) -> tuple[list, Answer | None]:
    """(flaws, answer) for one item: unanswered is a flaw only when the item is required."""
    value = result.get("value") if result else None
    if value is None:
        return ([("value", "required")] if spec["required"] else []), None
    flaw, failed, expires_on = VALUE_CHECKS[spec["type"]](spec, value, today)
    flaws = [("value", flaw)] if flaw else []
    photos = list(dict.fromkeys(result.get("photo_ids") or []))
    if spec["photo_required"] and value != "na" and not photos:
        flaws.append(("photo_ids", "a photo is required"))
    return flaws, Answer(spec, value, result.get("note"), photos, failed, expires_on)


def _check(spec: dict, value, today: date):
    if value not in CHECK_VALUES:
        return "pass, fail or na", False, None
    return None, value == "fail", None


def _choice(spec: dict, value, today: date):
    choice = next((c for c in spec["choices"] if c["value"] == value), None)
    if choice is None:
        return "one of " + ", ".join(str(c["value"]) for c in spec["choices"]), False, None
    return None, not choice.get("pass"), None


def _number(spec: dict, value, today: date):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or abs(value) > LARGEST:
        return "a number", False, None
    low, high = spec.get("min"), spec.get("max")
    return None, (low is not None and value < low) or (high is not None and value > high), None


def _date(spec: dict, value, today: date):
    if not isinstance(value, str) or not DATE.match(value):
        return "a date YYYY-MM-DD", False, None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return "a date YYYY-MM-DD", False, None
    if day > today or day.year < 1970:
        return "between 1970 and the day of the inspection", False, None
    if spec.get("max_age_days") is None:
        return None, False, None
    expires_on = day + timedelta(days=spec["max_age_days"])
    return None, expires_on < today, expires_on


VALUE_CHECKS = {ItemType.CHECK: _check, ItemType.CHOICE: _choice, ItemType.NUMBER: _number, ItemType.DATE: _date}


def display(spec: dict, value) -> str:
    """An answer as a person reads it (on an order, in the ledger)."""
    if value is None:
        return ""
    if spec["type"] == ItemType.CHECK:
        return {"pass": "合格", "fail": "不合格", "na": "不适用"}[value]
    if spec["type"] == ItemType.CHOICE:
        return next((c.get("label") or c["value"] for c in spec["choices"] if c["value"] == value), str(value))
    if spec["type"] == ItemType.NUMBER:
        return f"{value:g}{spec.get('unit') or ''}"
    return str(value)
