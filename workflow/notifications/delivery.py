"""Delivering the outbox: fan each message out to the webhooks that want it, then send with retries.

One sender path for every format (Rectify's signed JSON, the WeCom, DingTalk and Feishu robots, e-mail):
a tick claims a few due deliveries (a lease, committed: docs/decisions/0029), sends them with no transaction
open — each webhook's in a thread of its own, so a hanging receiver holds up nobody else — and records each
outcome in a short transaction of its own, under the claim, as soon as it is known. While a lease is held
nobody else sends that delivery. At least once: a crash after a receiver answered but before we recorded it
sends the same body (same event_id) again once the lease expires, so receivers deduplicate.
"""

import http.client
import json
import logging
import queue
import secrets as random_secrets
import socket
import ssl
import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update

from models import OutboxMessage, Webhook, WebhookDelivery
from models.base import db, upsert
from models.enums import DeliveryStatus
from workflow import tally
from workflow.notifications import formats, mail, quiet, render, targets

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
TIMEOUT_S = 5
BATCH = 200  # deliveries one tick handles at most
CLAIM = 10  # deliveries leased at a time: CLAIM × TIMEOUT_S stays well inside LEASE
LEASE = timedelta(seconds=120)
CHAT_PER_MINUTE = 20  # WeCom, DingTalk and Feishu robots each take about 20 messages a minute
EVENTS = ("problem.created", "problem.transitioned", "escalation.fired", "round.missed", "audit.anchor",
          "digest.daily")
REFUSED = "refused: the target is not a public address"
NO_ANSWER = "network error: no HTTP answer"
SKIPPED = "skipped"  # not attempted in this tick (an earlier attempt to its webhook failed, or the lease ran low)

Sender = Callable[[str, bytes, dict], "int | tuple[int, bytes]"]
signature = formats.signature  # receivers' docs name delivery.signature


def backoff(attempts: int) -> timedelta:
    """1 minute after the first failure, doubling, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


# --- fan-out -------------------------------------------------------------------------------------------

def fan_out(*, now: datetime, base_url: str | None = None) -> int:
    """Turn undelivered outbox messages into one delivery per subscribed webhook (its format's body, due at
    the end of its unit's quiet hours when it is not urgent); returns messages handled."""
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
                                  .order_by(OutboxMessage.id).limit(BATCH)
                                  .with_for_update(skip_locked=True)).all()
    hooks = db.session.scalars(select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id)).all()
    top_level = quiet.top_escalation_level()
    for message in messages:
        facts = render.Facts.of(message, base_url=base_url)
        for hook in hooks:
            if message.topic in hook.events and facts.within(hook.unit_id):
                _add(hook, message, facts, now, quiet.release_at(hook, facts, now, top_level))
        message.delivered_at = now
    return len(messages)


def _add(hook: Webhook, message: OutboxMessage, facts: "render.Facts", now: datetime, due: datetime) -> None:
    db.session.execute(upsert(WebhookDelivery).values(
        webhook_id=hook.id, event_id=message.id, event_type=message.topic, body=facts.body(hook.format),
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=due, created_at=now).on_conflict_do_nothing(
        index_elements=["webhook_id", "event_id"]))


# --- the network ---------------------------------------------------------------------------------------

class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to the address that was checked, whatever a second DNS lookup would say (Host: the name)."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._create_connection = lambda _, *args, **kwargs: socket.create_connection((address, port), *args,
                                                                                     **kwargs)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is checked against the name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._create_connection = lambda _, *args, **kwargs: socket.create_connection((address, port), *args,
                                                                                     **kwargs)


def http_post(url: str, body: bytes, headers: dict, *, allow_private: bool = False) -> tuple[int, bytes]:
    """POST to the one checked address of `url` (any address with `allow_private`) and return the status and
    the start of the answer (a redirect is a failure: it is never followed); raise on a non-public target, a
    network failure or a timeout."""
    parts = urlsplit(url)
    host, port = targets.host_and_port(url)
    address = host if allow_private else targets.address_for_send(url)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(host, port, address, TIMEOUT_S)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers)
        response = connection.getresponse()
        return response.status, response.read(65536)
    finally:
        connection.close()


# --- sending -------------------------------------------------------------------------------------------

@dataclass
class Job:
    """A delivery this process holds the lease on, with what sending it needs (no ORM object: no session)."""

    id: int
    webhook_id: int
    event_id: int
    event_type: str
    format: str
    url: str
    secret: str | None
    body: str
    attempts: int
    token: str
    error: str | None = None
    status: int | None = None


