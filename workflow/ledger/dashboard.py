"""The console's desk view: open problems by state and light in the caller's scope, and what waits for them."""

from datetime import datetime

from sqlalchemy import case, func, select

from models import Problem, User
from models.base import db
from models.enums import Action
from workflow.ledger.query import LIGHTS
from workflow.problems.actions import allowed_actions
from workflow.problems.lifecycle import OPEN_STATES, TRANSITIONS
from workflow.scope import problem_filter

# Actions that are always open to someone and say nothing about whose turn it is.
NOT_A_TURN = frozenset({Action.COMMENT, Action.ATTACH, Action.ESCALATE})
WAITING_LIMIT = 20


def counts(*, actor: User, now: datetime) -> dict:
    """Open problems the caller can see, by state and by light, in one statement."""
    light = case((LIGHTS["red"](now), "red"), (LIGHTS["yellow"](now), "yellow"),
                 (LIGHTS["green"](now), "green"), else_="none")
    stmt = (select(Problem.state, light.label("light"), func.count())
            .where(problem_filter(actor), Problem.state.in_(OPEN_STATES))
            .group_by(Problem.state, light))
    by_state: dict[str, int] = {}
    by_light = {"red": 0, "yellow": 0, "green": 0, "none": 0}
    for state, colour, n in db.session.execute(stmt):
        by_state[state] = by_state.get(state, 0) + n
        by_light[colour] += n
    return {"by_state": by_state, "by_light": by_light, "open": sum(by_state.values())}


def _turn_states(actor: User) -> set[str]:
    """The states in which some action that moves the case is the caller's role's."""
    return {state for action, rule in TRANSITIONS.items() if action not in NOT_A_TURN and actor.role in rule.roles
            for state in rule.frm}


def waiting_for(*, actor: User, now: datetime, limit: int = WAITING_LIMIT) -> list[tuple[Problem, list[str]]]:
    """Problems whose next step the caller can take now, the most urgent stage deadline first, each with the
    actions (the same rules as the API's allowed_actions)."""
    states = _turn_states(actor)
    if not states:
        return []
    stmt = (select(Problem).where(problem_filter(actor), Problem.state.in_(states))
            .order_by(Problem.stage_due_at.is_(None), Problem.stage_due_at, Problem.id).limit(limit * 3))
    waiting = []
    for problem in db.session.scalars(stmt):
        moves = [a for a in allowed_actions(problem, actor, now) if a not in NOT_A_TURN]
        if moves:
            waiting.append((problem, moves))
        if len(waiting) == limit:
            break
    return waiting
