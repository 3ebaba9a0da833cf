"""Garbage at the door, by hand: whatever a broken phone, a fuzzer or an attacker sends is a clear 4xx
problem+json (or a correct 2xx), never a 500, and a refusal writes nothing. Runs on both databases."""

import base64
import json

import pytest
from sqlalchemy import func, select

from models import IdempotencyRecord, OutboxMessage, Point, Problem, ProblemEvent, db
from tests.api.helpers import assert_problem_json

PROBLEMS = "/api/v1/problems"


def counts() -> tuple:
    """Rows a write would add: problems, events, outbox messages, idempotency records, points."""
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Problem, ProblemEvent, OutboxMessage, IdempotencyRecord, Point))


@pytest.fixture
def report(world):
    """A valid report body at the east market; tests spoil one part of it."""
    return {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"}


def grid_report(world, **fields) -> dict:
    """A report by coordinates in the east grid (no point)."""
    return {"category_code": "hawker", "grid_id": world.grids["east"].id, "title": "游商", "address": "东关路",
            "lat": 35.06, "lng": 118.35} | fields


def refused(client, method, url, status, slug=None, **kwargs):
    """The request is refused with `status` as problem+json and leaves every table as it was."""
    before = counts()
    response = client.open(url, method=method, **kwargs)
    assert_problem_json(response, status, slug)
    assert counts() == before, "a refused request wrote something"
    return response


# --- sizes and shapes of the body ---------------------------------------------------------------

def test_a_10_mb_json_body_is_413(client, world, report):
    body = json.dumps(report | {"description": "占" * (10 * 1024 * 1024 // 3)})
    assert len(body.encode()) > 10_000_000
    refused(client, "POST", PROBLEMS, 413, "payload-too-large", data=body, content_type="application/json",
            headers=world.auth("officer"))


def test_a_body_over_the_upload_limit_is_413_even_where_uploads_go(client, world, report):
    problem = world.report()
    url = f"{PROBLEMS}/{problem.id}/attachments"
    refused(client, "POST", url, 413, data=b"x" * (11 * 1024 * 1024), content_type="application/octet-stream",
            headers=world.auth("officer"))


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deeply_nested_json_is_refused(client, world, report, depth):
    nested = "[" * depth + "]" * depth
    body = json.dumps(report)[:-1] + f', "description": {nested}}}'
    response = refused(client, "POST", PROBLEMS, 400 if depth > 100 else 422, data=body,
                       content_type="application/json", headers=world.auth("officer"))
    if depth > 100:
        assert response.json["type"] == "/errors/bad-request"


@pytest.mark.parametrize("body", [b'{"title": "\xff\xfe"}', b"\xc3\x28", b'{"title": "\xed\xa0\x80"}',
                                  b"\x00\x00\x00{", b'{"title": "a"', b"", b"   "])
def test_invalid_utf8_and_broken_json_are_400(client, world, body):
    status = 400 if body else 422  # no body at all: the required fields are missing
    response = refused(client, "POST", PROBLEMS, status, data=body, content_type="application/json",
                       headers=world.auth("officer"))
    assert response.json["detail"]


@pytest.mark.parametrize("body", ["null", "[]", '"a string"', "123", "true", '[{"title": "x"}]'])
def test_json_that_is_not_an_object_is_422(client, world, body):
    refused(client, "POST", PROBLEMS, 422, "validation", data=body, content_type="application/json",
            headers=world.auth("officer"))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          "application/jsonp", "image/jpeg"])
def test_wrong_content_types_are_415(client, world, report, content_type):
    refused(client, "POST", PROBLEMS, 415, "unsupported-media-type", data=json.dumps(report),
            content_type=content_type, headers=world.auth("officer"))


def test_json_with_a_charset_or_a_vendor_suffix_is_json(client, world, report):
    for content_type in ("application/json; charset=utf-8", "application/problem+json"):
        response = client.post(PROBLEMS, data=json.dumps(report), content_type=content_type,
                               headers=world.auth("officer"))
        assert response.status_code == 201, response.get_data(as_text=True)


def test_an_action_without_a_content_type_is_415_and_changes_nothing(client, world):
    problem = world.to_state("verified")
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 415, data=b'{"action": "close"}',
            headers=world.auth("supervisor", **{"If-Match": '"5"', "Content-Type": ""}))


# --- strings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["title", "description", "client_id"])
def test_nul_bytes_in_strings_are_422(client, world, report, field):
    response = refused(client, "POST", PROBLEMS, 422, "validation", json=report | {field: "早市\x00占道"},
                       headers=world.auth("officer"))
    assert field in response.json["errors"]


def test_nul_bytes_in_an_action_note_and_in_the_query_are_422(client, world):
    problem = world.to_state("rectifying")
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 422, "validation",
            json={"action": "submit", "note": "done\x00"}, headers=world.auth("handler", **{"If-Match": '"3"'}))
    refused(client, "GET", f"{PROBLEMS}?q=a%00b", 422, "validation", headers=world.auth("supervisor"))


