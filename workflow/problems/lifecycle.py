"""The whole problem lifecycle on one screen: who may move a problem from where to where."""

from dataclasses import dataclass

from models.enums import Action, Role, Stage, State

OPEN_STATES = frozenset(State) - {State.CLOSED, State.CANCELLED}


@dataclass(frozen=True)
class Rule:
    frm: frozenset[State]
    to: State | None  # None: the state does not change
    roles: frozenset[Role]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    changes_version: bool = True


def rule(frm, to, roles, required=(), optional=(), changes_version=True) -> Rule:
    return Rule(frozenset(frm), to, frozenset(roles), frozenset(required), frozenset(optional),
                changes_version)


S, R = State, Role
TRANSITIONS: dict[Action, Rule] = {
    Action.ASSIGN: rule({S.REPORTED}, S.ASSIGNED, {R.SUPERVISOR}, {"unit_id"}, {"handler_id", "note"}),
    Action.REASSIGN: rule({S.ASSIGNED, S.RECTIFYING}, S.ASSIGNED, {R.SUPERVISOR},
                          {"unit_id", "reason"}, {"handler_id"}),
    Action.RETURN: rule({S.ASSIGNED}, S.REPORTED, {R.HANDLER}, {"reason"}),
    Action.ACCEPT: rule({S.ASSIGNED}, S.RECTIFYING, {R.HANDLER}, (), {"note"}),
    Action.SUBMIT: rule({S.RECTIFYING}, S.VERIFYING, {R.HANDLER}, {"note"}),
    Action.VERIFY: rule({S.VERIFYING}, S.VERIFIED, {R.OFFICER}, {"note"}),
    Action.REJECT: rule({S.VERIFYING}, S.RECTIFYING, {R.OFFICER}, {"reason"}),
    Action.CLOSE: rule({S.VERIFIED}, S.CLOSED, {R.SUPERVISOR}, (), {"note"}),
    Action.SEND_BACK: rule({S.VERIFIED}, S.RECTIFYING, {R.SUPERVISOR}, {"reason"}),
    Action.CANCEL: rule({S.REPORTED, S.ASSIGNED}, S.CANCELLED, {R.SUPERVISOR},
                        {"reason"}, {"duplicate_of"}),
    Action.SUSPEND: rule({S.RECTIFYING}, S.SUSPENDED, {R.SUPERVISOR}, {"reason"}),
    Action.RESUME: rule({S.SUSPENDED}, S.RECTIFYING, {R.SUPERVISOR}, (), {"note"}),
    Action.REQUEST_EXTENSION: rule({S.RECTIFYING}, None, {R.HANDLER}, {"until", "reason"}),
    Action.GRANT_EXTENSION: rule({S.RECTIFYING}, None, {R.SUPERVISOR}, (), {"note"}),
    Action.DENY_EXTENSION: rule({S.RECTIFYING}, None, {R.SUPERVISOR}, (), {"note"}),
    Action.COMMENT: rule(OPEN_STATES, None, set(Role), {"text"}, changes_version=False),
}

ACTIONS = tuple(TRANSITIONS)

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

# Actions that start the stage clock of their target state afresh (a new clock cycle).
RESTARTS_STAGE = frozenset({
    Action.ASSIGN, Action.REASSIGN, Action.RETURN, Action.ACCEPT, Action.SUBMIT,
    Action.REJECT, Action.SEND_BACK,
})


def rule_for(action: str) -> Rule:
    """The rule of an action code (KeyError for codes that are not actions)."""
    return TRANSITIONS[Action(action)]
