"""The api_tokens migration, on a database of its own: each user's token moves into api_tokens and keeps
working, nothing that references users is lost while SQLite rebuilds the table, and the downgrade puts
the tokens back on the users."""


from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from models import db
from tests.conftest import NOW
from workflow.auth import authenticate, hash_token

BEFORE = "b8a1e7c0d9f1"  # the revision before api_tokens


OLD_ROWS = """
INSERT INTO units (id, name, kind, path, timezone, created_at)
    VALUES (1, 'district', 'district', '/1/', 'Asia/Shanghai', :at);
INSERT INTO grids (id, name, unit_id, created_at) VALUES (1, 'east', 1, :at);
INSERT INTO users (id, name, role, unit_id, token_hash, active, created_at)
    VALUES (1, 'officer', 'officer', 1, :officer, true, :at), (2, 'admin', 'admin', NULL, :admin, true, :at);
INSERT INTO user_grids (user_id, grid_id) VALUES (1, 1);
INSERT INTO idempotency_records (user_id, key_hash, request_hash, status, body, headers, created_at, expires_at)
    VALUES (1, 'k1', 'h', 201, '{}', '{}', :at, :at);
"""


def rows(sql: str) -> list[tuple]:
    """Read, and end the transaction (SQLite: so the migration and the inspector can take the lock)."""
    found = [tuple(row) for row in db.session.execute(text(sql)).all()]
    db.session.rollback()
    return found


def test_tokens_move_into_api_tokens_keep_working_and_move_back_on_downgrade(scratch):
    upgrade(directory=scratch, revision=BEFORE)
    at = NOW.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else NOW
    for statement in filter(str.strip, OLD_ROWS.split(";")):
        db.session.execute(text(statement), {"at": at, "officer": hash_token("officer-token"),
                                             "admin": hash_token("admin-token")})
    db.session.commit()

    upgrade(directory=scratch)
    assert "token_hash" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
    moved = rows("SELECT user_id, label, expires_at, revoked_at FROM api_tokens ORDER BY user_id")
    assert moved == [(1, "initial", None, None), (2, "initial", None, None)]
    signed_in = authenticate("officer-token", now=NOW)
    assert signed_in.user is not None and signed_in.user.name == "officer" and signed_in.user.grid_ids == [1]
    assert rows("SELECT user_id, key_hash FROM idempotency_records") == [(1, "k1")]

    db.session.execute(text("UPDATE api_tokens SET revoked_at = :at WHERE user_id = 2"), {"at": at})
    db.session.commit()
    downgrade(directory=scratch, revision=BEFORE)
    back = rows("SELECT id, token_hash FROM users ORDER BY id")
    assert back[0] == (1, hash_token("officer-token"))
    assert back[1][1] not in (hash_token("admin-token"), None)  # a revoked token does not come back to life
    assert "api_tokens" not in inspect(db.engine).get_table_names()
    assert rows("SELECT user_id, grid_id FROM user_grids") == [(1, 1)]

    upgrade(directory=scratch)
    assert authenticate("officer-token", now=NOW).user is not None
    assert authenticate("admin-token", now=NOW).user is None
