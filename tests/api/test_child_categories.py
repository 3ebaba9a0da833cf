"""A child category takes its parent's limits, photo rules and pause_on_extension unless it sets its own."""

from tests.factories import NATURAL


def create(client, world, **body):
    response = client.post("/api/v1/categories", json=body, headers=world.auth("admin"))
    assert response.status_code == 201, response.json
    return response.json


def test_a_child_category_without_limits_gets_its_parents_clocks(client, world):
    create(client, world, code="gas", name="燃气安全", limits=NATURAL, requires_after_photo=True,
           requires_verification_photo=True, pause_on_extension=True)
    child = create(client, world, code="gas_hose", name="胶管老化", parent_code="gas")
    assert child["limits"] == NATURAL
    assert child["requires_after_photo"] and child["requires_verification_photo"] and child["pause_on_extension"]
    report = client.post("/api/v1/problems", json={"category_code": "gas_hose", "point_id": world.points["market"].id,
                                                   "title": "胶管老化"}, headers=world.auth("officer"))
    assert report.status_code == 201, report.json
    assert report.json["stage_due_at"] is not None and report.json["light"] == "green"


def test_what_a_child_sets_wins_over_its_parent(client, world):
    create(client, world, code="gas", name="燃气安全", limits=NATURAL, requires_after_photo=True,
           pause_on_extension=True)
    child = create(client, world, code="gas_valve", name="阀门", parent_code="gas", requires_after_photo=False,
                   limits={"rectify": {"minutes": 30, "clock": "working"}})
    assert child["limits"] == NATURAL | {"rectify": {"minutes": 30, "clock": "working"}}
    assert child["requires_after_photo"] is False and child["pause_on_extension"] is True
    assert child["requires_verification_photo"] is False


def test_a_category_without_parent_defaults_to_no_photo_rules(client, world):
    alone = create(client, world, code="graffiti", name="乱涂乱画", limits={})
    assert not (alone["requires_after_photo"] or alone["requires_verification_photo"] or alone["pause_on_extension"])
    assert alone["limits"] == {}
