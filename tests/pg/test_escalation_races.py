"""Schedulers that overlap for real: sweeps and delivery ticks in threads against PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import EscalationFiring, ProblemEvent, WebhookDelivery, db
from tests.conftest import NOW
from workflow.escalation import firing, rules
from workflow.notifications import delivery, webhooks

PROBLEMS = 30


def race(app, threads: int, work) -> tuple[list, list]:
    """Run work() in `threads` threads, each in its own app context (own session and connection), released
    together; return what each returned and what each raised."""
    barrier, results, errors = threading.Barrier(threads), [], []

    def one():
        with app.app_context():
            barrier.wait()
            try:
                results.append(work())
                db.session.commit()
            except Exception as error:  # every error is a failure the test reports
                db.session.rollback()
                errors.append(error)

    pool = [threading.Thread(target=one) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, errors


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("threads", [2, 8])
def test_schedulers_sweeping_at_the_same_instant_fire_each_step_exactly_once(app, world, threads):
    rules.create_rule(actor=None, now=NOW, name="临期提醒", trigger="before_due", fraction=0.8, level=1,
                           notify=["unit_supervisors"])
    rules.create_rule(actor=None, now=NOW, name="到期催办", trigger="at_due", level=2,
                           notify=["unit_supervisors"])
    for _ in range(PROBLEMS):
        world.report()  # hawker: dispatch 60 natural minutes, 80 % at 48
    db.session.commit()

    results, errors = race(app, threads, lambda: firing.sweep(now=NOW + timedelta(minutes=60)))

    db.session.commit()  # a fresh snapshot for the checks
    assert errors == []
    assert sum(len(lines) for lines in results) == 2 * PROBLEMS
    assert count(EscalationFiring) == 2 * PROBLEMS
    assert count(ProblemEvent, ProblemEvent.action == "escalate") == 2 * PROBLEMS
    assert firing.sweep(now=NOW + timedelta(minutes=60)) == []


@pytest.mark.parametrize("threads", [2, 8])
def test_delivery_ticks_running_at_once_send_each_delivery_once(app, world, threads):
    webhooks.create_webhook(now=NOW, url="https://example.test/hook", secret="s", events=["problem.created"])
    for _ in range(PROBLEMS):
        world.report()
    delivery.fan_out(now=NOW)
    db.session.commit()
    lock, sent = threading.Lock(), []

    def send(url, body, headers):
        with lock:
            sent.append(body)
        return 200

    results, errors = race(app, threads, lambda: delivery.deliver(now=NOW, send=send))

    db.session.commit()
    assert errors == []
    assert len(sent) == len(set(sent)) == PROBLEMS
    assert sum(r["delivered"] for r in results) == PROBLEMS
    assert count(WebhookDelivery, WebhookDelivery.status == "delivered") == PROBLEMS


def test_fan_out_ticks_running_at_once_make_one_delivery_per_message(app, world):
    webhooks.create_webhook(now=NOW, url="https://example.test/hook", secret="s", events=["problem.created"])
    for _ in range(PROBLEMS):
        world.report()

    _, errors = race(app, 4, lambda: delivery.fan_out(now=NOW))

    db.session.commit()
    assert errors == []
    assert count(WebhookDelivery) == PROBLEMS


def test_senders_racing_for_one_robot_keep_to_its_rate_together(app, world):
    webhooks.create_webhook(now=NOW, url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", format="wecom",
                            events=["problem.created"])
    for _ in range(PROBLEMS):
        world.report()
    delivery.fan_out(now=NOW)
    db.session.commit()
    lock, sent = threading.Lock(), []

    def send(url, body, headers):
        with lock:
            sent.append(body)
        return 200, b'{"errcode": 0}'

    results, errors = race(app, 8, lambda: delivery.deliver(now=NOW, send=send))

    db.session.commit()
    assert errors == []
    assert len(sent) == delivery.CHAT_PER_MINUTE and sum(r["delivered"] for r in results) == delivery.CHAT_PER_MINUTE


def test_schedulers_making_digests_at_once_make_one_per_supervisor(app, world):
    from models import Notification, OutboxMessage
    from workflow.notifications import digest
    eight = NOW - timedelta(hours=2)

    results, errors = race(app, 4, lambda: digest.send_digests(now=eight))

    db.session.commit()
    assert errors == [] and sum(results) == 3
    assert count(Notification, Notification.type == "digest") == 3
    assert count(OutboxMessage, OutboxMessage.topic == "digest.daily") == 3
