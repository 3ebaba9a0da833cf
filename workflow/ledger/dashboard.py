"""The console's desk view: open problems by state and light in the caller's scope, and what waits for them."""

from datetime import datetime

from sqlalchemy import func, select

from models import Problem, User
from models.base import db
from models.enums import Action, Light
from workflow.notifications import tasks
from workflow.problems.actions import allowed_actions
from workflow.problems.lifecycle import OPEN_STATES
from workflow.scope import problem_filter

# Actions that are always open to someone and say nothing about whose turn it is.
NOT_A_TURN = frozenset({Action.COMMENT, Action.ATTACH, Action.ESCALATE})
WAITING_LIMIT = 10


def counts(*, actor: User, now: datetime) -> dict:
    """Open problems the caller can see, by state and by light, in one statement: per state a count and a
    filtered count per light, read from the partial index of open problems (ix_problems_open_desk)."""
    lights = [func.count().filter(Problem.light_clause(light, now)).label(light.value) for light in Light]
    stmt = (select(Problem.state, func.count().label("n"), *lights)
            .where(problem_filter(actor), Problem.state.in_(OPEN_STATES)).group_by(Problem.state))
    by_state: dict[str, int] = {}
    by_light = {"red": 0, "yellow": 0, "green": 0, "none": 0}
    for row in db.session.execute(stmt):
        by_state[row.state] = row.n
        for colour in ("red", "yellow", "green"):
            by_light[colour] += row._mapping[colour]
        by_light["none"] += row.n - sum(row._mapping[colour] for colour in ("red", "yellow", "green"))
    return {"by_state": by_state, "by_light": by_light, "open": sum(by_state.values())}


def waiting_for(*, actor: User, now: datetime, limit: int = WAITING_LIMIT) -> list[tuple[Problem, list[str]]]:
    """Problems whose next step waits for the caller: the problem tasks of their to-do queue (one rule set with
    /me/tasks, workflow/notifications/tasks.py), the most urgent deadline first, each with the moves the caller
    has (the same rules as the API's allowed_actions)."""
    return [(problem, [a for a in allowed_actions(problem, actor, now) if a not in NOT_A_TURN])
            for _, problem in tasks.waiting_problems(actor=actor, now=now, limit=limit)]