TEXTS = ["占道经营🍢 𠮷野家 Café ñ 👨‍👩‍👧 ①②", "東關早市（繁體）与简体混排 — ＡＢＣ全角", "مرحبا עברית Ελληνικά",
         "e\u0301 combining, \u200b zero-width, \U0001F1E8\U0001F1F3 flag"]


@pytest.mark.parametrize("title", TEXTS)
def test_unicode_round_trips_exactly_through_report_get_and_ledger_search(client, world, report, title):
    headers = world.auth("officer")
    created = client.post(PROBLEMS, json=report | {"title": title, "description": title * 3}, headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    fetched = client.get(f"{PROBLEMS}/{created.json['id']}", headers=headers)
    assert (fetched.json["title"], fetched.json["description"]) == (title, title * 3)
    for needle in (title, title[2:6], title[-3:]):
        found = client.get(PROBLEMS, query_string={"q": needle}, headers=headers)
        assert found.status_code == 200
        assert [p["title"] for p in found.json["items"]] == [title], needle


def test_the_raw_bytes_are_utf8_without_escapes_and_parse_back(client, world, report):
    response = client.post(PROBLEMS, json=report | {"title": TEXTS[0]}, headers=world.auth("officer"))
    assert TEXTS[0].encode() in response.get_data()
    assert json.loads(response.get_data())["title"] == TEXTS[0]


@pytest.mark.parametrize(("q", "expected"), [
    ("%", ["折扣100%"]), ("_", ["a_b 路口"]), ("\\", ["C:\\摊位"]), ("100%", ["折扣100%"]), ("a_b", ["a_b 路口"]),
    ("' OR 1=1 --", []), ("'; DROP TABLE problems; --", []), ('"', []), ("*", []), ("%%", []),
    ("[a]", []), ("\\%", []),
])
def test_sql_and_like_wildcards_in_q_match_literally(client, world, report, q, expected):
    headers = world.auth("officer")
    for title in ("折扣100%", "a_b 路口", "C:\\摊位", "axb 路口", "普通标题"):
        assert client.post(PROBLEMS, json=report | {"title": title}, headers=headers).status_code == 201
    response = client.get(PROBLEMS, query_string={"q": q}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [p["title"] for p in response.json["items"]] == expected
    assert counts()[0] == 5  # and the table is still there


def test_an_overlong_q_is_422(client, world):
    refused(client, "GET", PROBLEMS, 422, "validation", query_string={"q": "占" * 101},
            headers=world.auth("supervisor"))


def test_invalid_utf8_in_the_query_string_never_breaks_the_ledger(client, world):
    response = client.get(f"{PROBLEMS}?q=%FF%FE", headers=world.auth("supervisor"))
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert_problem_json(response, 422, "validation")


# --- numbers: coordinates, ids, page sizes --------------------------------------------------------

@pytest.mark.parametrize(("lat", "lng"), [(90, 180), (-90, -180), (90.0, -180.0), (0, 0), (-89.999999, 179.999999)])
def test_coordinates_at_the_poles_and_the_antimeridian_are_taken(client, world, lat, lng):
    response = client.post(PROBLEMS, json=grid_report(world, lat=lat, lng=lng), headers=world.auth("officer"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["lat"], response.json["lng"]) == (lat, lng)


@pytest.mark.parametrize(("lat", "lng", "bad"), [
    (90.000001, 0, "lat"), (-90.5, 0, "lat"), (0, 180.000001, "lng"), (0, -181, "lng"), (1e308, 0, "lat"),
    ("35.0", 118, "lat"), (True, 118, "lat"), (None, 118, "lat"), (35, [118], "lng"), (35, {"v": 1}, "lng"),
])
def test_coordinates_beyond_the_globe_or_not_numbers_are_422(client, world, lat, lng, bad):
    response = refused(client, "POST", PROBLEMS, 422, "validation", json=grid_report(world, lat=lat, lng=lng),
                       headers=world.auth("officer"))
    assert bad in response.json["errors"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(client, world, literal):
    body = json.dumps(grid_report(world)).replace('"lat": 35.06', f'"lat": {literal}')
    assert literal in body
    response = refused(client, "POST", PROBLEMS, 422, "validation", data=body, content_type="application/json",
                       headers=world.auth("officer"))
    assert "lat" in response.json["errors"]


def test_points_take_the_same_bounds(client, world):
    url, headers = "/api/v1/points", world.auth("admin")
    for lat, lng in ((90, 180), (-90, -180)):
        body = {"name": f"极点 {lat}", "grid_id": world.grids["east"].id, "lat": lat, "lng": lng}
        assert client.post(url, json=body, headers=headers).status_code == 201
    for lat, lng in ((91, 0), (0, 181), (-90.1, 0)):
        body = {"name": "越界", "grid_id": world.grids["east"].id, "lat": lat, "lng": lng}
        refused(client, "POST", url, 422, "validation", json=body, headers=headers)


@pytest.mark.parametrize("value", [10**100, 2**31, 0, -1, 1.5, "1", True])
def test_ids_out_of_range_or_of_the_wrong_type_are_422(client, world, report, value):
    response = refused(client, "POST", PROBLEMS, 422, "validation", json=report | {"point_id": value},
                       headers=world.auth("officer"))
    assert "point_id" in response.json["errors"]


@pytest.mark.parametrize("path", ["-1", "0", "99999999999999999999", "1.5", "abc", "%00", "1%20", "２"])
def test_ids_in_paths_that_are_not_ids_are_404(client, world, path):
    refused(client, "GET", f"{PROBLEMS}/{path}", 404, "not-found", headers=world.auth("supervisor"))


@pytest.mark.parametrize("limit", ["-1", "0", "201", "1" + "0" * 30, "abc", "1.5", "", " ", "1e3", "0x10"])
def test_page_sizes_that_are_negative_zero_huge_or_not_numbers_are_422(client, world, limit):
    response = refused(client, "GET", f"{PROBLEMS}?limit={limit}", 422, "validation",
                       headers=world.auth("supervisor"))
    assert "limit" in response.json["errors"]


@pytest.mark.parametrize("limit", ["1", "200"])
def test_page_sizes_at_the_bounds_are_taken(client, world, limit):
    world.report()
    assert client.get(f"{PROBLEMS}?limit={limit}", headers=world.auth("supervisor")).status_code == 200


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!", "%00", "=" * 10, "x" * 501, _b64("{}"), _b64("[]"), _b64("[1]"), _b64('["a", 1]'),
    _b64('["2026-11-25T02:00:00+00:00", -1]'), _b64('["2026-11-25T02:00:00", 1]'), _b64("[1e999, 1]"),
    _b64('["0001-01-01T00:00:00+14:00", 1]'), _b64('["9999-12-31T23:59:59-14:00", 1]'), _b64("[" * 5000),
    _b64('["2026-11-25T02:00:00+00:00", 1, 2]'), _b64('["2026-11-25T02:00:00+00:00", 99999999999]'),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
])
def test_garbage_cursors_are_422(client, world, cursor):
    world.report()
    response = refused(client, "GET", PROBLEMS, 422, "validation", query_string={"cursor": cursor},
                       headers=world.auth("supervisor"))
    assert "cursor" in response.json["errors"]


def test_garbage_cursors_on_the_trail_and_lists_are_422(client, world):
    problem = world.report()
    for url in (f"{PROBLEMS}/{problem.id}/events", "/api/v1/users", "/api/v1/units", "/api/v1/points"):
        refused(client, "GET", url, 422, "validation", query_string={"cursor": "garbage"},
                headers=world.auth("admin"))


# --- dates ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1900-01-01T08:00:00+08:00", "2200-01-01T00:00:00+00:00",
                                   "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "2026-11-25T10:00:00", "2026-02-30T10:00:00+08:00", "yesterday", "",
                                   "2026-11-25T10:00:00+25:00", 1764036000])
