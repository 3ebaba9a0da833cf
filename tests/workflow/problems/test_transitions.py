"""The transition table, walked triple by triple, and the guards, scope, fields and versions around it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from models import Attachment, Problem, ProblemEvent, User, user_grids
from models.base import db
from tests.conftest import NOW
from tests.factories import NATURAL, default_fields
from workflow import org
from workflow.errors import (
    DomainError,
    EvidenceRequired,
    ExtensionConflict,
    Forbidden,
    Invalid,
    InvalidTransition,
    NotFound,
    PreconditionRequired,
    SeparationOfDuties,
    Stale,
)
from workflow.problems import actions, reporting, visibility

STATES = ("reported", "assigned", "rectifying", "verifying", "verified", "closed", "cancelled", "suspended")
OPEN = set(STATES) - {"closed", "cancelled"}
ROLES = ("officer", "handler", "supervisor", "admin", "hotline")

# DESIGN.md, "The problem workflow", written out by hand: action -> (from states, roles, to state).
# A `to` of None means the state does not change.
TABLE = {
    "assign": ({"reported"}, {"supervisor"}, "assigned"),
    "reassign": ({"assigned", "rectifying"}, {"supervisor"}, "assigned"),
    "return": ({"assigned"}, {"handler"}, "reported"),
    "accept": ({"assigned"}, {"handler"}, "rectifying"),
    "submit": ({"rectifying"}, {"handler"}, "verifying"),
    "verify": ({"verifying"}, {"officer"}, "verified"),
    "reject": ({"verifying"}, {"officer"}, "rectifying"),
    "close": ({"verified"}, {"supervisor"}, "closed"),
    "send_back": ({"verified"}, {"supervisor"}, "rectifying"),
    "cancel": ({"reported", "assigned"}, {"supervisor"}, "cancelled"),
    "suspend": ({"rectifying"}, {"supervisor"}, "suspended"),
    "resume": ({"suspended"}, {"supervisor"}, "rectifying"),
    "request_extension": ({"rectifying"}, {"handler"}, None),
    "grant_extension": ({"rectifying"}, {"supervisor"}, None),
    "deny_extension": ({"rectifying"}, {"supervisor"}, None),
    "comment": (OPEN, set(ROLES), None),
    "callback": ({"closed"}, {"supervisor", "hotline"}, None),
    "reopen": ({"closed"}, {"supervisor"}, "rectifying"),
}
ANSWERS = ("grant_extension", "deny_extension")


def outcome(state: str, action: str, role: str):
    """What the table says happens: an error class, or the state the problem ends in."""
    frm, roles, to = TABLE[action]
    if role == "handler" and state == "reported":
        return NotFound  # a handler sees only problems assigned to their unit, and nobody is yet
    if role not in roles:
        return Forbidden
    if state not in frm:
        return InvalidTransition
    return to or state


TRIPLES = [(s, a, r) for s in STATES for a in TABLE for r in ROLES]


def params(triples) -> list:
    return [pytest.param(*t, id="-".join(t)) for t in triples]


def refused_with(error: type) -> list:
    return params(t for t in TRIPLES if outcome(*t) is error)


MOVES = params(t for t in TRIPLES if isinstance(outcome(*t), str))


TICKETS = iter(range(1, 10**6))


def build(world, state: str, role: str) -> Problem:
    """A problem in `state` that the user of `role` can see: a 12345 ticket, so that callbacks apply and
    the hotline account sees it too."""
    ticket = {"by": "hotline", "external_ref": f"T{next(TICKETS)}"}
    if role == "handler" and state == "cancelled":
        # Cancelled straight from `reported` it was never the squad's; cancel it after assignment.
        return world.act(world.to_state("assigned", **ticket), "cancel", by="supervisor", reason="duplicate",
                         reason_code="duplicate", duplicate_of=world.report().id)
    return world.to_state(state, **ticket)


def attempt(world, problem: Problem, action: str, *, by: str, at: datetime = NOW, **fields) -> Problem:
    """Apply an action as `by` with the problem's current version, without committing."""
    return actions.apply_action(actor=world.users[by], now=at, problem_id=problem.id, action=action,
                                 expected_version=problem.version, **fields)


