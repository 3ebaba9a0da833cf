"""SLA clocks: stage and whole-case deadlines, the traffic light, pauses, restarts and frozen overdue flags."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Problem, ProblemEvent
from models.base import db
from models.enums import Light
from tests.conftest import NOW
from tests.factories import NATURAL
from workflow import org

SHANGHAI = ZoneInfo("Asia/Shanghai")
# hawker (NATURAL): dispatch 60, accept 60, rectify 600, verify 120, whole 2880 natural minutes.
DISPATCH, ACCEPT, RECTIFY, WHOLE = (timedelta(minutes=m) for m in (60, 60, 600, 2880))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def events_of(problem: Problem) -> dict[str, ProblemEvent]:
    """The problem's events by action (the last of each)."""
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(ProblemEvent.seq)
    return {event.action: event for event in db.session.scalars(stmt)}


def assign(world, problem: Problem, at: datetime) -> Problem:
    return world.act(problem, "assign", by="supervisor", at=at, unit_id=world.units["squad"].id)


def rectifying(world, at: datetime, category: str = "hawker") -> Problem:
    """A problem reported, assigned and accepted at `at`."""
    problem = assign(world, world.report(category=category, at=at), at)
    return world.act(problem, "accept", by="handler", at=at)


def request(world, problem: Problem, until: datetime, at: datetime) -> Problem:
    return world.act(problem, "request_extension", by="handler", at=at, until=until, reason="contractor needed")


# --- natural time and the light --------------------------------------------------------------------


def test_a_report_starts_the_dispatch_clock_of_its_category(world):
    problem = world.report()
    assert (problem.stage, problem.stage_started_at, problem.stage_due_at) == ("dispatch", NOW, NOW + DISPATCH)
    assert problem.due_at is None  # the whole-case clock starts at assignment


@pytest.mark.parametrize(("after", "light"), [(0, "green"), (47, "green"), (48, "yellow"), (59, "yellow"),
                                              (60, "red"), (600, "red")])
def test_the_light_is_green_below_80_percent_yellow_up_to_the_deadline_and_red_from_it(world, after, light):
    assert world.report().light(NOW + minutes(after)) == light


@pytest.mark.parametrize("after", [0, 47, 48, 59, 60, 600])
def test_the_light_in_sql_is_the_light_in_python(world, after):
    problem, now = world.report(), NOW + minutes(after)
    in_sql = {light for light in Light
              if db.session.scalar(select(Problem.id).where(Problem.id == problem.id,
                                                            Problem.light_clause(light, now))) is not None}
    assert in_sql == {problem.light(now)}


def test_a_problem_is_overdue_from_its_stage_deadline_on_as_the_red_light_says(world):
    problem = world.report()
    assert not problem.is_overdue(NOW + minutes(59))
    assert problem.is_overdue(NOW + minutes(60)) and problem.light(NOW + minutes(60)) == "red"


def test_assign_starts_the_accept_and_whole_case_clocks(world):
    problem = assign(world, world.report(), NOW + minutes(10))
    assert (problem.stage, problem.stage_due_at) == ("accept", NOW + minutes(10) + ACCEPT)
    assert problem.due_at == NOW + minutes(10) + WHOLE


def test_close_stops_every_clock_and_keeps_the_deadline_the_case_had(world):
    verified = world.to_state("verified")
    due = verified.due_at
    problem = world.act(verified, "close", by="supervisor", at=NOW + minutes(30))
    assert (problem.stage, problem.stage_due_at, problem.light(NOW)) == (None, None, None)
    assert problem.due_at == due
    assert not problem.is_overdue(NOW + WHOLE * 2)


def test_the_close_event_records_whether_the_case_closed_within_its_limit(world):
    on_time = world.act(world.to_state("verified"), "close", by="supervisor", at=NOW + minutes(30))
    late = world.act(world.to_state("verified"), "close", by="supervisor", at=NOW + WHOLE * 2)
    for problem, overdue in ((on_time, False), (late, True)):
        close = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id,
                                                              ProblemEvent.action == "close")).one()
        assert close.fields["whole_overdue"] is overdue


# --- working time ------------------------------------------------------------------------------------


def test_a_working_clock_skips_the_weekend(world):
    # shopfront dispatch is 120 working minutes: Friday 16:30-17:30, then Monday 08:30-09:30.
    problem = world.report(category="shopfront", at=local(2026, 11, 27, 16, 30))
    assert problem.stage_due_at == local(2026, 11, 30, 9, 30)
    assert problem.stage_warn_at == local(2026, 11, 30, 9, 6)  # 96 minutes: 60 on Friday, 36 on Monday


def test_a_working_clock_skips_the_national_day_holiday(world):
    # Wednesday 30 September 17:00 leaves 30 working minutes that day (to 17:30). 1-7 October are off
    # (including the weekend of the 3rd-4th). Thursday 8 October is a workday: the remaining 90 minutes
    # run 08:30-10:00. So the deadline lands on the 8th, well before the make-up Saturday of the 10th.
    problem = world.report(category="shopfront", at=local(2026, 9, 30, 17))
    assert problem.stage_due_at == local(2026, 10, 8, 10)