@dataclass(frozen=True)
class Channel:
    """How this tick reaches the outside: the HTTP sender, and the SMTP server for e-mail channels."""

    send: Sender
    smtp: "mail.Smtp | None"
    started: float


def deliver(*, now: datetime, send: Sender | None = None, allow_private: bool = False, trusted: tuple = (),
            smtp: mail.Smtp | None = None) -> dict[str, int]:
    """Send the deliveries that are due, claim by claim; back off on failure; dead-letter after MAX_ATTEMPTS.

    Over the network every URL is checked at each send and refused when it is or resolves to a non-public
    address, unless `allow_private` (tests' local receivers) or the URL is one of `trusted` (development's
    own echo endpoint)."""
    channel = Channel(send or partial(_post, allow_private=allow_private, trusted=trusted), smtp, clock.monotonic())
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    handled, failing = 0, set()
    while handled < BATCH and (jobs := claim(now=now, skip=failing)):
        for job in _send_claimed(jobs, now, channel):
            outcome = record(job, now=now)
            if job.error is not None:
                failing.add(job.webhook_id)  # the rest of its deliveries wait for a later tick
            if outcome is not None:
                tally.count("delivery", result=outcome)
                counts[outcome] += 1
        handled += len(jobs)
    return counts


def _post(url: str, body: bytes, headers: dict, *, allow_private: bool, trusted: tuple) -> tuple[int, bytes]:
    return http_post(url, body, headers, allow_private=allow_private or url in trusted)


def _send_claimed(jobs: list[Job], now: datetime, channel: Channel):
    """Send each webhook's jobs in a thread of its own; yield each job as its outcome is known."""
    results: queue.Queue = queue.Queue()
    groups: dict[int, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.webhook_id, []).append(job)
    for group in groups.values():
        threading.Thread(target=_send_group, args=(group, now, channel, results), daemon=True,
                         name=f"webhook-{group[0].webhook_id}").start()
    for _ in jobs:  # a slow hook's wait is nobody else's
        yield results.get()


def _send_group(jobs: list[Job], now: datetime, channel: Channel, results: queue.Queue) -> None:
    """Send one webhook's jobs in order; after its first failure, or when the lease runs low, the rest wait."""
    failed = False
    for job in jobs:
        try:
            if failed or clock.monotonic() - channel.started > LEASE.total_seconds() - 2 * TIMEOUT_S:
                job.error = SKIPPED
            else:
                _attempt(job, now, channel)
                failed = job.error is not None
        except BaseException:  # never leave the recorder waiting for an answer that cannot come
            job.error, failed = NO_ANSWER, True
        finally:
            results.put(job)


def _attempt(job: Job, now: datetime, channel: Channel) -> None:
    try:
        if job.format == formats.EMAIL:
            _mail(job, channel.smtp)
            return
        url, body, headers = formats.build_request(job.format, url=job.url, secret=job.secret, body=job.body,
                                                   event_type=job.event_type, event_id=job.event_id, now=now)
        answer = channel.send(url, body, headers)
        job.status, reply = answer if isinstance(answer, tuple) else (answer, b"")
        job.error = formats.outcome(job.format, job.status, reply)
    except targets.NotPublic:
        job.error = REFUSED
    except Exception:  # refused, reset, timed out, unresolvable: one bad hook stops no other
        # One generic text: which of these it was would let an admin map ports and hosts (issue 21).
        job.error = NO_ANSWER


def _mail(job: Job, smtp: "mail.Smtp | None") -> None:
    if smtp is None:
        job.error = "no SMTP server is configured (SMTP_HOST)"
        return
    content = json.loads(job.body)
    try:
        mail.send(smtp, to=mail.recipients(job.url), subject=content["subject"], text=content["text"])
    except Exception as failure:  # refused, timed out, TLS refused, a bad address: a failed attempt like any
        # The server is the operator's (settings), not a user's target: its answer may be shown.
        job.error = f"{type(failure).__name__}: {failure}"


# --- claiming and recording ----------------------------------------------------------------------------

