"""No problem of a category that requires photos reaches `closed` without them, even when it was resolved on
the spot and skipped submit and verify; a round's finding may be resolved on the spot too."""

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.api.test_evidence import photo, upload
from tests.api.test_patrols import lunch_round, post
from tests.factories import NATURAL
from workflow import org


def gas_hose(world):
    org.create_category(actor=None, now=world.now, code="gas_hose", name="燃气胶管老化", limits=NATURAL,
                        requires_after_photo=True, requires_verification_photo=True)
    db.session.commit()


def self_resolved(client, world):
    body = {"category_code": "gas_hose", "point_id": world.points["market"].id, "title": "胶管老化，已当场更换",
            "resolved_on_site": True}
    response = client.post("/api/v1/problems", json=body, headers=world.auth("officer"))
    assert (response.status_code, response.json["state"]) == (201, "verified"), response.json
    return response.json


def close(client, world, problem):
    return client.post(f"/api/v1/problems/{problem['id']}/actions", json={"action": "close"},
                       headers=world.auth("supervisor", **{"If-Match": f'"{problem["version"]}"'}))


def test_a_self_resolved_report_is_not_closed_without_the_photos_its_category_requires(client, world):
    gas_hose(world)
    problem = self_resolved(client, world)
    shown = client.get(f"/api/v1/problems/{problem['id']}", headers=world.auth("supervisor")).json
    assert "close" not in shown["allowed_actions"]
    refused = close(client, world, problem)
    assert_problem_json(refused, 409, "evidence-required")
    assert refused.json["missing"] == ["after", "verification"]
    assert upload(client, world, problem["id"], photo(), kind="after", by="officer").status_code == 201
    refused = close(client, world, problem)
    assert_problem_json(refused, 409, "evidence-required")
    assert refused.json["missing"] == ["verification"] and refused.json["kind"] == "verification"
    assert upload(client, world, problem["id"], photo(), kind="verification", by="officer").status_code == 201
    assert "close" in client.get(f"/api/v1/problems/{problem['id']}",
                                 headers=world.auth("supervisor")).json["allowed_actions"]
    closed = close(client, world, problem)
    assert (closed.status_code, closed.json["state"]) == (200, "closed"), closed.json


def test_a_category_without_photo_rules_closes_a_self_resolved_report_at_once(client, world):
    body = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "劝离", "resolved_on_site": True}
    problem = client.post("/api/v1/problems", json=body, headers=world.auth("officer")).json
    assert close(client, world, problem).status_code == 200


def test_a_round_finding_may_be_resolved_on_the_spot_and_stays_linked_to_its_round(client, world, app):
    round_ = lunch_round(client, world, app)
    assert post(client, world, round_["id"], "start").status_code == 200
    finding = post(client, world, round_["id"], "findings",
                   {"point_id": world.points["market"].id, "category_code": "hawker", "title": "游商已劝离",
                    "resolved_on_site": True})
    assert finding.status_code == 201, finding.json
    assert (finding.json["state"], finding.json["resolved_on_site"], finding.json["round_id"]) == (
        "verified", True, round_["id"])