def test_a_working_clock_counts_the_make_up_saturday(world):
    # rectify is 960 working minutes; a workday holds 450 (08:30-12:00 and 13:30-17:30). From Thursday
    # 8 October 08:30: 450 on the 8th, 450 on Friday the 9th, and the last 60 on Saturday the 10th, a
    # make-up workday (调休上班): 08:30-09:30. Without the make-up day it would be Monday the 12th.
    problem = rectifying(world, local(2026, 10, 8, 8, 30), category="shopfront")
    assert problem.stage_due_at == local(2026, 10, 10, 9, 30)


def test_a_suspension_over_a_weekend_costs_a_working_clock_nothing(world):
    problem = rectifying(world, local(2026, 11, 27, 9), category="shopfront")
    due, whole = problem.stage_due_at, problem.due_at
    problem = world.act(problem, "suspend", by="supervisor", at=local(2026, 11, 27, 17, 30), reason="rain")
    problem = world.act(problem, "resume", by="supervisor", at=local(2026, 11, 30, 8, 30))
    assert (problem.stage_due_at, problem.due_at) == (due, whole)


# --- suspension --------------------------------------------------------------------------------------


def test_a_suspended_problem_has_no_deadlines_and_no_light(world):
    problem = world.act(world.to_state("rectifying"), "suspend", by="supervisor", at=NOW + minutes(60),
                        reason="waiting for demolition")
    assert (problem.stage_due_at, problem.due_at, problem.light(NOW + minutes(61))) == (None, None, None)
    assert problem.paused_at == NOW + minutes(60)
    assert not problem.is_overdue(NOW + WHOLE * 2)


def test_resume_shifts_the_stage_and_whole_case_deadlines_by_the_time_suspended(world):
    problem = world.to_state("rectifying")
    due, whole, cycle = problem.stage_due_at, problem.due_at, problem.stage_cycle
    problem = world.act(problem, "suspend", by="supervisor", at=NOW + minutes(60), reason="winter")
    problem = world.act(problem, "resume", by="supervisor", at=NOW + minutes(240))
    assert (problem.stage_due_at, problem.due_at) == (due + minutes(180), whole + minutes(180))
    assert problem.stage_cycle == cycle  # resuming is not a new clock cycle
    assert problem.paused_at is None


# --- restarts: reject, send_back, return, reassign ---------------------------------------------------


@pytest.mark.parametrize(("state", "action", "by", "fields"), [
    ("verifying", "reject", "officer", {"reason": "still there"}),
    ("verified", "send_back", "supervisor", {"reason": "photos unclear"}),
])
def test_rework_starts_a_fresh_rectify_clock_from_that_instant(world, state, action, by, fields):
    problem = world.to_state(state)
    cycle, whole = problem.stage_cycle, problem.due_at
    problem = world.act(problem, action, by=by, at=NOW + minutes(120), **fields)
    assert (problem.rework_count, problem.stage_cycle) == (1, cycle + 1)
    assert (problem.stage, problem.stage_due_at) == ("rectify", NOW + minutes(120) + RECTIFY)
    assert problem.due_at == whole


def test_return_restarts_the_dispatch_clock_but_not_the_whole_case_clock(world):
    problem = world.act(world.to_state("assigned"), "return", by="handler", at=NOW + minutes(30), reason="not ours")
    assert (problem.stage, problem.stage_due_at) == ("dispatch", NOW + minutes(30) + DISPATCH)
    assert problem.due_at == NOW + WHOLE
    problem = assign(world, problem, NOW + minutes(40))
    assert problem.due_at == NOW + WHOLE


def test_reassign_restarts_the_accept_clock_but_not_the_whole_case_clock(world):
    problem = world.act(world.to_state("rectifying"), "reassign", by="supervisor", at=NOW + minutes(180),
                        unit_id=world.units["sanitation"].id, reason="gas pipe")
    assert (problem.stage, problem.stage_due_at) == ("accept", NOW + minutes(180) + ACCEPT)
    assert problem.due_at == NOW + WHOLE


# --- overdue, frozen on events -----------------------------------------------------------------------


@pytest.mark.parametrize(("after", "overdue"), [(30, False), (59, False), (60, True), (61, True)])
def test_an_assign_event_records_whether_dispatch_was_overdue(world, after, overdue):
    problem = assign(world, world.report(), NOW + minutes(after))
    event = events_of(problem)["assign"]
    assert (event.stage, event.stage_overdue) == ("dispatch", overdue)


def test_an_event_keeps_its_overdue_flag_after_the_problem_moves_on(world):
    problem = assign(world, world.report(), NOW + minutes(90))
    problem = world.act(problem, "accept", by="handler", at=NOW + minutes(100))
    events = events_of(problem)
    assert (events["assign"].stage, events["assign"].stage_overdue) == ("dispatch", True)
    assert (events["accept"].stage, events["accept"].stage_overdue) == ("accept", False)


