"""The closed loop over HTTP: reported → assigned → rectifying → verifying → verified → closed."""


def post_action(client, world, problem, by, etag, **body):
    return client.post(f"/api/v1/problems/{problem}/actions", json=body,
                       headers=world.auth(by, **{"If-Match": etag}))


def test_a_problem_walks_its_whole_closed_loop_each_step_by_the_right_role(client, world):
    created = client.post("/api/v1/problems", headers=world.auth("officer"), json={
        "category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营",
        "severity": "high"})
    assert created.status_code == 201
    body = created.json
    assert body["state"] == "reported" and body["code"].startswith("LY-20261125-")
    assert created.headers["ETag"] == '"1"' and body["light"] == "green"
    pid, etag = body["id"], created.headers["ETag"]
    steps = [("supervisor", {"action": "assign", "unit_id": world.units["squad"].id}, "assigned"),
             ("handler", {"action": "accept"}, "rectifying"),
             ("handler", {"action": "submit", "note": "摊位已清理"}, "verifying"),
             ("officer2", {"action": "verify", "note": "现场核查通过"}, "verified"),
             ("supervisor", {"action": "close"}, "closed")]
    for by, payload, state in steps:
        response = post_action(client, world, pid, by, etag, **payload)
        assert response.status_code == 200, response.json
        assert response.json["state"] == state
        etag = response.headers["ETag"]
    events = client.get(f"/api/v1/problems/{pid}/events", headers=world.auth("admin")).json["items"]
    assert [e["action"] for e in events] == ["report", "assign", "accept", "submit", "verify", "close"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0]["from_state"] is None and events[-1]["to_state"] == "closed"
