"""Assertions and probes the API tests share."""

from contextlib import contextmanager

from sqlalchemy import event

from models.base import db

# Statements the connection itself sends (SQLite's BEGIN, SAVEPOINTs) are not round trips of the request's logic.
PLUMBING = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "PRAGMA")

PROBLEM_JSON = "application/problem+json"
ERROR_KEYS = {"type", "title", "status", "detail", "errors"}


def assert_problem_json(response, status, slug=None):
    """The response is an error of `status` in the one problem+json shape (and of type /errors/<slug>)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert set(response.json) >= ERROR_KEYS
    assert response.json["status"] == status
    if slug is not None:
        assert response.json["type"] == f"/errors/{slug}"


@contextmanager
def statements(app):
    """The SQL statements any connection of the app's engine sends while inside, whitespace collapsed,
    connection plumbing (BEGIN, SAVEPOINT, ...) left out."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(PLUMBING):
            sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
