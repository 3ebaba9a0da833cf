"""Patrols: plan windows by the calendar, rounds made once by the scheduler, checklists, check-ins and findings."""

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import OutboxMessage, PatrolCheckin, PatrolPlan, PatrolRound, ProblemEvent
from models.base import db
from schedules.jobs import run_all
from tests.conftest import NOW
from workflow import org
from workflow.calendar import load_calendar
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.patrols import plans, rounds
from workflow.patrols.plans import create_plan, edit_plan, set_paused, windows_between
from workflow.patrols.rounds import advance_rounds, build_checklist, check_in, complete_round, materialize_rounds

SHANGHAI, BERLIN, UTC = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")
GRACE = timedelta(minutes=15)
# NOW is Wednesday 2026-11-25 10:00 in Shanghai: 早 is over, 中 and 晚 are still ahead.
MEALS = [{"label": "早", "start": "06:30", "end": "08:30"}, {"label": "中", "start": "11:00", "end": "13:30"},
         {"label": "晚", "start": "17:30", "end": "21:30"}]
METRES_PER_DEGREE = 6371008.8 * 3.141592653589793 / 180  # along a meridian, on the sphere haversine_m uses


def local(*args, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(*args, tzinfo=tz)


def make_plan(world, *, actor=None, **fields) -> PatrolPlan:
    """A committed plan of the east subdistrict: the market, the officer, three meal-time windows."""
    plan = create_plan(actor=actor, now=NOW, **plan_fields(world, **fields))
    db.session.commit()
    return plan


def plan_fields(world, **fields) -> dict:
    if "grid_id" not in fields:
        fields.setdefault("point_ids", [world.points["market"].id])
    return {"unit_id": world.units["east"].id, "name": "东关早市错时巡查", "mode": "fixed_post",
            "officer_ids": [world.users["officer"].id], "windows": MEALS, "days": "every_day"} | fields


def rounds_of(plan: PatrolPlan, *states: str) -> list[PatrolRound]:
    stmt = select(PatrolRound).where(PatrolRound.plan_id == plan.id).order_by(PatrolRound.planned_start,
                                                                             PatrolRound.id)
    if states:
        stmt = stmt.where(PatrolRound.state.in_(states))
    return list(db.session.scalars(stmt))


def local_starts(rounds) -> list[tuple[str, str]]:
    """(local date-time, label) of each round, for readable comparisons."""
    return [(r.planned_start.astimezone(SHANGHAI).strftime("%m-%d %H:%M"), r.label) for r in rounds]


def tick(now: datetime) -> None:
    """One scheduler tick of the two round jobs, committed."""
    materialize_rounds(now=now)
    advance_rounds(now=now)
    db.session.commit()


def lunch_round(world, plan: PatrolPlan | None = None, *, state: str = "open") -> PatrolRound:
    """Wednesday's 中 round (11:00-13:30), `scheduled` (as of NOW) or `open` (as of its start)."""
    plan = plan or make_plan(world)
    tick(NOW)
    if state == "open":
        tick(local(2026, 11, 25, 11))
    return next(r for r in rounds_of(plan) if r.planned_start == local(2026, 11, 25, 11))


def walk_in(world, round_: PatrolRound, at: datetime, by: str = "officer", **fields):
    """A check-in at the market, on the spot, received at `at` unless `now` says otherwise."""
    market = world.points["market"]
    fields = {"now": at, "at": at, "point_id": market.id, "lat": market.lat, "lng": market.lng, "result": "ok"} | fields
    checkin, created = check_in(actor=world.users[by], round_id=round_.id, **fields)
    db.session.commit()
    return checkin, created


def extra_points(world, count: int) -> list[int]:
    """More points in the east grid, a few hundred metres apart."""
    ids = []
    for n in range(count):
        point = org.create_point(actor=None, now=NOW, name=f"东关{n + 2}号点", grid_id=world.grids["east"].id,
                                 lat=35.0621 + 0.003 * (n + 1), lng=118.3561, address=f"东关路 {n + 2} 号")
        ids.append(point.id)
    db.session.commit()
    return ids


# --- windows_between: wall-clock windows by the working calendar ---------------------------------------

def test_a_window_from_20_00_to_02_00_ends_at_two_on_the_next_local_day(world):
    plan = make_plan(world, windows=[{"label": "夜", "start": "20:00", "end": "02:00"}])
    [window] = windows_between(plan, load_calendar(db.session), local(2026, 11, 25), local(2026, 11, 26))
    assert (window.start, window.end) == (local(2026, 11, 25, 20), local(2026, 11, 26, 2))
    assert window.day == date(2026, 11, 25)


WORKDAYS = {date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9),
            date(2026, 10, 10), date(2026, 10, 12)}  # 10-10 is a make-up Saturday (调休上班)
