"""The enforcement ladder (执法阶梯) as data: 劝导 advice → 责令限期整改 order → 立案处罚 case → 重点监管 watch.

The steps are rows (config/defaults/ladder.toml seeds them; the four codes are fixed, their names, who may take
them, what they need recorded and their day counts are data). A party climbs:
- on a failed inspection, at least to `advice` (only `advice` items failed) or `order` (an order was issued);
- one step up from where it stands when a re-inspection of its order fails after the deadline, or when an item
  fails again within the current step's `repeat_within_days` of its last failure.
A step the deciding person may not take (立案处罚 needs a supervisor, a case number and a penalty) is proposed
instead: `proposed_step` waits for a supervisor, who takes it with what it needs, or dismisses it. After
`clean_days` without a failure (and no open order) the scheduler takes a party one step down. Every step is an
event on the party's hash-chained trail naming who decided it (null: the scheduler, by rule).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update

from models import InspectionFinding, LadderStep, Party, RectificationOrder, User
from models.base import db, mark_written
from models.enums import OrderState, PartyAction, Role
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.inspections import trail
from workflow.inspections.parties import get_party

ADVICE, ORDER, CASE, WATCH = "advice", "order", "case", "watch"
NONE = "none"  # the step code that means "off the ladder" when a supervisor takes a party down


def steps() -> list[LadderStep]:
    """Every step, lowest first."""
    return list(db.session.scalars(select(LadderStep).order_by(LadderStep.rank)))


def rank_of(code: str | None, ladder: list[LadderStep]) -> int:
    """The rank of a step code (0: off the ladder)."""
    return next((step.rank for step in ladder if step.code == code), 0)


def _at_rank(rank: int, ladder: list[LadderStep]) -> LadderStep | None:
    return next((step for step in ladder if step.rank == rank), None)


@dataclass
class Failure:
    """Why a party is to climb: what its inspection asks at least, and whether it is a repeat or a failed
    re-inspection (one step up from where it stands)."""

    at_least: str
    climb: bool
    rule: str
    inspection_id: int


def repeated(party: Party, item_codes: list[str], since: datetime, *, exclude: int) -> bool:
    """Whether any of these items failed for the party at or after `since`, in another inspection than
    `exclude`."""
    stmt = select(InspectionFinding.id).where(InspectionFinding.party_id == party.id,
                                              InspectionFinding.item_code.in_(item_codes),
                                              InspectionFinding.inspection_id != exclude,
                                              InspectionFinding.at >= since).limit(1)
    return db.session.scalar(stmt) is not None


def repeat_window(party: Party, ladder: list[LadderStep]) -> int | None:
    """The days within which a repeat failure climbs: the current step's, or the first step's when off it."""
    current = next((s for s in ladder if s.code == party.ladder_step), ladder[0] if ladder else None)
    return current.repeat_within_days if current else None


def after_failure(*, party: Party, actor: User, now: datetime, failure: Failure) -> str | None:
    """Climb as the failure asks: take the steps `actor` may take, propose the one they may not. Returns the
    step the party stands on now."""
    ladder = steps()
    current = rank_of(party.ladder_step, ladder)
    target = max(current, rank_of(failure.at_least, ladder))
    if failure.climb:
        target = max(target, current + 1)
    target = min(target, ladder[-1].rank if ladder else 0)
    takeable = max((s.rank for s in ladder if current < s.rank <= target and _automatic(s, actor)), default=current)
    fields = {"rule": failure.rule, "inspection_id": failure.inspection_id}
    if takeable > current:
        _move(party, actor, now, _at_rank(takeable, ladder), PartyAction.STEP_UP, fields=fields)
    if target > takeable and party.proposed_step != _at_rank(target, ladder).code:
        _propose(party, actor, now, _at_rank(target, ladder), fields)
    return party.ladder_step


def _automatic(step: LadderStep, actor: User) -> bool:
    """A step the inspecting person takes by rule: their role may take it and it needs nothing recorded."""
    return actor.role in step.decided_by and not step.requires


def _move(party: Party, actor: User | None, now: datetime, step: LadderStep | None, action: PartyAction, *,
          fields: dict, note: str | None = None) -> None:
    before = party.ladder_step
    party.ladder_step, party.ladder_since = (step.code if step else None), now
    if party.proposed_step is not None and (step is None or _proposal_rank(party) <= step.rank
                                            or action == PartyAction.STEP_DOWN):
        party.proposed_step = None
    trail.record(party, actor, now, action, fields=fields, note=note, from_step=before, to_step=party.ladder_step)


def _proposal_rank(party: Party) -> int:
    return rank_of(party.proposed_step, steps())


def _propose(party: Party, actor: User, now: datetime, step: LadderStep, fields: dict) -> None:
    party.proposed_step = step.code
    trail.record(party, actor, now, PartyAction.PROPOSE, fields=fields | {"proposed_step": step.code})


# --- a person takes a step -------------------------------------------------------------------------

def take_step(*, actor: User, now: datetime, party_id: int, step: str, note: str | None = None,
              case_number: str | None = None, penalty: str | None = None,
              penalty_amount: float | None = None) -> Party:
    """Put a party on a step (`none`: off the ladder), as the step's rules allow `actor`; taking the step it is
    on while a step is proposed dismisses the proposal (a supervisor's call)."""
    party = get_party(actor=actor, party_id=party_id)
    ladder = steps()
    target = _named(step, ladder)
    current, wanted = rank_of(party.ladder_step, ladder), target.rank if target else 0
    _may_take(actor, target, down=wanted < current)
    if wanted == current:
        return _dismiss(party, actor, now, note)
    recorded = {"case_number": case_number, "penalty": penalty, "penalty_amount": penalty_amount}
    _require(target, recorded)
    fields = {"rule": "decision"} | {k: v for k, v in recorded.items() if v is not None}
    action = PartyAction.STEP_DOWN if wanted < current else PartyAction.STEP_UP
    _move(party, actor, now, target, action, fields=fields, note=note)
    party.proposed_step = None
    return party


def _named(step: str, ladder: list[LadderStep]) -> LadderStep | None:
    """The step a code names (None for `none`); Invalid naming `step` for an unknown code."""
    if step == NONE:
        return None
    target = next((s for s in ladder if s.code == step), None)
    if target is None:
        raise Invalid(f"unknown step {step!r}", errors={"step": [", ".join([NONE, *(s.code for s in ladder)])]})
    return target


def _may_take(actor: User, target: LadderStep | None, *, down: bool) -> None:
    if down and actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor takes a party down the ladder")
    if not down and target is not None and actor.role not in target.decided_by:
        raise Forbidden(f"{target.name} is decided by: {', '.join(target.decided_by)}")
    if target is None and actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor takes a party off the ladder")


def _require(target: LadderStep | None, recorded: dict) -> None:
    missing = [name for name in (target.requires if target else []) if recorded.get(name) in (None, "")]
    if missing:
        raise Invalid(f"{target.name} needs {', '.join(missing)}",
                      errors={name: [f"required for {target.code}"] for name in missing})


def _dismiss(party: Party, actor: User, now: datetime, note: str | None) -> Party:
    if party.proposed_step is None:
        raise Conflict(f"the party is on this step already ({party.ladder_step or NONE})")
    if actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor dismisses a proposed step")
    dismissed, party.proposed_step = party.proposed_step, None
    trail.record(party, actor, now, PartyAction.DISMISS, fields={"proposed_step": dismissed}, note=note)
    return party


# --- the scheduler: a step down after clean days -------------------------------------------------------

def relax(*, now: datetime) -> list[str]:
    """Take one step down every party that stood `clean_days` on its step without a failure, with no open
    order and no proposal; each by a compare-and-set on (step, since), so a repeated tick does nothing."""
    done = []
    ladder = steps()
    for step in ladder:
        if step.clean_days is None:
            continue
        cutoff = now - timedelta(days=step.clean_days)
        for party in db.session.scalars(_clean_since(step.code, cutoff).order_by(Party.id)):
            lower = _at_rank(step.rank - 1, ladder)
            if _claim(party, step.code, lower, now):
                trail.record(party, None, now, PartyAction.STEP_DOWN, from_step=step.code,
                             to_step=lower.code if lower else None,
                             fields={"rule": "clean_days", "clean_days": step.clean_days})
                done.append(f"party {party.id}: {step.code} -> {lower.code if lower else NONE}")
    return done


def _clean_since(code: str, cutoff: datetime):
    open_order = exists().where(RectificationOrder.party_id == Party.id, RectificationOrder.state == OrderState.OPEN)
    return select(Party).where(Party.ladder_step == code, Party.ladder_since <= cutoff,
                               Party.proposed_step.is_(None), ~open_order,
                               or_(Party.last_failed_at.is_(None), Party.last_failed_at <= cutoff))


def _claim(party: Party, code: str, lower: LadderStep | None, now: datetime) -> bool:
    values = {"ladder_step": lower.code if lower else None, "ladder_since": now}
    row = db.session.execute(update(Party).where(and_(Party.id == party.id, Party.ladder_step == code,
                                                      Party.ladder_since == party.ladder_since))
                             .values(**values).returning(Party.id).execution_options(synchronize_session=False)).first()
    if row is None:
        return False
    mark_written(party, values)
    return True
