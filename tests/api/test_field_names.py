"""Refusals take `reason`, every other action `note`; the old names work for a release (decision 0030)."""

from datetime import timedelta

import pytest

from tests.api.helpers import assert_problem_json


def act(client, world, problem, by, **body):
    return client.post(f"/api/v1/problems/{problem.id}/actions", json=body,
                       headers=world.auth(by, **{"If-Match": f'"{problem.version}"'}))


def pending_extension(world):
    problem = world.to_state("rectifying")
    return world.act(problem, "request_extension", by="handler", until=world.now + timedelta(days=3),
                     note="contractor needed")


def test_deny_extension_takes_a_reason(client, world):
    problem = pending_extension(world)
    response = act(client, world, problem, "supervisor", action="deny_extension", reason="施工队已到位")
    assert response.status_code == 200, response.json
    assert "Deprecation" not in response.headers
    events = client.get(f"/api/v1/problems/{problem.id}/events", headers=world.auth("supervisor")).json
    assert events["items"][-1]["note"] == "施工队已到位"


@pytest.mark.parametrize("action, state, by, extra", [
    ("reassign", "rectifying", "supervisor", {"unit_id": "squad"}),
    ("suspend", "rectifying", "supervisor", {}),
])
def test_non_refusals_take_a_note(client, world, action, state, by, extra):
    problem = world.to_state(state)
    extra = {name: world.units[value].id for name, value in extra.items()}
    response = act(client, world, problem, by, action=action, note="值班长调度", **extra)
    assert response.status_code == 200, response.json
    assert "Deprecation" not in response.headers


def test_request_extension_takes_a_note(client, world):
    problem = world.to_state("rectifying")
    until = (world.now + timedelta(days=3)).isoformat()
    response = act(client, world, problem, "handler", action="request_extension", until=until, note="需要施工队")
    assert response.status_code == 200, response.json
    assert response.json["extension"]["reason"] == "需要施工队"


@pytest.mark.parametrize("action, old", [("suspend", "reason"), ("deny_extension", "note")])
def test_an_old_field_name_still_works_with_a_deprecation_header(client, world, action, old):
    problem = pending_extension(world) if action == "deny_extension" else world.to_state("rectifying")
    response = act(client, world, problem, "supervisor", action=action, **{old: "旧字段"})
    assert response.status_code == 200, response.json
    assert response.headers["Deprecation"] == "@1796256000"


def test_old_and_new_name_together_are_refused(client, world):
    problem = world.to_state("rectifying")
    response = act(client, world, problem, "supervisor", action="suspend", note="a", reason="b")
    assert_problem_json(response, 422, "validation")
    assert "reason" in response.json["errors"]


def test_a_refusal_still_requires_its_reason(client, world):
    problem = world.to_state("assigned")
    response = act(client, world, problem, "handler", action="return", note="不归我们管")
    assert_problem_json(response, 422, "validation")
    assert set(response.json["errors"]) == {"reason", "note"}
