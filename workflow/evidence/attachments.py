"""Evidence: photos that prove work was done where and when it was claimed (整改前后照片).

The type comes from the bytes (Pillow), never from the name or the header; EXIF time and GPS are read and
compared with the problem; what looks wrong is flagged on the photo and on the trail — flags inform the
verifier and the supervisor, they do not block.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Attachment, Problem, User
from models.base import db
from models.enums import FINISHED_STATES, Action
from workflow.calendar import CLOCK_SKEW
from workflow.errors import Invalid, InvalidTransition, PayloadTooLarge, UnsupportedMedia
from workflow.evidence.storage import Storage
from workflow.geo import haversine_m
from workflow.problems.actions import allowed_actions
from workflow.problems.events import Entry, Row, append_event
from workflow.problems.visibility import get_problem

pillow_heif.register_heif_opener()

KINDS = ("before", "after", "verification", "other")
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heif"}
THUMB_PX = 320
LONG_BEFORE_UPLOAD = timedelta(hours=24)
# Pixels a photo may have (PHOTO_MAX_PIXELS; a 48 MP phone camera's 8000 × 6000 fits): checked from the header
# before anything is decoded, so a small file that would unpack into gigabytes (a decompression bomb) costs
# nothing. Pillow's own limit is the same number, and its warning is an error here.
Image.MAX_IMAGE_PIXELS = 50_000_000
EARLIEST_EXIF = datetime(1970, 1, 1)
LATEST_EXIF = datetime(2100, 1, 1)


@dataclass
class Photo:
    content_type: str
    width: int
    height: int
    taken_local: datetime | None
    lat: float | None
    lng: float | None
    thumbnail: bytes


def limit_pixels(max_pixels: int) -> None:
    """Set how many pixels a photo may have (the app does, from PHOTO_MAX_PIXELS): for this process."""
    Image.MAX_IMAGE_PIXELS = max_pixels


def read_photo(data: bytes) -> Photo:
    """Decode an image from its bytes; UnsupportedMedia (415) if it is not one we take, Invalid (422) if broken,
    PayloadTooLarge (413) if its header announces more pixels than allowed (nothing is decoded then)."""
    max_pixels = Image.MAX_IMAGE_PIXELS
    if not data:
        raise Invalid("the file is empty", errors={"file": ["empty file"]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(data, max_pixels)
    except UnidentifiedImageError:
        raise UnsupportedMedia("the file is not an image we can read; send JPEG, PNG, WebP or HEIC") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(f"photos are limited to {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise Invalid(f"the image is damaged or truncated: {error}", errors={"file": ["damaged image"]}) from None


def _decode(data: bytes, max_pixels: int) -> Photo:
    with Image.open(io.BytesIO(data)) as probe:
        kind, (width, height) = probe.format, probe.size
        if width * height > max_pixels:  # from the header: refused before a pixel is decoded
            raise PayloadTooLarge(f"photos are limited to {max_pixels} pixels; this one has {width} × {height}")
        probe.verify()
    if kind not in TYPES:
        raise UnsupportedMedia(f"{kind} images are not accepted; send JPEG, PNG, WebP or HEIC")
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMB_PX, THUMB_PX))  # JPEG: decode at 1/2..1/8 scale, enough for the thumbnail
        image.load()
        exif = image.getexif()
        return Photo(TYPES[kind], width, height, _exif_time(exif), *_exif_gps(exif), thumbnail=_thumbnail(image))


def _thumbnail(image: Image.Image) -> bytes:
    image.thumbnail((THUMB_PX, THUMB_PX))  # in place, reducing by whole factors first (Image.reduce)
    small = ImageOps.exif_transpose(image).convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _exif_time(exif) -> datetime | None:
    """The camera's wall clock, or None when missing, unreadable or outside 1970-2100 (0001:01:01 happens)."""
    raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    try:
        taken = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S") if raw else None
    except ValueError:
        return None
    return taken if taken is not None and EARLIEST_EXIF <= taken < LATEST_EXIF else None


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
    if problem.state in FINISHED_STATES:  # its trail is complete: nothing is added after the close (as for comments)
        raise InvalidTransition(f"a problem that is {problem.state} takes no more photos",
                                extra={"state": problem.state, "allowed_actions": allowed_actions(problem, actor, now)})
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