REST_DAYS = {date(2026, 10, d) for d in (1, 2, 3, 4, 5, 6, 7, 11)}  # National Day, then Sunday the 11th


def test_a_night_window_counts_by_the_local_date_it_starts_on(world):
    plan = make_plan(world, days="rest_days", active_from=date(2026, 9, 1),
                     windows=[{"label": "夜", "start": "20:00", "end": "02:00"}])
    windows = windows_between(plan, load_calendar(db.session), local(2026, 9, 30), local(2026, 10, 2))
    assert [(w.start, w.end) for w in windows] == [(local(2026, 10, 1, 20), local(2026, 10, 2, 2))]


@pytest.mark.parametrize(("days", "expected"), [("workdays", WORKDAYS), ("rest_days", REST_DAYS),
                                                ("every_day", WORKDAYS | REST_DAYS)])
def test_workday_and_rest_day_plans_follow_the_working_calendar_over_national_day(world, days, expected):
    plan = make_plan(world, days=days, active_from=date(2026, 9, 1), windows=MEALS[:1])
    windows = windows_between(plan, load_calendar(db.session), local(2026, 9, 28), local(2026, 10, 13))
    assert {window.day for window in windows} == expected
    assert len(windows) == len(expected)


def test_a_plan_on_a_list_of_weekdays_runs_on_those_weekdays_only(world):
    plan = make_plan(world, days=["mon", "sat"], windows=MEALS[:1])
    windows = windows_between(plan, load_calendar(db.session), local(2026, 11, 25), local(2026, 12, 8))
    assert [window.day for window in windows] == [date(2026, 11, 28), date(2026, 11, 30), date(2026, 12, 5),
                                                  date(2026, 12, 7)]


def test_active_from_and_active_until_bound_the_days_inclusively(world):
    plan = make_plan(world, active_from=date(2026, 11, 27), active_until=date(2026, 11, 28), windows=MEALS[:1])
    windows = windows_between(plan, load_calendar(db.session), local(2026, 11, 25), local(2026, 12, 5))
    assert [window.day for window in windows] == [date(2026, 11, 27), date(2026, 11, 28)]


