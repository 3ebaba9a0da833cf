"""Recording an inspection: answers checked against the template version, the outcome computed, failed items
raised as rectification problems through the one reporting function, an order to rectify, the ladder.

One problem per failed item (decision record 0061): each hazard has its own category, severity and deadline,
is rectified and verified on its own, and an item that fails again while its problem is still open is carried
by that problem (linked, not raised twice). An inspection of a party with an open order is that order's
re-inspection: passing complies the order; failing after the deadline fails it, climbs the ladder and issues
a new order; failing before the deadline leaves the order running.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import (
    CampaignScope,
    Inspection,
    InspectionFinding,
    InspectionPhoto,
    Party,
    PatrolRound,
    Problem,
    ProblemList,
    RectificationOrder,
    Reinspection,
    Unit,
    User,
)
from models.base import db
from models.enums import ItemType, ListState, OrderState, Outcome, PartyAction, PartyStatus, Role
from workflow.calendar import CLOCK_SKEW
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.inspections import ladder, orders, tasks, templates, trail
from workflow.inspections.parties import get_party, party_filter
from workflow.ledger import lists
from workflow.paging import Page, by_column
from workflow.problems import reporting
from workflow.problems.lifecycle import OPEN_STATES

INSPECTORS = frozenset({Role.OFFICER, Role.SUPERVISOR})
OFFLINE_LIMIT = timedelta(days=30)  # a phone may sync an inspection this long after it was made


def record_inspection(*, actor: User, now: datetime, party_id: int, template_code: str, results: list[dict],
                      template_version: int | None = None, list_id: int | None = None, round_id: int | None = None,
                      at: datetime | None = None, client_id: str | None = None,
                      note: str | None = None) -> tuple[Inspection, bool]:
    """Record an inspection of a party; returns it and whether it is new (a repeated `client_id` is not)."""
    if actor.role not in INSPECTORS:
        raise Forbidden("officers and supervisors inspect")
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing, False
    party = _operating_party(actor, party_id)
    at = _device_time(at, now)
    template = templates.get_template(code=template_code, version=template_version, field="template_code")
    answers = templates.check_results(template, results, _local_day(party, at))
    _check_context(actor, party, list_id, round_id)
    photos = _claim_photos(actor, answers)
    failed = [a for a in answers if a.failed]
    inspection = Inspection(party_id=party.id, template_id=template.id, officer_id=actor.id, client_id=client_id,
                            list_id=list_id, round_id=round_id, at=at, received_at=now, note=note, first_in_list=False,
                            outcome=Outcome.RECTIFY if failed else Outcome.PASS,
                            results=[a.stored() for a in answers])
    _mark_first(inspection)
    if not _insert(inspection):
        return _by_client_id(actor, client_id), False
    for photo in photos:
        photo.inspection_id = inspection.id
    _follow_up(actor=actor, now=now, party=party, inspection=inspection, answers=answers, failed=failed)
    return inspection, True


def _follow_up(*, actor: User, now: datetime, party: Party, inspection: Inspection, answers: list,
               failed: list) -> None:
    """Everything an inspection sets off, in order: the party's trail, re-inspected order, problems, order,
    ladder, the expiry of dated items and the tasks it did."""
    reinspected = orders.open_order(party.id)
    event = {"inspection_id": inspection.id, "outcome": inspection.outcome, "failed": [a.item["code"] for a in failed]}
    trail.record(party, actor, now, PartyAction.INSPECT, fields=event)
    closed = _reinspect(reinspected, inspection, failed, now) if reinspected else None
    if failed:
        _failed(actor, now, party, inspection, failed, running=None if closed else reinspected,
                climb=closed == OrderState.FAILED)
    _remember_expiries(party, inspection, answers)
    tasks.finish(party_id=party.id, now=now, inspection_id=inspection.id,
                 item_codes=[a.item["code"] for a in answers if a.item["type"] == ItemType.DATE],
                 order_id=reinspected.id if closed else None)


def _failed(actor: User, now: datetime, party: Party, inspection: Inspection, failed: list, *,
            running: RectificationOrder | None, climb: bool) -> None:
    """Raise the failed items' problems; an order still running carries them (a re-inspection before its
    deadline), otherwise the ladder climbs and an order is issued."""
    findings = _raise_problems(actor, now, party, inspection, failed)
    if running is not None:
        _attach(findings, running)
    else:
        _escalate(actor, now, party, inspection, failed, findings, climb=climb)
    party.last_failed_at = inspection.at


def _reinspect(order: RectificationOrder, inspection: Inspection, failed: list, now: datetime) -> OrderState | None:
    """Link the re-inspection to the order; close the order as complied, or failed once past its deadline."""
    db.session.add(Reinspection(inspection_id=inspection.id, order_id=order.id))
    if not failed:
        state = OrderState.COMPLIED
    elif inspection.at >= order.deadline_at:
        state = OrderState.FAILED
    else:
        return None
    return state if orders.close(order, state=state, inspection=inspection, now=now) else None


def _escalate(actor: User, now: datetime, party: Party, inspection: Inspection, failed: list,
              findings: list[InspectionFinding], *, climb: bool) -> None:
    """Climb the ladder and, from the order step up, issue an order for the failed items."""
    steps = ladder.steps()
    window = ladder.repeat_window(party, steps)
    codes = [a.item["code"] for a in failed]
    repeat = window is not None and ladder.repeated(party, codes, inspection.at - timedelta(days=window),
                                                    exclude=inspection.id)
    at_least = ladder.ORDER if any(a.item["on_fail"] == "order" for a in failed) else ladder.ADVICE
    rule = "failed_reinspection" if climb else ("repeat_failure" if repeat else "failed_inspection")
    ladder.after_failure(party=party, actor=actor, now=now, failure=ladder.Failure(
        at_least=at_least, climb=climb or repeat, rule=rule, inspection_id=inspection.id))
    if ladder.rank_of(party.ladder_step, steps) >= ladder.rank_of(ladder.ORDER, steps):
        order = orders.issue(actor=actor, party=party, inspection=inspection, answers=failed,
                             list_id=inspection.list_id, now=now)
        _attach(findings, order)


def _attach(findings: list[InspectionFinding], order: RectificationOrder) -> None:
    for finding in findings:
        finding.order_id = order.id
    db.session.flush()


def _raise_problems(actor: User, now: datetime, party: Party, inspection: Inspection,
                    failed: list) -> list[InspectionFinding]:
    """A rectification problem per failed item, reported like any other; an item whose problem is still
    open is carried on by it. On a campaign's list, the problems join the list."""
    findings = []
    carried = _open_problems(party.id, [a.item["code"] for a in failed])
    for answer in failed:
        problem_id = carried.get(answer.item["code"]) or _report(actor, now, party, inspection, answer).id
        findings.append(InspectionFinding(inspection_id=inspection.id, party_id=party.id, problem_id=problem_id,
                                          item_code=answer.item["code"], at=inspection.at,
                                          raised=answer.item["code"] not in carried))
    db.session.add_all(findings)
    db.session.flush()
    if inspection.list_id is not None and findings:
        lists.put_on_list(list_id=inspection.list_id, problem_ids=[f.problem_id for f in findings], now=now)
    return findings


