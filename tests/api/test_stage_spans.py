"""Stage times read from `stage_spans` (decision 0123) are the figures the stage-ending events give: every path
that writes such an event leaves its span (a database trigger), and the summary's stage and intake times, per
group and in total, equal those of the former query, which joined every event of the period's problems."""

from datetime import timedelta

import pytest
from sqlalchemy import literal, select

from models import Problem, ProblemEvent, StageSpan
from models.base import db
from tests.api.test_intake_figures import scene
from tests.conftest import NOW
from workflow.ledger import lists, reports

PERIOD = {"from": "2026-11-20", "to": "2026-11-25"}


def _events_stage_rows(where, key, joins, period):
    """The query before stage_spans: the stage-ending events joined to their problems."""
    def rows(stage, *conditions):
        return reports._joined(select(
            (literal(None) if key is None else key).label("key"), stage.label("stage"),
            ProblemEvent.stage_natural_s.label("natural"), ProblemEvent.stage_working_s.label("working"),
        ).select_from(ProblemEvent).join(Problem, Problem.id == ProblemEvent.problem_id), joins).where(
            where, ProblemEvent.stage_natural_s.is_not(None), *conditions)
    intake = rows(literal(reports.INTAKE), ProblemEvent.stage == "dispatch", Problem.source.in_(reports.OUTSIDE))
    return rows(ProblemEvent.stage).union_all(intake)


def trails(world):
    """Problems over several days, units, grids and categories, with rework, a pause, a reassignment, outside
    tickets and a list, so that every stage and the intake pseudo-stage have several values."""
    scene(world)  # tickets: intake times; closed cases: all four stages
    squad, east = world.units["squad"].id, world.units["east"].id
    for day in range(4):
        at = NOW - timedelta(days=day, hours=day)
        one = world.report(at=at, category="shopfront" if day % 2 else "hawker")
        one = world.walk(one, ("assign", "supervisor", {"unit_id": squad}), ("accept", "handler", {}),
                         ("submit", "handler", {"note": "done"}), ("reject", "officer", {"reason": "again"}),
                         ("submit", "handler", {"note": "done"}), at=at + timedelta(minutes=7 * day + 3))
        two = world.report(by="west_officer", point="night", at=at + timedelta(minutes=5))
        two = world.walk(two, ("assign", "supervisor", {"unit_id": squad}), ("accept", "handler", {}),
                         ("suspend", "supervisor", {"reason": "permit"}), ("resume", "supervisor", {}),
                         at=at + timedelta(hours=day + 1))
        world.act(two, "comment", by="handler", at=at + timedelta(hours=day + 2), text="进行中")
    campaign = lists.create_list(actor=world.users["supervisor"], now=NOW, lead_unit_id=east, kind="campaign",
                                 name="全城清洁")
    lists.add_problems(actor=world.users["supervisor"], now=NOW, list_id=campaign.id,
                       problem_ids=list(db.session.scalars(select(Problem.id).where(Problem.id % 2 == 0))))
    db.session.commit()


def test_every_stage_ending_event_has_its_span_and_no_other_event_has_one(client, world):
    trails(world)
    events = db.session.execute(
        select(ProblemEvent.id, ProblemEvent.problem_id, Problem.reported_at, ProblemEvent.stage,
               ProblemEvent.stage_natural_s, ProblemEvent.stage_working_s)
        .join(Problem, Problem.id == ProblemEvent.problem_id)
        .where(ProblemEvent.stage_natural_s.is_not(None)).order_by(ProblemEvent.id)).all()
    spans = db.session.execute(select(StageSpan.event_id, StageSpan.problem_id, StageSpan.reported_at,
                                      StageSpan.stage, StageSpan.natural_s, StageSpan.working_s)
                               .order_by(StageSpan.event_id)).all()
    assert len(events) > 30
    assert spans == events


@pytest.mark.parametrize("group_by", ["unit", "grid", "category", "officer", "list", "day", "week"])
def test_the_figures_are_those_of_the_events_joined_to_their_problems(client, world, monkeypatch, group_by):
    trails(world)
    query = PERIOD | {"group_by": group_by}
    headers = world.auth("supervisor")
    spans = client.get("/api/v1/reports/summary", query_string=query, headers=headers).json
    monkeypatch.setattr(reports, "_stage_rows", _events_stage_rows)
    events = client.get("/api/v1/reports/summary", query_string=query, headers=headers).json
    assert spans["totals"]["stage_times"]["rectify"]["count"] >= 8
    assert spans["totals"]["intake_times"]["count"] >= 3
    assert spans == events