def test_a_berlin_plan_keeps_its_wall_clock_across_the_start_of_summer_time(world):
    plan = make_plan(world, timezone="Europe/Berlin", active_from=date(2026, 3, 1),
                     windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    windows = windows_between(plan, load_calendar(db.session), local(2026, 3, 28, tz=BERLIN),
                              local(2026, 3, 31, tz=BERLIN))
    assert [w.start.astimezone(UTC).strftime("%m-%d %H:%M") for w in windows] == [
        "03-28 05:30", "03-29 04:30", "03-30 04:30"]
    assert all(w.end - w.start == timedelta(hours=2) for w in windows)


# --- materialize: once per (plan, window start), from the first tick on --------------------------------

RUNNING = [{"label": "早", "start": "06:30", "end": "08:30"}, {"label": "上", "start": "09:30", "end": "10:30"},
           {"label": "晚", "start": "17:30", "end": "21:30"}]


def test_the_first_tick_makes_rounds_for_windows_still_running_or_ahead_up_to_48_hours(world):
    plan = make_plan(world, windows=RUNNING)
    assert materialize_rounds(now=NOW) == 7
    db.session.commit()
    assert local_starts(rounds_of(plan)) == [
        ("11-25 09:30", "上"), ("11-25 17:30", "晚"),  # 上 runs at 10:00; 早 ended at 08:30: no backfill
        ("11-26 06:30", "早"), ("11-26 09:30", "上"), ("11-26 17:30", "晚"),
        ("11-27 06:30", "早"), ("11-27 09:30", "上")]  # Friday 17:30 lies beyond the 48 hours
    assert {r.state for r in rounds_of(plan)} == {"scheduled"}


def test_a_first_tick_after_midnight_makes_the_night_window_that_began_the_evening_before(world):
    plan = make_plan(world, windows=[{"label": "夜", "start": "20:00", "end": "02:00"}])
    materialize_rounds(now=local(2026, 11, 26, 1))
    db.session.commit()
    assert local_starts(rounds_of(plan)) == [("11-25 20:00", "夜"), ("11-26 20:00", "夜"), ("11-27 20:00", "夜")]


def test_a_second_tick_at_the_same_instant_makes_nothing(world):
    plan = make_plan(world)
    materialize_rounds(now=NOW)
    db.session.commit()
    assert materialize_rounds(now=NOW) == 0
    db.session.commit()
    assert len(rounds_of(plan)) == 6


def assert_one_round_per_window_start(plan: PatrolPlan) -> None:
    starts = [r.planned_start for r in rounds_of(plan)]
    assert len(starts) == len(set(starts)) == 6


def test_materialize_twice_in_one_transaction_makes_each_round_once(world):
    plan = make_plan(world)
    made = materialize_rounds(now=NOW) + materialize_rounds(now=NOW)
    plan.watermark = None
    made += materialize_rounds(now=NOW)
    db.session.commit()
    assert made == 6
    assert_one_round_per_window_start(plan)


def test_a_reset_watermark_makes_no_second_round_for_a_window(world):
    plan = make_plan(world)
    materialize_rounds(now=NOW)
    db.session.commit()
    db.session.get(PatrolPlan, plan.id).watermark = None
    db.session.commit()
    assert materialize_rounds(now=NOW + timedelta(minutes=5)) == 0
    db.session.commit()
    assert_one_round_per_window_start(plan)


def test_after_three_days_down_every_window_in_between_is_recorded_missed_once(world):
    plan = make_plan(world)
    run_all(now=NOW)
    run_all(now=NOW + timedelta(days=3))  # Saturday 10:00: Saturday's 早 is over, its 中 ahead
    run_all(now=NOW + timedelta(days=3))
    missed = rounds_of(plan, "missed")
    assert local_starts(missed) == [
        ("11-25 11:00", "中"), ("11-25 17:30", "晚"),
        *[(f"11-{d} {start}", label) for d in (26, 27) for start, label in (("06:30", "早"), ("11:00", "中"),
                                                                            ("17:30", "晚"))],
        ("11-28 06:30", "早")]
    assert {r.missed_reason for r in missed} == {"not_opened"}
    assert_one_per_start(plan)
    announced = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "round.missed")).all()
    assert sorted(m.payload["round_id"] for m in announced) == [r.id for r in missed]


def assert_one_per_start(plan: PatrolPlan) -> None:
    starts = Counter(r.planned_start for r in rounds_of(plan))
    assert set(starts.values()) == {1}


# --- advance: open at the start, missed after the end plus grace ----------------------------------------

def test_a_scheduled_round_opens_at_its_window_start(world):
    round_ = lunch_round(world, state="scheduled")
    advance_rounds(now=round_.planned_start - timedelta(minutes=1))
    assert round_.state == "scheduled"
    assert advance_rounds(now=round_.planned_start) == {"opened": 1, "missed": 0, "incomplete": 0}
    assert round_.state == "open"


def test_an_open_round_nobody_checked_in_to_is_missed_only_after_its_end_plus_grace(world):
    round_ = lunch_round(world)
    advance_rounds(now=round_.planned_end + GRACE - timedelta(seconds=1))
    assert round_.state == "open"
    advance_rounds(now=round_.planned_end + GRACE)
    db.session.commit()
    assert (round_.state, round_.missed_reason) == ("missed", "no_checkin")