def test_observed_at_far_out_naive_or_not_a_date_is_422(client, world, report, value):
    response = refused(client, "POST", PROBLEMS, 422, "validation", json=report | {"observed_at": value},
                       headers=world.auth("officer"))
    assert "observed_at" in response.json["errors"]


@pytest.mark.parametrize("name", ["reported_from", "reported_to"])
@pytest.mark.parametrize("value", ["1900-01-01T00:00:00+08:00", "2200-12-31T00:00:00+08:00",
                                   "0001-01-01T00:00:00+14:00"])
def test_ledger_dates_in_1900_or_2200_are_422(client, world, name, value):
    response = refused(client, "GET", PROBLEMS, 422, "validation", query_string={name: value},
                       headers=world.auth("supervisor"))
    assert name in response.json["errors"]


@pytest.mark.parametrize("until", ["2200-01-01T00:00:00+08:00", "1900-01-01T00:00:00+08:00",
                                   "9999-12-31T23:59:59-14:00"])
def test_an_extension_to_2200_or_1900_is_422_and_the_problem_is_untouched(client, world, until):
    problem = world.to_state("rectifying")
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 422, "validation",
            json={"action": "request_extension", "until": until, "reason": "施工"},
            headers=world.auth("handler", **{"If-Match": '"3"'}))


