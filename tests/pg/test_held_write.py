"""A transition's write held to the commit (decision 0129): what happens when the row moves in between, and a
race of transitions and comments under Idempotency-Keys."""

from datetime import timedelta

from sqlalchemy import create_engine, func, select, text

from models import IdempotencyRecord, Notification, Problem, ProblemEvent, db
from tests.pg.test_races import THREADS, race
from workflow import audit, idempotency, waiting


def moved_by_someone_else(app, monkeypatch, problem_id: int) -> None:
    """Before the held write is sent, another connection moves the problem's version and commits."""
    original = waiting.flush

    def flush_after_a_rival(record=None):
        engine = create_engine(db.engine.url)
        with engine.begin() as rival:
            rival.execute(text("UPDATE problems SET version = version + 1 WHERE id = :id"), {"id": problem_id})
        engine.dispose()
        return original(record)

    monkeypatch.setattr(waiting, "flush", flush_after_a_rival)


def counts(problem_id: int) -> tuple:
    db.session.expire_all()
    return tuple(db.session.scalar(stmt) for stmt in (
        select(func.count()).where(ProblemEvent.problem_id == problem_id),
        select(func.count()).where(Notification.problem_id == problem_id),
        select(func.count()).select_from(IdempotencyRecord),
        select(Problem.state).where(Problem.id == problem_id)))


def test_a_row_moved_before_the_held_write_is_412_and_nothing_of_the_request_is_written(app, world, monkeypatch):
    problem = world.report()
    client, url = app.test_client(), f"/api/v1/problems/{problem.id}/actions"
    body = {"action": "assign", "unit_id": world.units["squad"].id, "handler_id": world.users["handler"].id}
    before = counts(problem.id)
    moved_by_someone_else(app, monkeypatch, problem.id)
    headers = world.auth("supervisor", **{"If-Match": '"1"', "Idempotency-Key": "assign-1"})
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 412, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert counts(problem.id) == before  # no event, inbox item, record, nor state change
    monkeypatch.undo()
    again = client.post(url, json=body, headers=headers | {"If-Match": '"2"'})  # the same key, a fresh If-Match
    assert again.status_code == 200 and again.json["version"] == 3 and again.headers["ETag"] == '"3"'
    assert "Idempotent-Replayed" not in again.headers


def test_a_row_moved_before_a_held_write_without_a_key_is_412_too(app, world, monkeypatch):
    problem = world.report()
    client, url = app.test_client(), f"/api/v1/problems/{problem.id}/actions"
    before = counts(problem.id)
    moved_by_someone_else(app, monkeypatch, problem.id)
    response = client.post(url, json={"action": "assign", "unit_id": world.units["squad"].id},
                           headers=world.auth("supervisor", **{"If-Match": '"1"'}))
    assert response.status_code == 412 and counts(problem.id) == before


def test_keyed_transitions_and_comments_racing_on_one_problem_keep_the_chain_and_their_answers(app, world):
    problem = world.to_state("rectifying")
    url = f"/api/v1/problems/{problem.id}/actions"
    submit = world.auth("handler", **{"If-Match": f'"{problem.version}"'})

    def one(client, index):
        if index % 4 == 0:
            return client.post(url, json={"action": "submit", "note": "已清理"},
                               headers=submit | {"Idempotency-Key": f"submit-{index}"})
        return client.post(url, json={"action": "comment", "text": f"第 {index} 条"},
                           headers=world.auth("officer", **{"Idempotency-Key": f"comment-{index}"}))

    responses = race(app, one)
    codes = [r.status_code for r in responses]
    assert codes.count(200) == THREADS - THREADS // 4 + 1 and set(codes) <= {200, 412}
    verdict = audit.verify_chains()
    assert verdict.intact, verdict.broken
    db.session.expire_all()
    assert db.session.scalar(select(Problem.state).where(Problem.id == problem.id)) == "verifying"
    # Each answered request's retry replays its answer; the refused ones stored nothing.
    client = app.test_client()
    for index, response in enumerate(responses):
        if response.status_code != 200:
            continue
        retry = one(client, index)
        assert retry.headers.get("Idempotent-Replayed") == "true" and retry.get_data() == response.get_data()
    stored = db.session.scalar(select(func.count()).select_from(IdempotencyRecord))
    assert stored == codes.count(200)


def test_an_expired_record_of_the_key_is_renewed_by_the_write(app, world):
    problem = world.report()
    supervisor = world.users["supervisor"]
    idempotency.store(user_id=supervisor.id, key="assign-1", request_hash="an older request", status=201,
                      body="{}", headers={}, now=world.now - idempotency.KEEP - timedelta(seconds=1))
    db.session.commit()
    body = {"action": "assign", "unit_id": world.units["squad"].id, "handler_id": world.users["handler"].id}
    headers = world.auth("supervisor", **{"If-Match": '"1"', "Idempotency-Key": "assign-1"})
    response = app.test_client().post(f"/api/v1/problems/{problem.id}/actions", json=body, headers=headers)
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    db.session.expire_all()
    (record,) = db.session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.user_id == supervisor.id))
    assert record.status == 200 and record.body == response.get_data(as_text=True)
    assert record.expires_at == world.now + idempotency.KEEP