def attempt_default(world, problem: Problem, action: str, *, by: str) -> Problem:
    return attempt(world, problem, action, by=by, **default_fields(world, action, NOW))


def events_of(problem: Problem) -> list[ProblemEvent]:
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(ProblemEvent.seq)
    return list(db.session.scalars(stmt))


def with_pending_request(world, problem: Problem, until: datetime | None = None) -> Problem:
    return world.act(problem, "request_extension", by="handler", until=until or NOW + timedelta(days=3),
                     reason="contractor needed")


def prepare(world, state: str, action: str, role: str) -> Problem:
    problem = build(world, state, role)
    if state == "rectifying" and action in ANSWERS:
        problem = with_pending_request(world, problem)
    if state == "closed" and action == "reopen":
        problem = world.act(problem, "callback", by="hotline", satisfaction="unsatisfied")
    return problem


# --- the table, every (state, action, role) triple -------------------------------------------------


@pytest.mark.parametrize(("state", "action", "role"), refused_with(Forbidden))
def test_a_role_the_table_never_names_for_an_action_is_forbidden(world, state, action, role):
    problem = prepare(world, state, action, role)
    with pytest.raises(Forbidden) as refused:
        attempt_default(world, problem, action, by=role)
    assert type(refused.value) is Forbidden


@pytest.mark.parametrize(("state", "action", "role"), refused_with(InvalidTransition))
def test_a_named_role_acting_from_a_state_not_in_the_table_is_an_invalid_transition(world, state, action, role):
    problem = prepare(world, state, action, role)
    with pytest.raises(InvalidTransition) as refused:
        attempt_default(world, problem, action, by=role)
    assert refused.value.extra["state"] == state
    assert action not in refused.value.extra["allowed_actions"]
    assert set(refused.value.extra["allowed_actions"]) <= {a for a in TABLE if state in TABLE[a][0]}


@pytest.mark.parametrize(("state", "action", "role"), refused_with(NotFound))
def test_a_handler_cannot_see_a_problem_not_yet_assigned_to_their_unit(world, state, action, role):
    problem = prepare(world, state, action, role)
    with pytest.raises(NotFound):
        attempt_default(world, problem, action, by=role)


@pytest.mark.parametrize(("state", "action", "role"), MOVES)
def test_a_named_role_in_a_named_state_moves_the_problem_to_the_table_target(world, state, action, role):
    problem = prepare(world, state, action, role)
    version, seen = problem.version, len(events_of(problem))
    moved = attempt_default(world, problem, action, by=role)
    target = outcome(state, action, role)
    assert moved.state == target
    new = events_of(problem)[seen:]
    assert [(e.action, e.from_state, e.to_state) for e in new] == [(action, state, target)]
    assert moved.version == (version if action == "comment" else version + 1)


@pytest.mark.parametrize("action", ANSWERS)
def test_answering_an_extension_nobody_requested_is_a_conflict(world, action):
    problem = world.to_state("rectifying")
    with pytest.raises(ExtensionConflict):
        attempt(world, problem, action, by="supervisor")


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_nobody_may_comment_on_a_finished_problem(world, state):
    problem = world.to_state(state)
    with pytest.raises(InvalidTransition):
        attempt(world, problem, "comment", by="supervisor", text="late note")


# --- allowed_actions is exactly what works -------------------------------------------------------


def succeeds(world, problem: Problem, action: str, role: str) -> bool:
    """Try an action inside a savepoint and undo it, whatever happened."""
    savepoint = db.session.begin_nested()
    try:
        attempt_default(world, problem, action, by=role)
    except DomainError:
        return False
    finally:
        savepoint.rollback()
        db.session.expire_all()
    return True


SEEN = [(state, role) for state in (*STATES, "rectifying+request", "closed+unsatisfied") for role in ROLES
        if (state, role) != ("reported", "handler")]


@pytest.mark.parametrize(("state", "role"), [pytest.param(s, r, id=f"{s}-{r}") for s, r in SEEN])
def test_allowed_actions_lists_exactly_the_actions_that_succeed(world, state, role):
    problem = build(world, state.split("+")[0], role)
    if state.endswith("+request"):
        problem = with_pending_request(world, problem)
    if state.endswith("+unsatisfied"):
        problem = world.act(problem, "callback", by="supervisor", satisfaction="unsatisfied")
    works = {action for action in TABLE if succeeds(world, problem, action, role)}
    assert set(actions.allowed_actions(problem, world.users[role], NOW)) == works


