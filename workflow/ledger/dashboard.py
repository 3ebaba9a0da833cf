"""The console's desk view: open problems by state and light in the caller's scope, and what waits for them."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, insert, or_, select

from models import OpenProblemCount, Problem, User
from models.base import db
from models.enums import Action
from workflow.notifications import tasks
from workflow.problems.actions import allowed_actions
from workflow.problems.lifecycle import OPEN_STATES
from workflow.scope import problem_filter, scope_filter

# Actions that are always open to someone and say nothing about whose turn it is.
NOT_A_TURN = frozenset({Action.COMMENT, Action.ATTACH, Action.ESCALATE})
WAITING_LIMIT = 10
PAST = date(1970, 1, 1)  # the deadline day of counts folded as long past


def counts(*, actor: User, now: datetime) -> dict:
    """Open problems the caller can see, by state and by light (decision 0116): the counts kept by the
    database's triggers give every state and each deadline day before today; today's deadlines up to `now` are
    counted from the problems' own indexes (a day of them at most), so the answer is exact as of `now`."""
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    by_state: dict[str, int] = {}
    by_light = dict.fromkeys(("red", "yellow", "green", "none"), 0)
    recent = {row.state: row for row in db.session.execute(_today_stmt(actor, today, now))}
    for row in db.session.execute(_tallied_stmt(actor, today)):
        if not row.n:
            continue
        due = (row.due_before or 0) + (recent[row.state].due if row.state in recent else 0)
        warned = (row.warn_before or 0) + (recent[row.state].warned if row.state in recent else 0)
        clocked, frozen = row.clocked or 0, row.frozen or 0
        by_state[row.state] = row.n
        by_light["red"] += due + frozen
        by_light["yellow"] += warned - due
        by_light["green"] += clocked - warned
        by_light["none"] += row.n - clocked - frozen
    return {"by_state": by_state, "by_light": by_light, "open": sum(by_state.values())}


def _tallied_stmt(actor: User, today: datetime):
    """Per state: open problems, those with a deadline (or warning) on a day before today, with a running
    clock, frozen red."""
    c, n = OpenProblemCount, func.sum(OpenProblemCount.n)
    day = today.date()
    return (select(c.state, n.label("n"), n.filter(c.due_day < day).label("due_before"),
                   n.filter(c.warn_day < day).label("warn_before"), n.filter(c.due_day.is_not(None)).label("clocked"),
                   n.filter(c.frozen).label("frozen"))
            .where(scope_filter(actor, c)).group_by(c.state))


def _today_stmt(actor: User, today: datetime, now: datetime):
    """Per state: open problems whose stage deadline (or warning) fell today, by `now` (two index ranges)."""
    due = Problem.stage_due_at.between(today, now)
    warned = Problem.stage_warn_at.between(today, now)
    return (select(Problem.state, func.count().filter(due).label("due"), func.count().filter(warned).label("warned"))
            .where(problem_filter(actor), Problem.state.in_(OPEN_STATES), or_(due, warned))
            .group_by(Problem.state))


def compact_counts(*, now: datetime) -> int:
    """Fold the rows the triggers appended into one per key (keys that add up to nothing go); the rows folded.

    DELETE … RETURNING takes exactly the rows it sums, so a write committing meanwhile keeps its own rows.
    Deadline days before yesterday (by `now`) fold into one day, PAST: every later reader counts them red
    alike, so the counts keep a few rows per grid and state however long problems stay open."""
    c = OpenProblemCount.__table__.c
    keys = (c.grid_id, c.grid_unit_id, c.unit_id, c.state, c.due_day, c.warn_day, c.frozen)
    cutoff = now.astimezone(UTC).date() - timedelta(days=1)
    folded: Counter = Counter()
    taken = 0
    for *key, n in db.session.execute(delete(OpenProblemCount.__table__).returning(*keys, c.n)):
        if key[4] is not None and key[4] < cutoff:
            key[4] = key[5] = PAST  # the warning comes before the deadline: past too
        folded[tuple(key)] += n
        taken += 1
    names = [key.name for key in keys]
    rows = [dict(zip(names, key, strict=True), n=n) for key, n in folded.items() if n]
    if rows:
        db.session.execute(insert(OpenProblemCount.__table__), rows)
    return taken


def waiting_for(*, actor: User, now: datetime, limit: int = WAITING_LIMIT) -> list[tuple[Problem, list[str]]]:
    """Problems whose next step waits for the caller: the problem tasks of their to-do queue (one rule set with
    /me/tasks, workflow/notifications/tasks.py), the most urgent deadline first, each with the moves the caller
    has (the same rules as the API's allowed_actions)."""
    return [(problem, [a for a in allowed_actions(problem, actor, now) if a not in NOT_A_TURN])
            for _, problem in tasks.waiting_problems(actor=actor, now=now, limit=limit)]