def _open_problems(party_id: int, item_codes: list[str]) -> dict[str, int]:
    """{item code: problem id} of the party's problems still open for these items."""
    stmt = (select(InspectionFinding.item_code, InspectionFinding.problem_id)
            .join(Problem, Problem.id == InspectionFinding.problem_id)
            .where(InspectionFinding.party_id == party_id, InspectionFinding.item_code.in_(item_codes),
                   Problem.state.in_(OPEN_STATES)).order_by(InspectionFinding.id))
    return dict(db.session.execute(stmt).tuples().all())


def _report(actor: User, now: datetime, party: Party, inspection: Inspection, answer) -> Problem:
    item = answer.item
    unit = db.session.get(Unit, party.grid_unit_id)
    deadline_on, due_at = orders.deadline(unit.timezone, inspection.at, item["rectify_days"])
    description = "；".join(filter(None, [f"检查结果：{templates.display(item, answer.value)}",
                                         f"整改要求：{item['requirement']}" if item.get("requirement") else None,
                                         f"备注：{answer.note}" if answer.note else None,
                                         f"限期：{deadline_on.isoformat()}"]))
    problem, _ = reporting.report_problem(
        actor=actor, now=now, category_code=item["category"], title=f"{party.name}：{item['label']}不合格"[:200],
        severity=item["severity"], description=description, point_id=party.point_id, observed_at=inspection.at,
        round_id=inspection.round_id, party_id=party.id, due_at=due_at)
    return problem


def _remember_expiries(party: Party, inspection: Inspection, answers: list) -> None:
    for answer in answers:
        if answer.expires_on is not None:
            tasks.remember_expiry(party=party, item_code=answer.item["code"], inspection_id=inspection.id,
                                  value=datetime.fromisoformat(answer.value).date(), expires_on=answer.expires_on,
                                  days_before=answer.item.get("recheck_days_before") or templates.DEFAULT_RECHECK_DAYS)


# --- checks before anything is written ----------------------------------------------------------------

def _operating_party(actor: User, party_id: int) -> Party:
    party = get_party(actor=actor, party_id=party_id)
    if party.status != PartyStatus.OPERATING:
        raise Conflict(f"the party is {party.status}: it cannot be inspected", extra={"status": party.status})
    return party


def _device_time(at: datetime | None, now: datetime) -> datetime:
    if at is None:
        return now
    if at > now + CLOCK_SKEW:
        raise Invalid("at lies in the future", errors={"at": ["must not be in the future"]})
    if at < now - OFFLINE_LIMIT:
        raise Invalid("at is too long ago", errors={"at": [f"at most {OFFLINE_LIMIT.days} days ago"]})
    return at


def _local_day(party: Party, at: datetime):
    return at.astimezone(ZoneInfo(db.session.get(Unit, party.grid_unit_id).timezone)).date()


