"""The campaign migrations (list parents, non-spatial categories, activities), on a database of their own: a star
keeps its drive and a photo its activity through the upgrade; the downgrade refuses while a problem has no grid,
and goes back cleanly once none has, keeping every problem and list."""

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from models import db

BEFORE = "b7d2e4f6a810"  # console logins, the head before the campaign revisions

ROWS = """
INSERT INTO units (id, name, kind, path, timezone, created_at)
    VALUES (1, 'east', 'subdistrict', '/1/', 'Asia/Shanghai', :at);
INSERT INTO grids (id, name, unit_id, created_at) VALUES (1, 'east', 1, :at);
INSERT INTO users (id, name, role, unit_id, active, created_at) VALUES (1, 'boss', 'supervisor', 1, true, :at);
INSERT INTO categories (id, code, name, requires_after_photo, requires_verification_photo, pause_on_extension,
                        limits, active) VALUES (1, 'charter', '制度建设', false, false, false, '{}', true);
INSERT INTO problem_lists (id, kind, name, lead_unit_id, unit_ids, state, created_at)
    VALUES (1, 'campaign', '五星支部创建', 1, '[]', 'open', :at);
"""


def rows(sql: str) -> list[tuple]:
    found = [tuple(row) for row in db.session.execute(text(sql)).all()]
    db.session.rollback()
    return found


def run(sql: str, at) -> None:
    for statement in filter(str.strip, sql.split(";")):
        db.session.execute(text(statement), {"at": at})
    db.session.commit()


def test_the_campaign_revisions_go_up_and_down(scratch):
    upgrade(directory=scratch, revision=BEFORE)
    at = "2026-11-25 02:00:00" if db.engine.dialect.name == "sqlite" else "2026-11-25T02:00:00+00:00"
    run(ROWS, at)
    upgrade(directory=scratch)
    assert rows("SELECT spatial FROM categories") in ([(True,)], [(1,)])
    run("""INSERT INTO problem_lists (id, kind, name, lead_unit_id, unit_ids, state, created_at, parent_id)
               VALUES (2, 'star', '支部建设星', 1, '[]', 'open', :at, 1);
           UPDATE categories SET spatial = false;
           INSERT INTO problems (id, code, state, category_id, title, severity, grid_id, grid_unit_id, timezone,
                                 reporter_id, resolved_on_site, reported_at, updated_at, stage_cycle, stage_elapsed_s,
                                 rework_count, escalation_level, supervised, extension_count, version, last_seq)
               VALUES (1, 'LY-1', 'reported', 1, '制度未上墙', 'normal', NULL, 1, 'Asia/Shanghai', 1, false, :at, :at,
                       0, 0, 0, 0, false, 0, 1, 1);
           INSERT INTO campaign_activities (id, list_id, kind, starts_at, place, unit_id, timezone, participants,
                                            created_by_id, created_at)
               VALUES (1, 2, 'training', :at, '会议室', 1, 'Asia/Shanghai', 12, 1, :at)""", at)
    assert rows("SELECT id, parent_id FROM problem_lists ORDER BY id") == [(1, None), (2, 1)]

    head = rows("SELECT version_num FROM alembic_version")[0][0]
    with pytest.raises(SystemExit):  # Flask-Migrate reports the refusal and exits 1
        downgrade(directory=scratch, revision=BEFORE)
    db.session.rollback()
    # The non-spatial revision refused and stays. SQLite's DDL is not transactional: each revision is its own
    # step, so the activities went. PostgreSQL downgrades in one transaction, except that an online step (an index
    # dropped CONCURRENTLY, decision 0052) commits what went down before it: the database stands at the head or
    # at such a step, never below the refusing revision.
    refused = "b4e6f8a0c2d1"
    if db.engine.dialect.name == "postgresql":
        stays = {refused, *(r.revision for r in ScriptDirectory(scratch).iterate_revisions(head, refused))}
    else:
        stays = {refused}
    assert rows("SELECT version_num FROM alembic_version")[0][0] in stays
    assert rows("SELECT id FROM problems WHERE grid_id IS NULL") == [(1,)]
    run("UPDATE problems SET grid_id = 1", at)
    downgrade(directory=scratch, revision=BEFORE)
    inspector = inspect(db.engine)
    assert "campaign_activities" not in inspector.get_table_names()
    assert "parent_id" not in {c["name"] for c in inspector.get_columns("problem_lists")}
    assert "spatial" not in {c["name"] for c in inspector.get_columns("categories")}
    assert "activity_id" not in {c["name"] for c in inspector.get_columns("inspection_photos")}
    assert rows("SELECT id, grid_id FROM problems") == [(1, 1)]
    assert rows("SELECT id FROM problem_lists ORDER BY id") == [(1,), (2,)]
    upgrade(directory=scratch)
