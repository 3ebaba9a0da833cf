"""A winter gas-safety campaign over five restaurants, end to end through the API, the scheduler's ticks
(`flask scheduler tick --at`) and the clock hook: inspections with mixed results, orders printed, a problem
rectified through the closed loop, re-inspections that pass and fail, a repeat offender climbing the ladder to
立案处罚 and 重点监管, and an expiring hose whose re-check comes on time, exactly once."""

import io
from datetime import UTC, datetime

import pytest

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.gas import PHOTO, build_gas, passing
from workflow import audit


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of 2026 in Asia/Shanghai, in UTC."""
    return datetime(2026, month, day, hour - 8, minute, tzinfo=UTC) if hour >= 8 else \
        datetime(2026, month, day - 1, hour + 16, minute, tzinfo=UTC)


class Campaign:
    """The API as each person uses it, at instants the test moves."""

    def __init__(self, app, client, runner, world, gas):
        self.app, self.client, self.runner, self.world, self.gas = app, client, runner, world, gas

    def at(self, instant: datetime) -> None:
        self.app.config["TEST_NOW"] = instant

    def call(self, method: str, path: str, who: str, **options):
        headers = self.world.auth(who, **options.pop("headers", {}))
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **options)

    def photo(self, who: str) -> int:
        response = self.call("POST", "/inspection-photos", who, content_type="multipart/form-data",
                             data={"file": (io.BytesIO(PHOTO), "photo.jpg")})
        assert response.status_code == 201, response.json
        return response.json["id"]

    def inspect(self, index: int, who: str = "officer", **changes) -> dict:
        results = [r | {"photo_ids": [self.photo(who)]} if r["item"] in ("cylinder_storage", "leak_alarm") else r
                   for r in passing(**changes)]
        body = {"party_id": self.gas.restaurants[index].id, "template_code": "gas_safety",
                "list_id": self.gas.campaign_id, "results": results}
        response = self.call("POST", "/inspections", who, json=body)
        assert response.status_code == 201, response.json
        return response.json

    def act(self, problem_id: int, who: str, action: str, **fields) -> dict:
        version = self.call("GET", f"/problems/{problem_id}", who).headers["ETag"]
        response = self.call("POST", f"/problems/{problem_id}/actions", who, json={"action": action, **fields},
                             headers={"If-Match": version})
        assert response.status_code == 200, response.json
        return response.json

    def tick(self, instant: datetime) -> str:
        db.session.commit()
        result = self.runner.invoke(args=["scheduler", "tick", "--at", instant.isoformat()])
        assert result.exit_code == 0, result.output
        return next(line for line in result.output.splitlines() if line.startswith("plan_inspection_tasks"))

    def tasks(self, who: str = "officer", **query) -> list[dict]:
        return self.call("GET", "/inspection-tasks", who, query_string={"state": "open", **query}).json["items"]

    def coverage(self) -> dict:
        response = self.call("GET", f"/problem-lists/{self.gas.campaign_id}/coverage", "east_supervisor")
        assert response.status_code == 200, response.json
        return response.json

    def party(self, index: int, who: str = "east_supervisor") -> dict:
        return self.call("GET", f"/parties/{self.gas.restaurants[index].id}", who).json


@pytest.fixture
def campaign(app, client, runner, world):
    return Campaign(app, client, runner, world, build_gas(world))


def test_a_campaign_over_five_restaurants_runs_end_to_end(campaign):
    orders = day_one(campaign)
    rectify_and_reinspect(campaign, orders)
    offender_climbs_to_a_case(campaign, orders)
    hose_recheck_comes_on_time(campaign)
    offender_goes_on_the_watch_list(campaign)
    the_campaign_ends(campaign)


def day_one(c: Campaign) -> dict:
    """Wednesday 25 November: two pass, three are ordered to rectify, and the orders print."""
    c.at(local(11, 25, 10))
    hose_ok = c.inspect(0, "officer2", hose_replaced_on="2025-01-05")  # expires 2027-01-05
    assert hose_ok["outcome"] == "pass" and hose_ok["order"] is None and hose_ok["problem_ids"] == []
    assert c.inspect(1, "officer2")["outcome"] == "pass"
    orders = {"rubber": c.inspect(2, hose_type="rubber"), "alarm": c.inspect(3, leak_alarm="fail"),
              "basement": c.inspect(4, cylinder_storage="fail")}
    for ordered in orders.values():
        assert ordered["outcome"] == "rectify" and len(ordered["problem_ids"]) == 1
    numbers = [o["order"]["number"] for o in orders.values()]
    assert numbers == [f"east责改字〔2026〕第{n:04d}号" for n in (1, 2, 3)]
    # Deadlines from the template: rubber hose 3 working days, leak alarm 5, cylinder in the basement 1.
    assert [o["order"]["deadline_on"] for o in orders.values()] == ["2026-11-30", "2026-12-02", "2026-11-26"]
    problem = c.call("GET", f"/problems/{orders['rubber']['problem_ids'][0]}", "east_supervisor").json
    assert problem["party_id"] == c.gas.restaurants[2].id and problem["due_at"] == "2026-11-30T09:30:00+00:00"
    assert c.coverage()["totals"] == {"in_scope": 5, "inspected": 5, "passed": 2, "ordered": 3, "rectified": 0,
                                      "reinspected_passed": 0, "outstanding": 3}
    page = c.call("GET", f"/orders/{orders['rubber']['order']['id']}/print", "officer")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "责令限期整改通知书" in text and numbers[0] in text and "兰州拉面" in text and "2026年11月30日" in text
    return orders


def rectify_and_reinspect(c: Campaign, orders: dict) -> None:
    """The rubber hose is rectified through the closed loop; the basement cylinder's deadline passes, its
    re-inspection appears once and passes; the rubber hose's re-inspection passes too."""
    c.at(local(11, 26, 9))
    pid = orders["rubber"]["problem_ids"][0]
    c.act(pid, "east_supervisor", "assign", unit_id=c.world.units["squad"].id)
    c.act(pid, "handler", "accept")
    c.act(pid, "handler", "submit", note="已更换金属波纹管")
    c.act(pid, "officer", "verify", note="现场核查合格")
    assert c.act(pid, "east_supervisor", "close")["state"] == "closed"
    assert c.tick(local(11, 26, 17, 0)).endswith("made 0 re-inspections, 0 expiry re-checks")
    assert "made 1 re-inspections" in c.tick(local(11, 26, 18))
    assert "made 0 re-inspections" in c.tick(local(11, 26, 19))
    [task] = c.tasks()
    assert task["kind"] == "reinspection" and task["order_id"] == orders["basement"]["order"]["id"]
    c.at(local(11, 27, 10))
    assert c.inspect(4)["reinspected_order_id"] == orders["basement"]["order"]["id"]
    assert c.call("GET", f"/orders/{orders['basement']['order']['id']}", "officer").json["state"] == "complied"
    assert c.tasks() == []
    c.tick(local(12, 1, 9))
    c.at(local(12, 1, 10))
    assert c.inspect(2)["reinspected_order_id"] == orders["rubber"]["order"]["id"]


