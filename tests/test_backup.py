"""Backups that restore: `flask backup` of a database with trails and photos, `flask restore` into a fresh
database and attachment store, then `flask audit verify` intact, `flask audit digest` equal, photos there."""

import json
import tarfile
from datetime import timedelta

import pytest
from flask_migrate import upgrade

from app import create_app
from config.settings import Testing
from models import db
from tests.api.test_evidence import photo
from tests.conftest import NOW, own_database
from tests.factories import PATHS, World
from workflow.evidence import attachments

AS_OF = (NOW + timedelta(hours=1)).isoformat()


def make_app(url: str, attachments_dir):
    return create_app(type("BackupConfig", (Testing,), {"SQLALCHEMY_DATABASE_URI": url,
                                                       "ATTACHMENT_DIR": str(attachments_dir)}))


@pytest.fixture
def source(tmp_path):
    """A migrated database of its own with a closed problem, a waiting one with a comment, and two photos."""
    with own_database("rectify_backup_source", tmp_path) as url:
        app = make_app(url, tmp_path / "source-attachments")
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            world = World.build(now=NOW)
            db.session.commit()
            closed, waiting = world.report(), world.report()
            storage = app.extensions["rectify_storage"]
            for problem, size in ((closed, (64, 48)), (waiting, (48, 64))):
                attachments.add_attachment(actor=world.users["officer"], now=NOW, problem_id=problem.id,
                                           kind="before", data=photo(size=size), storage=storage,
                                           max_bytes=app.config["ATTACHMENT_MAX_BYTES"], far_m=200)
            db.session.commit()
            for action, by, fields in PATHS["closed"](world):  # photos come before the close (none after it)
                closed = world.act(closed, action, by=by, **fields)
            db.session.remove()
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def target(tmp_path):
    """An empty database of its own (not migrated: the restore brings the schema) and an empty store."""
    with own_database("rectify_backup_target", tmp_path) as url:
        app = make_app(url, tmp_path / "restored-attachments")
        yield app
        with app.app_context():
            db.engine.dispose()


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout + result.stderr


def test_a_backup_restores_into_a_fresh_database_with_trails_digests_and_photos_intact(source, target, tmp_path):
    archive = tmp_path / "rectify.backup"
    code, said = run(source, "backup", "--output", str(archive))
    assert code == 0, said
    digest_before = run(source, "audit", "digest", "--as-of", AS_OF)

    code, said = run(target, "restore", str(archive))
    assert code == 0, said
    assert "trails intact" in said and "attachments present" in said
    assert run(target, "audit", "verify") == (0, "intact: 2 problems, 9 events\n")  # 6 + 1, and an attach event each
    assert run(target, "audit", "digest", "--as-of", AS_OF) == digest_before
    with source.app_context():
        keys = [(a.sha256, source.extensions["rectify_storage"].get(a.sha256)) for a in
                db.session.scalars(db.select(attachments.Attachment))]
    with target.app_context():
        restored = target.extensions["rectify_storage"]
        assert len(keys) == 2 and all(restored.get(key) == data and restored.exists(f"{key}-thumb")
                                      for key, data in keys)


def test_the_archive_holds_a_manifest_the_dump_and_the_photos(source, tmp_path):
    archive = tmp_path / "rectify.backup"
    assert run(source, "backup", "-o", str(archive))[0] == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    dump = "database.pgdump" if manifest["dialect"] == "postgresql" else "database.sqlite3"
    assert names[:2] == ["manifest.json", dump]
    assert sum(1 for name in names if name.startswith("attachments/") and name.count("/") == 3) == 4
    assert (manifest["audit"]["problems"], manifest["audit"]["events"]) == (2, 9)
    with source.app_context():
        assert manifest["revisions"] == sorted(source.extensions["rectify_migration_heads"]())


def test_a_restore_into_a_database_that_is_not_empty_is_refused_and_changes_nothing(source, tmp_path):
    archive = tmp_path / "rectify.backup"
    assert run(source, "backup", "-o", str(archive))[0] == 0
    code, said = run(source, "restore", str(archive))
    assert code == 1 and "restore into a fresh database" in said
    assert run(source, "audit", "verify")[0] == 0


def test_a_restore_that_lost_a_photo_says_so(source, target, tmp_path):
    archive, broken = tmp_path / "rectify.backup", tmp_path / "broken.backup"
    assert run(source, "backup", "-o", str(archive))[0] == 0
    with tarfile.open(archive) as tar, tarfile.open(broken, "w") as out:
        photos = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("attachments/")]
        for member in tar.getmembers():
            if member is not photos[0]:
                out.addfile(member, tar.extractfile(member) if member.isfile() else None)
    code, said = run(target, "restore", str(broken))
    assert code == 1 and "PROBLEM: 1 attachment files missing" in said


def test_something_that_is_not_a_backup_is_refused(target, tmp_path):
    fake = tmp_path / "fake.backup"
    with tarfile.open(fake, "w") as tar:
        tar.add(__file__, arcname="notes.txt")
    code, said = run(target, "restore", str(fake))
    assert code == 1 and "not a Rectify backup" in said
