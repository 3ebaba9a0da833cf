"""Escalation: the ladder in working time, each step once, late sweeps, pauses, cycles, rework, recurrence."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from models import EscalationFiring, Notification, OutboxMessage, Point, Problem, ProblemEvent, User
from models.base import db
from tests.conftest import NOW
from workflow import seed
from workflow.escalation import firing, rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
LADDER = ("临期提醒", "到期催办", "超期督办", "上级督办")  # levels 1-4 of config/defaults/escalation.toml
EVENT_FIELDS = {"rule_id", "rule_name", "trigger", "stage", "level", "deadline", "due_at", "elapsed"}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def sweep(at: datetime) -> list[str]:
    """One sweep as of `at`, committed as the scheduler's job wrapper does."""
    lines = firing.sweep(now=at)
    db.session.commit()
    return lines


def sweep_every(step: timedelta, start: datetime, end: datetime) -> list[datetime]:
    """Sweep at start, start + step, ... up to end; return the instants swept."""
    instants = []
    while start <= end:
        sweep(start)
        instants.append(start)
        start += step
    return instants


def rule(name: str = "rule", **fields):
    created = rules.create_rule(actor=None, now=NOW, name=name, **fields)
    db.session.commit()
    return created


def ladder() -> None:
    seed.seed_escalation_rules(now=NOW)
    db.session.commit()


def firings(problem: Problem) -> list[EscalationFiring]:
    stmt = select(EscalationFiring).where(EscalationFiring.problem_id == problem.id)
    return list(db.session.scalars(stmt.order_by(EscalationFiring.id)))


def trail(problem: Problem) -> list[ProblemEvent]:
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(ProblemEvent.seq)
    return list(db.session.scalars(stmt))


def escalations(problem: Problem) -> list[ProblemEvent]:
    return [e for e in trail(problem) if e.action == "escalate"]


def inboxes(problem: Problem) -> dict[str, set[str]]:
    """Who was told of each fired rule: rule name -> user names."""
    stmt = select(Notification.title, User.name).join(User, User.id == Notification.user_id) \
        .where(Notification.problem_id == problem.id, Notification.type == "escalation")
    told: dict[str, set[str]] = {}
    for title, user in db.session.execute(stmt):
        told.setdefault(title.removeprefix(f"{problem.code} "), set()).add(user)
    return told


def fresh(problem: Problem) -> Problem:
    db.session.expire_all()
    return db.session.get(Problem, problem.id)


def counts() -> tuple[int, ...]:
    """Rows the sweep may write: firings, events, notifications, outbox messages."""
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (EscalationFiring, ProblemEvent, Notification, OutboxMessage))


# --- the default ladder in working time ----------------------------------------------------------------
#
# A shop-front problem (dispatch: 120 working minutes) reported on Friday 25 September 2026 at 16:00 local.
# That Friday is itself a statutory holiday (中秋节, Mid-Autumn), and the 26th-27th are the weekend, so the
# working clock first runs on Monday the 28th at 08:30:
#   level 1, 80 % = 96 working minutes:  Mon 09-28 08:30 + 96  = 10:06
#   level 2, due  = 120 working minutes: Mon 09-28 08:30 + 120 = 10:30
#   level 3, due + 450 (one working day): Mon 10:30-12:00 (90) + 13:30-17:30 (240) + Tue 08:30-10:30 (120)
#            = Tue 09-29 10:30
#   level 4, due + 1350 (three working days): Tue 10:30 → Wed 09-30 10:30 → (1-7 October are off: National
#            Day) → Thu 10-08 10:30.
REPORTED = local(2026, 9, 25, 16)
STEPS = {1: local(2026, 9, 28, 10, 6), 2: local(2026, 9, 28, 10, 30), 3: local(2026, 9, 29, 10, 30),
         4: local(2026, 10, 8, 10, 30)}
# Sweeping every 15 minutes from the report on (16:00, 16:15, ...): the first sweep at or after each instant.
FIRST_SWEEP = {1: local(2026, 9, 28, 10, 15), 2: local(2026, 9, 28, 10, 30), 3: local(2026, 9, 29, 10, 30),
               4: local(2026, 10, 8, 10, 30)}


def test_the_dispatch_clock_of_a_report_on_the_mid_autumn_holiday_starts_on_monday(world):
    problem = world.report(category="shopfront", at=REPORTED)
    assert (problem.stage_warn_at, problem.stage_due_at) == (STEPS[1], STEPS[2])


