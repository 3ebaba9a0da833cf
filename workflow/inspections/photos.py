"""Photos taken for inspection items: uploaded first (a phone may be offline until it syncs), then named by
the inspection's results (`photo_ids`). Read and stored like evidence photos: the type from the bytes."""

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Inspection, InspectionPhoto, Unit, User
from models.base import db
from models.enums import Role
from workflow.errors import Forbidden, NotFound, PayloadTooLarge
from workflow.evidence.attachments import read_photo
from workflow.evidence.storage import Storage
from workflow.inspections.inspections import visible_inspections
from workflow.ledger import activities

UPLOADERS = frozenset({Role.OFFICER, Role.SUPERVISOR})


def add_photo(*, actor: User, now: datetime, data: bytes, storage: Storage, max_bytes: int,
              client_id: str | None = None) -> tuple[InspectionPhoto, bool]:
    """Store a photo for a coming inspection; a repeated client_id returns the first one."""
    if actor.role not in UPLOADERS:
        raise Forbidden("officers and supervisors take inspection photos")
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing, False
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"photos are limited to {max_bytes} bytes")
    photo = read_photo(data)
    tz = ZoneInfo(db.session.get(Unit, actor.unit_id).timezone) if actor.unit_id else UTC
    digest = hashlib.sha256(data).hexdigest()
    storage.put(digest, data)
    storage.put(f"{digest}-thumb", photo.thumbnail)
    row = InspectionPhoto(sha256=digest, content_type=photo.content_type, size=len(data), width=photo.width,
                          height=photo.height, client_id=client_id, uploaded_by_id=actor.id, created_at=now,
                          taken_at=photo.taken_local.replace(tzinfo=tz).astimezone(UTC) if photo.taken_local else None)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return _by_client_id(actor, client_id), False
    return row, True


def _by_client_id(actor: User, client_id: str | None) -> InspectionPhoto | None:
    stmt = select(InspectionPhoto).where(InspectionPhoto.uploaded_by_id == actor.id,
                                         InspectionPhoto.client_id == client_id)
    return db.session.scalars(stmt).first()


def get_photo(*, actor: User, photo_id: int) -> InspectionPhoto:
    """A photo its uploader, or anyone who sees the inspection or the campaign activity that used it, may read."""
    photo = db.session.get(InspectionPhoto, photo_id)
    visible = photo is not None and (photo.uploaded_by_id == actor.id or (
        photo.inspection_id is not None and db.session.scalar(
            select(Inspection.id).where(Inspection.id == photo.inspection_id, visible_inspections(actor)))) or (
        photo.activity_id is not None and activities.readable(actor, photo.activity_id)))
    if not visible:
        raise NotFound(f"photo {photo_id} not found")
    return photo


def photo_by_id(photo_id: int) -> InspectionPhoto | None:
    """For a signed URL: the signature, not the caller, proves the right to read."""
    return db.session.get(InspectionPhoto, photo_id)
