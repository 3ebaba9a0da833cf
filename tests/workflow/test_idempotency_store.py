"""Storing an Idempotency-Key answer is one upsert: an expired record of the key gives way, a live one stays."""

from sqlalchemy import select

from models import IdempotencyRecord
from models.base import db
from tests.conftest import NOW
from workflow import idempotency


def store(world, body: str, now) -> bool:
    return idempotency.store(user_id=world.users["officer"].id, key="k-1", request_hash="h", status=201,
                             body=body, headers={"ETag": '"1"'}, now=now)


def records(world) -> list[tuple[str, object]]:
    stmt = select(IdempotencyRecord.body, IdempotencyRecord.expires_at).where(
        IdempotencyRecord.user_id == world.users["officer"].id)
    return [tuple(row) for row in db.session.execute(stmt)]


def test_storing_a_key_in_use_keeps_the_first_answer_and_says_so(world):
    assert store(world, "first", NOW) is True
    assert store(world, "second", NOW + idempotency.KEEP / 2) is False
    assert records(world) == [("first", NOW + idempotency.KEEP)]


def test_an_expired_record_of_the_key_gives_way_to_the_new_answer(world):
    assert store(world, "first", NOW) is True
    later = NOW + idempotency.KEEP
    assert store(world, "second", later) is True
    assert records(world) == [("second", later + idempotency.KEEP)]
    found = idempotency.find(user_id=world.users["officer"].id, key="k-1", request_hash="h", now=later)
    assert found is not None and found.body == "second"