def test_the_late_grace_of_the_plan_decides_when_a_round_is_missed(world):
    round_ = lunch_round(world, make_plan(world, late_grace_minutes=45))
    advance_rounds(now=round_.planned_end + timedelta(minutes=44))
    assert round_.state == "open"
    advance_rounds(now=round_.planned_end + timedelta(minutes=45))
    assert (round_.state, round_.missed_reason) == ("missed", "no_checkin")


# --- officers: the whole team on a fixed post, round-robin on a dynamic plan ----------------------------

def test_a_fixed_post_round_carries_the_whole_team(world):
    team = [world.users["officer"].id, world.users["officer2"].id]
    plan = make_plan(world, officer_ids=team)
    tick(NOW)
    assert {tuple(r.officer_ids) for r in rounds_of(plan)} == {tuple(team)}


def test_a_dynamic_plan_gives_each_of_three_officers_thirty_of_ninety_rounds_in_a_month(world):
    world.user("officer3", "officer", "east", grids=["east"])
    db.session.commit()
    team = [world.users[key].id for key in ("officer", "officer2", "officer3")]
    plan = make_plan(world, mode="dynamic", officer_ids=team, active_from=date(2026, 12, 1),
                     active_until=date(2026, 12, 30))
    materialize_rounds(now=NOW, horizon=timedelta(days=40))
    db.session.commit()
    rounds = rounds_of(plan)
    assert len(rounds) == 90 and all(len(r.officer_ids) == 1 for r in rounds)
    assert Counter(r.officer_ids[0] for r in rounds) == dict.fromkeys(team, 30)
    walkers = [r.officer_ids[0] for r in rounds]
    assert all(a != b for a, b in zip(walkers, walkers[1:], strict=False))  # round-robin: never twice running


def test_a_dynamic_workday_plan_keeps_the_rotation_across_weekends_and_holidays(world):
    world.user("officer3", "officer", "east", grids=["east"])
    db.session.commit()
    team = [world.users[key].id for key in ("officer", "officer2", "officer3")]
    plan = make_plan(world, mode="dynamic", officer_ids=team, days="workdays", windows=MEALS[:2],
                     active_from=date(2026, 12, 1), active_until=date(2026, 12, 31))
    materialize_rounds(now=NOW, horizon=timedelta(days=40))
    db.session.commit()
    walkers = [r.officer_ids[0] for r in rounds_of(plan)]
    assert len(walkers) == 46  # 23 workdays in December 2026, two windows each
    assert walkers == [team[n % 3] for n in range(len(walkers))]  # Friday's last round hands on to Monday's first


# --- sampling: reproducible per round, not the same every round ----------------------------------------

def sampling_plan(world) -> PatrolPlan:
    route = [world.points["market"].id, *extra_points(world, 4)]
    return make_plan(world, mode="dynamic", point_ids=route, sample_size=2)


def test_a_dynamic_plan_with_sample_size_two_walks_two_route_points_a_round(world):
    plan = sampling_plan(world)
    tick(NOW)
    for round_ in rounds_of(plan):
        points = round_.checklist["point_ids"]
        assert len(points) == len(set(points)) == 2 and set(points) <= set(plan.point_ids)


def test_the_same_round_built_twice_samples_the_same_points(world):
    plan = sampling_plan(world)
    start = local(2026, 11, 26, 6, 30)
    assert build_checklist(plan, start)["point_ids"] == build_checklist(plan, start)["point_ids"]


def test_different_windows_sample_different_points_at_least_sometimes(world):
    plan = sampling_plan(world)
    windows = windows_between(plan, load_calendar(db.session), NOW, NOW + timedelta(days=7))[:20]
    assert len(windows) == 20
    assert len({tuple(build_checklist(plan, w.start)["point_ids"]) for w in windows}) > 1


def test_a_fixed_post_walks_its_route_in_order(world):
    route = [*extra_points(world, 2), world.points["market"].id]
    plan = make_plan(world, point_ids=route)
    assert build_checklist(plan, local(2026, 11, 26, 6, 30))["point_ids"] == route


# --- the checklist: 复查, 回头看 and hot points -----------------------------------------------------------

