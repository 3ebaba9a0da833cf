"""Edges of the workflow that once broke: extension limits and answers, evidence rounds, edits that move clocks."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import Attachment, Problem, ProblemEvent
from models.base import db
from tests.conftest import NOW
from tests.factories import NATURAL
from workflow import org
from workflow.errors import Conflict, EvidenceRequired, ExtensionConflict, Forbidden, Invalid
from workflow.problems import actions, reporting

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def attempt(world, problem: Problem, action: str, *, by: str, at: datetime = NOW, **fields) -> Problem:
    """Apply an action as `by` with the problem's current version, without committing."""
    return actions.apply_action(actor=world.users[by], now=at, problem_id=problem.id, action=action,
                                 expected_version=problem.version, **fields)


def request(world, problem: Problem, until: datetime, at: datetime = NOW, by: str = "handler") -> Problem:
    return world.act(problem, "request_extension", by=by, at=at, until=until, reason="contractor needed")


def last_event(problem: Problem) -> ProblemEvent:
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(ProblemEvent.seq.desc())
    return db.session.scalars(stmt).first()


# --- extensions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ahead", [timedelta(days=367), timedelta(days=366, seconds=1), timedelta(days=10_000)],
                         ids=["367 days", "a second past 366 days", "ten thousand days"])
def test_an_extension_of_more_than_366_days_is_invalid(world, ahead):
    problem = world.to_state("rectifying")
    with pytest.raises(Invalid) as refused:
        attempt(world, problem, "request_extension", by="handler", until=NOW + ahead, reason="a long job")
    assert "until" in refused.value.errors


def test_an_extension_of_exactly_366_days_may_be_requested(world):
    problem = attempt(world, world.to_state("rectifying"), "request_extension", by="handler",
                      until=NOW + timedelta(days=366), reason="a long job")
    assert problem.extension_until == NOW + timedelta(days=366)


def test_an_extension_whose_date_has_passed_cannot_be_granted_only_denied(world):
    problem = request(world, world.to_state("rectifying"), until=NOW + DAY)
    later = NOW + 3 * DAY
    with pytest.raises(ExtensionConflict):
        attempt(world, problem, "grant_extension", by="supervisor", at=later)
    allowed = actions.allowed_actions(problem, world.users["supervisor"], later)
    assert "grant_extension" not in allowed
    assert "deny_extension" in allowed
    assert attempt(world, problem, "deny_extension", by="supervisor", at=later).extension_until is None


def test_a_second_extension_cannot_be_denied_by_the_unit_that_granted_the_first(world):
    problem = request(world, world.to_state("rectifying"), until=NOW + DAY)
    problem = world.act(problem, "grant_extension", by="east_supervisor", at=NOW + MINUTE)
    problem = request(world, problem, until=NOW + 2 * DAY, at=NOW + 2 * MINUTE)
    with pytest.raises(Forbidden):
        attempt(world, problem, "deny_extension", by="east_supervisor", at=NOW + 3 * MINUTE)
    assert "deny_extension" not in actions.allowed_actions(problem, world.users["east_supervisor"], NOW + 3 * MINUTE)
    denied = attempt(world, problem, "deny_extension", by="supervisor", at=NOW + 3 * MINUTE)
    assert denied.extension_until is None and denied.extension_count == 1


# --- what extension answers record ---------------------------------------------------------------

@pytest.mark.parametrize("answer", ["grant_extension", "deny_extension"])
def test_an_answer_to_an_extension_records_the_date_asked_for(world, answer):
    until = NOW + DAY
    problem = request(world, world.to_state("rectifying"), until=until)
    problem = world.act(problem, answer, by="supervisor", at=NOW + MINUTE)
    event = last_event(problem)
    assert event.action == answer
    assert isinstance(event.fields["until"], str)
    assert datetime.fromisoformat(event.fields["until"]) == until
    assert "extension_withdrawn" not in event.fields


def test_a_reassign_while_an_extension_is_pending_records_that_it_was_withdrawn(world):
    until = NOW + DAY
    problem = request(world, world.to_state("rectifying"), until=until)
    problem = world.act(problem, "reassign", by="supervisor", at=NOW + MINUTE, unit_id=world.units["squad"].id,
                        reason="handler changed")
    event = last_event(problem)
    assert event.action == "reassign"
    assert datetime.fromisoformat(event.fields["extension_withdrawn"]) == until
    assert problem.extension_until is None


# --- a report resolved on site -------------------------------------------------------------------

