"""A hypothesis state machine over the workflow: random actions by random people on a few problems, with
time moving forward.

After every step: the problem is in a legal state; the action succeeded exactly when allowed_actions
(and the caller's scope) said it would, and a refusal was one of the workflow's own errors that left the
row untouched; the trail replays through the transition table to the current state and version.
"""

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import case, select

from models import Problem, ProblemEvent, db
from models.enums import Action, State
from tests.conftest import NOW
from tests.factories import NATURAL, PATHS
from workflow import org
from workflow.errors import DomainError, NotFound
from workflow.problems import actions, reporting, visibility
from workflow.problems.lifecycle import OPEN_STATES, TRANSITIONS
from workflow.scope import problem_filter

PEOPLE = ("admin", "supervisor", "east_supervisor", "west_supervisor", "officer", "officer2", "west_officer",
          "handler", "handler2", "sanitation_handler")
ACTIONS = tuple(action.value for action in TRANSITIONS)
# Versions count every event that moves the problem: these never do.
UNVERSIONED = {Action.COMMENT.value, Action.ESCALATE.value, Action.ATTACH.value}
# How often a menu entry is offered, relative to 1: forward moves up, loops and chatter down.
WEIGHTS = {"comment": 1, "reassign": 1, "accept": 3, "submit": 3, "verify": 3, "close": 2, "request_extension": 3,
           "deny_extension": 4, "grant_extension": 4, "resume": 2}
MUST_SUCCEED = {"assign", "accept", "submit", "verify", "close", "cancel", "suspend", "resume",
                "request_extension", "comment"}
NEEDS_UNIT = {State.ASSIGNED, State.RECTIFYING, State.VERIFYING, State.SUSPENDED}


def fields_for(world, action: str, problem: Problem, now, unit: str, duplicate) -> dict:
    """Fields that fit the action (the test is about states and people, not field validation)."""
    base = {"note": "好", "reason": "原因", "text": "备注 📝"}
    if action in ("assign", "reassign"):
        return {"unit_id": world.units[unit].id} | ({"reason": base["reason"]} if action == "reassign" else {})
    if action == "request_extension":
        after = max(now, problem.stage_due_at or now)
        return {"until": after + timedelta(days=10), "reason": "需要施工队"}
    if action == "cancel":
        return {"reason": "重复"} | ({"duplicate_of": duplicate} if duplicate else {})
    rule_ = TRANSITIONS[Action(action)]
    return {name: base[name] for name in rule_.required}


class Workflow(RuleBasedStateMachine):
    world = None  # set by the test: the World fixture's district
    scopes: dict = {}  # person -> the SQL condition of the problems they see
    succeeded: Counter = Counter()  # action -> how often it succeeded, over every run

    def __init__(self):
        super().__init__()
        self.now = NOW
        self.ids: list[int] = []

    @initialize(category=st.sampled_from(["hawker", "shopfront", "gas"]),
                start=st.sampled_from(["on_site", "reported", "assigned", "rectifying", "verifying", "verified",
                                       "suspended"]))
    def first_problem(self, category, start):
        """A first problem, walked by the usual path to a random starting state (so that walks reach deep)."""
        if start == "on_site":
            self._report(category, True, "officer", "market")
            return
        problem = self.world.report(category=category, at=self.now)
        for action, by, fields in PATHS[start](self.world):
            problem = self.world.act(problem, action, by=by, at=self.now, **fields)
        self.ids.append(problem.id)

    @precondition(lambda self: len(self.ids) < 3)
    @rule(category=st.sampled_from(["hawker", "shopfront", "gas"]), on_site=st.booleans(),
          where=st.sampled_from([("officer", "market"), ("west_officer", "night"),
                                 ("supervisor", "night")]))
    def another_report(self, category, on_site, where):
        self._report(category, on_site, *where)

    def _report(self, category, on_site, by, point):
        problem, created = reporting.report_problem(
            actor=self.world.users[by], now=self.now, title="占道经营 🍢 Straßen", category_code=category,
            point_id=self.world.points[point].id, resolved_on_site=on_site)
        db.session.commit()
        assert created and problem.state == (State.VERIFIED if on_site else State.REPORTED)
        self.ids.append(problem.id)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), any_action=st.sampled_from(ACTIONS),
          unit=st.sampled_from(["squad", "squad", "sanitation"]), follow_the_menu=st.sampled_from([True, True, False]),
          minutes=st.one_of(st.integers(0, 120), st.integers(0, 4 * 24 * 60)))
    def act(self, data, who, any_action, unit, follow_the_menu, minutes):
        """Time passes; then anyone tries anything, or (two times in three) someone takes an action their menu
        (allowed_actions) offers, moves that take the case forward weighted up so that walks go deep."""
        self.now += timedelta(minutes=minutes)
        problem_id = data.draw(st.sampled_from(self.ids), label="problem")
        before = db.session.get(Problem, problem_id)
        version, state = before.version, before.state
        sees = self._who_sees(problem_id)
        menus = {person: actions.allowed_actions(before, self.world.users[person], self.now) if sees[person] else []
                 for person in PEOPLE}
        offered = [(person, action) for person, menu in menus.items() for action in menu
                   for _ in range(WEIGHTS.get(action, 1))]
        if follow_the_menu and offered:
            who, action = data.draw(st.sampled_from(offered), label="who, action")
        else:
            action = any_action
        actor = self.world.users[who]
        duplicate = data.draw(st.sampled_from([None, *self.ids]), label="duplicate_of")
        fields = fields_for(self.world, action, before, self.now, unit, duplicate)
        predicted = action in menus[who]
        if action == "cancel" and duplicate is not None:
            # duplicate_of must name another problem the caller can see (else a field error, 422)
            predicted = predicted and duplicate != problem_id and self._sees(actor, duplicate)
        try:
            after = actions.apply_action(actor=actor, now=self.now, problem_id=problem_id, action=action,
                                          expected_version=version, **fields)
            db.session.commit()
        except DomainError as refusal:
            db.session.rollback()
            assert not predicted, f"{who} was allowed to {action} a {state} problem but got {refusal!r}"
            row = db.session.get(Problem, problem_id)
            assert (row.state, row.version) == (state, version)  # nothing half-written
            return
        assert predicted, f"{who} did {action} on a {state} problem, which allowed_actions did not predict"
        rule_ = TRANSITIONS[Action(action)]
        assert after.state == (rule_.to or state)
        assert after.version == version + (1 if rule_.changes_version else 0)
        Workflow.succeeded[action] += 1

    def _who_sees(self, problem_id: int) -> dict[str, bool]:
        """Everyone's scope (workflow.scope's own SQL conditions) in one query."""
        row = db.session.execute(select(*(case((self.scopes[person], True), else_=False) for person in PEOPLE))
                                 .where(Problem.id == problem_id)).one()
        return dict(zip(PEOPLE, row, strict=True))

    @staticmethod
    def _sees(actor, problem_id: int) -> bool:
        try:
            return visibility.get_problem(actor=actor, problem_id=problem_id) is not None
        except NotFound:
            return False

    @invariant()
    def every_problem_is_legal_and_its_trail_replays(self):
        db.session.expire_all()
        for problem_id in self.ids:
            problem = db.session.get(Problem, problem_id)
            check_legal(problem)
            check_replays(problem)