def test_a_problem_waiting_for_verification_at_a_checklist_point_is_on_the_checklist(world):
    verifying = world.to_state("verifying")
    world.to_state("rectifying")
    plan = make_plan(world)
    assert build_checklist(plan, local(2026, 11, 26, 6, 30))["verify_problem_ids"] == [verifying.id]


@pytest.mark.parametrize(("window_day", "follow_up"), [(1, False), (2, True), (3, False)])
def test_a_problem_closed_exactly_follow_up_days_before_the_window_is_up_for_a_follow_up_look(
        world, window_day, follow_up):
    closed = world.to_state("closed")  # closed on 11-25 (local), i.e. 6, 7 or 8 days before the window
    plan = make_plan(world)
    assert plan.follow_up_days == 7
    checklist = build_checklist(plan, local(2026, 12, window_day, 6, 30))
    assert checklist["follow_up_problem_ids"] == ([closed.id] if follow_up else [])


@pytest.mark.parametrize(("hot_for", "hot"), [(timedelta(hours=1), True), (timedelta(minutes=-1), False)])
def test_a_point_hot_past_the_window_start_is_a_hot_point_of_the_round(world, hot_for, hot):
    plan = make_plan(world)
    start = local(2026, 11, 26, 6, 30)
    world.points["market"].hot_until = start + hot_for
    db.session.commit()
    assert build_checklist(plan, start)["hot_point_ids"] == ([world.points["market"].id] if hot else [])


# --- check-ins ---------------------------------------------------------------------------------------------

def test_a_check_in_500_metres_from_the_point_is_accepted_and_flagged_far_from_point(world):
    round_ = lunch_round(world)
    market = world.points["market"]
    checkin, created = walk_in(world, round_, round_.planned_start + timedelta(minutes=10),
                               lat=market.lat + 500 / METRES_PER_DEGREE)
    assert created and checkin.flags == ["far_from_point"]
    assert checkin.distance_m == pytest.approx(500, abs=1)
    assert round_.state == "in_progress"


def test_a_check_in_timed_outside_the_window_is_flagged_and_does_not_start_the_round(world):
    round_ = lunch_round(world)
    early = round_.planned_start - GRACE - timedelta(minutes=1)
    checkin, created = walk_in(world, round_, early, now=round_.planned_start + timedelta(minutes=10))
    assert created and checkin.flags == ["outside_window"]
    assert (checkin.at, checkin.received_at) == (early, round_.planned_start + timedelta(minutes=10))
    assert (round_.state, round_.started_at) == ("open", None)


def test_the_first_check_in_inside_the_window_starts_an_open_round(world):
    round_ = lunch_round(world)
    at = round_.planned_start - timedelta(minutes=5)  # within the grace before the start
    checkin, _ = walk_in(world, round_, at, now=round_.planned_start + timedelta(minutes=10))
    assert checkin.flags == []
    assert (round_.state, round_.started_at) == ("in_progress", at)


def test_a_check_in_repeated_with_its_client_id_returns_the_first(world):
    round_ = lunch_round(world)
    at = round_.planned_start + timedelta(minutes=10)
    first, created = walk_in(world, round_, at, client_id="phone-1")
    again, created_again = walk_in(world, round_, at + timedelta(minutes=3), client_id="phone-1",
                                   result="problem_found")
    assert (created, created_again, again.id, again.result) == (True, False, first.id, "ok")
    count = db.session.scalar(select(func.count()).select_from(PatrolCheckin))
    assert count == 1


def test_a_check_in_at_a_point_not_on_the_checklist_is_invalid(world):
    round_ = lunch_round(world)
    with pytest.raises(Invalid):
        walk_in(world, round_, round_.planned_start, point_id=world.points["night"].id)


def test_an_officer_of_the_team_who_is_not_on_the_round_may_not_check_in(world):
    team = [world.users["officer"].id, world.users["officer2"].id]
    round_ = lunch_round(world, make_plan(world, mode="dynamic", officer_ids=team))
    other = next(key for key in ("officer", "officer2") if world.users[key].id not in round_.officer_ids)
    with pytest.raises(Forbidden):
        walk_in(world, round_, round_.planned_start, by=other)


