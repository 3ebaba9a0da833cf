"""Statistics, checked against a small ledger whose answers are counted by hand here."""

from datetime import timedelta

import pytest

from tests.api.helpers import assert_problem_json
from tests.conftest import NOW


@pytest.fixture
def ledger(world):
    """Six problems reported on 2026-11-25 (local), in the east grid, hawker category:
    closed on time; closed after a reject (reworked); rectifying; reported (dispatch 60 min: overdue at
    NOW + 2 h); cancelled; resolved on site (verified, never dispatched)."""
    on_time = world.to_state("closed")
    reworked = world.to_state("verifying")
    reworked = world.act(reworked, "reject", by="officer", reason="still there")
    for action, by, fields in (("submit", "handler", {"note": "again"}), ("verify", "officer2", {"note": "ok"}),
                               ("close", "supervisor", {})):
        reworked = world.act(reworked, action, by=by, **fields)
    rectifying = world.to_state("rectifying")
    reported = world.to_state("reported")
    cancelled = world.to_state("cancelled")
    on_site = world.report(by="officer", resolved_on_site=True)
    return {"on_time": on_time, "reworked": reworked, "rectifying": rectifying, "reported": reported,
            "cancelled": cancelled, "on_site": on_site}


def get(client, world, path, **query):
    return client.get(f"/api/v1/reports/{path}", query_string=query, headers=world.auth("supervisor"))


def test_each_figure_matches_the_hand_count(client, world, app, ledger):
    app.config["TEST_NOW"] = NOW + timedelta(hours=2)
    totals = get(client, world, "summary", **{"from": "2026-11-25", "to": "2026-11-25"}).json["totals"]
    assert {k: totals[k] for k in ("reported", "dispatched", "closed", "cancelled", "on_time", "submitted",
                                    "reworked", "extended", "overdue", "self_resolved")} == {
        "reported": 6, "dispatched": 3,  # on_time, reworked, rectifying were assigned
        "closed": 2, "cancelled": 1, "on_time": 2, "submitted": 2, "reworked": 1, "extended": 0,
        "overdue": 1,  # the report waiting for dispatch past its hour
        "self_resolved": 1}
    assert totals["closure_rate"] == round(2 / (6 - 1), 4)
    assert (totals["on_time_rate"], totals["rework_rate"], totals["extension_rate"]) == (1.0, 0.5, 0.0)
    assert totals["self_resolved_share"] == round(1 / 6, 4)


def test_figures_group_by_unit_and_by_day_and_add_up_to_the_totals(client, world, ledger):
    by_unit = get(client, world, "summary", **{"from": "2026-11-25", "to": "2026-11-25", "group_by": "unit"}).json
    assert sum(row["reported"] for row in by_unit["rows"]) == by_unit["totals"]["reported"] == 6
    squad = next(row for row in by_unit["rows"] if row["key"] == world.units["squad"].id)
    assert (squad["label"], squad["reported"], squad["closed"]) == ("squad", 3, 2)
    by_day = get(client, world, "summary", **{"from": "2026-11-25", "to": "2026-11-25", "group_by": "day"}).json
    assert [(row["key"], row["reported"]) for row in by_day["rows"]] == [("2026-11-25", 6)]
    by_week = get(client, world, "summary", **{"from": "2026-11-25", "to": "2026-11-25", "group_by": "week"}).json
    assert [(row["key"], row["reported"]) for row in by_week["rows"]] == [("2026-11-23", 6)]  # the Monday


def test_a_figure_drills_down_to_its_problem_ids(client, world, ledger):
    ids = get(client, world, "drill", **{"from": "2026-11-25", "to": "2026-11-25", "figure": "closed"}).json
    assert sorted(ids["problem_ids"]) == sorted([ledger["on_time"].id, ledger["reworked"].id])
    squad = world.units["squad"].id
    reworked = get(client, world, "drill", **{"from": "2026-11-25", "to": "2026-11-25", "figure": "reworked",
                                              "group_by": "unit", "key": str(squad)}).json
    assert reworked["problem_ids"] == [ledger["reworked"].id]


def test_the_period_and_the_scope_bound_the_basis(client, world, ledger):
    before = get(client, world, "summary", **{"from": "2026-11-24", "to": "2026-11-24"}).json["totals"]
    assert before["reported"] == 0 and before["closure_rate"] is None  # a zero denominator is null
    west = client.get("/api/v1/reports/summary", query_string={"from": "2026-11-25", "to": "2026-11-25"},
                      headers=world.auth("west_supervisor")).json["totals"]
    assert west["reported"] == 0
    assert_problem_json(client.get("/api/v1/reports/summary", query_string={"from": "2026-11-25", "to": "2026-11-25"},
                                   headers=world.auth("officer")), 403)


@pytest.mark.parametrize("query", [{"from": "2026-11-25"}, {"from": "2026-11-26", "to": "2026-11-25"},
                                   {"from": "2026-11-25T00:00:00", "to": "2026-11-26"},
                                   {"from": "2026-11-25", "to": "2026-11-26", "group_by": "planet"}])
def test_a_bad_period_or_grouping_is_422(client, world, query):
    assert_problem_json(get(client, world, "summary", **query), 422)