def test_the_ladder_fires_each_level_once_at_the_first_sweep_after_its_working_time_instant(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    sweep_every(minutes(15), REPORTED, local(2026, 10, 20))

    fired = [(f.level, f.cycle, f.due_at, f.fired_at) for f in firings(problem)]
    assert fired == [(level, 1, STEPS[level], FIRST_SWEEP[level]) for level in (1, 2, 3, 4)]
    assert [e.fields["level"] for e in escalations(problem)] == [1, 2, 3, 4]


def test_the_ladder_tells_the_grid_units_supervisors_and_then_the_parent_units(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    sweep_every(timedelta(hours=1), REPORTED, local(2026, 10, 20))

    # Waiting for dispatch, the one who must act (notify: handler) is the grid unit's supervisor, who
    # dispatches; with no responsible unit yet, "unit_supervisors" are the grid unit's (east) and its parent
    # is the district.
    assert inboxes(problem) == {"临期提醒": {"east_supervisor"}, "到期催办": {"east_supervisor"},
                                "超期督办": {"east_supervisor"}, "上级督办": {"east_supervisor", "supervisor"}}


def test_the_top_of_the_ladder_supervises_the_problem_and_raises_its_severity_one_step(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    sweep(STEPS[3])
    assert (fresh(problem).supervised, fresh(problem).severity, fresh(problem).escalation_level) == \
           (True, "normal", 3)
    sweep(STEPS[4])
    assert (fresh(problem).supervised, fresh(problem).severity, fresh(problem).escalation_level) == \
           (True, "high", 4)


def test_the_sweep_moves_next_check_at_to_the_next_step_and_clears_it_after_the_last(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)
    assert problem.next_check_at == REPORTED

    seen = []
    for at in (REPORTED, *STEPS.values()):
        sweep(at)
        seen.append(fresh(problem).next_check_at)
    assert seen == [STEPS[1], STEPS[2], STEPS[3], STEPS[4], None]


def test_every_fired_step_publishes_an_escalation_message_to_the_outbox(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    sweep(local(2026, 10, 20))

    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "escalation.fired")
                                  .order_by(OutboxMessage.id)).all()
    assert [(m.payload["problem_id"], m.payload["level"]) for m in messages] == [(problem.id, n) for n in (1, 2, 3, 4)]


# --- once, and only once ----------------------------------------------------------------------------------


def test_sweeping_twice_at_the_same_instant_fires_nothing_the_second_time(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    assert len(sweep(STEPS[2])) == 2
    assert sweep(STEPS[2]) == []
    assert len(firings(problem)) == len(escalations(problem)) == 2


def test_a_late_sweep_after_downtime_fires_every_missed_step_once_oldest_first(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)
    late = local(2026, 10, 20)

    lines = sweep(late)

    assert [line.split(" (")[0] for line in lines] == list(LADDER)
    for at, line in zip(STEPS.values(), lines, strict=True):
        assert line.endswith(f"on {problem.code}, due {at.astimezone(UTC).isoformat()}")
    assert [(f.level, f.due_at, f.fired_at) for f in firings(problem)] == \
           [(level, at, late) for level, at in STEPS.items()]
    assert sweep(late + minutes(1)) == []


def test_escalate_events_follow_the_problems_own_events_without_changing_its_version(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)
    problem = world.act(problem, "comment", by="officer", at=REPORTED + minutes(5), text="still there")
    before = (problem.version, problem.state)

    sweep(local(2026, 10, 20))

    events = trail(problem)
    assert [(e.seq, e.action) for e in events] == \
           [(1, "report"), (2, "comment"), (3, "escalate"), (4, "escalate"), (5, "escalate"), (6, "escalate")]
    assert (fresh(problem).version, fresh(problem).state, fresh(problem).last_seq) == (*before, 6)
    for e, level in zip(events[2:], (1, 2, 3, 4), strict=True):
        assert (e.actor_id, e.from_state, e.to_state, e.at) == (None, "reported", "reported", local(2026, 10, 20))
        assert set(e.fields) == EVENT_FIELDS
        assert (e.fields["level"], e.fields["stage"], e.fields["due_at"]) == \
               (level, "dispatch", STEPS[level].astimezone(UTC).isoformat())
        assert e.fields["deadline"] == STEPS[2].astimezone(UTC).isoformat()


def test_the_escalate_event_names_the_rule_that_fired(world):
    at_due = rule("到期催办", trigger="at_due", level=2, notify=["unit_supervisors"])
    problem = world.report()  # hawker: dispatch 60 natural minutes

    sweep(NOW + minutes(60))

    (fired,) = escalations(problem)
    assert {k: fired.fields[k] for k in ("rule_id", "rule_name", "trigger", "stage", "level", "elapsed")} == \
           {"rule_id": at_due.id, "rule_name": "到期催办", "trigger": "at_due", "stage": "dispatch", "level": 2,
            "elapsed": 60}  # minutes of the dispatch clock used: all 60 of its limit


def test_a_sweep_with_nothing_due_returns_nothing_and_writes_nothing(world):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)
    sweep(REPORTED)  # next_check_at moves to the 80 % reminder on Monday
    before, row = counts(), (fresh(problem).next_check_at, fresh(problem).updated_at, fresh(problem).last_seq)
    writes = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert sweep(STEPS[1] - minutes(1)) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert writes == []
    assert counts() == before
    assert (fresh(problem).next_check_at, fresh(problem).updated_at, fresh(problem).last_seq) == row


# --- pauses, resolved stages and new cycles -----------------------------------------------------------


def test_a_suspended_problem_fires_nothing_and_fires_at_the_shifted_deadline_after_resume(world):
    rule("整改到期", trigger="at_due", stage="rectify", level=2)
    problem = world.to_state("rectifying")  # hawker: rectify 600 natural minutes from NOW
    problem = world.act(problem, "suspend", by="supervisor", at=NOW + minutes(60), reason="winter")

    assert sweep(NOW + timedelta(days=10)) == []

    resumed_at = NOW + timedelta(days=10, minutes=1)
    problem = world.act(problem, "resume", by="supervisor", at=resumed_at)
    shifted = resumed_at + minutes(540)  # 60 of the 600 had run before the suspension
    assert problem.stage_due_at == shifted
    assert sweep(shifted - minutes(1)) == []
    assert len(sweep(shifted)) == 1
    assert [(f.due_at, f.fired_at) for f in firings(problem)] == [(shifted, shifted)]


def test_after_a_suspension_the_80_percent_reminder_fires_when_the_light_turns_yellow(world):
    rule("临期提醒", trigger="before_due", fraction=0.8, stage="rectify", level=1)
    problem = world.to_state("rectifying")  # rectify 600: 80 % is 480 minutes of running clock
    problem = world.act(problem, "suspend", by="supervisor", at=NOW + minutes(60), reason="winter")
    problem = world.act(problem, "resume", by="supervisor", at=NOW + minutes(1060))
    yellow = problem.stage_warn_at
    assert yellow == NOW + minutes(1480)  # 60 before, 1000 suspended, then the 420 left

    assert sweep(yellow - minutes(1)) == []
    assert len(sweep(yellow)) == 1


def test_assigning_before_the_dispatch_deadline_stops_further_dispatch_firings(world):
    ladder()
    problem = world.report()  # hawker: dispatch 60 natural minutes, 80 % at 48
    assert len(sweep(NOW + minutes(50))) == 1
    problem = world.act(problem, "assign", by="supervisor", at=NOW + minutes(55), unit_id=world.units["squad"].id)

    sweep_every(minutes(30), NOW + minutes(60), NOW + timedelta(days=3))

    dispatch = [f.level for f in firings(problem) if f.cycle == 1]
    assert dispatch == [1]
    assert {e.fields["stage"] for e in escalations(problem)[1:]} == {"accept"}


def test_not_dispatched_fires_at_the_dispatch_deadline_only_while_the_problem_waits(world):
    rule("未派遣", trigger="not_dispatched", level=2, notify=["unit_supervisors"])
    waiting, assigned = world.report(), world.report()
    world.act(assigned, "assign", by="supervisor", at=NOW + minutes(30), unit_id=world.units["squad"].id)

    sweep(NOW + minutes(60))

    assert [len(firings(p)) for p in (waiting, assigned)] == [1, 0]


def test_a_reject_starts_a_new_rectify_cycle_in_which_the_rectify_rules_fire_again(world):
    rule("整改到期", trigger="at_due", stage="rectify", level=2)
    problem = world.to_state("rectifying")
    sweep(NOW + minutes(600))
    problem = world.act(problem, "submit", by="handler", at=NOW + minutes(601), note="cleared")
    problem = world.act(problem, "reject", by="officer", at=NOW + minutes(602), reason="still there")

    sweep(NOW + minutes(1201))
    assert sweep(NOW + minutes(1202)) != []

    first, second = firings(problem)
    assert first.rule_id == second.rule_id and first.level == second.level
    assert first.cycle < second.cycle
    assert (first.due_at, second.due_at) == (NOW + minutes(600), NOW + minutes(1202))


# --- rework, extension requests and recurrence -----------------------------------------------------------


def rework(world, problem: Problem, at: datetime) -> Problem:
    problem = world.act(problem, "submit", by="handler", at=at, note="cleared")
    return world.act(problem, "reject", by="officer", at=at + minutes(1), reason="still there")


def test_the_rework_rule_fires_once_when_the_rework_count_reaches_its_threshold(world):
    rule("反复返工", trigger="rework", threshold=2, level=2,
         notify=["handler", "unit_supervisors", "parent_supervisors"])
    problem = world.to_state("rectifying")

    problem = rework(world, problem, NOW + minutes(10))
    assert sweep(NOW + minutes(12)) == []
    problem = rework(world, problem, NOW + minutes(20))
    assert len(sweep(NOW + minutes(22))) == 1
    problem = rework(world, problem, NOW + minutes(30))
    assert sweep(NOW + minutes(32)) == []

    assert [(f.cycle, f.due_at) for f in firings(problem)] == [(0, NOW + minutes(21))]
    # Assigned to the squad with no named handler: every handler of the squad; the squad has no supervisors,
    # its parent (east) has one.
    assert inboxes(problem) == {"反复返工": {"handler", "handler2", "east_supervisor"}}


def test_a_pending_extension_fires_an_hour_after_the_request_if_nobody_answered(world):
    rule("延期待批", trigger="extension_pending", after_minutes=60, level=1, notify=["unit_supervisors"])
    problem = world.to_state("rectifying")
    world.act(problem, "request_extension", by="handler", at=NOW + minutes(10), until=NOW + timedelta(days=3),
              reason="contractor needed")

    assert sweep(NOW + minutes(69)) == []
    assert len(sweep(NOW + minutes(70))) == 1
    assert [(f.cycle, f.due_at) for f in firings(problem)] == [(0, NOW + minutes(70))]


def test_an_extension_answered_within_the_hour_fires_nothing(world):
    rule("延期待批", trigger="extension_pending", after_minutes=60, level=1)
    problem = world.to_state("rectifying")
    problem = world.act(problem, "request_extension", by="handler", at=NOW + minutes(10),
                        until=NOW + timedelta(days=3), reason="contractor needed")
    world.act(problem, "grant_extension", by="supervisor", at=NOW + minutes(40))

    assert sweep(NOW + minutes(70)) == []
    assert sweep(NOW + timedelta(days=1)) == []
    assert firings(problem) == []


def recurrence() -> None:
    """The seeded recurrence rule alone: 3 problems of a category at a point within 30 days, hot for 14."""
    rule("反复发生", trigger="recurrence", threshold=3, window_days=30, level=2, notify=["unit_supervisors"],
         effects={"hot_days": 14})


def test_recurrence_fires_on_the_third_report_at_a_point_and_marks_the_point_hot(world):
    recurrence()
    first = world.report(at=NOW - timedelta(days=20))
    assert sweep(NOW - timedelta(days=20)) == []
    second = world.report(at=NOW - timedelta(days=10))
    assert sweep(NOW - timedelta(days=10)) == []
    third = world.report(at=NOW)

    assert len(sweep(NOW + minutes(1))) == 1

    (fired,) = escalations(third)
    assert fired.fields["related_problem_ids"] == [first.id, second.id]
    assert fired.fields["trigger"] == "recurrence"
    assert db.session.get(Point, world.points["market"].id).hot_until == NOW + minutes(1) + timedelta(days=14)
    assert [len(firings(p)) for p in (first, second, third)] == [0, 0, 1]
    assert inboxes(third) == {"反复发生": {"east_supervisor"}}


def test_a_fourth_report_at_a_recurring_point_fires_its_own_recurrence_and_keeps_the_point_hot(world):
    recurrence()
    earlier = [world.report(at=NOW - timedelta(days=d)) for d in (20, 10)]
    third = world.report(at=NOW)
    sweep(NOW)
    fourth = world.report(at=NOW + timedelta(days=1))

    sweep(NOW + timedelta(days=1))

    assert [len(firings(p)) for p in (*earlier, third, fourth)] == [0, 0, 1, 1]
    assert escalations(fourth)[0].fields["related_problem_ids"] == [earlier[0].id, earlier[1].id, third.id]
    assert db.session.get(Point, world.points["market"].id).hot_until == NOW + timedelta(days=15)


def test_recurrence_counts_only_one_category_at_one_point_within_the_window(world):
    recurrence()
    world.report(at=NOW - timedelta(days=31))  # outside the 30 days
    world.report(category="shopfront", at=NOW - timedelta(days=5))  # another category
    world.report(point="night", by="west_officer", at=NOW - timedelta(days=5))  # another point
    world.report(at=NOW - timedelta(days=2))

    third_of_any_kind = world.report(at=NOW)

    assert sweep(NOW) == []
    assert firings(third_of_any_kind) == []


# --- filters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filters", "fires"), [
    ({}, True),
    ({"categories": ["hawker"]}, True),
    ({"categories": ["shopfront"]}, False),
    ({"severities": ["normal", "high"]}, True),
    ({"severities": ["high"]}, False),
    ({"unit": "east"}, True),
    ({"unit": "district"}, True),
    ({"unit": "west"}, False),
])
def test_a_rule_fires_only_on_problems_its_filters_match(world, filters, fires):
    unit = filters.pop("unit", None)
    rule("到期", trigger="at_due", level=2, unit_id=world.units[unit].id if unit else None, **filters)
    problem = world.report()  # hawker, normal, at the market in the east grid

    sweep(NOW + minutes(60))

    assert len(firings(problem)) == (1 if fires else 0)


