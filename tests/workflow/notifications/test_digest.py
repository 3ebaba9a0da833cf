"""The daily digest: 08:00 local on working days, once per supervisor per day, and once per unit to its channels."""

from datetime import timedelta

from sqlalchemy import select

from models import Notification, OutboxMessage, User
from models.base import db
from tests.conftest import NOW
from workflow.notifications import delivery, digest, webhooks

EIGHT = NOW - timedelta(hours=2)  # Wednesday 2026-11-25 08:00 in Shanghai


def digests() -> dict[str, str]:
    stmt = select(User.name, Notification.body).join(User, User.id == Notification.user_id) \
        .where(Notification.type == "digest")
    return dict(db.session.execute(stmt).all())


def test_each_supervisor_gets_the_figures_of_their_subtree_at_eight_once(world):
    world.report()  # awaiting dispatch at the east market
    world.to_state("verified")
    assert digest.send_digests(now=EIGHT - timedelta(minutes=1)) == 0
    assert digest.send_digests(now=EIGHT) == 3
    db.session.commit()
    assert digest.send_digests(now=EIGHT + timedelta(minutes=5)) == 0  # a second tick, or a second scheduler
    told = digests()
    assert set(told) == {"supervisor", "east_supervisor", "west_supervisor"}
    assert "待派遣 1 件，待结案 1 件" in told["east_supervisor"] and "待派遣 1 件" in told["supervisor"]
    assert "待派遣 0 件，待结案 0 件" in told["west_supervisor"]


def test_no_digest_on_a_rest_day(world):
    saturday = EIGHT + timedelta(days=3)
    assert digest.send_digests(now=saturday + timedelta(hours=1)) == 0


def test_the_overdue_and_red_figures_count_what_ran_past_its_deadline(world):
    world.to_state("assigned")  # the accept limit is an hour
    figures = digest.figures_for(world.units["east"], EIGHT.date(), NOW + timedelta(hours=2))
    assert figures["overdue"] == 1 and figures["red"] == 1 and figures["awaiting_dispatch"] == 0


def test_a_units_channel_hears_its_digest_once(world):
    hook = webhooks.create_webhook(now=NOW, url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                   format="wecom", events=["digest.daily"], unit_id=world.units["east"].id)
    db.session.commit()
    digest.send_digests(now=EIGHT)
    db.session.commit()
    assert db.session.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "digest.daily")
                             .order_by(OutboxMessage.id).limit(1)) is not None
    delivery.fan_out(now=EIGHT)
    db.session.commit()
    seen = []
    delivery.deliver(now=EIGHT, send=lambda url, body, headers: (seen.append(body) or 200, b'{"errcode": 0}'))
    assert len(seen) == 1 and "每日待办摘要" in seen[0].decode() and "east" in seen[0].decode()
    assert hook.id
