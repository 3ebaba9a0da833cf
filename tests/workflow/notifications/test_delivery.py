"""Notifications: the outbox fanned out to signed webhook deliveries with retries, and the in-app inbox."""

import hashlib
import hmac
import json
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from models import OutboxMessage, WebhookDelivery
from models.base import db
from schedules.jobs import run_all
from tests.conftest import NOW
from workflow.errors import Conflict, NotFound
from workflow.escalation import firing, rules
from workflow.notifications import delivery, inbox, webhooks

SECRET = "s3cret-shared-with-the-receiver"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute HMAC-SHA256 of "<t>." + the raw body and compare in constant time."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return set(parts) == {"t", "v1"} and hmac.compare_digest(expected, parts["v1"])


class Recorder:
    """An injected `send`: remembers every POST and answers the scripted statuses (the last one repeats)."""

    def __init__(self, *statuses: int):
        self.statuses, self.calls = list(statuses or (200,)), []

    def __call__(self, url: str, body: bytes, headers: dict) -> int:
        self.calls.append((url, body, headers))
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body, _ in self.calls]


def hook(url: str = "https://example.test/hook", events: tuple = ("problem.created",)):
    created = webhooks.create_webhook(now=NOW, url=url, secret=SECRET, events=list(events), allow_private=True)
    db.session.commit()
    return created


def tick(at: datetime, send) -> dict[str, int]:
    """One delivery tick with an injected sender, committed as the job wrapper does."""
    delivery.fan_out(now=at)
    counts = delivery.deliver(now=at, send=send, allow_private=True)  # the local receivers of these tests
    db.session.commit()
    return counts


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# --- fan-out and the signed body ------------------------------------------------------------------------


def test_a_webhook_for_problem_created_gets_one_signed_delivery_per_report(world):
    hook()
    problems = [world.report(), world.report(at=NOW + minutes(1))]
    send = Recorder()

    assert tick(NOW + minutes(2), send) == {"delivered": 2, "failed": 0, "dead": 0}
    assert tick(NOW + minutes(3), send) == {"delivered": 0, "failed": 0, "dead": 0}

    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [b["event_id"] for b in send.bodies()] == [m.id for m in messages]
    assert [b["type"] for b in send.bodies()] == ["problem.created"] * 2
    assert [b["occurred_at"] for b in send.bodies()] == [NOW.isoformat(), (NOW + minutes(1)).isoformat()]
    assert [(b["data"]["code"], b["data"]["state"]) for b in send.bodies()] == [(p.code, "reported") for p in problems]
    for url, body, headers in send.calls:
        assert url == "https://example.test/hook"
        assert headers["Content-Type"] == "application/json"
        assert verify(SECRET, body, headers["X-Rectify-Signature"])
        assert headers["X-Rectify-Signature"].startswith(f"t={int((NOW + minutes(2)).timestamp())},")
        assert not verify("another secret", body, headers["X-Rectify-Signature"])


def test_a_webhook_gets_only_the_event_types_it_subscribed_to(world):
    hook(events=("escalation.fired",))
    rules.create_rule(actor=None, now=NOW, name="到期催办", trigger="at_due", level=2)
    db.session.commit()
    problem = world.to_state("assigned")  # a report and a transition: not subscribed
    send = Recorder()
    tick(NOW, send)
    assert send.calls == []

    firing.sweep(now=NOW + minutes(60))  # hawker accept: 60 natural minutes
    db.session.commit()
    tick(NOW + minutes(60), send)

    (body,) = send.bodies()
    assert body["type"] == "escalation.fired"
    assert (body["data"]["id"], body["data"]["level"], body["data"]["escalation_level"]) == (problem.id, 2, 2)


def test_a_delivery_carries_the_problem_as_it_was_when_the_event_happened(world):
    hook(events=("problem.created", "problem.transitioned"))
    world.to_state("rectifying")  # report, assign, accept, all before the delivery tick runs
    send = Recorder()

    tick(NOW + minutes(1), send)

    states = [(b["type"], b["data"].get("action"), b["data"]["state"]) for b in send.bodies()]
    assert states == [("problem.created", None, "reported"), ("problem.transitioned", "assign", "assigned"),
                      ("problem.transitioned", "accept", "rectifying")]


def test_an_inactive_webhook_gets_nothing(world):
    webhooks.create_webhook(now=NOW, url="https://example.test/off", secret=SECRET, events=["problem.created"],
                            active=False)
    world.report()
    send = Recorder()

    tick(NOW, send)

    assert (send.calls, deliveries()) == ([], [])


# --- retries, backoff and the dead letter ----------------------------------------------------------------