def test_a_report_resolved_on_site_cannot_be_sent_back_but_another_supervisor_closes_it(world):
    problem = world.report(by="supervisor", point="market", resolved_on_site=True)
    assert problem.unit_id is None
    with pytest.raises(Conflict) as refused:
        attempt(world, problem, "send_back", by="east_supervisor", reason="photos unclear")
    assert refused.value.status == 409
    assert "send_back" not in actions.allowed_actions(problem, world.users["east_supervisor"], NOW)
    db.session.rollback()
    problem = db.session.get(Problem, problem.id)
    assert "close" in actions.allowed_actions(problem, world.users["east_supervisor"], NOW)
    assert attempt(world, problem, "close", by="east_supervisor").state == "closed"


# --- evidence across an extension ----------------------------------------------------------------

def add_photo(world, problem: Problem, kind: str, at: datetime) -> None:
    db.session.add(Attachment(problem_id=problem.id, kind=kind, content_type="image/jpeg", size=1024,
                              sha256="0" * 64, uploaded_by_id=world.users["handler"].id, created_at=at))
    db.session.commit()


@pytest.mark.parametrize(("photo_at", "counts"), [(5 * MINUTE, True), (3 * MINUTE, False)],
                         ids=["taken in the rectify round", "taken before the accept"])
def test_an_after_photo_counts_for_the_whole_round_of_work_even_across_a_granted_extension(world, photo_at,
                                                                                         counts):
    world.categories["gas"] = org.create_category(actor=None, now=NOW, code="gas", name="燃气安全隐患",
                                                  limits=NATURAL, requires_after_photo=True,
                                                  pause_on_extension=False)
    db.session.commit()
    problem = world.report(category="gas")
    problem = world.act(problem, "assign", by="supervisor", at=NOW + MINUTE, unit_id=world.units["squad"].id)
    accepted_at = NOW + 4 * MINUTE
    if not counts:
        add_photo(world, problem, "after", NOW + photo_at)
    problem = world.act(problem, "accept", by="handler", at=accepted_at)
    if counts:
        add_photo(world, problem, "after", NOW + photo_at)
    problem = request(world, problem, until=NOW + DAY, at=NOW + 10 * MINUTE)
    problem = world.act(problem, "grant_extension", by="supervisor", at=NOW + 20 * MINUTE)
    assert problem.stage_started_at == NOW + 20 * MINUTE
    assert problem.work_started_at == accepted_at
    if counts:
        assert attempt(world, problem, "submit", by="handler", at=NOW + 30 * MINUTE, note="cleared").state \
            == "verifying"
    else:
        with pytest.raises(EvidenceRequired):
            attempt(world, problem, "submit", by="handler", at=NOW + 30 * MINUTE, note="cleared")


# --- editing a report ----------------------------------------------------------------------------

def edit(world, problem: Problem, *, by: str, at: datetime, **changes) -> Problem:
    edited = reporting.edit_problem(actor=world.users[by], now=at, problem_id=problem.id,
                                   expected_version=problem.version, **changes)
    db.session.commit()
    return edited


def test_a_new_category_keeps_the_stage_cycle_and_counts_its_limit_from_the_original_start(world):
    problem = world.report()  # hawker: dispatch within 60 natural minutes of NOW
    cycle = problem.stage_cycle
    assert problem.stage_due_at == NOW + timedelta(minutes=60)
    problem = edit(world, problem, by="officer", at=NOW + 30 * MINUTE, category_code="shopfront")
    # shopfront: 120 working minutes from Wednesday 10:00 Shanghai is 12:00 local, 04:00 UTC
    assert problem.stage_cycle == cycle
    assert problem.stage_started_at == NOW
    assert problem.stage_due_at == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert problem.stage_warn_at == datetime(2026, 11, 25, 3, 36, tzinfo=UTC)


def test_moving_a_report_to_a_grid_in_another_timezone_moves_the_problem_timezone(world):
    far = org.create_unit(actor=None, now=NOW, name="far", kind="subdistrict", parent_id=world.units["district"].id,
                          timezone="Asia/Urumqi")
    grid = org.create_grid(actor=None, now=NOW, name="天山网格", unit_id=far.id)
    point = org.create_point(actor=None, now=NOW, name="大巴扎", grid_id=grid.id, lat=43.77, lng=87.63,
                             address="二道桥")
    db.session.commit()
    problem = world.report(by="supervisor", point="market")
    assert problem.timezone == "Asia/Shanghai"
    problem = edit(world, problem, by="supervisor", at=NOW + MINUTE, point_id=point.id)
    assert problem.timezone == "Asia/Urumqi"
    assert (problem.grid_id, problem.grid_unit_id, problem.address) == (grid.id, far.id, "二道桥")
    db.session.expire_all()
    assert db.session.get(Problem, problem.id).timezone == "Asia/Urumqi"
