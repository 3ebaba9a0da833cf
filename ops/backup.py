"""Backups: the database and the attachment store in one tar archive, and back.

The archive holds `manifest.json` (what, when, which migration, the audit digest to check a restore against),
the database — `database.pgdump` (pg_dump's custom format) or `database.sqlite3` (SQLite's online backup) —
and `attachments/` (the content-addressed store, copied after the dump: every file the dump refers to is
there; a file uploaded meanwhile is a harmless extra). A restore goes into an empty database only, then
checks what it restored: every trail's hash chain, the digest of the chain heads as of the manifest's
instant, and every attachment's file and thumbnail.

The nightly archive is the second line of defence; PostgreSQL's WAL archiving (point-in-time recovery, the
README's Backups section) is the first.
"""

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import URL, make_url

from models import Attachment
from models.base import db
from workflow import audit

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "attachments"
DUMPS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


def create_backup(*, url: str, attachment_dir: str, output: Path, now: datetime) -> dict:
    """Write the archive to `output` (atomically); returns its manifest."""
    url_, heads = make_url(url), audit.heads_digest(now - audit.ANCHOR_LAG)
    db.session.rollback()  # the digest is read; hold no transaction while the dump runs
    manifest = {"format": FORMAT, "created_at": now.isoformat(), "dialect": url_.get_backend_name(),
                "revisions": sorted(_revisions()), "audit": heads}
    with tempfile.TemporaryDirectory(prefix="rectify-backup-") as work:
        dump = Path(work) / DUMPS[manifest["dialect"]]
        _dump(url_, dump)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            tar.add(dump, arcname=dump.name)
            if Path(attachment_dir).is_dir():
                tar.add(attachment_dir, arcname=FILES)
        os.replace(partial, output)
    return manifest


def _revisions() -> set[str]:
    from workflow.health import database_revisions
    return database_revisions()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def _dump(url: URL, path: Path) -> None:
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(url.database, path)
        return
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-acl", "--file", str(path)], url)


def _sqlite_copy(source: str | Path, target: str | Path) -> None:
    """SQLite's online backup: a consistent copy even while the app writes."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _run(command: list[str], url: URL) -> None:
    """Run a PostgreSQL client with the URL's connection in PG* variables (never a password in argv)."""
    env = os.environ | {"PGHOST": url.host or "", "PGPORT": str(url.port or 5432), "PGUSER": url.username or "",
                        "PGDATABASE": url.database or ""}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


# --- restore -------------------------------------------------------------------------------------

def restore_backup(*, url: str, attachment_dir: str, archive: Path) -> dict:
    """Restore the archive into the empty database at `url` and into `attachment_dir`; returns the manifest."""
    url_ = make_url(url)
    with tarfile.open(archive, "r") as tar, tempfile.TemporaryDirectory(prefix="rectify-restore-") as work:
        manifest = _manifest(tar, url_)
        _refuse_unless_empty()
        dump = Path(work) / DUMPS[manifest["dialect"]]
        _extract(tar, [tar.getmember(dump.name)], Path(work))
        _load(url_, dump)
        _extract(tar, [m for m in tar.getmembers() if m.name == FILES or m.name.startswith(FILES + "/")],
                 Path(attachment_dir).parent, rename=Path(attachment_dir).name)
    return manifest


def _manifest(tar: tarfile.TarFile, url: URL) -> dict:
    try:
        manifest = json.load(tar.extractfile(MANIFEST))
    except KeyError:
        raise BackupError("not a Rectify backup: no manifest.json") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
    if manifest["dialect"] != url.get_backend_name():
        raise BackupError(f"a {manifest['dialect']} backup cannot be restored into {url.get_backend_name()}")
    return manifest


def _refuse_unless_empty() -> None:
    tables = set(inspect(db.engine).get_table_names())
    db.session.rollback()
    if tables:
        raise BackupError(f"the database is not empty ({len(tables)} tables): restore into a fresh database")


def _extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], into: Path, *, rename: str | None = None) -> None:
    """Extract members safely (no paths out of `into`, no devices or links out: tarfile's data filter)."""
    into.mkdir(parents=True, exist_ok=True)
    for member in members:
        if rename is not None:
            member.name = rename + member.name[len(FILES):]
        tar.extract(member, into, filter="data")


def _load(url: URL, dump: Path) -> None:
    db.engine.dispose()  # the target is replaced underneath: no pooled connection may survive it
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(dump, url.database)
        return
    _run(["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
          "--dbname", url.database or "", str(dump)], url)


# --- what a restore is checked against -----------------------------------------------------------

def check_restored(*, manifest: dict, storage) -> list[str]:
    """What is wrong with a restored database (empty when nothing): broken chains, a digest that differs
    from the manifest's, attachments whose file or thumbnail is missing."""
    problems = []
    verdict = audit.verify_chains(problem_id=None)
    if not verdict.intact:
        problems.append(str(verdict.broken))
    heads = audit.heads_digest(datetime.fromisoformat(manifest["audit"]["as_of"]))
    if heads["digest"] != manifest["audit"]["digest"]:
        problems.append(f"audit digest {heads['digest']} differs from the backup's {manifest['audit']['digest']}")
    missing = missing_attachments(storage)
    if missing:
        problems.append(f"{len(missing)} attachment files missing, e.g. {missing[0]}")
    db.session.rollback()
    return problems


def missing_attachments(storage) -> list[str]:
    """Storage keys of attachments (and their thumbnails) the store does not hold."""
    keys = db.session.scalars(select(Attachment.sha256).distinct())
    return [key for sha in keys for key in (sha, f"{sha}-thumb") if not storage.exists(key)]

