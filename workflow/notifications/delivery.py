"""Delivering the outbox: fan each message out to the webhooks that want it, then POST with retries.

At least once: a crash after a receiver answered but before we recorded it sends the same body (same
event_id) again, so receivers deduplicate by event_id. Nothing here runs inside a request.
"""

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import socket
import ssl
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update

from models import OutboxMessage, Webhook, WebhookDelivery
from models.base import db, upsert
from models.enums import DeliveryStatus
from workflow import tally
from workflow.notifications import targets

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
TIMEOUT_S = 5
BATCH = 200  # deliveries one tick handles at most
CLAIM = 10  # deliveries leased at a time: CLAIM × TIMEOUT_S stays well inside LEASE
LEASE = timedelta(seconds=120)
EVENTS = ("problem.created", "problem.transitioned", "escalation.fired", "round.missed", "audit.anchor")

Sender = Callable[[str, bytes, dict], int]


def backoff(attempts: int) -> timedelta:
    """1 minute after the first failure, doubling, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


def signature(secret: str, body: str, timestamp: int) -> str:
    """X-Rectify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the secret>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _body(message: OutboxMessage) -> str:
    payload = message.payload
    data = payload.get("data", payload)  # the snapshot taken when the event happened
    return json.dumps({"event_id": message.id, "type": message.topic, "occurred_at": message.created_at.isoformat(),
                       "data": data}, ensure_ascii=False, sort_keys=True)


def fan_out(*, now: datetime) -> int:
    """Turn undelivered outbox messages into one delivery per subscribed webhook; returns messages handled."""
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
                                  .order_by(OutboxMessage.id).limit(BATCH)
                                  .with_for_update(skip_locked=True)).all()
    hooks = db.session.scalars(select(Webhook).where(Webhook.active.is_(True))).all()
    for message in messages:
        wanted = [hook for hook in hooks if message.topic in hook.events]
        body = _body(message) if wanted else None
        for hook in wanted:
            db.session.execute(upsert(WebhookDelivery).values(
                webhook_id=hook.id, event_id=message.id, event_type=message.topic, body=body,
                status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now).on_conflict_do_nothing(
                index_elements=["webhook_id", "event_id"]))
        message.delivered_at = now
    return len(messages)


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


def http_post(url: str, body: bytes, headers: dict, *, allow_private: bool = False) -> int:
    """POST to the one checked address of `url` (any address with `allow_private`) and return the status (a
    redirect is a failure: it is never followed); raise on a non-public target, a network failure or a timeout."""
    parts = urlsplit(url)
    host, port = targets.host_and_port(url)
    address = host if allow_private else targets.address_for_send(url)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(host, port, address, TIMEOUT_S)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@dataclass(frozen=True)
class Claimed:
    """A delivery this process holds the lease on, with what sending it needs (no ORM object: no session)."""

    id: int
    event_id: int
    event_type: str
    body: str
    attempts: int
    webhook_id: int
    url: str
    secret: str
    token: str


def deliver(*, now: datetime, send: Sender | None = None, allow_private: bool = False) -> dict[str, int]:
    """Send the deliveries that are due; back off on failure; dead-letter after MAX_ATTEMPTS.

    No transaction is open while a receiver is waited on: a few deliveries are claimed (leased to this process
    until now + LEASE, SKIP LOCKED) and committed, sent, and each result recorded in its own short transaction,
    under the claim (docs/decisions/0029). A second scheduler meanwhile claims others, never these."""
    send = send or partial(http_post, allow_private=allow_private)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    handled = 0
    while handled < BATCH and (claimed := _claim(now)):
        started = clock.monotonic()
        for index, item in enumerate(claimed):
            if clock.monotonic() - started > LEASE.total_seconds() - 2 * TIMEOUT_S:  # the lease runs out
                _release(claimed[index:])
                return counts
            outcome = _attempt(item, now, send)
            tally.count("delivery", result=outcome)
            counts[outcome] += 1
        handled += len(claimed)
    return counts


def _claim(now: datetime) -> list[Claimed]:
    """Lease up to CLAIM due deliveries of active webhooks to this process, in one committed transaction."""
    due = (select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
           .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
                  Webhook.active,
                  or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now))
           .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(CLAIM)
           .with_for_update(skip_locked=True, of=WebhookDelivery))
    ids = list(db.session.scalars(due))
    if not ids:
        db.session.commit()
        return []
    token = secrets.token_hex(16)
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                       .values(lease_until=now + LEASE, lease_token=token)
                       .execution_options(synchronize_session=False))
    rows = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.event_type, WebhookDelivery.body,
               WebhookDelivery.attempts, Webhook.id, Webhook.url, Webhook.secret)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id).where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)).all()
    db.session.commit()
    return [Claimed(*row, token=token) for row in rows]


def _release(items: list[Claimed]) -> None:
    """Give back deliveries not sent before the lease ran low: the next tick (of any scheduler) takes them."""
    for item in items:
        db.session.execute(update(WebhookDelivery)
                           .where(WebhookDelivery.id == item.id, WebhookDelivery.lease_token == item.token)
                           .values(lease_until=None, lease_token=None).execution_options(synchronize_session=False))
    db.session.commit()


def _attempt(item: Claimed, now: datetime, send: Sender) -> str:
    headers = {"Content-Type": "application/json", "X-Rectify-Event": item.event_type,
               "X-Rectify-Event-Id": str(item.event_id),
               "X-Rectify-Signature": signature(item.secret, item.body, int(now.timestamp()))}
    try:
        status = send(item.url, item.body.encode(), headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except targets.NotPublic:
        status, error = None, "refused: the target is not a public address"
    except Exception:  # refused, reset, timed out, unresolvable: one bad hook stops no other
        # One generic text: which of these it was would let an admin map ports and hosts (issue 21).
        status, error = None, "network error: no HTTP answer"
    attempts = item.attempts + 1
    outcome, values = _outcome(error, attempts, now)
    recorded = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == item.id, WebhookDelivery.lease_token == item.token)
        .values(attempts=attempts, lease_until=None, lease_token=None, **values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    # Ids and the status only: a webhook's URL may carry a key, and an error's text may quote the URL.
    log.log(logging.INFO if outcome == "delivered" and recorded else logging.WARNING,
            "delivery %d of event %d to webhook %d: %s (attempt %d)%s", item.id, item.event_id, item.webhook_id,
            outcome, attempts, "" if recorded else "; its lease had passed to another scheduler",
            extra={"delivery_id": item.id, "webhook_id": item.webhook_id, "event_id": item.event_id,
                   "outcome": outcome, "http_status": status, "attempt": attempts})
    return outcome


def _outcome(error: str | None, attempts: int, now: datetime) -> tuple[str, dict]:
    """The attempt's outcome and the columns it sets: delivered, failed (retried after a backoff) or dead."""
    if error is None:
        return "delivered", {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": None}
    if attempts >= MAX_ATTEMPTS:
        # A dead delivery is never due again: its next_attempt_at records when it died (/healthz counts a day's).
        return "dead", {"status": DeliveryStatus.DEAD, "next_attempt_at": now, "last_error": error[:500]}
    return "failed", {"next_attempt_at": now + backoff(attempts), "last_error": error[:500]}


def redrive(*, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Give a dead delivery a fresh set of attempts, starting now."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == DeliveryStatus.DEAD:
        delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now
    return delivery