def claim(*, now: datetime, skip: set[int] | frozenset = frozenset()) -> list[Job]:
    """Lease up to CLAIM due deliveries of active webhooks (robots within their rate; not those of `skip`) to
    this process, in one committed transaction, and describe them."""
    due = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.webhook_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
               Webhook.active.is_(True), Webhook.id.not_in(skip),
               or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)
        .with_for_update(skip_locked=True, of=WebhookDelivery)).all()
    chosen = _within_rate(due, now)[:CLAIM]
    token = random_secrets.token_hex(16)
    if chosen:
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(chosen))
                           .values(lease_until=now + LEASE, lease_token=token)
                           .execution_options(synchronize_session=False))
    jobs = _jobs(chosen, token)
    db.session.commit()  # the lease is visible to every other sender before anything is sent
    return jobs


def _within_rate(due: list, now: datetime) -> list[int]:
    """Keep, for a robot, what its per-minute limit leaves."""
    # Locked (in id order) while we count and lease: two senders claiming for one robot at once take turns,
    # and the second sees the first's leases, so together they keep to its per-minute limit.
    hooks = {hook.id: hook for hook in db.session.scalars(select(Webhook).where(
        Webhook.id.in_({webhook_id for _, webhook_id in due})).order_by(Webhook.id).with_for_update())}
    room = {webhook_id: _room(hook, now) for webhook_id, hook in hooks.items()}
    chosen = []
    for delivery_id, webhook_id in due:
        if room[webhook_id] > 0:
            chosen.append(delivery_id)
            room[webhook_id] -= 1
    return chosen


def _room(hook: Webhook, now: datetime) -> int:
    if hook.format not in formats.CHATS:
        return BATCH
    recent = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.webhook_id == hook.id,
        or_(WebhookDelivery.last_attempt_at > now - timedelta(minutes=1), WebhookDelivery.lease_until > now)))
    return max(0, CHAT_PER_MINUTE - recent)


def _jobs(ids: list[int], token: str) -> list[Job]:
    if not ids:
        return []
    rows = db.session.execute(select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                              .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.next_attempt_at,
                                                                           WebhookDelivery.id)).all()
    return [Job(id=d.id, webhook_id=h.id, event_id=d.event_id, event_type=d.event_type, format=h.format, url=h.url,
                secret=h.secret, body=d.body, attempts=d.attempts, token=token) for d, h in rows]


def record(job: Job, *, now: datetime) -> str | None:
    """Write one attempt's outcome if we still hold its lease (commit); a skipped job only gives its lease back."""
    mine = (WebhookDelivery.id == job.id) & (WebhookDelivery.lease_token == job.token)
    if job.error == SKIPPED:
        db.session.execute(update(WebhookDelivery).where(mine).values(lease_until=None, lease_token=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        return None
    attempts = job.attempts + 1
    values, outcome = _outcome(job.error, attempts, now)
    done = db.session.execute(update(WebhookDelivery).where(mine).values(
        attempts=attempts, last_attempt_at=now, lease_until=None, lease_token=None, **values)
        .returning(WebhookDelivery.id).execution_options(synchronize_session=False)).first()
    db.session.commit()
    if done is None:  # the lease ran out and another sender took it over: theirs is the record
        log.warning("delivery %d: lease lost before its outcome was recorded", job.id, extra={"delivery_id": job.id})
        return None
    _log(job, outcome, attempts)
    return outcome


def _outcome(error: str | None, attempts: int, now: datetime) -> tuple[dict, str]:
    """The attempt's outcome and the columns it sets: delivered, failed (retried after a backoff) or dead."""
    if error is None:
        return {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": None}, "delivered"
    if attempts >= MAX_ATTEMPTS:
        # A dead delivery is never due again: its next_attempt_at records when it died (/healthz counts a day's).
        return {"status": DeliveryStatus.DEAD, "next_attempt_at": now, "last_error": error[:500]}, "dead"
    return {"next_attempt_at": now + backoff(attempts), "last_error": error[:500]}, "failed"


def _log(job: Job, outcome: str, attempts: int) -> None:
    # Ids and the status only: a webhook's URL may carry a key, and an error's text may quote the URL.
    log.log(logging.INFO if outcome == "delivered" else logging.WARNING,
            "delivery %d of event %d to webhook %d: %s (attempt %d)", job.id, job.event_id, job.webhook_id,
            outcome, attempts, extra={"delivery_id": job.id, "webhook_id": job.webhook_id, "event_id": job.event_id,
                                      "outcome": outcome, "http_status": job.status, "attempt": attempts})


def redrive(*, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Give a dead delivery a fresh set of attempts, starting now."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == DeliveryStatus.DEAD:
        delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now
    return delivery
