"""Webhooks an admin registers, and their deliveries."""

from datetime import datetime

from sqlalchemy import select

from models import User, Webhook, WebhookDelivery
from models.base import db
from models.enums import DeliveryStatus
from workflow.errors import Conflict, Invalid, NotFound
from workflow.notifications import delivery, targets
from workflow.roster import trail
from workflow.roster.edits import Kind, check_version, commit_edit

WEBHOOK = Kind("webhook", Webhook, ("url", "secret", "events", "active"))


def check_url(url: str, *, allow_private: bool) -> None:
    """422 for a URL toward a private, loopback or link-local address (unless WEBHOOK_ALLOW_PRIVATE)."""
    if allow_private:
        return
    try:
        targets.check_registration(url)
    except targets.NotPublic:
        raise Invalid("webhooks deliver to public addresses only", errors={"url": [
            "not a public address (private, loopback, link-local and local names are refused)"]}) from None


def create_webhook(*, now: datetime, url: str, secret: str, events: list[str], active: bool = True,
                   actor: User | None = None, allow_private: bool = False) -> Webhook:
    """Register a receiver (checked now, and again at every send); an admin's registration goes on the admin
    trail (the secret written "changed")."""
    check_url(url, allow_private=allow_private)
    hook = Webhook(url=url, secret=secret, events=list(dict.fromkeys(events)), active=active, created_at=now,
                   version=1)
    db.session.add(hook)
    db.session.flush()
    if actor is not None:
        trail.record_creation(WEBHOOK.resource, hook, WEBHOOK.fields, actor=actor, now=now, secret=("secret",))
    return hook


def edit_webhook(*, actor: User | None, now: datetime, webhook_id: int, expected_version: int | None,
                 reason: str | None = None, allow_private: bool = False, **changes) -> Webhook:
    """Change a webhook's URL, secret, events or active flag under If-Match (deliveries already made keep
    their body); the admin trail says the secret changed, never to what."""
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    check_version(hook, expected_version, "webhook")
    if "url" in changes:
        check_url(changes["url"], allow_private=allow_private)
    before = {name: getattr(hook, name) for name in WEBHOOK.fields}
    for name in WEBHOOK.fields:
        if name in changes:
            setattr(hook, name, list(dict.fromkeys(changes[name])) if name == "events" else changes[name])
    commit_edit(WEBHOOK, hook, actor=actor, now=now, before=before, reason=reason, secret=("secret",))
    return hook


def select_webhooks():
    return select(Webhook)


def select_deliveries(*, webhook_id: int, status: str | None = None):
    if db.session.get(Webhook, webhook_id) is None:
        raise NotFound(f"webhook {webhook_id} not found")
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    return stmt.where(WebhookDelivery.status == status) if status else stmt


def redrive(*, delivery_id: int, now: datetime) -> WebhookDelivery:
    """A dead delivery gets a fresh set of attempts from now; anything else is refused."""
    found = db.session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if found.status != DeliveryStatus.DEAD:
        raise Conflict(f"only a dead delivery can be redriven; this one is {found.status}")
    return delivery.redrive(delivery_id=delivery_id, now=now)