def offender_climbs_to_a_case(c: Campaign, orders: dict) -> None:
    """The leak alarm fails its re-inspection after the deadline: the order fails, a new one is issued, the
    open problem carries the item on, and 立案处罚 — a supervisor's decision with a case number and a penalty."""
    c.tick(local(12, 3, 9))
    c.at(local(12, 3, 10))
    again = c.inspect(3, leak_alarm="fail")
    assert again["reinspected_order_id"] == orders["alarm"]["order"]["id"]
    assert again["order"]["deadline_on"] == "2026-12-10" and again["problem_ids"] == orders["alarm"]["problem_ids"]
    offender = c.party(3)
    assert (offender["ladder_step"], offender["proposed_step"]) == ("order", "case")
    steps = f"/parties/{c.gas.restaurants[3].id}/ladder-steps"
    assert_problem_json(c.call("POST", steps, "officer", json={"step": "case", "case_number": "X"}), 403)
    missing = c.call("POST", steps, "east_supervisor", json={"step": "case", "case_number": "东综执罚〔2026〕88号"})
    assert_problem_json(missing, 422, "validation")
    assert set(missing.json["errors"]) == {"penalty"}
    c.at(local(12, 3, 11))
    case = c.call("POST", steps, "east_supervisor", json={"step": "case", "case_number": "东综执罚〔2026〕88号",
                                                          "penalty": "罚款人民币五千元", "penalty_amount": 5000})
    assert case.status_code == 200 and case.json["ladder_step"] == "case" and case.json["proposed_step"] is None


def hose_recheck_comes_on_time(c: Campaign) -> None:
    """The hose replaced on 2025-01-05 expires 2027-01-05: its re-check is due 30 days before, on Sunday
    6 December, so on Friday the 4th when the working day opens (08:30), exactly once."""
    assert "0 expiry re-checks" in c.tick(local(12, 4, 8, 29))
    assert "1 expiry re-checks" in c.tick(local(12, 4, 8, 30))
    assert "0 expiry re-checks" in c.tick(local(12, 4, 12))
    [recheck] = c.tasks(kind="recheck")
    assert (recheck["party_id"], recheck["item_code"], recheck["expires_on"]) == (
        c.gas.restaurants[0].id, "hose_replaced_on", "2027-01-05")


def offender_goes_on_the_watch_list(c: Campaign) -> None:
    """The offender fails the second order's re-inspection too: 重点监管 is proposed; a supervisor decides it."""
    c.tick(local(12, 11, 9))
    c.at(local(12, 11, 10))
    c.inspect(3, leak_alarm="fail")
    assert c.party(3)["proposed_step"] == "watch"
    c.at(local(12, 11, 11))
    steps = f"/parties/{c.gas.restaurants[3].id}/ladder-steps"
    watch = c.call("POST", steps, "east_supervisor", json={"step": "watch", "note": "两次复查不合格，列入重点监管"})
    assert watch.json["ladder_step"] == "watch"
    history = c.party(3)["history"]["steps"]
    assert [(s["action"], s["to_step"], s["actor"]["name"]) for s in reversed(history)] == [
        ("step_up", "order", "officer"), ("propose", "order", "officer"), ("step_up", "case", "east_supervisor"),
        ("propose", "case", "officer"), ("step_up", "watch", "east_supervisor")]


def the_campaign_ends(c: Campaign) -> None:
    """The next inspection answering the hose does its re-check; the figures add up; every trail verifies."""
    c.at(local(12, 14, 10))
    c.inspect(0, "officer2", hose_replaced_on="2026-12-10")
    assert c.tasks(kind="recheck") == []
    coverage = c.coverage()
    assert coverage["totals"] == {"in_scope": 5, "inspected": 5, "passed": 2, "ordered": 3, "rectified": 1,
                                  "reinspected_passed": 2, "outstanding": 1}
    by_officer = {row["name"]: row for row in coverage["by_officer"]}
    assert (by_officer["officer2"]["inspected"], by_officer["officer"]["ordered"]) == (2, 3)
    db.session.commit()
    verdict = audit.verify_chains()
    assert verdict.intact and verdict.parties == 5
