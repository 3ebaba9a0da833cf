"""The ledger (GET /problems): newest first, keyset pages, filters, scope; and each problem's trail."""

from datetime import timedelta

import pytest

from models import Problem
from models.base import db
from workflow.problems import reporting

EVENT_KEYS = {"id", "seq", "action", "action_label", "actor", "from_state", "to_state", "note", "fields", "stage",
              "stage_overdue", "at", "prev_hash", "hash"}




def report(world, *, title="占道经营", by="officer", point="market", category="hawker", minutes_ago=0, **fields):
    problem, _ = reporting.report_problem(actor=world.users[by], now=world.now - timedelta(minutes=minutes_ago),
                                         title=title, category_code=category, point_id=world.points[point].id,
                                         **fields)
    db.session.commit()
    return problem.id


def ledger(client, world, by="admin", **query):
    response = client.get("/api/v1/problems", query_string=query, headers=world.auth(by))
    assert response.status_code == 200, response.json
    return response.json


def ids(client, world, by="admin", **query):
    return [item["id"] for item in ledger(client, world, by, **query)["items"]]


# --- order and pages -------------------------------------------------------------------------

def test_the_ledger_lists_the_newest_report_first(client, world):
    old = report(world, minutes_ago=30)
    new = report(world, minutes_ago=0)
    middle = report(world, minutes_ago=10)
    assert ids(client, world) == [new, middle, old]


def test_reports_of_the_same_instant_list_the_higher_id_first(client, world):
    first, second = report(world), report(world)
    assert ids(client, world) == [second, first]


def test_keyset_pages_of_two_walk_every_problem_once_without_gaps(client, world):
    made = [report(world, minutes_ago=minutes) for minutes in (50, 40, 40, 40, 30, 20, 20)]
    expected = ids(client, world)
    assert sorted(expected) == sorted(made)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = ledger(client, world, **query)
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 4


def test_a_page_that_ends_exactly_at_the_last_problem_has_no_next_cursor(client, world):
    report(world), report(world)
    assert ledger(client, world, limit=2)["next_cursor"] is None


# --- filters ---------------------------------------------------------------------------------

@pytest.fixture
def district(world):
    """Four problems across both grids, two categories, several states and severities."""
    made = {
        "east_assigned": report(world, title="早市占道经营", minutes_ago=240, description="摊位占用人行道"),
        "east_shop": report(world, title="门店突店经营", category="shopfront", severity="high", minutes_ago=180),
        "west_urgent": report(world, title="夜市游商", by="west_officer", point="night", severity="urgent",
                              minutes_ago=120),
        "west_closed": report(world, title="夜市油烟", by="west_officer", point="night", minutes_ago=60,
                              resolved_on_site=True),
    }
    world.act(db.session.get(Problem, made["east_assigned"]), "assign", by="supervisor",
              unit_id=world.units["squad"].id)
    world.act(db.session.get(Problem, made["west_closed"]), "close", by="supervisor")
    return made


def names(made, found):
    by_id = {pid: name for name, pid in made.items()}
    return {by_id[pid] for pid in found}


@pytest.mark.parametrize(("query", "expected"), [
    ({"state": "reported"}, {"east_shop", "west_urgent"}),
    ({"state": "assigned,closed"}, {"east_assigned", "west_closed"}),
    ({"category": "shopfront"}, {"east_shop"}),
    ({"category": "hawker,shopfront"}, {"east_assigned", "east_shop", "west_urgent", "west_closed"}),
    ({"severity": "high,urgent"}, {"east_shop", "west_urgent"}),
    ({"q": "夜市"}, {"west_urgent", "west_closed"}),
    ({"q": "人行道"}, {"east_assigned"}),
    ({"q": "西城广场"}, {"west_urgent", "west_closed"}),
    ({"q": "突店", "state": "reported"}, {"east_shop"}),
    ({"reported_from": "2026-11-25T07:00:00+08:00"}, {"east_shop", "west_urgent", "west_closed"}),
    ({"reported_to": "2026-11-25T07:00:00+08:00"}, {"east_assigned"}),
    ({"reported_from": "2026-11-24T23:00:00+00:00", "reported_to": "2026-11-25T09:00:00+08:00"},
     {"east_shop", "west_urgent"}),
], ids=lambda value: str(value) if isinstance(value, dict) else "")
def test_the_ledger_filters_by_query_parameters(client, world, district, query, expected):
    assert names(district, ids(client, world, **query)) == expected


@pytest.mark.parametrize(("name", "key", "expected"), [
    ("grid_id", "east", {"east_assigned", "east_shop"}),
    ("grid_id", "west", {"west_urgent", "west_closed"}),
    ("unit_id", "squad", {"east_assigned"}),
    ("unit_id", "west", set()),
])
def test_the_ledger_filters_by_grid_and_responsible_unit(client, world, district, name, key, expected):
    row = world.grids[key] if name == "grid_id" else world.units[key]
    assert names(district, ids(client, world, **{name: row.id})) == expected