def test_random_actions_by_random_people_keep_every_problem_legal_and_replayable(world):
    world.categories["gas"] = org.create_category(actor=None, now=NOW, code="gas", name="瓶装燃气隐患",
                                                  limits=NATURAL, pause_on_extension=True)
    db.session.commit()
    Workflow.world = world
    Workflow.scopes = {person: problem_filter(world.users[person]) for person in PEOPLE}
    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=60, stateful_step_count=40, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    # The walks went deep (else the checks proved little): round the whole loop, through rework, the
    # extension and suspension detours, and most of the table's actions.
    assert set(Workflow.succeeded) >= MUST_SUCCEED, MUST_SUCCEED - set(Workflow.succeeded)
    assert len(Workflow.succeeded) >= len(ACTIONS) - 3, set(ACTIONS) - set(Workflow.succeeded)


def check_legal(problem: Problem) -> None:
    state = State(problem.state)
    assert problem.version >= 1 and problem.last_seq >= problem.version
    if state in NEEDS_UNIT:
        assert problem.unit_id is not None, f"{state} without a responsible unit"
    if state == State.REPORTED:
        assert problem.unit_id is None and problem.handler_id is None
    if state in (State.VERIFYING, State.VERIFIED) and not problem.resolved_on_site:
        assert problem.submitted_by_id is not None
    if state == State.VERIFIED:
        assert problem.verified_by_id is not None and problem.verified_by_id != problem.submitted_by_id
    if state == State.CLOSED:
        assert problem.closed_at is not None
    if problem.extension_until is not None:
        assert state == State.RECTIFYING, f"an extension request pending on a {state} problem"
    if state not in OPEN_STATES:
        assert problem.stage_due_at is None and problem.extension_until is None
    if state == State.SUSPENDED:
        assert problem.paused_at is not None and problem.stage_due_at is None


def check_replays(problem: Problem) -> None:
    events = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                                .order_by(ProblemEvent.seq)).all()
    assert [e.seq for e in events] == list(range(1, problem.last_seq + 1)), "gaps or doubles in the trail"
    assert events[0].action == Action.REPORT and events[0].from_state is None
    state, version = events[0].to_state, 1
    for event in events[1:]:
        assert event.from_state == state, f"event {event.seq} starts from {event.from_state}, not {state}"
        if event.action in UNVERSIONED:
            assert event.to_state == state
            continue
        if event.action == Action.EDIT:  # a corrected report: versioned, the state stays
            assert state == event.to_state == State.REPORTED
            version += 1
            continue
        rule_ = TRANSITIONS[Action(event.action)]
        assert State(state) in rule_.frm, f"{event.action} is not allowed from {state}"
        assert event.to_state == (rule_.to or state)
        state, version = event.to_state, version + 1
    assert (state, version) == (problem.state, problem.version)


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_nothing_but_nothing_is_allowed_on_a_finished_problem(world, state):
    """A check that the machine's checks can fail: the finished states allow no action, to anyone."""
    problem = world.to_state(state)
    for who in PEOPLE:
        assert actions.allowed_actions(problem, world.users[who], NOW) == []