def test_an_officer_of_another_grid_cannot_see_the_round(world):
    round_ = lunch_round(world)
    with pytest.raises(NotFound):
        rounds.get_round(actor=world.users["west_officer"], round_id=round_.id)
    with pytest.raises(NotFound):
        walk_in(world, round_, round_.planned_start, by="west_officer")


def test_a_late_offline_check_in_timed_inside_the_window_revives_a_missed_round(world):
    round_ = lunch_round(world)
    tick(round_.planned_end + GRACE)
    assert (round_.state, round_.missed_reason) == ("missed", "no_checkin")
    at, received = round_.planned_start + timedelta(minutes=20), round_.planned_end + timedelta(hours=3)
    checkin, created = walk_in(world, round_, at, now=received)
    assert created and (checkin.at, checkin.received_at, checkin.flags) == (at, received, [])
    assert (round_.state, round_.started_at, round_.missed_reason) == ("in_progress", at, None)


# --- start and complete ------------------------------------------------------------------------------------

def started(world) -> PatrolRound:
    round_ = lunch_round(world)
    rounds.start_round(actor=world.users["officer"], now=round_.planned_start, round_id=round_.id)
    db.session.commit()
    return round_


def test_completing_an_in_progress_round_in_time_completes_it(world):
    round_ = started(world)
    complete_round(actor=world.users["officer"], now=round_.planned_end, round_id=round_.id)
    assert (round_.state, round_.completed_at) == ("completed", round_.planned_end)


def test_completing_after_the_end_plus_grace_is_completed_late(world):
    round_ = started(world)
    late = round_.planned_end + GRACE + timedelta(minutes=1)
    complete_round(actor=world.users["officer"], now=late, round_id=round_.id)
    assert (round_.state, round_.completed_at) == ("completed_late", late)


@pytest.mark.parametrize("state", ["scheduled", "open"])
def test_a_round_cannot_be_completed_before_it_was_started(world, state):
    round_ = lunch_round(world, state=state)
    with pytest.raises(Conflict):
        complete_round(actor=world.users["officer"], now=round_.planned_start, round_id=round_.id)


# --- findings --------------------------------------------------------------------------------------------

def test_a_finding_is_reported_through_the_normal_report_and_linked_to_the_round(world):
    round_ = lunch_round(world)
    problem, created = rounds.report_finding(
        actor=world.users["officer"], now=round_.planned_start + timedelta(minutes=30), round_id=round_.id,
        point_id=world.points["market"].id, category_code="hawker", title="早市占道经营")
    db.session.commit()
    assert created and (problem.round_id, problem.point_id, problem.state) == (
        round_.id, world.points["market"].id, "reported")
    assert problem.code == "LY-20261125-0001"
    events = db.session.scalars(select(ProblemEvent.action).where(ProblemEvent.problem_id == problem.id)).all()
    assert events == ["report"]


def test_a_finding_at_a_point_not_on_the_checklist_is_invalid(world):
    round_ = lunch_round(world)
    with pytest.raises(Invalid):
        rounds.report_finding(actor=world.users["officer"], now=round_.planned_start, round_id=round_.id,
                                     point_id=world.points["night"].id, category_code="hawker", title="夜市")


# --- editing, pausing, resuming ------------------------------------------------------------------------------

OVERLAPPING = [{"label": "甲", "start": "09:00", "end": "11:00"}, {"label": "乙", "start": "09:30", "end": "10:30"},
               {"label": "晚", "start": "17:30", "end": "21:30"}]


def test_editing_the_windows_cancels_future_rounds_and_the_next_tick_makes_the_new_ones(world):
    plan = make_plan(world, windows=OVERLAPPING)
    tick(NOW)  # 甲 and 乙 are open now
    walk_in(world, rounds_of(plan, "open")[0], NOW)
    before = {r.id: r.state for r in rounds_of(plan)}
    assert sorted(before.values()) == ["in_progress", "open"] + ["scheduled"] * 6
    edit_plan(actor=world.users["east_supervisor"], now=NOW + timedelta(minutes=5), plan_id=plan.id,
              expected_version=plan.version,
              windows=[{"label": "夜", "start": "19:00", "end": "23:00"}])
    db.session.commit()
    after = {r.id: r.state for r in rounds_of(plan)}
    assert after == {rid: ("cancelled" if state == "scheduled" else state) for rid, state in before.items()}
    tick(NOW + timedelta(minutes=5))
    assert local_starts(rounds_of(plan, "scheduled")) == [("11-25 19:00", "夜"), ("11-26 19:00", "夜")]