def _check_context(actor: User, party: Party, list_id: int | None, round_id: int | None) -> None:
    """A campaign must be an open campaign list whose scope holds the party; a round must be the actor's."""
    if list_id is not None:
        campaign = db.session.get(ProblemList, list_id)
        if campaign is None or campaign.kind != "campaign":
            raise Invalid(f"no campaign {list_id}", errors={"list_id": ["not a campaign list"]})
        if campaign.state != ListState.OPEN:
            raise Conflict("the campaign is closed", errors={"list_id": ["closed"]})
        scope = db.session.get(CampaignScope, list_id)
        if scope is not None and not _in_scope(party, scope):
            raise Invalid("the party is outside the campaign's scope", errors={"list_id": ["party not in scope"]})
    if round_id is not None:
        round_ = db.session.get(PatrolRound, round_id)
        if round_ is None or actor.id not in round_.officer_ids:
            raise Invalid(f"no round {round_id} of yours", errors={"round_id": ["not a round you walk"]})


def _in_scope(party: Party, scope: CampaignScope) -> bool:
    return (set(scope.tags) <= set(party.tags) and (not scope.grid_ids or party.grid_id in scope.grid_ids)
            and (not scope.kinds or party.kind in scope.kinds))


def _claim_photos(actor: User, answers: list) -> list[InspectionPhoto]:
    """The photos the answers name: uploaded by `actor`, not yet used by another inspection."""
    wanted = {pid: index for index, answer in enumerate(answers) for pid in answer.photo_ids}
    if not wanted:
        return []
    found = {p.id: p for p in db.session.scalars(select(InspectionPhoto).where(InspectionPhoto.id.in_(wanted)))}
    bad = [pid for pid in wanted if pid not in found or found[pid].uploaded_by_id != actor.id
           or found[pid].inspection_id is not None]
    if bad:
        raise Invalid("unknown or used photos", errors={"photo_ids": [f"not your unused photos: {sorted(bad)}"]})
    return list(found.values())


def _mark_first(inspection: Inspection) -> None:
    """Keep `first_in_list` on the party's earliest inspection of the campaign (a phone may sync an earlier one
    late). The party's row is locked first (PostgreSQL; SQLite has one writer), so two inspections of one party
    do not both take it."""
    if inspection.list_id is None:
        return
    db.session.execute(select(Party.id).where(Party.id == inspection.party_id).with_for_update())
    first = db.session.scalars(select(Inspection).where(Inspection.list_id == inspection.list_id,
                                                        Inspection.party_id == inspection.party_id,
                                                        Inspection.first_in_list.is_(True))).first()
    if first is not None and first.at <= inspection.at:
        return
    if first is not None:
        first.first_in_list = False
        db.session.flush([first])
    inspection.first_in_list = True


def _insert(inspection: Inspection) -> bool:
    """Add the inspection; False when a concurrent retry with the same client_id won the race."""
    try:
        with db.session.begin_nested():
            db.session.add(inspection)
            db.session.flush()
    except IntegrityError:
        if inspection.client_id is None:
            raise
        return False
    return True


def _by_client_id(actor: User, client_id: str | None) -> Inspection | None:
    stmt = select(Inspection).where(Inspection.officer_id == actor.id, Inspection.client_id == client_id)
    return db.session.scalars(stmt).first()


# --- reading ---------------------------------------------------------------------------------------

def visible_inspections(actor: User):
    """The SQL condition for the inspections at parties `actor` may see."""
    return Inspection.party_id.in_(select(Party.id).where(party_filter(actor)))


def get_inspection(*, actor: User, inspection_id: int) -> Inspection:
    """An inspection `actor` may see, else NotFound."""
    found = db.session.scalars(select(Inspection).where(Inspection.id == inspection_id,
                                                        visible_inspections(actor))).first()
    if found is None:
        raise NotFound(f"inspection {inspection_id} not found")
    return found


def list_inspections(*, actor: User, limit: int, cursor: str | None = None, party_id: int | None = None,
                     list_id: int | None = None, officer_id: int | None = None,
                     outcome: list[str] | None = None) -> Page:
    """A page of the inspections `actor` may see, by id, filtered."""
    conds = [Inspection.party_id == party_id if party_id else None,
             Inspection.list_id == list_id if list_id else None,
             Inspection.officer_id == officer_id if officer_id else None,
             Inspection.outcome.in_(outcome) if outcome else None]
    stmt = select(Inspection).where(visible_inspections(actor), *[c for c in conds if c is not None])
    return by_column(stmt, Inspection.id, limit=limit, cursor=cursor)


def outcome_of(inspection: Inspection) -> dict:
    """What the inspection raised: its problems, the order it issued, the order it re-inspected."""
    findings = db.session.execute(select(InspectionFinding.problem_id, InspectionFinding.item_code)
                                  .where(InspectionFinding.inspection_id == inspection.id)
                                  .order_by(InspectionFinding.id)).all()
    issued = db.session.scalars(select(RectificationOrder).where(
        RectificationOrder.inspection_id == inspection.id)).first()
    reinspected = db.session.scalar(select(Reinspection.order_id).where(Reinspection.inspection_id == inspection.id))
    return {"problem_ids": [pid for pid, _ in findings], "order": issued, "reinspected_order_id": reinspected}

