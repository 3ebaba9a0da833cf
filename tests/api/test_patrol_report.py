"""Patrol coverage, against two days of one plan whose answers are counted by hand here.

The plan walks the market and a second point at three meal-time windows every day. As of Thursday 10:00:
Wednesday 中 (11:00–13:30) completed, both points checked, one finding; Wednesday 晚 (17:30–21:30) completed
late, one point checked; Thursday 早 missed; Thursday 中 and 晚 still ahead."""

import pytest

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.workflow.patrols.test_patrols import extra_points, local, make_plan, rounds_of, tick, walk_in
from workflow.patrols import rounds

PERIOD = {"from": "2026-11-25", "to": "2026-11-26"}


@pytest.fixture
def patrols(world):
    second = extra_points(world, 1)[0]
    plan = make_plan(world, point_ids=[world.points["market"].id, second])
    officer = world.users["officer"]
    tick(local(2026, 11, 25, 10))
    tick(local(2026, 11, 25, 11))
    lunch, dinner, breakfast = (next(r for r in rounds_of(plan) if r.planned_start == start) for start in (
        local(2026, 11, 25, 11), local(2026, 11, 25, 17, 30), local(2026, 11, 26, 6, 30)))
    walk_in(world, lunch, local(2026, 11, 25, 11, 10))
    market = world.points["market"]
    rounds.report_finding(actor=officer, now=local(2026, 11, 25, 11, 15), round_id=lunch.id,
                                 point_id=market.id, title="占道经营", category_code="hawker")
    db.session.commit()
    walk_in(world, lunch, local(2026, 11, 25, 11, 20), point_id=second, lat=35.0651)
    rounds.complete_round(actor=officer, now=local(2026, 11, 25, 12), round_id=lunch.id)
    tick(local(2026, 11, 25, 17, 30))
    walk_in(world, dinner, local(2026, 11, 25, 18))
    rounds.complete_round(actor=officer, now=local(2026, 11, 25, 22), round_id=dinner.id)
    db.session.commit()
    tick(local(2026, 11, 26, 9))
    return {"plan": plan, "lunch": lunch, "dinner": dinner, "breakfast": breakfast}


def get(client, world, path="patrols", who="supervisor", **query):
    return client.get(f"/api/v1/reports/{path}", query_string=PERIOD | query, headers=world.auth(who))


def test_patrol_figures_match_the_hand_count(client, world, patrols):
    totals = get(client, world).json["totals"]
    assert {k: totals[k] for k in ("scheduled", "completed", "completed_late", "missed", "pending",
                                    "points_planned", "points_checked", "findings", "round_hours")} == {
        "scheduled": 5, "completed": 1, "completed_late": 1, "missed": 1, "pending": 2,
        "points_planned": 10, "points_checked": 3, "findings": 1, "round_hours": 6.5}
    assert totals["completion_rate"] == round(2 / 3, 4)
    assert totals["missed_rate"] == round(1 / 3, 4)
    assert totals["checkpoint_coverage"] == 0.3
    assert totals["findings_per_round_hour"] == round(1 / 6.5, 4)


def test_by_window_shows_which_windows_find_things(client, world, patrols):
    rows = {row["key"]: row for row in get(client, world, group_by="window").json["rows"]}
    assert set(rows) == {"早", "中", "晚"}
    assert (rows["中"]["scheduled"], rows["中"]["completed"], rows["中"]["pending"]) == (2, 1, 1)
    assert (rows["中"]["findings"], rows["中"]["round_hours"], rows["中"]["findings_per_round_hour"]) == (1, 2.5, 0.4)
    dinner = rows["晚"]
    assert (dinner["completed_late"], dinner["points_checked"], dinner["findings_per_round_hour"]) == (1, 1, 0.0)
    assert (rows["早"]["missed"], rows["早"]["round_hours"], rows["早"]["findings_per_round_hour"]) == (1, 0, None)


def test_by_plan_officer_and_day(client, world, patrols):
    by_plan = get(client, world, group_by="plan").json["rows"]
    assert [(row["key"], row["label"], row["scheduled"]) for row in by_plan] == [
        (patrols["plan"].id, patrols["plan"].name, 5)]
    by_officer = get(client, world, group_by="officer").json["rows"]
    assert [(row["key"], row["label"], row["missed"]) for row in by_officer] == [
        (world.users["officer"].id, world.users["officer"].name, 1)]
    by_day = get(client, world, group_by="day").json["rows"]
    assert [(row["key"], row["scheduled"], row["pending"]) for row in by_day] == [
        ("2026-11-25", 2, 0), ("2026-11-26", 3, 2)]


def test_a_count_drills_down_to_its_rounds(client, world, patrols):
    missed = get(client, world, "patrols/drill", figure="missed").json["round_ids"]
    assert missed == [patrols["breakfast"].id]
    lunch = get(client, world, "patrols/drill", figure="completed", group_by="window", key="中").json
    assert lunch["round_ids"] == [patrols["lunch"].id]
    assert get(client, world, "patrols/drill", figure="scheduled", group_by="officer",
               key="nobody").json["round_ids"] == []


def test_patrol_figures_respect_scope_and_role(client, world, patrols):
    west = get(client, world, who="west_supervisor").json["totals"]
    assert (west["scheduled"], west["completion_rate"], west["checkpoint_coverage"]) == (0, None, None)
    assert_problem_json(get(client, world, who="officer"), 403)
    assert_problem_json(get(client, world, group_by="unit"), 422)
    assert_problem_json(get(client, world, "patrols/drill", figure="walked"), 422)