def test_a_paused_plan_cancels_its_future_rounds_and_gets_no_new_ones(world):
    plan = make_plan(world)
    tick(NOW)
    set_paused(actor=world.users["east_supervisor"], now=NOW, plan_id=plan.id, paused=True)
    db.session.commit()
    assert {r.state for r in rounds_of(plan)} == {"cancelled"}
    tick(NOW + timedelta(days=1))
    assert materialize_rounds(now=NOW + timedelta(days=2)) == 0
    assert {r.state for r in rounds_of(plan)} == {"cancelled"}


def test_a_resumed_plan_makes_rounds_from_that_instant_without_backfilling_the_pause(world):
    plan = make_plan(world)
    tick(NOW)
    set_paused(actor=world.users["east_supervisor"], now=NOW, plan_id=plan.id, paused=True)
    db.session.commit()
    resumed = NOW + timedelta(days=3)  # Saturday 10:00, past the 48 hours made before the pause
    tick(resumed - timedelta(days=1))
    set_paused(actor=world.users["east_supervisor"], now=resumed, plan_id=plan.id, paused=False)
    db.session.commit()
    tick(resumed)
    live = [r for r in rounds_of(plan) if r.state != "cancelled"]
    assert local_starts(live) == [("11-28 11:00", "中"), ("11-28 17:30", "晚"), ("11-29 06:30", "早"),
                                  ("11-29 11:00", "中"), ("11-29 17:30", "晚"), ("11-30 06:30", "早")]
    assert {r.state for r in live} == {"scheduled"}


# --- validation and permissions -------------------------------------------------------------------------------

BAD_PLANS = {
    "neither route nor grid": lambda w: {"point_ids": None},
    "both route and grid": lambda w: {"grid_id": w.grids["east"].id, "point_ids": [w.points["market"].id]},
    "an unknown point": lambda w: {"point_ids": [w.points["market"].id, 999999]},
    "a handler in the team": lambda w: {"officer_ids": [w.users["officer"].id, w.users["handler"].id]},
    "a zero-length window": lambda w: {"windows": [{"label": "早", "start": "08:00", "end": "08:00"}]},
    "repeated window labels": lambda w: {"windows": [{"label": "早", "start": "06:30", "end": "08:30"},
                                                     {"label": "早", "start": "11:00", "end": "13:30"}]},
    "active_until before active_from": lambda w: {"active_from": date(2026, 12, 2),
                                                  "active_until": date(2026, 12, 1)},
    "sample_size on a fixed post": lambda w: {"mode": "fixed_post", "sample_size": 2},
}


@pytest.mark.parametrize("bad", BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_a_plan_that_makes_no_sense_is_invalid(world, bad):
    with pytest.raises(Invalid):
        create_plan(actor=world.users["east_supervisor"], now=NOW, **plan_fields(world, **bad(world)))


@pytest.mark.parametrize("by", ["handler", "officer", "west_supervisor"])
def test_only_supervisors_of_the_unit_or_above_create_plans(world, by):
    with pytest.raises(Forbidden):
        create_plan(actor=world.users[by], now=NOW, **plan_fields(world))


@pytest.mark.parametrize("by", ["east_supervisor", "supervisor", "admin"])
def test_a_supervisor_of_the_unit_or_above_or_an_admin_creates_a_plan(world, by):
    plan = make_plan(world, actor=world.users[by], grid_id=world.grids["east"].id)
    assert (plan.timezone, plan.active_from, plan.paused) == ("Asia/Shanghai", date(2026, 11, 25), False)
    assert plans.plan_points(plan) == [world.points["market"].id]
