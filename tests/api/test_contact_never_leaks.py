"""The reporter's contact reaches supervisors and admins only: every GET route of the app, every export and
Open311 answer, walked as each other role, never carries it (a masked form at most)."""

import io
import re
import zipfile

import pytest
from flask import current_app
from sqlalchemy import select

from models import OutboxMessage
from models.base import db
from tests.conftest import NOW
from tests.console.helpers import sign_in
from workflow.ledger import lists
from workflow.problems import reporting

CONTACT = {"contact_name": "欧阳娜娜", "contact_phone": "+86 139-8765-4321", "contact_email": "nana@example.org"}
SECRETS = ("欧阳娜娜", "娜娜", "139-8765-4321", "98765", "nana@example.org", "nana@")
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([a-z_]+)>")
OTHERS = ("officer", "handler", "hotline", "west_officer", "sanitation_handler")


@pytest.fixture
def scene(world):
    problem, _ = reporting.report_problem(
        actor=world.users["hotline"], now=NOW, category_code="hawker", title="占道", lat=35.0621, lng=118.3561,
        address="东关路口", external_ref="12345-1", contact=CONTACT, description="市民来电反映早市占道")
    db.session.commit()
    world.act(problem, "assign", by="supervisor", unit_id=world.units["squad"].id)
    plan = lists.create_list(actor=world.users["supervisor"], now=NOW, kind="campaign", name="专项",
                             lead_unit_id=world.units["district"].id)
    lists.add_problems(actor=world.users["supervisor"], now=NOW, list_id=plan.id, problem_ids=[problem.id])
    db.session.commit()
    world.problem, world.list_id = problem, plan.id
    return world


def _paths(problem) -> list[str]:
    """Every GET route of the app, its ids filled with the scene's (others answer 404, which is fine)."""
    values = {"problem_id": problem.id, "list_id": 1, "fmt": "json"}
    paths = []
    for rule in current_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/docs", "/metrics")):
            continue
        path = CONVERTER.sub(lambda m: str(values.get(m.group(1), 1)), rule.rule)
        if rule.rule.startswith("/open311/v2/"):
            path = path.replace("/1", "") if path.endswith("/1") else path
        paths.append(path)
    paths += [f"/api/v1/problems/export?format={fmt}" for fmt in ("csv", "xlsx", "geojson")]
    paths += [f"/open311/v2/requests/{problem.code}.{fmt}" for fmt in ("json", "xml")]
    paths += [f"/open311/v2/{name}.{fmt}" for name in ("requests", "services") for fmt in ("json", "xml")]
    return paths


def _text(response) -> str:
    body = response.get_data()
    if body[:2] == b"PK":  # a workbook: the text is in its zipped parts
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "".join(book.read(name).decode() for name in book.namelist())
    return body.decode("utf-8", "replace")


@pytest.mark.parametrize("role", OTHERS)
def test_no_route_answers_another_role_with_the_reporters_contact(client, scene, role):
    seen = 0
    for path in _paths(scene.problem):
        response = client.get(path, headers=scene.auth(role))
        text = _text(response)
        assert not [s for s in SECRETS if s in text], f"{role} GET {path} leaks the contact"
        seen += response.status_code == 200 and scene.problem.code in text
    assert seen >= (0 if role in ("west_officer", "sanitation_handler") else 3)


@pytest.mark.parametrize("role", OTHERS)
def test_no_console_page_shows_another_role_the_reporters_contact(client, scene, role):
    """Signed in to the console (a session, not a token): every page and export, the problem's own page too."""
    sign_in(client, scene, role)
    seen = 0
    for path in _paths(scene.problem):
        if path.startswith("/console/") and not path.endswith("/logout"):
            response = client.get(path)
            text = _text(response)
            assert not [s for s in SECRETS if s in text], f"{role} GET {path} leaks the contact"
            seen += response.status_code == 200 and scene.problem.code in text
    for fmt in ("csv", "xlsx", "geojson"):
        assert not [s for s in SECRETS if s in _text(client.get(f"/console/problems/export?format={fmt}"))]
    assert seen >= (0 if role in ("west_officer", "sanitation_handler") else 1)


@pytest.mark.parametrize("role", ("officer", "handler", "hotline"))
def test_roles_that_see_the_problem_get_the_contact_masked_in_reads_and_action_answers(client, scene, role):
    one = client.get(f"/api/v1/problems/{scene.problem.id}", headers=scene.auth(role))
    assert one.json["contact"] == {"name": "欧***", "phone": "*********4321", "email": "n***@***.org",
                                   "masked": True}
    commented = client.post(f"/api/v1/problems/{scene.problem.id}/actions", json={"action": "comment",
                                                                                   "text": "在跟进"},
                            headers=scene.auth(role))
    assert commented.status_code == 200 and commented.json["contact"]["masked"] is True


def test_nobody_without_a_token_reads_the_contact_through_open311(client, scene):
    for path in _paths(scene.problem):
        if path.startswith("/open311"):
            text = _text(client.get(path))
            assert not [s for s in SECRETS if s in text], path


@pytest.mark.parametrize("role", ("supervisor", "admin"))
def test_supervisors_and_admins_see_it_whole_and_may_export_it_when_they_ask(client, scene, role):
    one = client.get(f"/api/v1/problems/{scene.problem.id}", headers=scene.auth(role)).json
    assert one["contact"] == {"name": "欧阳娜娜", "phone": "+86 139-8765-4321", "email": "nana@example.org",
                              "masked": False}
    plain = _text(client.get("/api/v1/problems/export?format=csv", headers=scene.auth(role)))
    assert "欧阳娜娜" not in plain
    for fmt in ("csv", "xlsx"):
        asked = client.get(f"/api/v1/problems/export?format={fmt}&include_contact=true", headers=scene.auth(role))
        assert asked.status_code == 200
        text = _text(asked)
        assert "欧阳娜娜" in text and "12345-1" in text and "联系电话" in text


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_asking_to_export_the_contact_are_refused(client, scene, role):
    response = client.get("/api/v1/problems/export?format=csv&include_contact=true", headers=scene.auth(role))
    assert response.status_code == 403


def test_a_contact_that_looks_like_a_formula_is_exported_as_text(client, scene):
    problem, _ = reporting.report_problem(
        actor=scene.users["hotline"], now=NOW, category_code="hawker", title="占道", point_id=scene.points["market"].id,
        external_ref="12345-2", contact={"contact_name": "=HYPERLINK(\"http://x.example\")"})
    db.session.commit()
    text = _text(client.get("/api/v1/problems/export?format=csv&include_contact=true", headers=scene.auth("admin")))
    assert "'=HYPERLINK" in text and problem.code in text


def test_webhook_payloads_carry_no_contact(scene):
    payloads = " ".join(str(m.payload) for m in db.session.scalars(select(OutboxMessage)))
    assert payloads and not [s for s in SECRETS if s in payloads]