def test_a_submit_event_records_the_rectify_stage(world):
    problem = world.act(world.to_state("rectifying"), "submit", by="handler", at=NOW + RECTIFY + minutes(1),
                        note="late but done")
    assert (events_of(problem)["submit"].stage, events_of(problem)["submit"].stage_overdue) == ("rectify", True)


def test_a_resume_event_records_that_the_suspended_rectify_stage_was_not_overdue(world):
    problem = world.act(world.to_state("rectifying"), "suspend", by="supervisor", at=NOW + minutes(60),
                        reason="winter")
    problem = world.act(problem, "resume", by="supervisor", at=NOW + minutes(90))
    event = events_of(problem)["resume"]
    assert (event.stage, event.stage_overdue) == ("rectify", False)


# --- extensions ---------------------------------------------------------------------------------------


def test_a_granted_extension_ends_the_stage_at_until_in_a_new_cycle(world):
    problem = world.to_state("rectifying")
    cycle, until = problem.stage_cycle, NOW + timedelta(days=3)
    problem = request(world, problem, until, NOW + minutes(60))
    problem = world.act(problem, "grant_extension", by="supervisor", at=NOW + minutes(120))
    assert (problem.stage_due_at, problem.stage_cycle) == (until, cycle + 1)
    assert problem.due_at == until  # the whole case was due after 2 days, earlier than `until`


def test_a_granted_extension_leaves_a_later_whole_case_deadline_alone(world):
    problem = request(world, world.to_state("rectifying"), NOW + timedelta(days=1), NOW + minutes(60))
    problem = world.act(problem, "grant_extension", by="supervisor", at=NOW + minutes(120))
    assert (problem.stage_due_at, problem.due_at) == (NOW + timedelta(days=1), NOW + WHOLE)


def test_a_pending_extension_does_not_stop_the_clocks_of_an_ordinary_category(world):
    problem = world.to_state("rectifying")
    problem = request(world, problem, NOW + timedelta(days=3), NOW + minutes(100))
    assert (problem.stage_due_at, problem.due_at, problem.paused_at) == (NOW + RECTIFY, NOW + WHOLE, None)


def pausing_category(world) -> None:
    world.categories["gas"] = org.create_category(actor=None, now=NOW, code="gas", name="燃气安全隐患",
                                                  limits=NATURAL, pause_on_extension=True)
    db.session.commit()


def test_a_pending_extension_pauses_the_clocks_when_the_category_says_so(world):
    pausing_category(world)
    problem = request(world, world.to_state("rectifying", category="gas"), NOW + timedelta(days=3),
                      NOW + minutes(100))
    assert (problem.stage_due_at, problem.due_at, problem.paused_at) == (None, None, NOW + minutes(100))
    assert problem.light(NOW + minutes(101)) is None


def test_a_denied_extension_resumes_the_paused_clocks_with_the_time_that_was_left(world):
    pausing_category(world)
    problem = request(world, world.to_state("rectifying", category="gas"), NOW + timedelta(days=3),
                      NOW + minutes(100))
    problem = world.act(problem, "deny_extension", by="supervisor", at=NOW + minutes(160))
    assert (problem.stage_due_at, problem.due_at) == (NOW + RECTIFY + minutes(60), NOW + WHOLE + minutes(60))
    assert problem.paused_at is None


def test_a_reassign_while_a_pausing_extension_is_pending_restarts_the_whole_case_clock(world):
    pausing_category(world)
    problem = request(world, world.to_state("rectifying", category="gas"), NOW + timedelta(days=3),
                      NOW + minutes(100))
    problem = world.act(problem, "reassign", by="supervisor", at=NOW + minutes(160),
                        unit_id=world.units["sanitation"].id, reason="gas pipe")
    assert problem.extension_until is None and problem.paused_at is None
    assert problem.due_at == NOW + WHOLE + minutes(60)


def test_a_suspension_after_a_reassign_during_a_pausing_extension_still_stops_the_rectify_clock(world):
    pausing_category(world)
    problem = request(world, world.to_state("rectifying", category="gas"), NOW + timedelta(days=3),
                      NOW + minutes(100))
    problem = world.walk(problem, ("reassign", "supervisor", {"unit_id": world.units["squad"].id, "reason": "again"}),
                         ("accept", "handler", {}), ("suspend", "supervisor", {"reason": "winter"}),
                         at=NOW + minutes(160))
    assert (problem.state, problem.stage_due_at) == ("suspended", None)


def test_a_granted_extension_on_a_pausing_category_resumes_the_whole_case_clock(world):
    pausing_category(world)
    problem = request(world, world.to_state("rectifying", category="gas"), NOW + timedelta(days=1),
                      NOW + minutes(100))
    cycle = problem.stage_cycle
    problem = world.act(problem, "grant_extension", by="supervisor", at=NOW + minutes(160))
    assert (problem.stage_due_at, problem.stage_cycle, problem.paused_at) == (NOW + timedelta(days=1), cycle + 1, None)
    assert problem.due_at == NOW + WHOLE + minutes(60)