def test_a_rule_for_a_unit_fires_on_problems_assigned_into_its_subtree(world):
    rule("到期", trigger="at_due", stage="accept", level=2, unit_id=world.units["squad"].id)
    ours = world.to_state("assigned")
    west = world.report(point="night", by="west_officer")
    world.act(west, "assign", by="supervisor", unit_id=world.units["sanitation"].id)

    sweep(NOW + minutes(61))

    assert [len(firings(p)) for p in (ours, west)] == [1, 0]


# --- dry run ------------------------------------------------------------------------------------------


def test_a_dry_run_lists_the_problems_a_draft_rule_would_fire_on_and_writes_nothing(world):
    due = world.report()
    world.report(at=NOW + minutes(30))  # not due yet at NOW + 60
    world.report(point="night", by="west_officer")  # due, but outside the east supervisor's subtree
    before = counts()

    hits = rules.dry_run(actor=world.users["east_supervisor"], now=NOW + minutes(60), name="draft",
                              trigger="at_due", level=2, categories=["hawker"])
    db.session.commit()

    assert [(h["problem_id"], h["due_at"], h["stage"]) for h in hits] == [(due.id, NOW + minutes(60), "dispatch")]
    assert counts() == before
    assert db.session.scalar(select(func.count()).select_from(firing.EscalationRule)) == 0


