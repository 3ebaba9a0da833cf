"""Stateful schemathesis: sequences of calls that follow the OpenAPI links of /openapi.json — report a
problem, then read it, act on it with the ETag it answered, read its trail, act again.

Schemathesis generates every request. So that walks get past the first refusal, most of them are made
realistic before they go out, as a phone would: a report at a known point and category, and an action
its caller's menu offers (allowed_actions of the problem), with fields that fit it, sent by the user
whose menu it is; the rest go out as generated and are mostly refused. The problem id and If-Match come
from the links. No call may make a 500 or break its documented schema, and after every scenario each
problem is in a legal state whose trail replays to it. Bounded (well under a minute), on SQLite only.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import func, select

from models import Problem, ProblemEvent, db
from tests.conftest import BACKEND, NOW
from tests.factories import default_fields
from tests.workflow.problems.test_state_machine import check_legal, check_replays
from workflow.problems.actions import allowed_actions

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="run once, on the embedded default")
# The report, the problem, its actions and its trail: the operations the documented links join.
PROBLEM_PATHS = r"^/api/v1/problems(/\{problem_id\}(/actions|/events)?)?$"
REPORT, ACTIONS = ("POST", "/api/v1/problems"), ("POST", "/api/v1/problems/{problem_id}/actions")
PEOPLE = ("supervisor", "handler", "officer", "officer2")
# Menu entries taken only when nothing else is offered: they end the walk or go round in circles.
DETOURS = {"comment", "cancel", "return", "reassign", "suspend", "request_extension"}
# Tables a scenario writes to; emptied after each, so that hypothesis can replay a scenario exactly.
SCENARIO_TABLES = ("problem_list_items", "stage_spans", "problem_events", "notifications", "escalation_firings",
                   "attachments", "webhook_deliveries", "outbox", "problems", "idempotency_records", "code_counters")


def test_following_the_links_from_a_report_through_its_actions_never_breaks(app, world):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=PROBLEM_PATHS) \
        .exclude(method="GET", path="/api/v1/problems")
    walk = walker(schema, world)

    forget_the_scenario()
    walk.run(settings=settings(max_examples=60, stateful_step_count=15, deadline=None, database=None,
                               derandomize=True, suppress_health_check=list(HealthCheck)))

    succeeded = {action for action, status in walk.reached if status == 200}
    # Walks followed the links: a report's id and ETag reached an action that succeeded (deeper walks,
    # accept and submit, come too, but how far depends on the draw).
    assert succeeded, walk.reached
    assert walk.events > 0


def walker(schema, world):
    class Walk(schema.as_state_machine()):
        reached: set = set()  # (action, status) over every scenario
        events = 0  # events written over every scenario

        def before_call(self, case):
            who = "officer" if (case.method, case.path) == REPORT else "supervisor"
            if (case.method, case.path) == REPORT and _realistic(case):
                case.body = {"category_code": "hawker", "point_id": world.points["market"].id,
                             "title": _title(case.body)}
            elif (case.method, case.path) == ACTIONS and _realistic(case):
                who = from_the_menu(world, case)
            case.headers = {**(case.headers or {}), **world.auth(who)}

        def after_call(self, response, case):
            if (case.method, case.path) == ACTIONS and isinstance(case.body, dict):
                Walk.reached.add((case.body.get("action"), response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                   transport_kwargs=kwargs)

        def teardown(self):
            db.session.rollback()
            for problem in db.session.scalars(select(Problem)):
                check_legal(problem)
                check_replays(problem)
            Walk.events += db.session.scalar(select(func.count()).select_from(ProblemEvent))
            forget_the_scenario()

    return Walk


def from_the_menu(world, case) -> str:
    """An action someone's menu offers for this problem now (picked by the generated action), with
    fields that fit it; returns who takes it."""
    db.session.rollback()
    problem_id = (case.path_parameters or {}).get("problem_id")
    problem = db.session.get(Problem, problem_id) if type(problem_id) is int and problem_id > 0 else None
    menu = [(person, action) for person in PEOPLE if problem is not None
            for action in allowed_actions(problem, world.users[person], NOW)]
    forward = [(person, action) for person, action in menu if action not in DETOURS]
    menu = forward or menu
    if not menu:
        return "supervisor"
    person, action = menu[sum(map(ord, str(case.body.get("action")))) % len(menu)]
    case.body = {"action": action} | default_fields(world, action, NOW)
    return person


def _realistic(case) -> bool:
    """Three requests in four are made realistic, decided by the generated data itself (so replayable)."""
    return isinstance(case.body, dict) and len(str(case.body)) % 4 != 0


def forget_the_scenario() -> None:
    """Delete what a scenario wrote (problems and everything hanging off them); keep the world."""
    db.session.rollback()
    tables = {table.name: table for table in db.metadata.sorted_tables}
    for name in SCENARIO_TABLES:
        db.session.execute(tables[name].delete())
    db.session.commit()


def _title(body) -> str:
    title = body.get("title") if isinstance(body, dict) else None
    return title if isinstance(title, str) and 0 < len(title.strip()) <= 200 and "\x00" not in title else "占道经营"