def test_failures_back_off_from_one_minute_doubling_up_to_an_hour_and_the_eighth_is_dead(world):
    hook()
    world.report()
    send, at, waits = Recorder(500), NOW, []

    for _ in range(8):
        tick(at, send)
        (item,) = deliveries()
        if item.status == "pending":
            waits.append(item.next_attempt_at - at)
            at = item.next_attempt_at

    assert waits == [minutes(m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert (item.status, item.attempts, item.last_error) == ("dead", 8, "HTTP 500")
    assert tick(at + timedelta(days=1), send)["failed"] == 0 and len(send.calls) == 8


def test_a_delivery_is_not_retried_before_its_backoff_has_passed(world):
    hook()
    world.report()
    send = Recorder(500, 200)

    tick(NOW, send)
    tick(NOW + minutes(1) - timedelta(seconds=1), send)
    assert len(send.calls) == 1
    tick(NOW + minutes(1), send)
    assert len(send.calls) == 2 and deliveries()[0].status == "delivered"


def test_a_timeout_counts_as_a_failed_attempt(world):
    hook()
    world.report()

    def times_out(url, body, headers):
        raise TimeoutError("timed out")

    assert tick(NOW, times_out)["failed"] == 1
    (item,) = deliveries()
    # One generic text for every network failure: which one it was would map ports (issue 21, item 11).
    assert (item.status, item.attempts, item.last_error) == ("pending", 1, "network error: no HTTP answer")


def test_redriving_a_dead_delivery_gives_it_fresh_attempts_from_now(world):
    hook()
    world.report()
    at = NOW
    for _ in range(8):
        tick(at, Recorder(500))
        at += timedelta(hours=1)
    (dead,) = deliveries()
    assert dead.status == "dead"

    webhooks.redrive(delivery_id=dead.id, now=at)
    db.session.commit()
    assert (dead.status, dead.attempts, dead.next_attempt_at) == ("pending", 0, at)

    send = Recorder(200)
    assert tick(at, send)["delivered"] == 1
    assert json.loads(send.calls[0][1])["event_id"] == dead.event_id


@pytest.mark.parametrize("statuses", [(500,), (200,)])
def test_redriving_a_delivery_that_is_not_dead_is_a_conflict(world, statuses):
    hook()
    world.report()
    tick(NOW, Recorder(*statuses))  # pending after one failure, or delivered

    with pytest.raises(Conflict):
        webhooks.redrive(delivery_id=deliveries()[0].id, now=NOW + minutes(5))
    with pytest.raises(NotFound):
        webhooks.redrive(delivery_id=999, now=NOW + minutes(5))


# --- a real receiver on 127.0.0.1 --------------------------------------------------------------------------


class Receiver:
    """An HTTP endpoint that answers the scripted statuses in turn and checks every signature."""

    def __init__(self, *statuses: int):
        self.statuses, self.seen, self.lock = list(statuses), [], threading.Lock()

    def answer(self, body: bytes, signature: str) -> int:
        with self.lock:
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            self.seen.append((json.loads(body)["event_id"], verify(SECRET, body, signature), status))
            return status


@contextmanager
def serving(receiver: Receiver):
    """Serve `receiver` on an ephemeral port of 127.0.0.1; yield its URL; always shut it down."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.answer(body, self.headers.get("X-Rectify-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/rectify"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_receiver_that_fails_twice_gets_the_event_once_successfully_with_the_same_event_id(world):
    receiver = Receiver(500, 500, 200)
    with serving(receiver) as url:
        hook(url=url)
        world.report()
        for at in (NOW, NOW + minutes(0.5), NOW + minutes(1), NOW + minutes(2), NOW + minutes(3), NOW + minutes(10)):
            run_all(now=at)

    (event_id,) = {seen[0] for seen in receiver.seen}
    assert receiver.seen == [(event_id, True, 500), (event_id, True, 500), (event_id, True, 200)]
    (item,) = deliveries()
    assert (item.event_id, item.status, item.attempts, item.delivered_at) == (event_id, "delivered", 3,
                                                                              NOW + minutes(3))


def test_a_receiver_that_always_fails_ends_in_the_dead_letter_after_eight_attempts(world):
    receiver = Receiver(503)
    with serving(receiver) as url:
        hook(url=url)
        world.report()
        for hours in range(10):
            delivery.fan_out(now=NOW + timedelta(hours=hours))
            delivery.deliver(now=NOW + timedelta(hours=hours), allow_private=True)  # the receiver is local
            db.session.commit()

    assert len(receiver.seen) == 8 and all(valid for _, valid, _ in receiver.seen)
    (item,) = deliveries()
    assert (item.status, item.attempts, item.last_error) == ("dead", 8, "HTTP 503")


def test_a_refused_connection_is_a_failed_attempt_with_its_error_not_an_exception(world):
    with socket.socket() as probe:  # a port that was free a moment ago, and that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook(url=f"http://127.0.0.1:{port}/hook")
    world.report()

    assert tick(NOW, partial(delivery.http_post, allow_private=True)) == {"delivered": 0, "failed": 1, "dead": 0}

    (item,) = deliveries()
    assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 1, NOW + minutes(1))
    assert item.last_error == "network error: no HTTP answer"  # not "Connection refused": no port scans


# --- nothing is lost -------------------------------------------------------------------------------------


def test_a_crash_between_commit_and_delivery_loses_nothing(app, world):
    hook()
    problem = world.report()  # committed: the problem and its outbox row, in one transaction
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert (message.topic, message.payload["problem_id"], message.delivered_at) == ("problem.created", problem.id,
                                                                                    None)
    db.session.remove()  # the process dies before any delivery tick

    with app.app_context():  # a new process
        send = Recorder()
        assert tick(NOW + minutes(5), send)["delivered"] == 1
        assert send.bodies()[0]["event_id"] == message.id


def test_a_crash_after_sending_but_before_recording_sends_the_same_event_again(app, world, monkeypatch):
    hook()
    world.report()
    delivery.fan_out(now=NOW)
    db.session.commit()
    first = Recorder()
    (job,) = delivery.claim(now=NOW)  # claimed and committed: the lease is held
    first(job.url, job.body.encode(), {})  # sent; the process dies before it records the outcome
    db.session.remove()

    held = Recorder()
    assert tick(NOW + minutes(1), held) == {"delivered": 0, "failed": 0, "dead": 0}  # nobody sends it meanwhile
    second = Recorder()
    tick(NOW + delivery.LEASE, second)  # the lease ran out: sent again, the same body

    assert held.calls == [] and [b["event_id"] for b in first.bodies()] == [b["event_id"] for b in second.bodies()]
    assert deliveries()[0].status == "delivered"


# --- the inbox -----------------------------------------------------------------------------------------


def fill_inbox(world, key: str, n: int) -> list[int]:
    """n notifications for user `key`, one a minute; returns their ids, oldest first."""
    for i in range(n):
        inbox.send(user_ids=[world.users[key].id], type="escalation", title=f"item {i}", body="", now=NOW + minutes(i))
        db.session.flush()
    db.session.commit()
    page = inbox.inbox(actor=world.users[key], unread=None, limit=200)
    return sorted(item.id for item in page.items)


def read_pages(actor, *, unread=None, limit=2) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = inbox.inbox(actor=actor, unread=unread, limit=limit, cursor=cursor)
        pages.append([item.id for item in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_the_inbox_lists_unread_first_then_read_newest_first_in_pages_without_gaps(world):
    one, two, three, four, five = fill_inbox(world, "handler", 5)
    handler = world.users["handler"]
    for read in (two, five):  # the newest is read: read items may have higher ids than unread ones
        inbox.mark_read(actor=handler, now=NOW + minutes(10), notification_id=read)
    db.session.commit()

    assert read_pages(handler) == [[four, three], [one, five], [two]]
    assert read_pages(handler, unread=True) == [[four, three], [one]]
    assert read_pages(handler, unread=False) == [[five, two]]


def test_marking_one_notification_read_and_then_all(world):
    ids = fill_inbox(world, "handler", 3)
    handler = world.users["handler"]

    assert inbox.mark_read(actor=handler, now=NOW + minutes(5), notification_id=ids[0]) == 1
    assert inbox.mark_read(actor=handler, now=NOW + minutes(6), notification_id=ids[0]) == 0
    assert inbox.mark_read(actor=handler, now=NOW + minutes(7)) == 2
    db.session.commit()

    items = inbox.inbox(actor=handler, unread=None, limit=10).items
    assert {item.id: item.read_at for item in items} == {ids[0]: NOW + minutes(5), ids[1]: NOW + minutes(7),
                                                         ids[2]: NOW + minutes(7)}


def test_another_users_notification_is_not_found(world):
    (theirs,) = fill_inbox(world, "handler2", 1)
    handler = world.users["handler"]

    with pytest.raises(NotFound):
        inbox.mark_read(actor=handler, now=NOW, notification_id=theirs)
    with pytest.raises(NotFound):
        inbox.get_notification(actor=handler, notification_id=theirs)
    assert inbox.inbox(actor=handler, unread=None, limit=10).items == []
