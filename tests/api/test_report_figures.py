"""Stage times, overdue amounts and recurrence, each against a fixture whose answer is worked out by hand here.

NOW is 2026-11-25 02:00 UTC, 10:00 on a Wednesday in Shanghai; the working day is 08:30–12:00, 13:30–17:30."""

from datetime import timedelta

from tests.conftest import NOW

DAY = {"from": "2026-11-25", "to": "2026-11-25"}


def summary(client, world, **query):
    return client.get("/api/v1/reports/summary", query_string=DAY | query, headers=world.auth("supervisor")).json


def drill(client, world, **query):
    return client.get("/api/v1/reports/drill", query_string=DAY | query,
                      headers=world.auth("supervisor")).json["problem_ids"]


def minutes(m: int):
    return NOW + timedelta(minutes=m)


def assign(world, problem, at):
    return world.act(problem, "assign", by="supervisor", at=at, unit_id=world.units["squad"].id)


def test_stage_times_average_and_p90_in_natural_and_working_time(client, world):
    one, two, three = (world.report(at=NOW) for _ in range(3))
    one = assign(world, one, minutes(10))         # dispatch 600 s, all in working hours
    two = assign(world, two, minutes(30))         # dispatch 1,800 s
    assign(world, three, minutes(240))            # 10:00 → 14:00: 14,400 s natural, 7,200 + 1,800 working
    one = world.act(one, "accept", by="handler", at=minutes(20))   # accept 600 s
    one = world.act(one, "submit", by="handler", at=minutes(50), note="cleared")  # rectify 10:20 → 10:50
    world.act(one, "verify", by="officer", at=minutes(60), note="ok")  # verify 600 s
    two = world.act(two, "accept", by="handler", at=minutes(40))  # accept 600 s
    two = world.act(two, "suspend", by="supervisor", at=minutes(50), reason="permit")
    two = world.act(two, "resume", by="supervisor", at=minutes(120))
    world.act(two, "submit", by="handler", at=minutes(180), note="cleared")  # rectify 10:40 → 13:00, pause in it

    times = summary(client, world)["totals"]["stage_times"]
    assert times["dispatch"] == {"count": 3, "natural_avg_s": (600 + 1800 + 14400) // 3, "natural_p90_s": 14400,
                                 "working_avg_s": (600 + 1800 + 9000) // 3, "working_p90_s": 9000}
    assert times["accept"] == {"count": 2, "natural_avg_s": 600, "natural_p90_s": 600,
                               "working_avg_s": 600, "working_p90_s": 600}
    # rectify: 1,800 s and 8,400 s natural; 1,800 s and 4,800 s working (10:40 → 12:00, then lunch)
    assert times["rectify"] == {"count": 2, "natural_avg_s": 5100, "natural_p90_s": 8400,
                                "working_avg_s": 3300, "working_p90_s": 4800}
    assert times["verify"] == {"count": 1, "natural_avg_s": 600, "natural_p90_s": 600,
                               "working_avg_s": 600, "working_p90_s": 600}
    assert sorted(drill(client, world, figure="left_rectify")) == sorted([one.id, two.id])
    assert drill(client, world, figure="left_verify") == [one.id]
    by_unit = summary(client, world, group_by="unit")["rows"]
    assert [row["stage_times"]["dispatch"]["count"] for row in by_unit] == [3]  # all three went to the squad


def test_p90_is_the_nearest_rank_over_ten_stages(client, world):
    # dispatch after 1, 2, ..., 10 minutes: ceil(0.9 × 10) = 9th smallest = 540 s; the average 330 s
    for m in range(1, 11):
        assign(world, world.report(at=NOW), minutes(m))
    dispatch = summary(client, world)["totals"]["stage_times"]["dispatch"]
    assert (dispatch["count"], dispatch["natural_avg_s"], dispatch["natural_p90_s"]) == (10, 330, 540)


def test_stage_times_follow_the_grouping(client, world):
    east = assign(world, world.report(at=NOW), minutes(10))
    west = world.report(by="west_officer", point="night", at=NOW)
    assign(world, west, minutes(40))
    rows = {row["key"]: row["stage_times"] for row in summary(client, world, group_by="grid")["rows"]}
    assert rows[world.grids["east"].id]["dispatch"]["natural_avg_s"] == 600
    assert rows[world.grids["west"].id]["dispatch"]["natural_avg_s"] == 2400
    assert "accept" not in rows[world.grids["east"].id]  # no stage left yet
    assert east.stage == "accept"


def test_how_far_overdue_counts_from_the_earliest_passed_deadline(client, world, app):
    early = world.report(at=NOW)                 # dispatch due 11:00 local
    later = world.report(at=minutes(60))         # dispatch due 12:00 local
    dispatched = assign(world, world.report(at=NOW), minutes(5))  # accept due NOW + 65 min
    world.report(at=minutes(290))                # not yet due at NOW + 5 h
    app.config["TEST_NOW"] = minutes(300)
    totals = summary(client, world)["totals"]
    # past due by 4 h, 3 h and 3 h 55 min
    assert totals["overdue"] == 3
    assert totals["overdue_max_s"] == 4 * 3600
    assert totals["overdue_avg_s"] == (4 * 3600 + 3 * 3600 + 235 * 60) // 3
    assert totals["overdue_rate"] == round(3 / 4, 4)
    assert sorted(drill(client, world, figure="overdue")) == sorted([early.id, later.id, dispatched.id])


def test_nothing_overdue_gives_null_amounts(client, world):
    world.report(at=NOW)
    totals = summary(client, world)["totals"]
    assert (totals["overdue"], totals["overdue_avg_s"], totals["overdue_max_s"]) == (0, None, None)


def test_recurrence_is_the_same_category_at_the_same_place_within_thirty_days(client, world):
    # Each resolved on the spot (fixed at its report), so the next one there is a recurrence (反弹).
    world.report(at=NOW - timedelta(days=40), resolved_on_site=True)           # too long before the period
    second = world.report(at=NOW - timedelta(days=20), resolved_on_site=True)  # 20 days after the first: recurred
    third = world.report(at=NOW)                                # 20 days after the second: recurred
    world.report(category="shopfront", at=NOW)                 # the first shop-front case there
    world.report(by="west_officer", point="night", at=NOW)      # elsewhere
    duplicate = world.report(at=NOW + timedelta(minutes=1))     # the third is still open: a duplicate
    world.act(duplicate, "cancel", by="supervisor", at=minutes(2), reason="duplicate")
    period = {"from": "2026-10-31", "to": "2026-11-25"}
    totals = summary(client, world, **period)["totals"]
    assert (totals["reported"], totals["cancelled"], totals["recurred"]) == (5, 1, 2)
    assert totals["recurrence_rate"] == 0.5
    assert sorted(drill(client, world, figure="recurred", **period)) == sorted([second.id, third.id])


def test_a_second_report_minutes_after_an_open_one_is_not_counted_recurred(client, world):
    first = world.report(at=NOW)
    second = world.report(at=NOW + timedelta(minutes=5))
    totals = summary(client, world, **{"from": "2026-11-25", "to": "2026-11-25"})["totals"]
    assert (totals["reported"], totals["recurred"]) == (2, 0)
    shown = client.get(f"/api/v1/problems/{second.id}", headers=world.auth("supervisor")).json
    assert (shown["recurrence_of"], shown["possible_duplicate_of"]) == (None, first.id)


def test_weeks_are_grouped_in_sql_and_drill_down(client, world):
    monday = world.report(at=NOW - timedelta(days=2))    # Monday 23 November, local
    sunday = world.report(at=NOW - timedelta(days=3))    # Sunday 22 November: the week before
    period = {"from": "2026-11-16", "to": "2026-11-25", "group_by": "week"}
    rows = summary(client, world, **period)["rows"]
    assert [(row["key"], row["reported"]) for row in rows] == [("2026-11-16", 1), ("2026-11-23", 1)]
    assert drill(client, world, figure="reported", key="2026-11-23", **period) == [monday.id]
    assert drill(client, world, figure="reported", key="2026-11-16", **period) == [sunday.id]


def test_a_problem_on_two_lists_counts_in_each_list_and_once_in_the_totals(client, world):
    from models.base import db
    from workflow.ledger import lists
    both = assign(world, world.report(at=NOW), minutes(10))
    one = assign(world, world.report(at=NOW), minutes(20))
    boss = world.users["supervisor"]
    east = world.units["east"].id
    campaign = lists.create_list(actor=boss, now=NOW, lead_unit_id=east, kind="campaign", name="全城清洁")
    star = lists.create_list(actor=boss, now=NOW, lead_unit_id=east, kind="star", name="五星支部")
    lists.add_problems(actor=boss, now=NOW, list_id=campaign.id, problem_ids=[both.id, one.id])
    lists.add_problems(actor=boss, now=NOW, list_id=star.id, problem_ids=[both.id])
    db.session.commit()
    body = summary(client, world, group_by="list")
    rows = {row["key"]: row for row in body["rows"]}
    assert (rows[campaign.id]["reported"], rows[star.id]["reported"], body["totals"]["reported"]) == (2, 1, 2)
    assert rows[campaign.id]["stage_times"]["dispatch"]["natural_avg_s"] == 900
    assert rows[star.id]["stage_times"]["dispatch"]["natural_p90_s"] == 600
    assert body["totals"]["stage_times"]["dispatch"] == {"count": 2, "natural_avg_s": 900, "natural_p90_s": 1200,
                                                         "working_avg_s": 900, "working_p90_s": 1200}


def test_statistics_by_list_show_only_the_lists_the_caller_may_see(client, world):
    """Issue 21, item 12: supervisor B got 404 on a list of unit A, yet group_by=list showed B its name and
    count (B sees the problem, which lies in B's grid) and its drill-down."""
    from models.base import db
    from workflow.ledger import lists
    west_problem = world.report(by="west_officer", point="night", at=NOW)
    secret = lists.create_list(actor=world.users["supervisor"], now=NOW, lead_unit_id=world.units["east"].id,
                               kind="other", name="机密清单-UnitA内部督查")
    lists.add_problems(actor=world.users["supervisor"], now=NOW, list_id=secret.id, problem_ids=[west_problem.id])
    db.session.commit()
    b = world.auth("west_supervisor")
    assert client.get(f"/api/v1/problem-lists/{secret.id}", headers=b).status_code == 404

    body = client.get("/api/v1/reports/summary", query_string=DAY | {"group_by": "list"}, headers=b).json
    assert body["rows"] == []
    assert "机密清单" not in str(body)
    assert body["totals"]["reported"] == 1  # the problem itself is B's to count
    drilled = client.get("/api/v1/reports/drill", query_string=DAY | {"figure": "reported", "group_by": "list",
                                                                       "key": str(secret.id)}, headers=b).json
    assert drilled["problem_ids"] == []
    # The list's own side still sees it.
    rows = {row["key"]: row for row in summary(client, world, group_by="list")["rows"]}
    assert (rows[secret.id]["label"], rows[secret.id]["reported"]) == ("机密清单-UnitA内部督查", 1)