@pytest.mark.parametrize("query", ["from=1900-01-01&to=1900-01-31", "from=2200-01-01&to=2200-01-31",
                                   "from=0001-01-01&to=9999-12-31", "from=2026-13-01&to=2026-12-01",
                                   "from=2026-11-30&to=2026-11-01"])
def test_report_periods_far_out_or_backwards_are_422(client, world, query):
    refused(client, "GET", f"/api/v1/reports/summary?{query}&group_by=unit", 422,
            headers=world.auth("supervisor"))


@pytest.mark.parametrize("year", ["1900", "2200", "0", "-1", "99999"])
def test_calendar_years_far_out_are_422(client, world, year):
    refused(client, "GET", f"/api/v1/calendar?year={year}", 422, headers=world.auth("supervisor"))


# --- headers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["k" * 10_000, "k" * 256, "tab\there", "\x7f", "中文\x00"])
def test_bad_idempotency_keys_are_422_and_write_nothing(client, world, report, key):
    response = refused(client, "POST", PROBLEMS, 422, "validation", json=report,
                       headers=world.auth("officer", **{"Idempotency-Key": key}))
    assert "Idempotency-Key" in response.json["errors"]


def test_a_255_character_unicode_idempotency_key_works_and_replays(client, world, report):
    headers = world.auth("officer", **{"Idempotency-Key": "键" * 85})  # 255 characters, 765 bytes in UTF-8
    first = client.post(PROBLEMS, json=report, headers=headers)
    second = client.post(PROBLEMS, json=report, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true" and second.json["id"] == first.json["id"]


@pytest.mark.parametrize("if_match", ['"99999999999999999999"', '"-1"', "W/", '"' * 5000, "1, 2", '"1"x'])
def test_if_match_that_names_no_version_is_412_and_changes_nothing(client, world, if_match):
    problem = world.to_state("verified")
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 412, "stale-version", json={"action": "close"},
            headers=world.auth("supervisor", **{"If-Match": if_match}))


@pytest.mark.parametrize("auth", ["Bearer " + "x" * 10_000, "Bearer \x00", "Basic Zm9vOmJhcg==", "Bearer",
                                  "bearer  " + "y" * 40])
def test_garbage_credentials_are_401(client, world, report, auth):
    refused(client, "POST", PROBLEMS, 401, "unauthenticated", json=report, headers={"Authorization": auth})


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "a\\ud83d", "\\udc00\\ud800"])
def test_lone_surrogates_escaped_in_json_are_422_not_a_database_error(client, world, report, escaped):
    """JSON may escape half a UTF-16 pair; Python then holds a string no database can store."""
    body = json.dumps(report)[:-1] + f', "description": "{escaped}"}}'
    response = refused(client, "POST", PROBLEMS, 422, "validation", data=body, content_type="application/json",
                       headers=world.auth("officer"))
    assert "description" in response.json["errors"]


def test_lone_surrogates_in_an_action_and_in_the_query_are_422(client, world):
    problem = world.to_state("rectifying")
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 422, "validation",
            data='{"action": "submit", "note": "\\ud800"}', content_type="application/json",
            headers=world.auth("handler", **{"If-Match": '"3"'}))
    refused(client, "POST", f"{PROBLEMS}/{problem.id}/actions", 422, "validation",
            data='{"action": "comment", "text": "\\udfff"}', content_type="application/json",
            headers=world.auth("handler"))


def test_a_lone_surrogate_in_a_key_is_named_in_a_readable_422(client, world, report):
    body = json.dumps(report)[:-1] + ', "\\ud800x": 1}'
    response = refused(client, "POST", PROBLEMS, 422, "validation", data=body, content_type="application/json",
                       headers=world.auth("officer"))
    assert json.loads(response.get_data())["errors"]