# --- guards -----------------------------------------------------------------------------------------


def move_handler_to_the_east_grid_as_officer(world) -> None:
    """The handler moves jobs: now an officer of the east grid (done behind the workflow's back)."""
    handler_id = world.users["handler"].id
    db.session.execute(update(User).where(User.id == handler_id).values(role="officer"))
    db.session.execute(insert(user_grids).values(user_id=handler_id, grid_id=world.grids["east"].id))
    db.session.commit()


def test_the_person_who_submitted_cannot_verify_even_after_becoming_an_officer(world):
    problem = world.to_state("verifying")
    move_handler_to_the_east_grid_as_officer(world)
    with pytest.raises(SeparationOfDuties):
        attempt(world, problem, "verify", by="handler", note="looks fine to me")
    assert attempt(world, problem, "verify", by="officer2", note="ok").state == "verified"


def test_allowed_actions_of_the_submitter_turned_officer_leave_out_verify(world):
    problem = world.to_state("verifying")
    move_handler_to_the_east_grid_as_officer(world)
    assert "verify" not in actions.allowed_actions(problem, db.session.get(User, world.users["handler"].id), NOW)


def test_a_report_resolved_on_site_goes_straight_to_verified_with_no_stage_clock(world):
    problem = world.report(by="supervisor", resolved_on_site=True)
    assert problem.state == "verified"
    assert (problem.stage, problem.stage_due_at, problem.due_at, problem.light(NOW)) == (None, None, None, None)
    assert [(e.action, e.to_state) for e in events_of(problem)] == [("report", "verified")]


def test_a_supervisor_who_resolved_on_site_cannot_close_it_but_another_supervisor_can(world):
    problem = world.report(by="supervisor", resolved_on_site=True)
    with pytest.raises(SeparationOfDuties):
        attempt(world, problem, "close", by="supervisor")
    assert attempt(world, problem, "close", by="east_supervisor").state == "closed"


def test_a_second_extension_needs_a_supervisor_above_the_first_grantor(world):
    problem = with_pending_request(world, world.to_state("rectifying"), until=NOW + timedelta(days=1))
    problem = world.act(problem, "grant_extension", by="east_supervisor")
    problem = with_pending_request(world, problem, until=NOW + timedelta(days=2))
    with pytest.raises(Forbidden):
        attempt(world, problem, "grant_extension", by="east_supervisor")
    granted = attempt(world, problem, "grant_extension", by="supervisor")
    assert granted.extension_count == 2 and granted.stage_due_at == NOW + timedelta(days=2)


def test_a_second_extension_cannot_be_granted_by_the_first_grantors_own_unit(world):
    problem = with_pending_request(world, world.to_state("rectifying"), until=NOW + timedelta(days=1))
    problem = world.act(problem, "grant_extension", by="supervisor")
    problem = with_pending_request(world, problem, until=NOW + timedelta(days=2))
    with pytest.raises(Forbidden):
        attempt(world, problem, "grant_extension", by="supervisor")


def test_an_extension_cannot_be_requested_while_another_is_pending(world):
    problem = with_pending_request(world, world.to_state("rectifying"))
    with pytest.raises(ExtensionConflict):
        attempt(world, problem, "request_extension", by="handler2", until=NOW + timedelta(days=9), reason="again")


@pytest.mark.parametrize("until", [NOW + timedelta(minutes=599), NOW + timedelta(minutes=600), NOW],
                         ids=["before-the-deadline", "at-the-deadline", "now"])
def test_an_extension_must_end_after_the_current_deadline(world, until):
    problem = world.to_state("rectifying")  # rectify is due at NOW + 600 minutes
    with pytest.raises(Invalid) as refused:
        attempt(world, problem, "request_extension", by="handler", until=until, reason="short")
    assert "until" in refused.value.errors


def test_a_problem_cannot_be_suspended_while_an_extension_is_pending(world):
    problem = with_pending_request(world, world.to_state("rectifying"))
    with pytest.raises(ExtensionConflict):
        attempt(world, problem, "suspend", by="supervisor", reason="winter")