def test_a_comma_list_of_grids_lists_both(client, world, district):
    both = f"{world.grids['east'].id},{world.grids['west'].id}"
    assert len(ids(client, world, grid_id=both)) == 4


@pytest.fixture
def late(world, app):
    """A hawker report past its 60-minute dispatch limit and a shop-front report still in time."""
    made = {"hawker": report(world), "shopfront": report(world, category="shopfront")}
    app.config["TEST_NOW"] = world.now + timedelta(minutes=61)
    return made


def test_light_red_lists_what_is_past_its_stage_deadline_once_time_moves(client, world, app):
    hawker, shopfront = report(world), report(world, category="shopfront")
    assert ids(client, world, light="red") == []
    assert ids(client, world, light="green") == [shopfront, hawker]
    app.config["TEST_NOW"] = world.now + timedelta(minutes=61)
    red = ledger(client, world, light="red")["items"]
    assert [item["id"] for item in red] == [hawker]
    assert red[0]["light"] == "red" and red[0]["overdue"] is True
    assert ids(client, world, light="green,yellow") == [shopfront]


def test_overdue_true_lists_open_problems_past_a_deadline(client, world, late):
    assert ids(client, world, overdue="true") == [late["hawker"]]


def test_overdue_false_lists_every_other_problem_even_before_the_whole_case_clock_runs(client, world, late):
    assert ids(client, world, overdue="false") == [late["shopfront"]]


def test_a_closed_problem_is_never_overdue(client, world, app):
    closed = world.to_state("closed")
    app.config["TEST_NOW"] = world.now + timedelta(days=30)
    assert ids(client, world, overdue="true") == []
    assert ids(client, world, overdue="false") == [closed.id]


@pytest.mark.parametrize(("q", "matches", "misses"), [
    ("100%", "打折100%", "打折1000"),
    ("a_b", "招牌a_b", "招牌axb"),
    ("50%_off", "广告50%_off", "广告50xxoff"),
])
def test_percent_and_underscore_in_q_are_taken_literally(client, world, q, matches, misses):
    hit, _ = report(world, title=matches), report(world, title=misses)
    assert ids(client, world, q=q) == [hit]


# --- scope -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("by", "expected"), [
    ("admin", {"east_assigned", "east_shop", "west_urgent", "west_closed"}),
    ("supervisor", {"east_assigned", "east_shop", "west_urgent", "west_closed"}),
    ("east_supervisor", {"east_assigned", "east_shop"}),
    ("west_supervisor", {"west_urgent", "west_closed"}),
    ("officer", {"east_assigned", "east_shop"}),
    ("west_officer", {"west_urgent", "west_closed"}),
    ("handler", {"east_assigned"}),
    ("sanitation_handler", set()),
])
def test_each_caller_sees_only_the_problems_in_their_scope(client, world, district, by, expected):
    assert names(district, ids(client, world, by=by)) == expected


def test_a_filter_never_widens_the_scope(client, world, district):
    assert ids(client, world, by="officer", grid_id=world.grids["west"].id) == []


# --- the trail -------------------------------------------------------------------------------

def test_events_have_the_documented_shape_with_the_report_first(client, world):
    problem = world.to_state("rectifying")
    response = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("handler"))
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"] is None
    first, assign, accept = body["items"]
    assert all(set(event) == EVENT_KEYS for event in body["items"])
    assert first["action"] == "report" and first["action_label"] == "上报"
    assert first["from_state"] is None and first["to_state"] == "reported" and first["seq"] == 1
    assert first["actor"] == {"id": world.users["officer"].id, "name": "officer", "role": "officer"}
    assert assign["fields"] == {"unit_id": world.units["squad"].id}
    assert assign["stage"] == "dispatch" and assign["stage_overdue"] is False
    assert accept["from_state"] == "assigned" and accept["to_state"] == "rectifying"
    assert accept["at"] == "2026-11-25T02:00:00+00:00"


def test_event_labels_follow_accept_language(client, world):
    problem = world.to_state("assigned")
    items = client.get(f"/api/v1/problems/{problem.id}/events",
                       headers=world.auth("admin", **{"Accept-Language": "en"})).json["items"]
    assert [e["action_label"] for e in items] == ["Report", "Assign"]


def test_events_list_oldest_first_in_keyset_pages(client, world):
    problem = world.to_state("verified")
    url = f"/api/v1/problems/{problem.id}/events"
    seqs, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(url, query_string=query, headers=world.auth("admin")).json
        seqs.append([event["seq"] for event in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seqs == [[1, 2], [3, 4], [5]]


def test_a_comment_is_an_event_with_its_text_as_the_note(client, world):
    problem = world.to_state("assigned")
    client.post(f"/api/v1/problems/{problem.id}/actions", json={"action": "comment", "text": "已电话联系"},
                headers=world.auth("handler"))
    last = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("admin")).json["items"][-1]
    assert last["action"] == "comment" and last["note"] == "已电话联系"
    assert last["from_state"] == last["to_state"] == "assigned"
    assert last["actor"]["role"] == "handler"
