"""Webhook delivery holds no database lock while it waits on a receiver (issue 13, item 12): deliveries are
leased in a short transaction, sent with none open, and each result recorded under its lease."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from models import WebhookDelivery, db
from tests.conftest import NOW
from workflow.escalation import firing, rules
from workflow.notifications import delivery, webhooks

DELIVERIES = 6


@pytest.fixture
def pending(app, world):
    """DELIVERIES pending deliveries to one (public, fake) receiver."""
    webhooks.create_webhook(now=NOW, url="https://hooks.example.com/in", secret="s" * 20, events=["problem.created"])
    for _ in range(DELIVERIES):
        world.report()
    delivery.fan_out(now=NOW)
    db.session.commit()
    return list(db.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))


class HangingReceiver:
    """A receiver that hangs on its first request until released; counts every body it gets."""

    def __init__(self):
        self.entered, self.release, self.lock, self.bodies = threading.Event(), threading.Event(), \
            threading.Lock(), []

    def __call__(self, url, body, headers):
        with self.lock:
            self.bodies.append(body)
            first = len(self.bodies) == 1
        if first:
            self.entered.set()
            assert self.release.wait(30), "the test never released the receiver"
        return 204


def _in_thread(app, work):
    outcome = {}

    def run():
        with app.app_context():
            try:
                outcome["result"] = work()
                db.session.commit()
            except Exception as error:  # reported by the test
                db.session.rollback()
                outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_hanging_receiver_blocks_no_writer_and_no_second_scheduler(app, database_url, pending):
    receiver = HangingReceiver()
    first, first_outcome = _in_thread(app, lambda: delivery.deliver(now=NOW, send=receiver))
    try:
        assert receiver.entered.wait(30)
        # Another writer takes row locks on every delivery, the one being sent included, without waiting.
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            locked = conn.execute(text("SELECT id FROM webhook_deliveries FOR UPDATE NOWAIT")).all()
            assert len(locked) == DELIVERIES
            conn.execute(text("UPDATE webhook_deliveries SET created_at = created_at"))
        engine.dispose()
        # Other jobs run meanwhile (the sweep locks problems in its own short transaction).
        rules.create_rule(actor=None, now=NOW, name="到期催办", trigger="at_due", level=1)
        db.session.commit()
        assert len(firing.sweep(now=NOW + timedelta(minutes=61))) == DELIVERIES
        db.session.commit()
        # A second scheduler, at the same instant, sends none of what the first holds and is not held up.
        second = Counter()
        second_thread, second_outcome = _in_thread(app, lambda: delivery.deliver(now=NOW, send=second))
        second_thread.join(20)
        assert not second_thread.is_alive(), "the second scheduler waited on the first"
        assert "error" not in second_outcome
        held = {item for item in receiver_bodies(receiver)}
        assert not held & set(second.bodies)
    finally:
        receiver.release.set()
        first.join(30)
    assert "error" not in first_outcome
    sent = receiver.bodies + second.bodies
    assert len(sent) == len(set(sent)) == DELIVERIES  # each delivery sent once, by one of them
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.status == "delivered")) == DELIVERIES
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.lease_token.is_not(None))) == 0


def receiver_bodies(receiver: HangingReceiver) -> list[bytes]:
    with receiver.lock:
        return list(receiver.bodies)


class Counter:
    def __init__(self):
        self.lock, self.bodies = threading.Lock(), []

    def __call__(self, url, body, headers):
        with self.lock:
            self.bodies.append(body)
        return 204


def test_nothing_is_sent_twice_while_the_lease_is_held_and_it_is_retried_after(app, pending):
    receiver = HangingReceiver()
    first, _ = _in_thread(app, lambda: delivery.deliver(now=NOW, send=receiver))
    try:
        assert receiver.entered.wait(30)
        later = Counter()  # a scheduler a minute later, then one just before the lease ends
        for at in (NOW + timedelta(minutes=1), NOW + delivery.LEASE - timedelta(seconds=1)):
            thread, outcome = _in_thread(app, lambda at=at: delivery.deliver(now=at, send=later))
            thread.join(20)
            assert "error" not in outcome
        assert not set(later.bodies) & set(receiver_bodies(receiver))
    finally:
        receiver.release.set()
        first.join(30)


@pytest.mark.parametrize("threads", [2, 6])
def test_delivery_processes_racing_send_each_delivery_once(app, pending, threads):
    counter, barrier = Counter(), threading.Barrier(threads)

    def work():
        barrier.wait()
        return delivery.deliver(now=NOW, send=counter)

    runs = [_in_thread(app, work) for _ in range(threads)]
    for thread, _ in runs:
        thread.join(30)
    assert all("error" not in outcome for _, outcome in runs)
    assert len(counter.bodies) == len(set(counter.bodies)) == DELIVERIES
    assert sum(outcome["result"]["delivered"] for _, outcome in runs) == DELIVERIES
