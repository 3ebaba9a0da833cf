"""The whole problem lifecycle on one screen.

Each action names, side by side: the states it leaves, the state it reaches (None: it stays), the roles
that may take it, its required and optional fields, the guard that checks the row and the caller (shared
with `allowed_actions`, see guards.py), the effect that changes the row besides its state (effects.py),
and whether it starts its target state's stage clock afresh (a new clock cycle). `apply_action` in
actions.py is the only code that applies a rule.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from models import Problem, User
from models.enums import FINISHED_STATES, Action, Role, Stage, State
from workflow.problems import effects, guards

OPEN_STATES = frozenset(State) - FINISHED_STATES


@dataclass
class Step:
    """One action being applied: what guards read and effects change."""

    problem: Problem
    actor: User
    now: datetime
    fields: dict
    recorded: dict = field(default_factory=dict)  # what effects add to the event's fields


def _nothing(step: Step) -> None:
    """The guard or effect of an action that needs none."""


@dataclass(frozen=True)
class Rule:
    frm: frozenset[State]
    to: State | None  # None: the state does not change
    roles: frozenset[Role]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    guard: Callable[[Step], None] = _nothing
    effect: Callable[[Step], None] = _nothing
    restarts_stage: bool = False  # starts the target state's stage clock afresh (a new clock cycle)
    changes_version: bool = True


def rule(frm, to, roles, required=(), optional=(), *, guard=_nothing, effect=_nothing, restarts_stage=False,
         changes_version=True) -> Rule:
    return Rule(frozenset(frm), to, frozenset(roles), frozenset(required), frozenset(optional), guard, effect,
                restarts_stage, changes_version)


S, R, g, e = State, Role, guards, effects
TRANSITIONS: dict[Action, Rule] = {
    Action.ASSIGN: rule({S.REPORTED}, S.ASSIGNED, {R.SUPERVISOR}, {"unit_id"}, {"handler_id", "note"},
                        effect=e.assign, restarts_stage=True),
    Action.REASSIGN: rule({S.ASSIGNED, S.RECTIFYING}, S.ASSIGNED, {R.SUPERVISOR}, {"unit_id", "note"},
                          {"handler_id"}, effect=e.reassign, restarts_stage=True),
    Action.RETURN: rule({S.ASSIGNED}, S.REPORTED, {R.HANDLER}, {"reason"},
                        effect=e.return_to_dispatch, restarts_stage=True),
    Action.ACCEPT: rule({S.ASSIGNED}, S.RECTIFYING, {R.HANDLER}, (), {"note"}, restarts_stage=True),
    Action.SUBMIT: rule({S.RECTIFYING}, S.VERIFYING, {R.HANDLER}, {"note"},
                        guard=g.after_photo, effect=e.submit, restarts_stage=True),
    Action.VERIFY: rule({S.VERIFYING}, S.VERIFIED, {R.OFFICER}, {"note"},
                        guard=g.not_the_submitter, effect=e.verify),
    Action.REJECT: rule({S.VERIFYING}, S.RECTIFYING, {R.OFFICER}, {"reason"},
                        effect=e.rework, restarts_stage=True),
    Action.CLOSE: rule({S.VERIFIED}, S.CLOSED, {R.SUPERVISOR}, (), {"note"},
                       guard=g.may_close, effect=e.close),
    Action.SEND_BACK: rule({S.VERIFIED}, S.RECTIFYING, {R.SUPERVISOR}, {"reason"},
                           guard=g.has_responsible_unit, effect=e.rework, restarts_stage=True),
    Action.CANCEL: rule({S.REPORTED, S.ASSIGNED}, S.CANCELLED, {R.SUPERVISOR}, {"reason"},
                        {"duplicate_of", "reason_code"}, effect=e.cancel),
    Action.SUSPEND: rule({S.RECTIFYING}, S.SUSPENDED, {R.SUPERVISOR}, {"note"},
                         guard=g.may_suspend, effect=e.suspend),
    Action.RESUME: rule({S.SUSPENDED}, S.RECTIFYING, {R.SUPERVISOR}, (), {"note"}, effect=e.resume),
    Action.REQUEST_EXTENSION: rule({S.RECTIFYING}, None, {R.HANDLER}, {"until", "note"},
                                   guard=g.no_pending_extension, effect=e.request_extension),
    Action.GRANT_EXTENSION: rule({S.RECTIFYING}, None, {R.SUPERVISOR}, (), {"note"},
                                 guard=g.may_grant_extension, effect=e.grant_extension),
    Action.DENY_EXTENSION: rule({S.RECTIFYING}, None, {R.SUPERVISOR}, (), {"reason"},
                                guard=g.may_answer_extension, effect=e.deny_extension),
    Action.COMMENT: rule(OPEN_STATES, None, set(Role) - {R.PUBLIC}, {"text"}, changes_version=False),
    Action.CALLBACK: rule({S.CLOSED}, None, {R.SUPERVISOR, R.HOTLINE}, {"satisfaction"}, {"note"},
                          guard=g.called_back_source, effect=e.callback),
    Action.REOPEN: rule({S.CLOSED}, S.RECTIFYING, {R.SUPERVISOR}, {"reason"},
                        guard=g.unsatisfied_callback, effect=e.reopen, restarts_stage=True),
}

ACTIONS = tuple(TRANSITIONS)

# Refusals take `reason`, everything else `note` (decision 0030). The names these actions took before
# keep working for a release; the API answers them with a Deprecation header.
DEPRECATED_NAMES: dict[Action, dict[str, str]] = {
    Action.REASSIGN: {"reason": "note"},
    Action.SUSPEND: {"reason": "note"},
    Action.REQUEST_EXTENSION: {"reason": "note"},
    Action.DENY_EXTENSION: {"note": "reason"},
}

# Which stage clock runs in a state; the whole-case clock runs from assign to close.
STAGE_OF_STATE: dict[State, Stage | None] = {
    S.REPORTED: Stage.DISPATCH,
    S.ASSIGNED: Stage.ACCEPT,
    S.RECTIFYING: Stage.RECTIFY,
    S.VERIFYING: Stage.VERIFY,
    S.VERIFIED: None,
    S.CLOSED: None,
    S.CANCELLED: None,
    S.SUSPENDED: Stage.RECTIFY,
}


def current_names(action: str, fields: dict) -> tuple[dict, list[str]]:
    """`fields` under the names `action` takes now, and the deprecated names that were used."""
    renames = next((names for known, names in DEPRECATED_NAMES.items() if known.value == action), {})
    used = [old for old in renames if old in fields and renames[old] not in fields]
    return {renames[name] if name in used else name: value for name, value in fields.items()}, used


@cache
def candidates(state: str, role: str) -> tuple[tuple[Action, bool], ...]:
    """The actions whose rule lets `role` take them from `state`, in table order, each with whether its guard
    must still look at the row and the caller (False: the rule has no guard, so it is allowed as it is).
    `allowed_actions` runs only these guards: a ledger page asks for every row, and rows of one state
    share the answer but for their guards."""
    return tuple((action, rule.guard is not _nothing) for action, rule in TRANSITIONS.items()
                 if state in rule.frm and role in rule.roles)


def rule_for(action: str) -> Rule:
    """The rule of an action code (ValueError for a code that is not an action)."""
    return TRANSITIONS[Action(action)]
