"""Evidence: photos that prove work was done where and when it was claimed (整改前后照片).

The type comes from the bytes (Pillow), never from the name or the header; EXIF time and GPS are read and
compared with the problem; what looks wrong is flagged on the photo and on the trail — flags inform the
verifier and the supervisor, they do not block.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Attachment, Problem, User
from models.base import db
from models.enums import Action
from workflow.calendar import CLOCK_SKEW
from workflow.errors import Invalid, PayloadTooLarge, UnsupportedMedia
from workflow.evidence.storage import Storage
from workflow.geo import haversine_m
from workflow.problems.events import Entry, Row, append_event
from workflow.problems.visibility import get_problem

pillow_heif.register_heif_opener()

KINDS = ("before", "after", "verification", "other")
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heif"}
THUMB_PX = 320
LONG_BEFORE_UPLOAD = timedelta(hours=24)
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs


@dataclass
class Photo:
    content_type: str
    width: int
    height: int
    taken_local: datetime | None
    lat: float | None
    lng: float | None
    thumbnail: bytes


def read_photo(data: bytes) -> Photo:
    """Decode an image from its bytes; UnsupportedMedia (415) if it is not one we take, Invalid (422) if broken."""
    if not data:
        raise Invalid("the file is empty", errors={"file": ["empty file"]})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in TYPES:
            raise UnsupportedMedia(f"{kind} images are not accepted; send JPEG, PNG, WebP or HEIC")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            exif = image.getexif()
            return Photo(TYPES[kind], image.width, image.height, _exif_time(exif), *_exif_gps(exif),
                         thumbnail=_thumbnail(image))
    except UnidentifiedImageError:
        raise UnsupportedMedia("the file is not an image we can read; send JPEG, PNG, WebP or HEIC") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise Invalid(f"the image is damaged or truncated: {error}", errors={"file": ["damaged image"]}) from None


def _thumbnail(image: Image.Image) -> bytes:
    small = ImageOps.exif_transpose(image).convert("RGB")
    small.thumbnail((THUMB_PX, THUMB_PX))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _exif_time(exif) -> datetime | None:
    raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    try:
        return datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S") if raw else None
    except ValueError:
        return None


def _exif_gps(exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(0x8825)
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lng = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    return (lat, lng) if -90 <= lat <= 90 and -180 <= lng <= 180 else (None, None)


def _degrees(dms, ref, negative: str) -> float:
    value = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    return -value if str(ref).upper().startswith(negative) else value


def _flags(problem: Problem, photo: Photo, taken_at: datetime | None, now: datetime, far_m: float) -> list[str]:
    flags = []
    if taken_at is None:
        flags.append("no_exif_time")
    else:
        flags += [name for name, on in (("taken_before_report", taken_at < problem.reported_at - CLOCK_SKEW),
                                        ("taken_long_before_upload", now - taken_at > LONG_BEFORE_UPLOAD),
                                        ("taken_in_future", taken_at > now + CLOCK_SKEW)) if on]
    if photo.lat is None:
        flags.append("no_exif_gps")
    elif problem.lat is not None and haversine_m(photo.lat, photo.lng, problem.lat, problem.lng) > far_m:
        flags.append("far_from_point")
    return flags


def add_attachment(*, actor: User, now: datetime, problem_id: int, kind: str, data: bytes, storage: Storage,
                   max_bytes: int, far_m: float, note: str | None = None,
                   client_id: str | None = None) -> tuple[Attachment, bool]:
    """Store a photo on a problem the caller can see; a repeated client_id returns the first one."""
    problem = get_problem(actor=actor, problem_id=problem_id)
    if client_id is not None and (existing := _by_client_id(problem, actor, client_id)):
        return existing, False
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r}", errors={"kind": [" | ".join(KINDS)]})
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"photos are limited to {max_bytes} bytes")
    photo = read_photo(data)
    # EXIF times are the camera's wall clock: read them in the problem's timezone.
    taken_at = (photo.taken_local.replace(tzinfo=ZoneInfo(problem.timezone)).astimezone(UTC)
                if photo.taken_local else None)
    digest = hashlib.sha256(data).hexdigest()
    storage.put(digest, data)
    storage.put(f"{digest}-thumb", photo.thumbnail)
    attachment = Attachment(problem_id=problem.id, kind=kind, content_type=photo.content_type, size=len(data),
                            sha256=digest, width=photo.width, height=photo.height, taken_at=taken_at,
                            lat=photo.lat, lng=photo.lng, flags=_flags(problem, photo, taken_at, now, far_m),
                            note=note, client_id=client_id, uploaded_by_id=actor.id, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(attachment)
    except IntegrityError:
        return _by_client_id(problem, actor, client_id), False
    _attach_event(problem, attachment, actor, now)
    return attachment, True


def _attach_event(problem: Problem, attachment: Attachment, actor: User, now: datetime) -> None:
    """An `attach` event on the trail, flags included; the version does not change."""
    entry = Entry(problem.state, {"attachment_id": attachment.id, "kind": attachment.kind, "flags": attachment.flags},
                  attachment.note, problem.stage)
    append_event(problem, actor, now, Action.ATTACH, entry, row=Row.SEQ)


def _by_client_id(problem: Problem, actor: User, client_id: str | None) -> Attachment | None:
    stmt = select(Attachment).where(Attachment.problem_id == problem.id, Attachment.uploaded_by_id == actor.id,
                                    Attachment.client_id == client_id)
    return db.session.scalars(stmt).first()


def list_attachments(*, actor: User, problem_id: int) -> list[Attachment]:
    get_problem(actor=actor, problem_id=problem_id)
    stmt = select(Attachment).where(Attachment.problem_id == problem_id).order_by(Attachment.id)
    return list(db.session.scalars(stmt))


def get_attachment(attachment_id: int) -> Attachment | None:
    """For a signed URL: the signature, not the caller, proves the right to read."""
    return db.session.get(Attachment, attachment_id)
