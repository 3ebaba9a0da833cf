"""Webhooks an admin registers, and their deliveries."""

from datetime import datetime

from sqlalchemy import select

from models import Webhook, WebhookDelivery
from models.base import db
from models.enums import DeliveryStatus
from workflow.errors import Conflict, NotFound
from workflow.notifications import delivery


def create_webhook(*, now: datetime, url: str, secret: str, events: list[str], active: bool = True) -> Webhook:
    hook = Webhook(url=url, secret=secret, events=list(dict.fromkeys(events)), active=active, created_at=now)
    db.session.add(hook)
    db.session.flush()
    return hook


def edit_webhook(*, webhook_id: int, **changes) -> Webhook:
    """Change a webhook's URL, secret, events or active flag (deliveries already made keep their body)."""
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    for name in ("url", "secret", "events", "active"):
        if name in changes:
            setattr(hook, name, list(dict.fromkeys(changes[name])) if name == "events" else changes[name])
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
