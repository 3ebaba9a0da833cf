"""A client generated from the served /openapi.json walks the closed loop with nothing but generated code.

As a phone team would: `openapi-python-client generate` on the document, then report (with an
Idempotency-Key) → assign (If-Match from the ETag) → accept → upload the after photo → submit → verify →
close → read the trail. Skipped only when the generator is not installed (it is a dev dependency).
"""

import contextvars
import importlib
import io
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from models.base import db
from tests.api.test_evidence import photo
from tests.conftest import BACKEND

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
CONFIG = "post_hooks: []\nproject_name_override: rectify-client\npackage_name_override: rectify_client\n"
pytestmark = [
    pytest.mark.skipif(not GENERATOR.exists(), reason="openapi-python-client is not installed (make install)"),
    pytest.mark.skipif(BACKEND != "sqlite", reason="the document is the same on both databases"),
]


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory):
    """The package openapi-python-client makes from the served document, importable as rectify_client."""
    out = tmp_path_factory.mktemp("generated")
    (out / "openapi.json").write_bytes(app.test_client().get("/openapi.json").get_data())
    (out / "config.yaml").write_text(CONFIG)
    result = subprocess.run([str(GENERATOR), "generate", "--path", str(out / "openapi.json"), "--config",
                             str(out / "config.yaml"), "--meta", "none", "--output-path", str(out / "rectify_client")],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # nothing of the document was left out
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module("rectify_client")
        package.models = importlib.import_module("rectify_client.models")
        package.types = importlib.import_module("rectify_client.types")
        yield package
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n.split(".")[0] == "rectify_client"]:
            del sys.modules[name]


def over_wsgi(app):
    """The app as an httpx transport, each request in a context of its own (as FreshContextClient does)."""

    def wsgi(environ, start_response):
        db.session.commit()  # end the test's read transaction so requests see each other's writes
        return contextvars.Context().run(lambda: list(app.wsgi_app(environ, start_response)))

    return httpx.WSGITransport(app=wsgi)


def operations(*names: str) -> list:
    """Generated operation modules by `tag.operation_id` (snake case), e.g. problems.act_on_problem."""
    return [importlib.import_module(f"rectify_client.api.{name}") for name in names]


@pytest.fixture
def client_as(generated, app, world):
    def make(who: str):
        client = generated.AuthenticatedClient(base_url="http://localhost", token=world.tokens[who])
        client.set_httpx_client(httpx.Client(base_url="http://localhost", transport=over_wsgi(app),
                                             headers={"Authorization": f"Bearer {world.tokens[who]}"}))
        return client

    return make


def test_the_closed_loop_runs_on_the_generated_client_alone(generated, client_as, world):
    report_problem, act_on_problem, list_problem_events, upload_attachment = operations(
        "problems.report_problem", "problems.act_on_problem", "problems.list_problem_events",
        "evidence.upload_attachment")
    models, types = generated.models, generated.types

    report = models.ReportIn(category_code="hawker", title="早市占道经营", point_id=world.points["market"].id,
                             severity=models.ReportInSeverity.HIGH)
    officer = client_as("officer")
    created = report_problem.sync_detailed(client=officer, body=report, idempotency_key="phone-1-report")
    assert created.status_code == 201 and isinstance(created.parsed, models.ProblemOut), created.content
    retried = report_problem.sync_detailed(client=officer, body=report, idempotency_key="phone-1-report")
    assert retried.headers["Idempotent-Replayed"] == "true" and retried.parsed.id == created.parsed.id
    problem_id, etag = created.parsed.id, created.headers["ETag"]
    assert created.parsed.state == models.ProblemOutState.REPORTED

    def act(who, action, expect, **fields):
        response = act_on_problem.sync_detailed(
            problem_id, client=client_as(who), if_match=etag,
            body=models.ActionIn(action=models.ActionInAction(action), **fields))
        assert response.status_code == 200, response.content
        assert response.parsed.state == models.ProblemOutState(expect)
        return response.headers["ETag"]

    etag = act("supervisor", "assign", "assigned", unit_id=world.units["squad"].id)
    etag = act("handler", "accept", "rectifying")
    upload = models.UploadFiles(file=types.File(payload=io.BytesIO(photo()), file_name="after.jpg",
                                                mime_type="image/jpeg"),
                                kind=models.UploadFilesKind.AFTER, note="摊位已清理", client_id="phone-2-after")
    uploaded = upload_attachment.sync_detailed(problem_id, client=client_as("handler"), body=upload)
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.parsed.kind == models.AttachmentOutKind.AFTER and uploaded.parsed.note == "摊位已清理"
    etag = act("handler", "submit", "verifying", note="摊位已清理")
    etag = act("officer2", "verify", "verified", note="现场核查通过")
    act("supervisor", "close", "closed")

    trail = list_problem_events.sync_detailed(problem_id, client=client_as("admin"))
    assert trail.status_code == 200
    assert [event.action.value for event in trail.parsed.items] == [
        "report", "assign", "accept", "attach", "submit", "verify", "close"]


def test_a_refusal_arrives_as_its_typed_problem(generated, client_as, world):
    (act_on_problem,), models = operations("problems.act_on_problem"), generated.models
    problem = world.to_state("reported")
    stale = act_on_problem.sync_detailed(
        problem.id, client=client_as("supervisor"), if_match='"9"',
        body=models.ActionIn(action=models.ActionInAction.ASSIGN, unit_id=world.units["squad"].id))
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.StaleVersionProblem) and stale.parsed.type_ == "/errors/stale-version"
    wrong = act_on_problem.sync_detailed(problem.id, client=client_as("supervisor"), if_match='"1"',
                                                  body=models.ActionIn(action=models.ActionInAction.CLOSE))
    assert wrong.status_code == 409 and isinstance(wrong.parsed, models.ConflictProblem)
    assert "assign" in [a.value for a in wrong.parsed.allowed_actions]
