"""Edges of the HTTP contract that once broke: odd headers, far datetimes, forged cursors, hostile JSON."""

import base64
import json
from datetime import UTC, datetime

import pytest

from app import create_app
from config import settings
from models import JobRun
from models.base import db
from tests.api.helpers import assert_problem_json

FAR_INSTANTS = ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "1900-01-01T00:00:00+00:00",
                "2200-01-01T00:00:00+00:00"]
FAR_IDS = ["year 1 east of utc", "year 9999 west of utc", "1900", "2200"]


def act(client, world, problem_id, by, body, if_match=None, **headers):
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.post(f"/api/v1/problems/{problem_id}/actions", json=body, headers=world.auth(by, **headers))


def assign(world) -> dict:
    return {"action": "assign", "unit_id": world.units["squad"].id}


def report_body(world, **fields):
    return {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"} | fields


def post_raw(client, world, body: str, by="officer"):
    return client.post("/api/v1/problems", data=body, content_type="application/json", headers=world.auth(by))




def cursor(*values) -> str:
    """A cursor as the API spells one (base64url of a JSON list, no padding), holding anything we like."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def names(response) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {user["name"] for user in response.json["items"]}


# --- If-Match ----------------------------------------------------------------------------------

def test_an_if_match_of_a_superscript_digit_is_412_not_500(client, world):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "supervisor", assign(world), if_match="\u00b2")
    assert_problem_json(response, 412, "stale-version")


@pytest.mark.parametrize("if_match", ["*", ""], ids=["star", "empty"])
def test_an_if_match_that_names_no_version_is_428(client, world, if_match):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "supervisor", assign(world), if_match=if_match)
    assert_problem_json(response, 428, "if-match-required")


def test_a_weak_if_match_is_still_accepted(client, world):
    problem = world.to_state("reported")
    response = act(client, world, problem.id, "supervisor", assign(world), if_match='W/"1"')
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"2"'


# --- datetimes outside 1970..2100 ----------------------------------------------------------------

@pytest.mark.parametrize("instant", FAR_INSTANTS, ids=FAR_IDS)
def test_a_report_observed_outside_1970_to_2100_is_422_naming_observed_at(client, world, instant):
    response = client.post("/api/v1/problems", json=report_body(world, observed_at=instant),
                           headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert "observed_at" in response.json["errors"]


@pytest.mark.parametrize("instant", FAR_INSTANTS, ids=FAR_IDS)
def test_a_ledger_reported_from_outside_1970_to_2100_is_422_naming_it(client, world, instant):
    response = client.get("/api/v1/problems", query_string={"reported_from": instant}, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "reported_from" in response.json["errors"]


# --- forged cursors ------------------------------------------------------------------------------

LEDGER_CURSORS = [
    ("id beyond any integer column", cursor("2026-01-01T00:00:00+00:00", 10**30)),
    ("id that is a boolean", cursor("2026-01-01T00:00:00+00:00", True)),
    ("time in year 1", cursor("0001-01-01T00:00:00+08:00", 5)),
    ("not base64", "%%%not*base64%%%"),
    ("one character", "a"),
]
ID_CURSORS = [
    ("id beyond any integer column", cursor(10**30)),
    ("id that is a boolean", cursor(True)),
    ("not base64", "%%%not*base64%%%"),
]


@pytest.mark.parametrize("value", [c[1] for c in LEDGER_CURSORS], ids=[c[0] for c in LEDGER_CURSORS])
def test_a_forged_ledger_cursor_is_422_naming_cursor(client, world, value):
    world.to_state("reported")
    response = client.get("/api/v1/problems", query_string={"cursor": value}, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "cursor" in response.json["errors"]


@pytest.mark.parametrize("value", [c[1] for c in ID_CURSORS], ids=[c[0] for c in ID_CURSORS])
@pytest.mark.parametrize("path", ["units", "events"])
def test_a_forged_id_cursor_is_422_naming_cursor(client, world, path, value):
    problem = world.to_state("assigned")
    url = "/api/v1/units" if path == "units" else f"/api/v1/problems/{problem.id}/events"
    response = client.get(url, query_string={"cursor": value}, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "cursor" in response.json["errors"]


# --- hostile JSON bodies -------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    '{"title": ' + "1" * 5000 + "}",
    '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"title": ',
], ids=["a 5000-digit integer", "nested 100000 deep", "invalid json"])
def test_a_body_json_cannot_parse_safely_is_400_problem_json(client, world, body):
    assert_problem_json(post_raw(client, world, body), 400, "bad-request")


# --- query strictness ----------------------------------------------------------------------------

def test_a_nul_in_the_ledger_search_is_422(client, world):
    response = client.get("/api/v1/problems", query_string={"q": "\x00"}, headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "q" in response.json["errors"]


def test_a_query_parameter_on_me_which_takes_none_is_422_naming_it(client, world):
    response = client.get("/api/v1/me", query_string={"x": "1"}, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert set(response.json["errors"]) == {"x"}
    assert response.json["errors"]["x"]


def test_a_query_parameter_on_one_problem_is_422(client, world):
    problem = world.to_state("reported")
    response = client.get(f"/api/v1/problems/{problem.id}", query_string={"bogus": "1"},
                          headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert "bogus" in response.json["errors"]


def test_a_ledger_filter_given_twice_is_422_naming_it(client, world):
    response = client.get("/api/v1/problems?state=reported&state=closed", headers=world.auth("admin"))
    assert_problem_json(response, 422, "validation")
    assert "state" in response.json["errors"]


# --- edits and reports ---------------------------------------------------------------------------

def test_an_empty_edit_is_422_and_leaves_the_version_alone(client, world):
    problem = world.to_state("reported")
    url = f"/api/v1/problems/{problem.id}"
    before = client.get(url, headers=world.auth("officer")).headers["ETag"]
    response = client.patch(url, json={}, headers=world.auth("officer", **{"If-Match": before}))
    assert_problem_json(response, 422, "validation")
    after = client.get(url, headers=world.auth("officer"))
    assert after.headers["ETag"] == before == '"1"'
    assert after.json["version"] == 1


def test_a_report_by_coordinates_without_an_address_is_422_naming_address(client, world):
    body = {"category_code": "hawker", "title": "游商", "lat": 35.06, "lng": 118.35,
            "grid_id": world.grids["east"].id}
    response = client.post("/api/v1/problems", json=body, headers=world.auth("officer"))
    assert_problem_json(response, 422, "validation")
    assert "address" in response.json["errors"]


# --- idempotency and If-Match --------------------------------------------------------------------

@pytest.mark.parametrize(("first_if_match", "status"), [(None, 428), ('"99"', 412)],
                         ids=["without if-match", "with a stale if-match"])
def test_an_if_match_refusal_under_a_key_is_not_replayed_to_the_corrected_retry(client, world, first_if_match,
                                                                               status):
    problem = world.to_state("reported")
    first = act(client, world, problem.id, "supervisor", assign(world), if_match=first_if_match,
                **{"Idempotency-Key": "k-1"})
    assert_problem_json(first, status)
    retry = act(client, world, problem.id, "supervisor", assign(world), if_match='"1"',
                **{"Idempotency-Key": "k-1"})
    assert retry.status_code == 200, retry.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retry.headers
    assert retry.json["state"] == "assigned"
    again = act(client, world, problem.id, "supervisor", assign(world), if_match='"1"',
                **{"Idempotency-Key": "k-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == retry.get_data()


# --- users ---------------------------------------------------------------------------------------

EAST_SUBTREE = {"officer", "officer2", "east_supervisor", "handler", "handler2"}
EVERYONE = EAST_SUBTREE | {"admin", "supervisor", "west_supervisor", "west_officer", "sanitation_handler", "hotline"}


def test_a_subdistrict_supervisor_lists_their_subtree_and_every_handler(client, world):
    listed = names(client.get("/api/v1/users", headers=world.auth("east_supervisor")))
    assert listed == EAST_SUBTREE | {"sanitation_handler"}


def test_an_admin_lists_every_user(client, world):
    assert names(client.get("/api/v1/users", headers=world.auth("admin"))) == EVERYONE


def test_an_officer_may_not_list_users(client, world):
    assert_problem_json(client.get("/api/v1/users", headers=world.auth("officer")), 403, "forbidden")


@pytest.mark.parametrize(("by", "handlers"), [("east_supervisor", {"handler", "handler2", "sanitation_handler"}),
                                              ("admin", {"handler", "handler2", "sanitation_handler"})])
def test_users_filtered_by_role_are_only_that_role(client, world, by, handlers):
    response = client.get("/api/v1/users", query_string={"role": "handler"}, headers=world.auth(by))
    assert names(response) == handlers
    assert {user["role"] for user in response.json["items"]} == {"handler"}


# --- duplicate_of --------------------------------------------------------------------------------

def test_a_duplicate_of_a_problem_out_of_sight_is_422_like_an_unknown_one(client, world):
    hidden = world.report(by="west_officer", point="night")
    problem = world.to_state("reported")
    answers = [act(client, world, problem.id, "east_supervisor",
                   {"action": "cancel", "reason": "duplicate", "duplicate_of": target}, if_match='"1"')
               for target in (hidden.id, 999_999)]
    for response in answers:
        assert_problem_json(response, 422, "validation")
        assert "duplicate_of" in response.json["errors"]
    assert answers[0].json["errors"] == answers[1].json["errors"]
    assert client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("officer")).json["state"] == "reported"


# --- configuration and the scheduler -------------------------------------------------------------

def production(secret: str):
    return type("P", (settings.Production,), {"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_to_start_with_the_development_secret():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production(settings.DEV_SECRET))


def test_production_starts_with_another_secret():
    assert create_app(production("a-real-secret-from-the-environment")).config["REQUIRE_SECRET_KEY"]


def test_a_tick_at_a_past_instant_records_it_as_the_tick_and_the_wall_clock_as_ran_at(runner, ctx):
    result = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-20T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    instant = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    row = db.session.get(JobRun, "purge_idempotency")
    assert row.last_tick_at == instant
    assert row.ran_at != instant
    db.session.commit()
    earlier = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-19T08:00:00+08:00"])
    assert earlier.exit_code == 0, earlier.output
    assert "skipped" in earlier.output