def photo_world(world):
    world.categories["gas"] = org.create_category(actor=None, now=NOW, code="gas", name="燃气安全隐患",
                                                  limits=NATURAL, requires_after_photo=True)
    db.session.commit()
    return world.to_state("rectifying", category="gas")


def add_photo(world, problem: Problem, kind: str, at: datetime) -> None:
    db.session.add(Attachment(problem_id=problem.id, kind=kind, content_type="image/jpeg", size=1024,
                              sha256="0" * 64, uploaded_by_id=world.users["handler"].id, created_at=at))
    db.session.commit()


@pytest.mark.parametrize(("kind", "at"), [(None, None), ("before", NOW), ("after", NOW - timedelta(minutes=1))],
                         ids=["no-photo", "a-before-photo", "an-after-photo-from-before-the-stage"])
def test_a_category_that_needs_an_after_photo_cannot_be_submitted_without_one(world, kind, at):
    problem = photo_world(world)
    if kind:
        add_photo(world, problem, kind, at)
    with pytest.raises(EvidenceRequired):
        attempt(world, problem, "submit", by="handler", note="cleared")


def test_a_category_that_needs_an_after_photo_is_submitted_with_one_taken_in_this_stage(world):
    problem = photo_world(world)
    add_photo(world, problem, "after", NOW + timedelta(minutes=5))
    assert attempt(world, problem, "submit", by="handler", note="cleared").state == "verifying"


# --- scope ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("outsider", ["sanitation_handler", "west_officer", "west_supervisor"])
def test_someone_outside_the_problem_scope_gets_not_found(world, outsider):
    problem = world.to_state("rectifying")
    with pytest.raises(NotFound):
        visibility.get_problem(actor=world.users[outsider], problem_id=problem.id)
    with pytest.raises(NotFound):
        attempt(world, problem, "comment", by=outsider, text="hello")


def test_a_supervisor_may_assign_to_a_department_outside_their_subtree_whose_handler_then_sees_it(world):
    problem = world.report()
    with pytest.raises(NotFound):
        visibility.get_problem(actor=world.users["sanitation_handler"], problem_id=problem.id)
    problem = world.act(problem, "assign", by="east_supervisor", unit_id=world.units["sanitation"].id)
    assert visibility.get_problem(actor=world.users["sanitation_handler"], problem_id=problem.id) == problem
    assert attempt(world, problem, "accept", by="sanitation_handler").state == "rectifying"


def test_an_officer_cannot_report_in_a_grid_that_is_not_theirs(world):
    with pytest.raises(Forbidden):
        world.report(by="officer", point="night")


def test_a_handler_cannot_report(world):
    with pytest.raises(Forbidden):
        world.report(by="handler")


# --- fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "action", "by", "field"), [
    ("reported", "assign", "supervisor", "unit_id"),
    ("assigned", "return", "handler", "reason"),
    ("rectifying", "submit", "handler", "note"),
    ("rectifying", "request_extension", "handler", "until"),
    ("verifying", "reject", "officer", "reason"),
    ("reported", "cancel", "supervisor", "reason"),
    ("reported", "comment", "officer", "text"),
])
def test_a_missing_required_field_is_invalid_and_named(world, state, action, by, field):
    problem = world.to_state(state)
    fields = {k: v for k, v in default_fields(world, action, NOW).items() if k != field}
    with pytest.raises(Invalid) as refused:
        attempt(world, problem, action, by=by, **fields)
    assert field in refused.value.errors


@pytest.mark.parametrize(("state", "action", "by", "stray"), [
    ("assigned", "accept", "handler", {"unit_id": 1}),
    ("reported", "assign", "supervisor", {"until": NOW}),
    ("verified", "close", "supervisor", {"reason": "done"}),
    ("rectifying", "submit", "handler", {"text": "done"}),
])
def test_a_field_that_does_not_belong_to_the_action_is_invalid(world, state, action, by, stray):
    problem = world.to_state(state)
    with pytest.raises(Invalid) as refused:
        attempt(world, problem, action, by=by, **default_fields(world, action, NOW), **stray)
    assert set(stray) <= set(refused.value.errors)


def test_assigning_to_an_unknown_unit_is_invalid(world):
    with pytest.raises(Invalid) as refused:
        attempt(world, world.report(), "assign", by="supervisor", unit_id=999_999)
    assert "unit_id" in refused.value.errors


