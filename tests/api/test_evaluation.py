"""The unit evaluation (综合评价), its scores worked out by hand from the weights of FIVE (closure_rate 30,
on_time_rate 30 (higher is better), rework_rate 15, overdue_rate 15, recurrence_rate 10 (lower), no minimum
volume); the defaults of config/defaults/evaluation.toml add patrol indicators and minimum volumes."""

import pytest

from tests.api.helpers import assert_problem_json, statements
from workflow.ledger.reports import load_indicators

DAY = {"from": "2026-11-25", "to": "2026-11-25"}
FIVE = [{"name": "closure_rate", "weight": 30, "better": "higher", "min_volume": 0},
        {"name": "on_time_rate", "weight": 30, "better": "higher", "min_volume": 0},
        {"name": "rework_rate", "weight": 15, "better": "lower", "min_volume": 0},
        {"name": "overdue_rate", "weight": 15, "better": "lower", "min_volume": 0},
        {"name": "recurrence_rate", "weight": 10, "better": "lower", "min_volume": 0}]


@pytest.fixture
def five(app):
    app.config["EVALUATION_INDICATORS"] = FIVE
    yield
    app.config["EVALUATION_INDICATORS"] = load_indicators(app.config["EVALUATION_FILE"])


@pytest.fixture
def units(world):
    """The squad: one case closed on time, one rectifying at the same place (a recurrence). Sanitation: one case
    closed on time at the night market. The east subdistrict: one shop-front report nobody has dispatched."""
    world.to_state("closed")
    world.to_state("rectifying")
    night = world.report(by="west_officer", point="night")
    for action, by, fields in (("assign", "supervisor", {"unit_id": world.units["sanitation"].id}),
                               ("accept", "sanitation_handler", {}), ("submit", "sanitation_handler", {"note": "ok"}),
                               ("verify", "west_officer", {"note": "ok"}), ("close", "supervisor", {})):
        night = world.act(night, action, by=by, **fields)
    world.report(category="shopfront")
    return world.units


def evaluation(client, world, who="supervisor", **query):
    return client.get("/api/v1/reports/evaluation", query_string=DAY | query, headers=world.auth(who))


def test_scores_ranks_and_the_values_behind_them(client, world, units, five):
    body = evaluation(client, world).json
    assert [i["name"] for i in body["indicators"]] == [
        "closure_rate", "on_time_rate", "rework_rate", "overdue_rate", "recurrence_rate"]
    rows = [(row["unit_id"], row["score"], row["rank"]) for row in body["rows"]]
    # sanitation: everything perfect; the squad: 30×0.5 + 30×1 + 15×1 + 15×1 + 10×(1 − 0.5) = 80;
    # east: only closure (0), overdue (0 → 1) and recurrence (0 → 1) have values: (15 + 10) / 55
    assert rows == [(units["sanitation"].id, 100.0, 1), (units["squad"].id, 80.0, 2),
                    (units["east"].id, round(100 * 25 / 55, 2), 3)]
    squad = body["rows"][1]
    assert squad["values"] == {"closure_rate": 0.5, "on_time_rate": 1.0, "rework_rate": 0.0, "overdue_rate": 0.0,
                               "recurrence_rate": 0.5}
    assert (squad["label"], squad["reported"]) == ("squad", 2)
    assert body["rows"][2]["values"]["on_time_rate"] is None


def test_weights_are_configurable_and_ties_share_a_rank(client, world, app, units):
    app.config["EVALUATION_INDICATORS"] = [{"name": "on_time_rate", "weight": 1, "better": "higher"}]
    try:
        rows = [(row["unit_id"], row["score"], row["rank"]) for row in evaluation(client, world).json["rows"]]
    finally:
        app.config["EVALUATION_INDICATORS"] = load_indicators(app.config["EVALUATION_FILE"])
    assert rows == [(units["sanitation"].id, 100.0, 1), (units["squad"].id, 100.0, 1),
                    (units["east"].id, None, None)]  # nothing closed: no on-time rate, unranked


