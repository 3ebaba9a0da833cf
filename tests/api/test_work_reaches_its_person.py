"""A problem walked through its loop over HTTP: after each step, exactly whose /me/tasks gained and lost it,
and exactly which inbox rows appeared, for every person of the district (both databases)."""

from datetime import timedelta

import pytest

from tests.conftest import NOW

EVERYONE = ("admin", "supervisor", "east_supervisor", "west_supervisor", "officer", "officer2", "west_officer",
            "handler", "handler2", "sanitation_handler")


def tasks_of(client, world) -> dict[str, set]:
    """Each person's tasks as (kind, problem_id)."""
    found = {}
    for who in EVERYONE:
        response = client.get("/api/v1/me/tasks", headers=world.auth(who))
        assert response.status_code == 200, response.json
        found[who] = {(item["kind"], item["problem_id"]) for item in response.json["items"]}
    return found


def inbox_of(client, world) -> dict[str, list]:
    found = {}
    for who in EVERYONE:
        items = client.get("/api/v1/me/notifications?limit=200", headers=world.auth(who)).json["items"]
        found[who] = sorted((item["type"], item["problem_id"]) for item in items)
    return found


class Walk:
    def __init__(self, client, world):
        self.client, self.world = client, world
        self.tasks, self.inbox = tasks_of(client, world), inbox_of(client, world)
        self.pid, self.etag = None, None

    def report(self):
        response = self.client.post("/api/v1/problems", headers=self.world.auth("officer"), json={
            "category_code": "hawker", "point_id": self.world.points["market"].id, "title": "早市占道经营"})
        assert response.status_code == 201
        self.pid, self.etag = response.json["id"], response.headers["ETag"]

    def act(self, by: str, **body):
        response = self.client.post(f"/api/v1/problems/{self.pid}/actions", json=body,
                                    headers=self.world.auth(by, **{"If-Match": self.etag}))
        assert response.status_code == 200, response.json
        self.etag = response.headers["ETag"]

    def expect(self, gained: dict, lost: dict, news: dict):
        """Tasks gained and lost by each person, and new inbox rows: exactly these, nobody else's."""
        tasks, inbox = tasks_of(self.client, self.world), inbox_of(self.client, self.world)
        for who in EVERYONE:
            assert tasks[who] - self.tasks[who] == {(kind, self.pid) for kind in gained.get(who, ())}, who
            assert self.tasks[who] - tasks[who] == {(kind, self.pid) for kind in lost.get(who, ())}, who
            new = list(inbox[who])
            for old in self.inbox[who]:
                new.remove(old)
            assert new == sorted((kind, self.pid) for kind in news.get(who, ())), who
        self.tasks, self.inbox = tasks, inbox


def test_each_step_of_the_loop_moves_the_task_to_whoever_acts_next_and_tells_them(client, world):
    walk = Walk(client, world)
    squad = world.units["squad"].id
    walk.report()
    walk.expect(gained={"supervisor": ["dispatch"], "east_supervisor": ["dispatch"]}, lost={}, news={})

    walk.act("supervisor", action="assign", unit_id=squad)  # no handler named: every handler of the squad
    walk.expect(gained={"handler": ["accept"], "handler2": ["accept"]},
                lost={"supervisor": ["dispatch"], "east_supervisor": ["dispatch"]},
                news={"handler": ["assigned"], "handler2": ["assigned"]})

    walk.act("handler2", action="return", reason="不是我们的")
    walk.expect(gained={"supervisor": ["dispatch"], "east_supervisor": ["dispatch"]},
                lost={"handler": ["accept"], "handler2": ["accept"]}, news={"supervisor": ["returned"]})

    walk.act("east_supervisor", action="assign", unit_id=squad, handler_id=world.users["handler"].id)
    walk.expect(gained={"handler": ["accept"]}, lost={"supervisor": ["dispatch"], "east_supervisor": ["dispatch"]},
                news={"handler": ["assigned"]})

    walk.act("handler", action="accept")
    walk.expect(gained={"handler": ["rectify"]}, lost={"handler": ["accept"]}, news={})

    until = (NOW + timedelta(days=5)).isoformat()
    walk.act("handler", action="request_extension", until=until, reason="需要协调")
    # The squad has no supervisor: the nearest above it (east) decides; the district could, but is not asked.
    walk.expect(gained={"east_supervisor": ["decide_extension"]}, lost={},
                news={"east_supervisor": ["extension_requested"]})

    walk.act("east_supervisor", action="grant_extension")
    walk.expect(gained={}, lost={"east_supervisor": ["decide_extension"]}, news={"handler": ["extension_decided"]})

    walk.act("handler", action="submit", note="已清理")
    walk.expect(gained={"officer": ["verify"], "officer2": ["verify"]}, lost={"handler": ["rectify"]},
                news={"officer": ["verification_waiting"], "officer2": ["verification_waiting"]})

    walk.act("officer2", action="reject", reason="仍有摊位")
    walk.expect(gained={"handler": ["rectify"]}, lost={"officer": ["verify"], "officer2": ["verify"]},
                news={"handler": ["rework"]})

    walk.act("handler", action="submit", note="再次清理")
    walk.expect(gained={"officer": ["verify"], "officer2": ["verify"]}, lost={"handler": ["rectify"]},
                news={"officer": ["verification_waiting"], "officer2": ["verification_waiting"]})

    walk.act("officer2", action="verify", note="通过")
    walk.expect(gained={"supervisor": ["close"], "east_supervisor": ["close"]},
                lost={"officer": ["verify"], "officer2": ["verify"]}, news={})

    walk.act("supervisor", action="send_back", reason="照片不清")
    walk.expect(gained={"handler": ["rectify"]}, lost={"supervisor": ["close"], "east_supervisor": ["close"]},
                news={"handler": ["rework"]})

    walk.act("handler", action="submit", note="补拍")
    walk.act("officer", action="verify", note="通过")
    walk.expect(gained={"supervisor": ["close"], "east_supervisor": ["close"]}, lost={"handler": ["rectify"]},
                news={"officer": ["verification_waiting"], "officer2": ["verification_waiting"]})

    walk.act("east_supervisor", action="close")
    walk.expect(gained={}, lost={"supervisor": ["close"], "east_supervisor": ["close"]}, news={"officer": ["closed"]})


