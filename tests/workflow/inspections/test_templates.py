"""Inspection templates: typed items checked when an admin saves them, answers checked against the version an
inspection names (errors name the item: items[3].value), and a version in use never changed."""

from datetime import date

import pytest

from models import InspectionTemplate
from models.base import db
from tests.conftest import NOW
from tests.gas import build_gas, passing
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.inspections import templates

TODAY = date(2026, 11, 25)


@pytest.fixture
def gas(world):
    return build_gas(world, count=1)


def gas_template() -> InspectionTemplate:
    return templates.get_template(code="gas_safety")


def test_the_default_gas_template_has_the_contracts_fields_and_realistic_limits(gas):
    items = {item["code"]: item for item in gas_template().items}
    assert list(items)[:3] == ["cylinder_storage", "cylinder_count", "cylinder_inspection_date"]
    for item in items.values():
        assert {"code", "label", "type", "required", "photo_required"} <= set(item)
    assert items["hose_replaced_on"]["max_age_days"] == 730 and items["regulator_replaced_on"]["max_age_days"] == 1825
    assert items["hose_length"]["max"] == 2 and items["cylinder_count"]["max"] == 2
    assert [c["value"] for c in items["hose_type"]["choices"] if c["pass"]] == ["metal"]
    assert items["staff_trained"]["on_fail"] == "advice" and items["leak_alarm"]["photo_required"] is True


def errors_of(results: list[dict], today: date = TODAY) -> dict:
    with pytest.raises(Invalid) as refused:
        templates.check_results(gas_template(), results, today)
    return refused.value.errors


def test_answers_that_pass_fail_or_expire(gas):
    answers = templates.check_results(gas_template(), passing(
        cylinder_count=3, hose_type="rubber", hose_replaced_on="2024-11-24", hose_length=None,
        cylinder_storage="na", leak_alarm="na"), TODAY)
    failed = {a.item["code"] for a in answers if a.failed}
    assert failed == {"cylinder_count", "hose_type", "hose_replaced_on"}
    hose = next(a for a in answers if a.item["code"] == "hose_replaced_on")
    assert hose.expires_on == date(2026, 11, 24)
    assert "hose_length" not in {a.item["code"] for a in answers}  # optional, unanswered


def test_a_hose_that_expires_today_still_passes(gas):
    answers = templates.check_results(gas_template(), passing(hose_replaced_on="2024-11-25", cylinder_storage="na",
                                                              leak_alarm="na"), TODAY)
    assert not any(a.failed for a in answers)


def test_bad_answers_are_refused_naming_the_item_by_its_place_in_the_template(gas):
    errors = errors_of(passing(cylinder_storage="maybe", cylinder_count="two", cylinder_inspection_date="2026-13-01",
                               hose_type="steel", hose_replaced_on="2026-12-01", leak_alarm="na",
                               regulator_replaced_on=None))
    assert errors == {
        "items[0].value": ["cylinder_storage: pass, fail or na"],
        "items[0].photo_ids": ["cylinder_storage: a photo is required"],
        "items[1].value": ["cylinder_count: a number"],
        "items[2].value": ["cylinder_inspection_date: a date YYYY-MM-DD"],
        "items[3].value": ["hose_type: one of metal, rubber, other"],
        "items[5].value": ["hose_replaced_on: between 1970 and the day of the inspection"],
        "items[6].value": ["regulator_replaced_on: required"],
    }


@pytest.mark.parametrize("value", [True, float("inf"), 1e12, [], {"n": 1}])
def test_a_number_item_takes_only_a_plain_finite_number(gas, value):
    assert list(errors_of(passing(cylinder_count=value, cylinder_storage="na", leak_alarm="na"))) == [
        "items[1].value"]


def test_a_photo_is_required_where_the_item_says_unless_not_applicable(gas):
    assert errors_of(passing(leak_alarm="na")) == {"items[0].photo_ids": ["cylinder_storage: a photo is required"]}


def test_unknown_and_repeated_items_are_named_by_their_place_in_the_results(gas):
    results = passing(cylinder_storage="na", leak_alarm="na") + [{"item": "ghost", "value": "pass"},
                                                                 {"item": "ventilation", "value": "pass"}]
    errors = errors_of(results)
    assert errors["results[13].item"] == ["'ghost' is not an item of gas_safety v1"]
    assert errors["results[14].item"] == ["'ventilation' is answered twice"]


def item(**fields) -> dict:
    return {"code": "alarm", "label": "报警器", "type": "check", "category": "gas_safety"} | fields


@pytest.mark.parametrize(("items", "field"), [
    ([item(type="choice", choices=[{"value": "a", "label": "A", "pass": True}])], "items[0].choices"),
    ([item(type="choice", choices=[{"value": "a", "label": "A", "pass": False},
                                   {"value": "b", "label": "B", "pass": False}])], "items[0].choices"),
    ([item(type="number")], "items[0].max"),
    ([item(type="number", min=3, max=1)], "items[0].min"),
    ([item(max_age_days=30)], "items[0].max_age_days"),
    ([item(category="nonexistent")], "items[0].category"),
    ([item(), item(label="又一个")], "items[1].code"),
    ([item(on_fail="shout")], "items[0].on_fail"),
])
def test_a_template_item_that_makes_no_sense_is_refused_naming_it(world, gas, items, field):
    with pytest.raises(Invalid) as refused:
        templates.create_template(actor=world.users["admin"], now=NOW, code="bad", name="坏", items=items)
    assert field in refused.value.errors


def test_a_version_in_use_is_not_edited_a_new_version_is_made(world, gas):
    admin, used = world.users["admin"], gas_template()
    gas.inspect(gas.restaurants[0], passing())
    stricter = [dict(spec, max=1) if spec["code"] == "cylinder_count" else spec for spec in used.items]
    new, created = templates.save_template(actor=admin, now=NOW, code="gas_safety", name=used.name, items=stricter)
    db.session.commit()
    assert created and new.version == 2
    assert templates.get_template(code="gas_safety", version=1).items[1]["max"] == 2  # as inspections saw it
    assert templates.get_template(code="gas_safety").items[1]["max"] == 1
    # An unused version is changed in place.
    again, created = templates.save_template(actor=admin, now=NOW, code="gas_safety", name="改名", items=stricter)
    assert (again.version, created, again.name) == (2, False, "改名")


def test_an_inspection_filled_against_an_older_version_is_checked_against_it(world, gas):
    used = gas_template()
    gas.inspect(gas.restaurants[0], passing())
    stricter = [dict(spec, max=1) if spec["code"] == "cylinder_count" else spec for spec in used.items]
    templates.save_template(actor=world.users["admin"], now=NOW, code="gas_safety", name=used.name, items=stricter)
    db.session.commit()
    old = gas.inspect(gas.restaurants[0], passing(cylinder_count=2), template_version=1)
    new = gas.inspect(gas.restaurants[0], passing(cylinder_count=2))
    assert (old.outcome, new.outcome) == ("pass", "rectify")


def test_only_admins_change_templates_and_a_code_is_made_once(world, gas):
    with pytest.raises(Forbidden):
        templates.save_template(actor=world.users["supervisor"], now=NOW, code="gas_safety", name="x", items=[item()])
    with pytest.raises(Conflict):
        templates.create_template(actor=world.users["admin"], now=NOW, code="gas_safety", name="x", items=[item()])
