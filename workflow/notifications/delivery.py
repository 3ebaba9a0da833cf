"""Delivering the outbox: fan each message out to the webhooks that want it, then POST with retries.

At least once: a crash after a receiver answered but before we recorded it sends the same body (same
event_id) again, so receivers deduplicate by event_id. Nothing here runs inside a request.
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from models import OutboxMessage, Webhook, WebhookDelivery
from models.base import db, upsert
from models.enums import DeliveryStatus
from workflow import tally

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
TIMEOUT_S = 5
BATCH = 200
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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a bodiless GET: treat it as the failure it is."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, body: bytes, headers: dict) -> int:
    """POST and return the status; raise on network failure or timeout."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=TIMEOUT_S) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def deliver(*, now: datetime, send: Sender = http_post) -> dict[str, int]:
    """Send the deliveries that are due; back off on failure; dead-letter after MAX_ATTEMPTS."""
    due = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.PENDING,
                                                           WebhookDelivery.next_attempt_at <= now)
                             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)
                             .with_for_update(skip_locked=True)).all()
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for delivery in due:
        hook = db.session.get(Webhook, delivery.webhook_id)
        if not hook.active:  # paused by an admin: keep it pending until the hook is active again
            continue
        outcome = _attempt(delivery, hook, now, send)
        tally.count("delivery", result=outcome)
        counts[outcome] += 1
    return counts


def _attempt(delivery: WebhookDelivery, hook: Webhook, now: datetime, send: Sender) -> str:
    headers = {"Content-Type": "application/json", "X-Rectify-Event": delivery.event_type,
               "X-Rectify-Event-Id": str(delivery.event_id),
               "X-Rectify-Signature": signature(hook.secret, delivery.body, int(now.timestamp()))}
    try:
        status = send(hook.url, delivery.body.encode(), headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except Exception as failure:  # refused, reset, timed out, a URL urllib cannot use: one bad hook stops no other
        status, error = None, f"{type(failure).__name__}: {failure}"
    delivery.attempts += 1
    outcome = _record(delivery, error, now)
    # Ids and the status only: a webhook's URL may carry a key, and an error's text may quote the URL.
    log.log(logging.INFO if outcome == "delivered" else logging.WARNING,
            "delivery %d of event %d to webhook %d: %s (attempt %d)", delivery.id, delivery.event_id, hook.id,
            outcome, delivery.attempts, extra={"delivery_id": delivery.id, "webhook_id": hook.id,
                                               "event_id": delivery.event_id, "outcome": outcome,
                                               "http_status": status, "attempt": delivery.attempts})
    return outcome


def _record(delivery: WebhookDelivery, error: str | None, now: datetime) -> str:
    """The attempt's outcome on the delivery: delivered, failed (retried after a backoff) or dead."""
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, None
        return DeliveryStatus.DELIVERED
    delivery.last_error = error[:500]
    if delivery.attempts >= MAX_ATTEMPTS:
        # A dead delivery is never due again: its next_attempt_at records when it died (/healthz counts a day's).
        delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, now
        return DeliveryStatus.DEAD
    delivery.next_attempt_at = now + backoff(delivery.attempts)
    return "failed"


def redrive(*, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Give a dead delivery a fresh set of attempts, starting now."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == DeliveryStatus.DEAD:
        delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now
    return delivery
