"""Webhooks and group-chat robots: admins manage all, supervisors those scoped to their subtree."""

import secrets as random_secrets
from datetime import datetime

from sqlalchemy import select

from models import Unit, User, Webhook, WebhookDelivery
from models.base import db
from models.enums import DeliveryStatus, Role
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.lookup import known
from workflow.notifications import delivery, formats, mail, targets
from workflow.roster import trail
from workflow.roster.edits import Kind, check_version, commit_edit
from workflow.scope import subtree_ids, unit_within

WEBHOOK = Kind("webhook", Webhook, ("url", "secret", "events", "active", "format", "unit_id"))


def check_url(url: str, *, allow_private: bool, fmt: str = formats.RECTIFY) -> None:
    """422 for a URL toward a private, loopback or link-local address (unless WEBHOOK_ALLOW_PRIVATE), or for
    an e-mail channel's `mailto:` that names no good address."""
    try:
        if fmt == formats.EMAIL:
            mail.recipients(url)
        elif not allow_private:
            targets.check_registration(url)
    except targets.NotPublic:
        raise Invalid("webhooks deliver to public addresses only", errors={"url": [
            "not a public address (private, loopback, link-local and local names are refused)"]}) from None
    except ValueError as refused:
        raise Invalid(f"the address cannot be used: {refused}", errors={"url": [f"{refused}"]}) from None


def _checked_events(fmt: str, events: list[str]) -> list[str]:
    if fmt == formats.EMAIL and set(events) - {"digest.daily"}:
        raise Invalid("an e-mail channel carries the daily digest only", errors={"events": ["digest.daily only"]})
    return list(dict.fromkeys(events))


def _scope(actor: User, unit_id: int | None) -> int | None:
    """Admins may scope a hook anywhere or nowhere; a supervisor only inside their own subtree."""
    unit = known(Unit, unit_id, "unit_id", "unit") if unit_id is not None else None
    if actor.role == Role.ADMIN:
        return unit_id
    if unit is None:
        return actor.unit_id
    if not unit_within(unit, actor.unit):
        raise Forbidden("a supervisor manages the webhooks of their own subtree")
    return unit_id


def _secret(fmt: str, secret: str | None) -> tuple[str | None, bool]:
    """The secret to sign with, and whether we made it (then it is shown once)."""
    if secret is not None:
        return secret, False
    if fmt == formats.RECTIFY:
        return random_secrets.token_urlsafe(32), True
    if fmt in formats.NEEDS_SECRET:
        raise Invalid(f"a {fmt} robot needs the secret its 加签/签名校验 setting shows",
                      errors={"secret": [f"required for {fmt}"]})
    return None, False


def create_webhook(*, now: datetime, url: str, events: list[str], actor: User | None = None,
                   secret: str | None = None, active: bool = True, format: str = formats.RECTIFY,
                   unit_id: int | None = None, allow_private: bool = False) -> Webhook:
    """Register a receiver or robot (its URL checked now, and again at every send); a secret made here is on
    the returned object once (`shown_secret`). An actor's registration goes on the admin trail (the secret
    written "changed")."""
    unit_id = _scope(actor, unit_id) if actor is not None else unit_id
    secret, made = _secret(format, secret)
    check_url(url, allow_private=allow_private, fmt=format)
    hook = Webhook(url=url, secret=secret or "", events=_checked_events(format, events), active=active,
                   created_at=now, format=format, unit_id=unit_id, version=1)
    db.session.add(hook)
    db.session.flush()
    if actor is not None:
        trail.record_creation(WEBHOOK.resource, hook, WEBHOOK.fields, actor=actor, now=now, secret=("secret",))
    hook.shown_secret = secret if made else None
    return hook


def edit_webhook(*, actor: User | None, now: datetime, webhook_id: int, expected_version: int | None,
                 reason: str | None = None, allow_private: bool = False, **changes) -> Webhook:
    """Change a webhook's URL, secret, events, scope or active flag under If-Match (deliveries already made
    keep their body); the admin trail says the secret changed, never to what."""
    hook = get_webhook(actor=actor, webhook_id=webhook_id)
    check_version(hook, expected_version, "webhook")
    if "url" in changes:
        check_url(changes["url"], allow_private=allow_private, fmt=hook.format)
    if "events" in changes:
        changes["events"] = _checked_events(hook.format, changes["events"])
    if "unit_id" in changes and actor is not None:
        changes["unit_id"] = _scope(actor, changes["unit_id"])
    before = {name: getattr(hook, name) for name in WEBHOOK.fields}
    for name in WEBHOOK.fields:
        if name in changes:
            setattr(hook, name, list(dict.fromkeys(changes[name])) if name == "events" else changes[name])
    commit_edit(WEBHOOK, hook, actor=actor, now=now, before=before, reason=reason, secret=("secret",))
    return hook


def get_webhook(*, actor: User | None, webhook_id: int) -> Webhook:
    """A webhook the caller manages (404 otherwise: another subtree's hooks do not exist for them)."""
    hook = db.session.scalars(select_webhooks(actor=actor).where(Webhook.id == webhook_id)).first()
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def select_webhooks(*, actor: User | None = None):
    """The webhooks `actor` manages: an admin all, a supervisor those scoped inside their subtree."""
    if actor is None or actor.role == Role.ADMIN:
        return select(Webhook)
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        return select(Webhook).where(Webhook.unit_id.in_(subtree_ids(actor.unit)))
    raise Forbidden("webhooks are managed by admins and supervisors")


def select_deliveries(*, webhook_id: int, status: str | None = None, actor: User | None = None):
    get_webhook(actor=actor, webhook_id=webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    return stmt.where(WebhookDelivery.status == status) if status else stmt


def redrive(*, delivery_id: int, now: datetime, actor: User | None = None) -> WebhookDelivery:
    """A dead delivery gets a fresh set of attempts from now; anything else is refused."""
    found = db.session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound(f"delivery {delivery_id} not found")
    get_webhook(actor=actor, webhook_id=found.webhook_id)
    if found.status != DeliveryStatus.DEAD:
        raise Conflict(f"only a dead delivery can be redriven; this one is {found.status}")
    return delivery.redrive(delivery_id=delivery_id, now=now)
