"""SLA clocks: start a stage clock, pause and resume the running ones, read them."""

from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from models import Problem
from models.base import db
from models.enums import Stage
from workflow import calendar
from workflow.errors import Invalid

WARN_FRACTION = 0.8


class Clocks:
    """Clock arithmetic for one problem, with the working calendar loaded on first use."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.tz = ZoneInfo(problem.timezone)

    @cached_property
    def calendar(self) -> calendar.WorkCalendar:
        return calendar.load_calendar(db.session)

    def add(self, start: datetime, minutes: float, clock: str) -> datetime:
        try:
            return calendar.add_time(start=start, minutes=minutes, clock=clock, tz=self.tz,
                                     calendar=self.calendar)
        except ValueError as error:  # a deadline beyond what the calendar can count
            raise Invalid(f"the deadline cannot be computed: {error}") from None

    def left(self, now: datetime, until: datetime, clock: str) -> int:
        """Seconds of `clock` time from now until `until`; negative when already past."""
        if until >= now:
            span = calendar.elapsed(start=now, end=until, clock=clock, tz=self.tz, calendar=self.calendar)
            return int(span.total_seconds())
        return -int((now - until).total_seconds())

    def after(self, now: datetime, seconds: int, clock: str) -> datetime:
        """The instant `seconds` of `clock` time after now (before it, in natural time, if negative)."""
        if seconds < 0:
            return now + timedelta(seconds=seconds)
        return self.add(now, seconds / 60, clock)

    def clock_of(self, stage: str) -> str:
        limit = self.problem.category.limit(stage)
        return limit[1] if limit else "natural"


def start_stage(problem: Problem, stage: Stage | None, now: datetime) -> None:
    """Start `stage`'s clock afresh (a new cycle), or stop stage clocks when `stage` is None."""
    problem.stage = stage.value if stage else None
    problem.stage_started_at = problem.stage_entered_at = now if stage else None
    problem.stage_warn_at = problem.stage_due_at = problem.stage_limit_s = None
    problem.stage_elapsed_s = 0
    if stage is None:
        return
    if stage == Stage.RECTIFY:
        problem.work_started_at = now
    problem.stage_cycle += 1
    limit = problem.category.limit(stage)
    if limit:
        minutes, clock = limit
        clocks = Clocks(problem)
        problem.stage_warn_at = clocks.add(now, minutes * WARN_FRACTION, clock)
        problem.stage_due_at = clocks.add(now, minutes, clock)
        problem.stage_limit_s = minutes * 60


def recompute_stage(problem: Problem) -> None:
    """Recompute the running stage's deadlines from its start (the category or place changed)."""
    cycle, entered = problem.stage_cycle, problem.stage_entered_at
    start_stage(problem, Stage(problem.stage), problem.stage_started_at)
    problem.stage_cycle, problem.stage_entered_at = cycle, entered


def restart_stage_until(problem: Problem, until: datetime, now: datetime) -> None:
    """Start a new cycle of the running stage that ends at `until` (a granted extension)."""
    clocks = Clocks(problem)
    clock = clocks.clock_of(problem.stage)
    problem.stage_cycle += 1
    problem.stage_started_at, problem.stage_elapsed_s = now, 0
    problem.stage_due_at = until
    problem.stage_limit_s = clocks.left(now, until, clock)
    warn_s = problem.stage_limit_s * WARN_FRACTION
    problem.stage_warn_at = clocks.after(now, int(warn_s), clock)
    if problem.due_at is not None and problem.due_at < until:
        problem.due_at = until


def start_whole(problem: Problem, now: datetime) -> None:
    """Start the whole-case clock (on the first assignment); a deadline fixed at the report (an order to
    rectify's) stays."""
    if problem.whole_started_at is not None:
        return
    problem.whole_started_at = now
    limit = problem.category.limit(Stage.WHOLE)
    if limit and problem.due_at is None:
        problem.due_at = Clocks(problem).add(now, *limit)


def stop_all(problem: Problem) -> None:
    """Stop every clock (the case is closed or cancelled); `due_at` stays as the deadline the case had."""
    problem.stage = problem.stage_started_at = problem.stage_entered_at = None
    problem.stage_warn_at = problem.stage_due_at = None
    problem.stage_limit_s, problem.stage_elapsed_s = None, 0
    problem.paused_at = problem.stage_left_s = problem.stage_warn_left_s = problem.whole_left_s = None


def _stage_clocks(problem: Problem) -> tuple[Clocks, str]:
    """The problem's clocks and the one its current stage runs on."""
    clocks = Clocks(problem)
    return clocks, clocks.clock_of(problem.stage) if problem.stage else "natural"


def pause(problem: Problem, now: datetime) -> None:
    """Stop the running clocks, keeping what is left of each."""
    if problem.paused_at is not None:
        return
    clocks, stage_clock = _stage_clocks(problem)
    if problem.stage_due_at is not None:
        problem.stage_left_s = clocks.left(now, problem.stage_due_at, stage_clock)
        problem.stage_warn_left_s = clocks.left(now, problem.stage_warn_at, stage_clock)
    if problem.due_at is not None:
        problem.whole_left_s = clocks.left(now, problem.due_at, clocks.clock_of(Stage.WHOLE))
    problem.paused_at = now
    problem.stage_due_at = problem.stage_warn_at = problem.due_at = None


def resume(problem: Problem, now: datetime) -> None:
    """Restart the paused clocks with what was left of each."""
    if problem.paused_at is None:
        return
    clocks, stage_clock = _stage_clocks(problem)
    if problem.stage_left_s is not None:
        problem.stage_due_at = clocks.after(now, problem.stage_left_s, stage_clock)
        problem.stage_warn_at = clocks.after(now, problem.stage_warn_left_s, stage_clock)
        # Count on from here: what was used before the pause stays used.
        problem.stage_started_at = now
        problem.stage_elapsed_s = (problem.stage_limit_s or 0) - problem.stage_left_s
    if problem.whole_left_s is not None:
        problem.due_at = clocks.after(now, problem.whole_left_s, clocks.clock_of(Stage.WHOLE))
    problem.paused_at = problem.stage_left_s = problem.stage_warn_left_s = problem.whole_left_s = None


def stage_took(problem: Problem, now: datetime) -> tuple[int, int] | None:
    """How long the running stage has taken since the problem entered it: (natural, working) seconds."""
    if problem.stage is None or problem.stage_entered_at is None:
        return None
    entered = problem.stage_entered_at
    return max(int((now - entered).total_seconds()), 0), max(Clocks(problem).left(entered, now, "working"), 0)


def stage_overdue(problem: Problem, now: datetime) -> bool | None:
    """Whether the running stage is past its deadline at `now` (None when no stage clock runs)."""
    if problem.paused_at is not None and problem.stage_left_s is not None:
        return problem.stage_left_s < 0
    if problem.stage_due_at is None:
        return None
    return now >= problem.stage_due_at