# --- the scheduler tick -------------------------------------------------------------------------------


def test_a_scheduler_tick_prints_the_rules_that_fired(world, runner):
    ladder()
    problem = world.report(category="shopfront", at=REPORTED)

    result = runner.invoke(args=["scheduler", "tick", "--at", STEPS[2].isoformat()])

    assert result.exit_code == 0, result.output
    assert "sweep_escalations: fired 2" in result.output
    for level, name in ((1, "临期提醒"), (2, "到期催办")):
        assert f"  - {name} (level {level}) on {problem.code}, due {STEPS[level].astimezone(UTC).isoformat()}" \
               in result.output
    again = runner.invoke(args=["scheduler", "tick", "--at", STEPS[2].isoformat()])
    assert "sweep_escalations: fired 0" in again.output


# --- the level only rises -------------------------------------------------------------------------------


def test_a_late_sweep_never_lowers_the_escalation_level(world):
    ladder()
    rule("延期待批", trigger="extension_pending", after_minutes=60, level=1, notify=["unit_supervisors"])
    problem = world.to_state("rectifying")  # hawker rectify 600: 80 % at 480, due 600, due + 450 at 1050
    sweep(NOW + minutes(500))
    # The scheduler is down; the handler asks for more time after the level-3 instant.
    world.act(problem, "request_extension", by="handler", at=NOW + minutes(1100), until=NOW + timedelta(days=5),
              reason="contractor needed")

    fired = sweep(NOW + minutes(1200))

    assert [line.split(" (")[0] for line in fired] == ["到期催办", "超期督办", "延期待批"]
    assert fresh(problem).escalation_level == 3


def test_a_suspended_problem_fires_no_rule_at_all_until_it_resumes(world):
    rule("反复返工", trigger="rework", threshold=2, level=2)
    problem = world.to_state("rectifying")
    problem = rework(world, problem, NOW + minutes(10))
    problem = rework(world, problem, NOW + minutes(20))
    # The scheduler was down while the second rework happened; the problem is parked (挂账) before it runs.
    problem = world.act(problem, "suspend", by="supervisor", at=NOW + minutes(30), reason="waiting for demolition")

    assert sweep(NOW + minutes(40)) == []

    world.act(problem, "resume", by="supervisor", at=NOW + minutes(50))
    assert len(sweep(NOW + minutes(51))) == 1