def test_the_evaluation_does_not_compute_stage_times(client, world, units):
    with statements(client.application) as sent:
        assert evaluation(client, world).status_code == 200
    assert not [statement for statement in sent if "problem_events" in statement]


def test_a_supervisor_evaluates_their_subtree_only(client, world, units):
    rows = evaluation(client, world, who="east_supervisor").json["rows"]
    assert {row["unit_id"] for row in rows} == {units["squad"].id, units["east"].id}
    assert_problem_json(evaluation(client, world, who="handler"), 403)
    assert_problem_json(evaluation(client, world, group_by="unit"), 422)


@pytest.mark.parametrize("text, message", [
    ("", "at least one"),
    ('[[indicators]]\nname = "speed"\nweight = 1\nbetter = "higher"\n', "unknown indicator"),
    ('[[indicators]]\nname = "closure_rate"\nweight = 0\nbetter = "higher"\n', "positive number"),
    ('[[indicators]]\nname = "closure_rate"\nweight = true\nbetter = "higher"\n', "positive number"),
    ('[[indicators]]\nname = "closure_rate"\nweight = 1\nbetter = "up"\n', "higher or lower"),
    ('[[indicators]]\nname = "closure_rate"\nweight = 1\nbetter = "higher"\n' * 2, "twice"),
])
def test_a_bad_evaluation_file_is_refused_at_start(tmp_path, text, message):
    path = tmp_path / "evaluation.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_indicators(str(path))


def test_a_unit_below_an_indicators_minimum_volume_is_shown_but_not_ranked(client, world, units):
    """The defaults want 5 cases for closure_rate: each unit here has one or two, so none is ranked."""
    rows = evaluation(client, world).json["rows"]
    assert {row["unit_id"] for row in rows} >= {units["sanitation"].id, units["squad"].id}
    assert all(row["rank"] is None and row["insufficient_data"] for row in rows)
    sanitation = next(row for row in rows if row["unit_id"] == units["sanitation"].id)
    assert (sanitation["score"], sanitation["values"]["closure_rate"]) == (100.0, 1.0)


def test_missed_rounds_pull_a_units_patrol_completion_rate_down(client, world, app):
    from datetime import date, timedelta

    from models.base import db
    from schedules.jobs import run_all
    from tests.conftest import NOW
    from workflow.patrols import plans

    plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="东关早市", mode="fixed_post",
                      officer_ids=[world.users["officer"].id], point_ids=[world.points["market"].id],
                      days="every_day", windows=[{"label": "晚", "start": "18:00", "end": "21:00"}],
                      active_from=date(2026, 11, 1))
    db.session.commit()
    run_all(now=NOW)
    run_all(now=NOW + timedelta(days=1))  # the 25th's 晚 round passed with nobody: missed
    app.config["EVALUATION_INDICATORS"] = [
        {"name": "patrol_completion_rate", "weight": 1, "better": "higher", "min_volume": 1},
        {"name": "checkpoint_coverage", "weight": 1, "better": "higher", "min_volume": 1}]
    try:
        rows = evaluation(client, world).json["rows"]
    finally:
        app.config["EVALUATION_INDICATORS"] = load_indicators(app.config["EVALUATION_FILE"])
    east = next(row for row in rows if row["unit_id"] == world.units["east"].id)
    assert east["values"] == {"patrol_completion_rate": 0.0, "checkpoint_coverage": 0.0}
    assert (east["score"], east["rank"], east["insufficient_data"]) == (0.0, 1, False)


def test_the_default_weights_include_the_patrol_indicators_and_minimum_volumes(app):
    indicators = {i["name"]: i for i in load_indicators(app.config["EVALUATION_FILE"])}
    assert {"patrol_completion_rate", "checkpoint_coverage"} <= set(indicators)
    assert indicators["closure_rate"]["min_volume"] >= 5
