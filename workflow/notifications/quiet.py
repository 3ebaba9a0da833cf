"""Quiet hours (免打扰): a group chat hears nothing non-urgent at night; what waits goes out when they end.

Each unit has its quiet hours (local, default 22:00–07:00); a webhook follows its unit's, an unscoped one the
hours of the unit the message is about. Urgent problems and escalations to the top level go through."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models import EscalationRule, Unit, Webhook
from models.base import db
from workflow.notifications import formats

DEFAULT = ("22:00", "07:00")


def top_escalation_level() -> int:
    """The highest level an active escalation rule fires at."""
    return db.session.scalar(select(func.max(EscalationRule.level)).where(EscalationRule.active.is_(True))) or 0


def release_at(hook: Webhook, facts, now: datetime, top_level: int) -> datetime:
    """When a delivery may first go out: now, or the end of the quiet hours it falls in."""
    if hook.format not in formats.CHATS or facts.urgent:
        return now
    if facts.message.topic == "escalation.fired" and facts.data.get("level", 0) >= top_level > 0:
        return now
    unit = db.session.get(Unit, hook.unit_id or min(facts.unit_ids, default=0))
    hours = (unit.quiet_start, unit.quiet_end) if unit is not None else DEFAULT
    zone = ZoneInfo(unit.timezone if unit is not None else facts.timezone)
    return quiet_until(now, hours, zone) or now


def quiet_until(now: datetime, hours: tuple[str, str], zone: ZoneInfo) -> datetime | None:
    """The end of the quiet period `now` lies in (local hours, possibly across midnight), or None."""
    start, end = (time.fromisoformat(value) for value in hours)
    if start == end:
        return None
    local = now.astimezone(zone)
    today_end = datetime.combine(local.date(), end, tzinfo=zone)
    if start > end:  # across midnight: quiet after start tonight, or before end this morning
        if local.time() >= start:
            return today_end + timedelta(days=1)
        return today_end if local.time() < end else None
    return today_end if start <= local.time() < end else None
