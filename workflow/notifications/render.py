"""What an outbox message is about, read once at fan-out: the units it concerns (scoped webhooks), the place,
deadline and link a chat message shows, whom it @-mentions, and whether it is urgent (quiet hours)."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from models import Grid, OutboxMessage, PatrolPlan, Point, Unit, User
from models.base import db
from models.enums import Severity
from workflow.notifications import formats

DEFAULT_TZ = "Asia/Shanghai"


@dataclass
class Facts:
    message: OutboxMessage
    data: dict
    unit_ids: set[int]
    timezone: str
    place: str = ""
    link: str | None = None
    mobiles: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, message: OutboxMessage, *, base_url: str | None) -> "Facts":
        data = message.payload.get("data", message.payload)
        units, timezone = _units_and_zone(message, data)
        facts = cls(message, data, units, timezone)
        if "code" in data:  # a problem
            facts.place = _place(data)
            facts.link = f"{base_url.rstrip('/')}/api/v1/problems/{data['id']}" if base_url else None
            facts.mobiles = _phones(data.get("handler_id"))
        return facts

    @property
    def urgent(self) -> bool:
        return self.data.get("severity") == Severity.URGENT

    def within(self, root_unit_id: int | None) -> bool:
        """True when a webhook scoped to `root_unit_id` (None: everything) wants this message."""
        if root_unit_id is None:
            return True
        root = db.session.get(Unit, root_unit_id)
        paths = [unit.path for unit in map(lambda i: db.session.get(Unit, i), self.unit_ids) if unit is not None]
        return root is not None and any(path.startswith(root.path) for path in paths)

    def body(self, fmt: str) -> str:
        """The stored body for a channel's format (the same bytes on every retry)."""
        if fmt == formats.RECTIFY:
            return json.dumps({"event_id": self.message.id, "type": self.message.topic,
                               "occurred_at": self.message.created_at.isoformat(), "data": self.data},
                              ensure_ascii=False, sort_keys=True)
        text = formats.text_of(self.message.topic, self.data, place=self.place, deadline=self._deadline(),
                               link=self.link, mobiles=self.mobiles)
        return formats.chat_body(fmt, text)

    def _deadline(self) -> str | None:
        when = self.data.get("stage_due_at") or self.data.get("due_at") or self.data.get("planned_start")
        if not when:
            return None
        return datetime.fromisoformat(when).astimezone(ZoneInfo(self.timezone)).strftime("%m-%d %H:%M")


def _units_and_zone(message: OutboxMessage, data: dict) -> tuple[set[int], str]:
    """The units a message concerns and the timezone its times are shown in."""
    units = {unit_id for unit_id in (message.payload.get("unit_id"), data.get("unit_id"),
                                     _unit_of(Grid, data.get("grid_id")), _unit_of(PatrolPlan, data.get("plan_id")))
             if unit_id}
    zones = [unit.timezone for unit in (db.session.get(Unit, i) for i in sorted(units)) if unit is not None]
    return units, zones[0] if zones else DEFAULT_TZ


def _unit_of(model, row_id: int | None) -> int | None:
    """The unit of a grid or plan, when there is one."""
    row = db.session.get(model, row_id) if row_id else None
    return row.unit_id if row is not None else None


def _place(data: dict) -> str:
    point = db.session.get(Point, data["point_id"]) if data.get("point_id") else None
    named = f"{point.name}" if point else ""
    return " ".join(part for part in (named, data.get("address") or (point.address if point else None)) if part)


def _phones(user_id: int | None) -> list[str]:
    user = db.session.get(User, user_id) if user_id else None
    return [user.phone] if user is not None and user.phone else []