def test_a_task_carries_its_deadline_light_and_rework_and_lists_the_most_pressing_first(client, world):
    late = world.to_state("assigned")
    fresh = world.report()
    world.act(fresh, "assign", by="supervisor", at=NOW + timedelta(minutes=50),
              unit_id=world.units["squad"].id)
    client.application.config["TEST_NOW"] = NOW + timedelta(minutes=70)  # the first one's accept is overdue
    items = client.get("/api/v1/me/tasks", headers=world.auth("handler", **{"Accept-Language": "en"})).json["items"]
    assert [(item["problem_id"], item["kind"], item["light"]) for item in items] == \
        [(late.id, "accept", "red"), (fresh.id, "accept", "green")]
    first = items[0]
    assert first["kind_label"] == "To accept" and first["code"] == late.code and first["state"] == "assigned"
    assert first["due_at"] == "2026-11-25T03:00:00+00:00" and first["rework_count"] == 0
    assert first["round_id"] is None and first["inspection_task_id"] is None


def test_the_summary_counts_every_kind_for_a_badge(client, world):
    world.to_state("reported")
    world.to_state("verified")
    world.to_state("suspended")
    summary = client.get("/api/v1/me/tasks/summary", headers=world.auth("east_supervisor")).json
    assert summary["total"] == 3
    assert {k: v for k, v in summary["by_kind"].items() if v} == {"dispatch": 1, "close": 1,
                                                                  "decide_suspension": 1}
    assert set(summary["by_kind"]) >= {"dispatch", "accept", "rectify", "verify", "round", "inspection"}


def test_the_closer_is_not_shown_what_they_verified_nor_anyone_what_is_out_of_their_scope(client, world):
    world.to_state("verified")
    west = world.report(point="night", by="west_officer")
    assert {i["kind"] for i in client.get("/api/v1/me/tasks", headers=world.auth("west_supervisor")).json["items"]} \
        == {"dispatch"}
    east = client.get("/api/v1/me/tasks", headers=world.auth("east_supervisor")).json["items"]
    assert west.id not in {item["problem_id"] for item in east}


@pytest.mark.parametrize("query, field", [("kind=nonsense", "kind"), ("limit=0", "limit"), ("cursor=x", "cursor"),
                                          ("state=open", "state")])
def test_a_bad_filter_is_refused_not_ignored(client, world, query, field):
    response = client.get(f"/api/v1/me/tasks?{query}", headers=world.auth("handler"))
    assert response.status_code == 422 and field in response.json["errors"]


def test_kind_filters_and_pages_walk_the_whole_queue(client, world):
    made = [world.to_state("reported").id for _ in range(3)] + [world.to_state("verified").id]
    first = client.get("/api/v1/me/tasks?kind=dispatch&limit=2", headers=world.auth("east_supervisor")).json
    second = client.get(f"/api/v1/me/tasks?kind=dispatch&limit=2&cursor={first['next_cursor']}",
                        headers=world.auth("east_supervisor")).json
    assert second["next_cursor"] is None
    assert sorted(i["problem_id"] for i in first["items"] + second["items"]) == made[:3]


def test_replaying_a_cause_puts_no_second_row(world, ctx):
    from models import Notification
    from models.base import db
    from workflow.notifications import work
    problem = world.to_state("assigned")
    users = work.handlers_of(problem)
    assert work.put(user_ids=users, type="assigned", title="t", body="b", now=NOW,
                    key=f"problem:{problem.id}:seq:2", problem_id=problem.id) == 0
    assert db.session.query(Notification).filter_by(problem_id=problem.id).count() == 2
