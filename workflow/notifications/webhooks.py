"""Webhooks and group-chat robots: admins manage all, supervisors those scoped to their subtree."""

import ipaddress
import secrets as random_secrets
import socket
import urllib.parse
from datetime import datetime

from sqlalchemy import select

from models import Unit, User, Webhook, WebhookDelivery
from models.base import db
from models.enums import Role
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.notifications import formats, mail
from workflow.scope import subtree_ids, unit_within


class RefusedDestination(ValueError):
    """A webhook URL that must not be called (a private, loopback or otherwise non-public address)."""


def check_destination(url: str, *, allow_private: bool = False, resolve=None) -> None:
    """Refuse a URL that is not http(s) or whose host is, or resolves to, a non-public address.

    The one place this is decided (issue 21 hardens the same check): the API calls it without resolving (a
    literal private address or `localhost` is 422), the sender calls it with the resolver before each attempt."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination("only http(s) URLs with a host")
    if allow_private:
        return
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise RefusedDestination("not a public address")
    addresses = [host] if _is_ip(host) else []
    if not addresses and resolve is not False:
        infos = (resolve or socket.getaddrinfo)(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        addresses = [info[4][0] for info in infos]
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise RefusedDestination("not a public address")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _checked_url(url: str, allow_private: bool, fmt: str = "rectify") -> str:
    try:
        if fmt == "email":
            mail.recipients(url)
        else:
            check_destination(url, allow_private=allow_private, resolve=False)
    except ValueError as refused:
        raise Invalid(f"the URL cannot be used: {refused}", errors={"url": [f"{refused}"]}) from None
    return url


def _checked_events(fmt: str, events: list[str]) -> list[str]:
    if fmt == "email" and set(events) - {"digest.daily"}:
        raise Invalid("an e-mail channel carries the daily digest only", errors={"events": ["digest.daily only"]})
    return list(dict.fromkeys(events))


def _scope(actor: User, unit_id: int | None) -> int | None:
    """Admins may scope a hook anywhere or nowhere; a supervisor only inside their own subtree."""
    if unit_id is not None and db.session.get(Unit, unit_id) is None:
        raise Invalid(f"unknown unit {unit_id}", errors={"unit_id": ["unknown unit"]})
    if actor.role == Role.ADMIN:
        return unit_id
    if unit_id is None:
        return actor.unit_id
    if not unit_within(db.session.get(Unit, unit_id), actor.unit):
        raise Forbidden("a supervisor manages the webhooks of their own subtree")
    return unit_id


def _secret(fmt: str, secret: str | None) -> tuple[str | None, bool]:
    """The secret to sign with, and whether we made it (then it is shown once)."""
    if secret is not None:
        return secret, False
    if fmt == "rectify":
        return random_secrets.token_urlsafe(32), True
    if fmt in formats.NEEDS_SECRET:
        raise Invalid(f"a {fmt} robot needs the secret its 加签/签名校验 setting shows",
                      errors={"secret": [f"required for {fmt}"]})
    return None, False


def create_webhook(*, now: datetime, url: str, events: list[str], actor: User | None = None,
                   secret: str | None = None, active: bool = True, format: str = "rectify",
                   unit_id: int | None = None, allow_private: bool = False) -> Webhook:
    """Register a webhook; a secret made here is on the returned object once (`shown_secret`)."""
    unit_id = _scope(actor, unit_id) if actor is not None else unit_id
    secret, made = _secret(format, secret)
    hook = Webhook(url=_checked_url(url, allow_private, format), secret=secret or "",
                   events=_checked_events(format, events),
                   active=active, created_at=now, format=format, unit_id=unit_id)
    db.session.add(hook)
    db.session.flush()
    hook.shown_secret = secret if made else None
    return hook


def edit_webhook(*, webhook_id: int, actor: User | None = None, allow_private: bool = False, **changes) -> Webhook:
    """Change a webhook's URL, secret, events, scope or active flag (deliveries already made keep their body)."""
    hook = get_webhook(actor=actor, webhook_id=webhook_id)
    if "url" in changes:
        _checked_url(changes["url"], allow_private, hook.format)
    if "events" in changes:
        changes["events"] = _checked_events(hook.format, changes["events"])
    if "unit_id" in changes and actor is not None:
        changes["unit_id"] = _scope(actor, changes["unit_id"])
    for name in ("url", "secret", "events", "active", "unit_id"):
        if name in changes:
            setattr(hook, name, list(dict.fromkeys(changes[name])) if name == "events" else changes[name])
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
    if found.status != "dead":
        raise Conflict(f"only a dead delivery can be redriven; this one is {found.status}")
    found.status, found.attempts, found.next_attempt_at = "pending", 0, now
    return found
