"""Retries: Idempotency-Key replays the first final response; client_id makes a repeated report harmless."""

import pytest

from workflow import idempotency


def report_body(world, **fields):
    return {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"} | fields


def post_report(client, world, body, by="officer", key=None):
    headers = world.auth(by, **({"Idempotency-Key": key} if key else {}))
    return client.post("/api/v1/problems", json=body, headers=headers)


def act(client, world, problem_id, by, body, if_match, key):
    headers = world.auth(by, **{"If-Match": if_match, "Idempotency-Key": key})
    return client.post(f"/api/v1/problems/{problem_id}/actions", json=body, headers=headers)


def problem_ids(client, world):
    return [p["id"] for p in client.get("/api/v1/problems", headers=world.auth("admin")).json["items"]]


# --- Idempotency-Key -------------------------------------------------------------------------

def test_a_retried_report_replays_the_first_answer_byte_for_byte_and_creates_one_problem(client, world):
    first = post_report(client, world, report_body(world), key="k-1")
    second = post_report(client, world, report_body(world), key="k-1")
    assert first.status_code == second.status_code == 201
    assert second.get_data() == first.get_data()
    assert second.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert problem_ids(client, world) == [first.json["id"]]


def test_a_replay_ignores_json_key_order_and_whitespace(client, world):
    first = post_report(client, world, report_body(world), key="k-1")
    point_id = world.points["market"].id
    reordered = f'{{ "title": "早市占道经营", "point_id": {point_id},  "category_code": "hawker" }}'
    second = client.post("/api/v1/problems", data=reordered.encode(), content_type="application/json",
                         headers=world.auth("officer", **{"Idempotency-Key": "k-1"}))
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.json["id"] == first.json["id"]


def test_a_request_whose_key_was_stored_while_it_ran_answers_as_the_first_and_writes_nothing(
        client, world, monkeypatch):
    first = post_report(client, world, report_body(world), key="k-1")
    # The second request looks for the key before the first has committed (a race): it finds nothing, runs,
    # and finds the key taken only when it stores its own answer.
    original, looked = idempotency.claim, []

    def claim_finding_nothing(**claim):
        looked.append(claim)
        original(**claim)

    monkeypatch.setattr(idempotency, "claim", claim_finding_nothing)
    second = post_report(client, world, report_body(world), key="k-1")
    assert second.status_code == 201 and second.get_data() == first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert problem_ids(client, world) == [first.json["id"]] and len(looked) == 1


def test_the_same_key_with_another_body_is_422(client, world):
    post_report(client, world, report_body(world), key="k-1")
    response = post_report(client, world, report_body(world, title="另一个问题"), key="k-1")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "Idempotency-Key" in response.json["errors"]
    assert len(problem_ids(client, world)) == 1


def test_the_same_key_on_another_path_is_422(client, world):
    created = post_report(client, world, report_body(world), key="k-1")
    headers = world.auth("officer", **{"Idempotency-Key": "k-1"})
    response = client.post(f"/api/v1/problems/{created.json['id']}/actions", json={"action": "comment", "text": "x"},
                           headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_the_same_key_of_another_user_is_independent(client, world):
    mine = post_report(client, world, report_body(world), key="k-1")
    theirs = post_report(client, world, report_body(world), by="officer2", key="k-1")
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json["id"] != mine.json["id"] and theirs.json["reporter_id"] != mine.json["reporter_id"]


def test_a_transition_retried_after_it_succeeded_replays_200_despite_the_stale_if_match(client, world):
    problem = world.to_state("assigned")
    first = act(client, world, problem.id, "handler", {"action": "accept"}, '"2"', "accept-1")
    retry = act(client, world, problem.id, "handler", {"action": "accept"}, '"2"', "accept-1")
    assert first.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_data() == first.get_data() and retry.headers["ETag"] == '"3"'
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("handler")).json["items"]
    assert [e["action"] for e in events] == ["report", "assign", "accept"]


def test_a_409_answer_is_stored_and_replayed(client, world):
    problem = world.to_state("reported")
    first = act(client, world, problem.id, "supervisor", {"action": "close"}, '"1"', "close-1")
    retry = act(client, world, problem.id, "supervisor", {"action": "close"}, '"1"', "close-1")
    assert first.status_code == retry.status_code == 409
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_data() == first.get_data()
    assert retry.mimetype == "application/problem+json"


def test_a_request_without_a_key_after_one_with_a_key_is_not_stored_under_it(client, world):
    post_report(client, world, report_body(world), key="k-1")
    plain = post_report(client, world, report_body(world, title="第二个问题"))
    assert plain.status_code == 201 and "Idempotent-Replayed" not in plain.headers
    again = post_report(client, world, report_body(world), key="k-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(problem_ids(client, world)) == 2


def test_a_replayed_user_creation_never_replays_the_token(client, world):
    body = {"name": "新巡查员", "role": "officer", "unit_id": world.units["east"].id,
            "grid_ids": [world.grids["east"].id]}
    headers = world.auth("admin", **{"Idempotency-Key": "user-1"})
    first = client.post("/api/v1/users", json=body, headers=headers)
    replay = client.post("/api/v1/users", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert isinstance(first.json["token"], str) and first.json["token"]
    assert replay.json["token"] is None and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json["id"] == first.json["id"]


@pytest.mark.parametrize("key", ["k" * 256, ""], ids=["256 characters", "empty"])
def test_an_idempotency_key_that_is_too_long_or_empty_is_422(client, world, key):
    response = client.post("/api/v1/problems", json=report_body(world),
                           headers=world.auth("officer", **{"Idempotency-Key": key}))
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]
    assert problem_ids(client, world) == []


def test_a_key_of_255_characters_is_accepted(client, world):
    first = post_report(client, world, report_body(world), key="k" * 255)
    retry = post_report(client, world, report_body(world), key="k" * 255)
    assert first.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"


# --- client_id -------------------------------------------------------------------------------

def test_a_repeated_client_id_returns_the_existing_problem_with_200_whatever_the_body(client, world):
    first = post_report(client, world, report_body(world, client_id="phone-7"))
    again = post_report(client, world, report_body(world, client_id="phone-7", title="改了标题", severity="high"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.json["title"] == "早市占道经营" and again.json["severity"] == "normal"
    assert again.headers["ETag"] == '"1"'
    assert problem_ids(client, world) == [first.json["id"]]


def test_a_client_id_is_unique_per_reporter_not_globally(client, world):
    mine = post_report(client, world, report_body(world, client_id="phone-7"))
    theirs = post_report(client, world, report_body(world, client_id="phone-7"), by="officer2")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"]


def test_a_retry_that_misses_its_own_record_and_meets_a_stale_if_match_replays_the_first_answer(
        client, world, monkeypatch):
    problem = world.to_state("assigned")
    first = act(client, world, problem.id, "handler", {"action": "accept"}, '"2"', "accept-1")
    # The retry claims the key in the instant its first attempt commits (decision 0129): its read of the key
    # finds nothing, the action meets the version the first attempt made, and the 412 looks the key up again.
    original = idempotency.claim

    def claim_finding_nothing(**claim):
        original(**claim)

    monkeypatch.setattr(idempotency, "claim", claim_finding_nothing)
    retry = act(client, world, problem.id, "handler", {"action": "accept"}, '"2"', "accept-1")
    assert first.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.get_data() == first.get_data()