@pytest.mark.parametrize(("unit", "who"), [("sanitation", "handler"), ("squad", "sanitation_handler"),
                                           ("squad", "officer"), ("squad", "supervisor")])
def test_assigning_a_handler_who_does_not_handle_for_that_unit_is_invalid(world, unit, who):
    with pytest.raises(Invalid) as refused:
        attempt(world, world.report(), "assign", by="supervisor", unit_id=world.units[unit].id,
                handler_id=world.users[who].id)
    assert "handler_id" in refused.value.errors


def test_assigning_a_handler_of_that_unit_names_them(world):
    assigned = attempt(world, world.report(), "assign", by="supervisor", unit_id=world.units["squad"].id,
                       handler_id=world.users["handler2"].id)
    assert (assigned.unit_id, assigned.handler_id) == (world.units["squad"].id, world.users["handler2"].id)


@pytest.mark.parametrize("duplicate_of", ["itself", 999_999])
def test_cancelling_as_a_duplicate_of_itself_or_of_nothing_is_invalid(world, duplicate_of):
    problem = world.report()
    target = problem.id if duplicate_of == "itself" else duplicate_of
    with pytest.raises(Invalid) as refused:
        attempt(world, problem, "cancel", by="supervisor", reason="duplicate", duplicate_of=target)
    assert "duplicate_of" in refused.value.errors


def test_cancelling_as_a_duplicate_of_another_problem_records_it(world):
    original, copy = world.report(), world.report()
    cancelled = attempt(world, copy, "cancel", by="supervisor", reason="duplicate", duplicate_of=original.id)
    assert (cancelled.state, cancelled.duplicate_of) == ("cancelled", original.id)


# --- versions and events -------------------------------------------------------------------------


def act_with_version(world, problem: Problem, version: int | None, action: str = "assign", **fields):
    fields = fields or default_fields(world, action, NOW)
    return actions.apply_action(actor=world.users["supervisor"], now=NOW, problem_id=problem.id,
                                 action=action, expected_version=version, **fields)


def test_a_transition_without_a_version_needs_one(world):
    with pytest.raises(PreconditionRequired):
        act_with_version(world, world.report(), None)


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_transition_with_another_version_is_stale(world, offset):
    problem = world.report()
    with pytest.raises(Stale):
        act_with_version(world, problem, problem.version + offset)


def test_a_comment_needs_no_version_and_does_not_change_it(world):
    problem = world.report()
    commented = act_with_version(world, problem, None, "comment", text="seen it")
    assert commented.version == 1


def test_events_are_numbered_one_to_n_including_comments(world):
    problem = world.walk(world.report(), ("comment", "officer", {"text": "still there"}),
                         ("assign", "supervisor", {"unit_id": world.units["squad"].id}),
                         ("comment", "handler", {"text": "on our way"}), ("accept", "handler", {}))
    assert [e.seq for e in events_of(problem)] == [1, 2, 3, 4, 5]
    assert [e.action for e in events_of(problem)] == ["report", "comment", "assign", "comment", "accept"]
    assert problem.version == 3


# --- client_id and codes -------------------------------------------------------------------------


def report_as(world, by: str, client_id: str, title: str = "占道经营", at: datetime = NOW):
    return reporting.report_problem(actor=world.users[by], now=at, category_code="hawker", title=title,
                                   point_id=world.points["market"].id, client_id=client_id)


def test_reporting_twice_with_one_client_id_returns_the_first_problem(world):
    first, created = report_as(world, "officer", "phone-1")
    again, created_again = report_as(world, "officer", "phone-1", title="another body")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.title == "占道经营"


def test_another_reporter_with_the_same_client_id_gets_a_new_problem(world):
    first, _ = report_as(world, "officer", "phone-1")
    other, created = report_as(world, "officer2", "phone-1")
    assert created and other.id != first.id


def test_reports_of_one_local_day_are_numbered_in_order(world):
    codes = [world.report().code, world.report().code]
    assert codes == ["LY-20261125-0001", "LY-20261125-0002"]


def test_a_code_carries_the_local_date_not_the_utc_date(world):
    late = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 01:00 on 26 November in Shanghai
    assert world.report(at=late).code == "LY-20261126-0001"
