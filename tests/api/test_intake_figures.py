"""漏报率, 回访率, 满意率 and intake time on fixed data, worked out by hand."""

from datetime import timedelta

from models.base import db
from tests.conftest import NOW
from workflow.problems import reporting

DAY = {"from": "2026-11-25", "to": "2026-11-25"}


def ticket(world, ref, point="market", by="hotline", source=None):
    problem, _ = reporting.report_problem(actor=world.users[by], now=NOW, category_code="hawker", title="来电",
                                          point_id=world.points[point].id, external_ref=ref,
                                          **({"source": source} if source else {}))
    db.session.commit()
    return problem


def closed(world, problem, intake_minutes, *, satisfaction=None, verifier="officer"):
    steps = [("assign", "supervisor", {"unit_id": world.units["squad"].id}), ("accept", "handler", {}),
             ("submit", "handler", {"note": "ok"}), ("verify", verifier, {"note": "ok"}),
             ("close", "supervisor", {})]
    problem = world.walk(problem, *steps, at=NOW + timedelta(minutes=intake_minutes - 1))
    if satisfaction:
        problem = world.act(problem, "callback", by="hotline", at=NOW + timedelta(hours=5), satisfaction=satisfaction)
    return problem


def scene(world):
    """East grid: an officer's own report (closed), three tickets (closed satisfied after 30 min of intake, closed
    unsatisfied after 90 min, refused as invalid after 10 min). West grid: a public report keyed in by a
    supervisor (not taken in yet), a ticket closed after 60 min whose reporter could not be reached."""
    closed(world, world.report(), 5)
    closed(world, ticket(world, "T1"), 30, satisfaction="satisfied")
    closed(world, ticket(world, "T2"), 90, satisfaction="unsatisfied")
    world.act(ticket(world, "T3"), "cancel", by="supervisor", at=NOW + timedelta(minutes=10), reason="无效",
              reason_code="invalid")
    ticket(world, "P1", point="night", by="supervisor", source="public")
    closed(world, ticket(world, "T4", point="night"), 60, satisfaction="unreachable", verifier="west_officer")


def summary(client, world, group_by):
    response = client.get("/api/v1/reports/summary", query_string=DAY | {"group_by": group_by},
                          headers=world.auth("supervisor"))
    assert response.status_code == 200, response.json
    return response.json


def test_intake_figures_on_fixed_data(client, world):
    scene(world)
    body = summary(client, world, "grid")
    totals = body["totals"]
    assert {name: totals[name] for name in ("reported", "cancelled", "outside", "missed", "callback_due",
                                            "called_back", "unreachable", "satisfied")} == {
        "reported": 6, "cancelled": 1, "outside": 5, "missed": 4, "callback_due": 3, "called_back": 3,
        "unreachable": 1, "satisfied": 1}
    assert (totals["missed_report_rate"], totals["callback_rate"], totals["satisfaction_rate"]) == (0.8, 1.0, 0.5)
    # intake: 30, 90, 10 and 60 minutes; p90 by nearest rank of four is the fourth
    assert totals["intake_times"] == {"count": 4, "natural_avg_s": 2850, "natural_p90_s": 5400,
                                           "working_avg_s": totals["intake_times"]["working_avg_s"],
                                           "working_p90_s": totals["intake_times"]["working_p90_s"]}
    rows = {row["label"]: row for row in body["rows"]}
    east, west = rows["东关第一网格"], rows["西城第一网格"]
    assert (east["missed"], east["missed_report_rate"], west["missed"], west["missed_report_rate"]) == \
        (2, round(2 / 3, 4), 2, 1.0)
    assert (east["satisfaction_rate"], west["satisfaction_rate"], west["callback_rate"]) == (0.5, None, 1.0)
    assert east["intake_times"]["count"] == 3 and west["intake_times"]["count"] == 1


def test_missed_reports_per_officer_count_against_every_officer_of_the_grid(client, world):
    scene(world)
    body = summary(client, world, "grid_officer")
    rows = {row["label"]: (row["reported"], row["missed"], row["missed_report_rate"]) for row in body["rows"]}
    assert rows == {"officer": (4, 2, round(2 / 3, 4)), "officer2": (4, 2, round(2 / 3, 4)),
                    "west_officer": (2, 2, 1.0)}
    assert body["totals"]["reported"] == 6  # once each in the totals


def test_the_figures_drill_down_to_their_problems(client, world):
    scene(world)
    east = world.grids["east"].id
    drilled = client.get("/api/v1/reports/drill", headers=world.auth("supervisor"),
                         query_string=DAY | {"figure": "missed", "group_by": "grid", "key": str(east)}).json
    assert len(drilled["problem_ids"]) == 2
    officer = client.get("/api/v1/reports/drill", headers=world.auth("supervisor"), query_string=DAY | {
        "figure": "missed", "group_by": "grid_officer", "key": str(world.users["west_officer"].id)}).json
    assert len(officer["problem_ids"]) == 2


def test_satisfaction_weighs_in_the_evaluation_of_units_with_callbacks(client, world):
    scene(world)
    body = client.get("/api/v1/reports/evaluation", query_string=DAY, headers=world.auth("supervisor")).json
    squad = next(row for row in body["rows"] if row["unit_id"] == world.units["squad"].id)
    assert squad["values"]["satisfaction_rate"] == 0.5
