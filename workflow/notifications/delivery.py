"""Delivering the outbox: fan each message out to the webhooks that want it, then send with retries.

Sending never happens inside a database transaction: a sender claims due deliveries (a lease, committed),
sends them with no transaction open — each webhook's in a thread of its own, so a hanging receiver holds up
nobody else — and records each outcome in a short transaction of its own as soon as it is known. While a
lease is held nobody else sends that delivery. At least once: a crash after a receiver answered but before
we recorded it sends the same body (same event_id) again once the lease expires, so receivers deduplicate.
"""

import json
import logging
import queue
import secrets as random_secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from models import OutboxMessage, Webhook, WebhookDelivery
from models.base import db, upsert
from workflow import tally
from workflow.notifications import formats, mail, quiet, render
from workflow.notifications.webhooks import check_destination

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
TIMEOUT_S = 5
BATCH = 200
CHAT_PER_MINUTE = 20  # WeCom, DingTalk and Feishu robots each take about 20 messages a minute
LEASE = timedelta(minutes=5)  # a hook's run ends at its first failure, so one slow receiver costs one timeout
EVENTS = ("problem.created", "problem.transitioned", "escalation.fired", "round.missed", "audit.anchor",
          "digest.daily")

Sender = Callable[[str, bytes, dict], "int | tuple[int, bytes]"]
signature = formats.signature  # kept here too: receivers' docs and older tests name delivery.signature


def backoff(attempts: int) -> timedelta:
    """1 minute after the first failure, doubling, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


# --- fan-out -------------------------------------------------------------------------------------------

def fan_out(*, now: datetime, base_url: str | None = None) -> int:
    """Turn undelivered outbox messages into one delivery per subscribed webhook; returns messages handled."""
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
        status="pending", attempts=0, next_attempt_at=due, created_at=now).on_conflict_do_nothing(
        index_elements=["webhook_id", "event_id"]))


# --- sending -------------------------------------------------------------------------------------------

class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a bodiless GET (and could lead anywhere): a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST and return the status and (the start of) the answer; raise on network failure or timeout."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=TIMEOUT_S) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as error:
        return error.code, b""


@dataclass
class Job:
    """What a claimed delivery needs to be sent with no database at hand."""

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


def deliver(*, now: datetime, send: Sender | None = None, allow_private: bool = False, resolve=None,
            smtp: mail.Smtp | None = None) -> dict[str, int]:
    """Claim what is due, send it outside any transaction (one thread per webhook), record each outcome.

    Over the network (`send` None or http_post) every URL is checked first and refused when it is or resolves to
    a private address, unless `allow_private` (development's echo endpoint, tests' local receivers)."""
    jobs = claim(now=now)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    if not jobs:
        return counts
    results: queue.Queue = queue.Queue()
    groups: dict[int, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.webhook_id, []).append(job)
    for group in groups.values():
        threading.Thread(target=_send_group, args=(group, now, send, allow_private, resolve, smtp, results),
                         daemon=True, name=f"webhook-{group[0].webhook_id}").start()
    for _ in jobs:  # record each outcome as it arrives: a slow hook's wait is nobody else's
        job = results.get()
        outcome = record(job, now=now)
        if outcome is not None:
            tally.count("delivery", result=outcome)
            counts[outcome] += 1
    return counts


def _send_group(jobs: list[Job], now: datetime, send: Sender | None, allow_private: bool, resolve, smtp,
                results) -> None:
    """Send one webhook's jobs in order; after its first failure the rest wait for a later run."""
    failed = False
    for job in jobs:
        try:
            if failed:
                job.error = "skipped: an earlier attempt to this webhook failed in this run"
            else:
                _mail(job, smtp) if job.format == "email" else _attempt(job, now, send, allow_private, resolve)
                failed = job.error is not None
        except BaseException as failure:  # never leave the recorder waiting for an answer that cannot come
            job.error, failed = f"{type(failure).__name__}: {failure}", True
        finally:
            results.put(job)


def _attempt(job: Job, now: datetime, send: Sender | None, allow_private: bool, resolve) -> None:
    try:
        if send is None or send is http_post:  # over the network
            check_destination(job.url, allow_private=allow_private, resolve=resolve)
        url, body, headers = formats.build_request(job.format, url=job.url, secret=job.secret, body=job.body,
                                                   event_type=job.event_type, event_id=job.event_id, now=now)
        answer = (send or http_post)(url, body, headers)
        job.status, reply = answer if isinstance(answer, tuple) else (answer, b"")
        job.error = formats.outcome(job.format, job.status, reply)
    except Exception as failure:  # refused, reset, timed out, a URL refused or unusable: one bad hook stops no other
        job.error = f"{type(failure).__name__}: {failure}"


def _mail(job: Job, smtp: "mail.Smtp | None") -> None:
    try:
        if smtp is None:
            raise RuntimeError("no SMTP server is configured (SMTP_HOST)")
        content = json.loads(job.body)
        mail.send(smtp, to=mail.recipients(job.url), subject=content["subject"], text=content["text"])
    except Exception as failure:  # refused, timed out, TLS refused, a bad address: a failed attempt like any
        job.error = f"{type(failure).__name__}: {failure}"


# --- claiming and recording ----------------------------------------------------------------------------

def claim(*, now: datetime) -> list[Job]:
    """Lease the due deliveries of active webhooks (robots within their rate), commit, and describe them."""
    due = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.webhook_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, Webhook.active.is_(True),
               or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)
        .with_for_update(skip_locked=True, of=WebhookDelivery)).all()
    chosen = _within_rate(due, now)
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
    if job.error and job.error.startswith("skipped:"):
        db.session.execute(update(WebhookDelivery).where(mine).values(lease_until=None, lease_token=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        return None
    attempts = job.attempts + 1
    values, outcome = _outcome_values(job.error, attempts, now)
    done = db.session.execute(update(WebhookDelivery).where(mine).values(
        attempts=attempts, last_attempt_at=now, lease_until=None, lease_token=None, **values)
        .returning(WebhookDelivery.id).execution_options(synchronize_session=False)).first()
    db.session.commit()
    if done is None:  # the lease ran out and another sender took it over: theirs is the record
        log.warning("delivery %d: lease lost before its outcome was recorded", job.id, extra={"delivery_id": job.id})
        return None
    _log(job, outcome, attempts)
    return outcome


def _outcome_values(error: str | None, attempts: int, now: datetime) -> tuple[dict, str]:
    """The attempt's outcome: delivered, failed (retried after a backoff) or dead."""
    if error is None:
        return {"status": "delivered", "delivered_at": now, "last_error": None}, "delivered"
    if attempts >= MAX_ATTEMPTS:
        # A dead delivery is never due again: its next_attempt_at records when it died (/healthz counts a day's).
        return {"status": "dead", "next_attempt_at": now, "last_error": error[:500]}, "dead"
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
    if delivery is not None and delivery.status == "dead":
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    return delivery
