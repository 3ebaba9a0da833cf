"""A schema's plan (api/dumping.py) dumps what the schema dumps; the ledger's items are what GET /problems/<id> says."""

import enum
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump

from api.dumping import Plan
from api.fields import Computed, ComputedMethod
from models.base import db


class Colour(enum.StrEnum):
    RED = "red"


class Kitchen(Schema):
    """Every kind of field a plan reads, with values of the field's JSON type and of other types."""

    id = fields.Integer()
    count = fields.Integer(allow_none=True)
    name = fields.String()
    colour = fields.String()
    flag = fields.Boolean()
    ratio = fields.Float()
    at = fields.DateTime()
    on = fields.Date(allow_none=True)
    renamed = fields.Integer(attribute="source_value")
    keyed = fields.String(data_key="key-ed")
    nested = fields.Nested(lambda: Inner, allow_none=True)
    listed = fields.List(fields.Integer())
    mapping = fields.Dict()
    computed = Computed(lambda row: row.id * 2, returns=fields.Integer())
    method = ComputedMethod("_twice", returns=fields.String())
    dotted = fields.String(attribute="nested.label", allow_none=True)

    def _twice(self, row) -> str:
        return row.name * 2


class Inner(Schema):
    label = fields.String()


def _rows() -> list:
    at = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    plain = dict(id=1, count=None, name="早市", colour="red", flag=True, ratio=1.5, at=at, on=date(2026, 1, 2),
                 source_value=7, keyed="k", nested=SimpleNamespace(label="内"), listed=[1, 2], mapping={"a": 1})
    odd = plain | dict(id=True, count="12", name=Colour.RED, colour=Colour.RED, flag=1, ratio=3, on=None,
                       source_value=8.0, nested=None, listed=(3, 4), mapping={})
    return [SimpleNamespace(**plain), SimpleNamespace(**odd), SimpleNamespace(**plain | {"at": at + timedelta(0.5)})]


def test_a_plan_dumps_what_the_schema_dumps_field_by_field_and_in_order():
    schema = Kitchen()
    plan = Plan(schema)
    for row in _rows():
        expected = schema.dump(row)
        got = plan.dump(row)
        assert got == expected
        assert list(got) == list(expected)
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert plan.dump_many(_rows()) == schema.dump(_rows(), many=True)


def test_a_schema_with_dump_hooks_is_refused():
    class Hooked(Schema):
        id = fields.Integer()

        @post_dump
        def _add(self, data, **kwargs):
            return data | {"extra": 1}

    with pytest.raises(ValueError, match="dump hooks"):
        Plan(Hooked())


# Problems in every state, with what makes rows differ: a pending extension, an outside reporter's contact, a
# callback, a suspension, an overdue clock, a report resolved on site.
def _ledger(world) -> list[int]:
    made = [world.to_state(state).id for state in ("reported", "assigned", "rectifying", "verifying", "verified",
                                                   "closed", "cancelled", "suspended")]
    pending = world.to_state("rectifying")
    world.act(pending, "request_extension", by="handler", until=world.now + timedelta(days=20), note="pumps")
    hotline = world.report(by="hotline", source="hotline", external_ref="12345-1",
                           contact={"contact_name": "张三丰", "contact_phone": "13812345678"})
    weeks_ago = world.now - timedelta(days=40)
    late = world.walk(world.report(at=weeks_ago), ("assign", "supervisor", {"unit_id": world.units["squad"].id}),
                      ("accept", "handler", {}), at=weeks_ago)
    on_site = world.report(resolved_on_site=True)
    db.session.commit()
    return [*made, pending.id, hotline.id, late.id, on_site.id]


@pytest.mark.parametrize("by", ["admin", "supervisor", "east_supervisor", "officer", "handler", "hotline"])
def test_every_ledger_item_is_what_get_problem_answers_for_it(client, world, by):
    made = _ledger(world)
    page = client.get("/api/v1/problems", query_string={"limit": 200}, headers=world.auth(by))
    assert page.status_code == 200
    items = page.json["items"]
    assert items, "the caller sees some of them"
    assert set(made) >= {item["id"] for item in items}
    for item in items:
        one = client.get(f"/api/v1/problems/{item['id']}", headers=world.auth(by))
        assert one.status_code == 200
        assert item == one.json
        assert list(item) == list(one.json)
    if by == "supervisor":  # the rows differ where they should
        assert {item["light"] for item in items} >= {"red", "green", None}
        assert any(item["contact"] for item in items) and any(item["extension"] for item in items)


def test_ledger_items_follow_the_callers_language(client, world):
    _ledger(world)
    for language in ("en", "zh-CN"):
        headers = world.auth("supervisor", **{"Accept-Language": language})
        item = client.get("/api/v1/problems", headers=headers).json["items"][0]
        assert item == client.get(f"/api/v1/problems/{item['id']}", headers=headers).json
