"""The daily digest (每日待办摘要): each supervisor, at 08:00 in their unit's timezone on working days, gets the
figures of their subtree — overdue, red lights, awaiting dispatch, awaiting close, rounds missed yesterday —
in their inbox, and the unit's subscribed channels (`digest.daily` webhooks and robots) get it once.

Made once per day per person however many schedulers tick: the inbox row's dedupe key is the local date, and
only the scheduler that made the unit's first supervisor's row queues the channel message."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from models import Notification, PatrolPlan, PatrolRound, Problem, Unit, User
from models.base import db
from models.enums import Light, NotificationType, Role, RoundState, State
from workflow import calendar
from workflow.notifications import outbox, work
from workflow.problems.lifecycle import OPEN_STATES
from workflow.scope import subtree_ids

AT = time(8, 0)
TOPIC = "digest.daily"


def send_digests(*, now: datetime) -> int:
    """Send every supervisor whose 08:00 has come on a working day today's digest, once; returns how many."""
    work_days = calendar.load_calendar(db.session)
    made = 0
    for user in db.session.scalars(select(User).where(User.role == Role.SUPERVISOR, User.active.is_(True),
                                                      User.unit_id.is_not(None)).order_by(User.id)):
        day = _due_day(user.unit, now, work_days)
        if day is not None and not _sent(user.id, day):
            made += _send(user, day, now)
    return made


def _due_day(unit: Unit, now: datetime, work_days) -> "datetime.date | None":
    local = now.astimezone(ZoneInfo(unit.timezone))
    if local.time() < AT or not work_days.is_workday(local.date()):
        return None
    return local.date()


def _sent(user_id: int, day) -> bool:
    return db.session.scalar(select(Notification.id).where(Notification.user_id == user_id,
                                                           Notification.dedupe_key == f"digest:{day}")) is not None


def _send(user: User, day, now: datetime) -> int:
    figures = figures_for(user.unit, day, now)
    title = f"每日待办摘要 {day.isoformat()} {user.unit.name}"
    lines = [f"**{title}**", f"超期 {figures['overdue']} 件，红灯 {figures['red']} 件",
             f"待派遣 {figures['awaiting_dispatch']} 件，待结案 {figures['awaiting_close']} 件",
             f"昨日漏巡 {figures['rounds_missed_yesterday']} 次"]
    made = work.put(user_ids=[user.id], type=NotificationType.DIGEST, title=title[:200],
                    body="\n".join(lines[1:]), now=now, key=f"digest:{day}")
    first = work.members(user.unit_id, Role.SUPERVISOR)[:1] == [user.id]
    if made and first:  # the unit's channels hear it once, from whoever made its first supervisor's row
        outbox.enqueue(topic=TOPIC, now=now, payload={"unit_id": user.unit_id, "data": {
            "unit_id": user.unit_id, "day": day.isoformat(), "title": title, "lines": lines, **figures}})
    return made


def figures_for(unit: Unit, day, now: datetime) -> dict[str, int]:
    """The digest's figures for a unit's subtree as of `now`; `day` is the local date it is for."""
    units = subtree_ids(unit)
    mine = or_(Problem.grid_unit_id.in_(units), Problem.unit_id.in_(units))
    open_ = Problem.state.in_([state.value for state in OPEN_STATES])

    def count(*conds) -> int:
        return db.session.scalar(select(func.count()).select_from(Problem).where(mine, *conds)) or 0

    tz = ZoneInfo(unit.timezone)
    start = datetime.combine(day - timedelta(days=1), time(), tzinfo=tz)
    missed = db.session.scalar(select(func.count()).select_from(PatrolRound).join(
        PatrolPlan, PatrolPlan.id == PatrolRound.plan_id).where(
        PatrolPlan.unit_id.in_(units), PatrolRound.state == RoundState.MISSED, PatrolRound.planned_start >= start,
        PatrolRound.planned_start < start + timedelta(days=1))) or 0
    return {"overdue": count(open_, Problem.overdue_clause(now)),  # the one definition (decision 0033)
            "red": count(open_, Problem.light_clause(Light.RED, now)),
            "awaiting_dispatch": count(Problem.state == State.REPORTED),
            "awaiting_close": count(Problem.state == State.VERIFIED),
            "rounds_missed_yesterday": missed}
