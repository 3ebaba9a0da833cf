"""Evidence: upload photos to a problem, list them, and serve them through signed, expiring URLs."""

import hashlib
import hmac

from flask import Response, current_app, url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now
from api.errors import ProblemSchema, problem_response
from api.fields import Computed, StrictString
from api.problems import visible_problem
from api.schemas import In
from api.write import write
from workflow.evidence import attachments

blp = Blueprint("evidence", __name__, url_prefix="/api/v1",
                description="Evidence (整改照片): photos before, after and at verification.")


class UploadForm(In):
    kind = fields.String(required=True, validate=validate.OneOf(attachments.KINDS))
    note = StrictString(validate=validate.Length(max=2000))
    client_id = StrictString(validate=validate.Length(min=1, max=100))


class UploadFiles(In):
    file = Upload(required=True)


class ContentArgs(In):
    variant = fields.String(load_default="original", validate=validate.OneOf(["original", "thumbnail"]))
    exp = fields.Integer(required=True, validate=validate.Range(min=0, max=2**40))
    sig = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


def _signature(attachment_id: int, variant: str, exp: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{attachment_id}:{variant}:{exp}".encode(), hashlib.sha256).hexdigest()


def signed_url(attachment, variant: str) -> str:
    """A URL an <img> can load without a header, good for SIGNED_URL_SECONDS."""
    exp = int(request_now().timestamp()) + current_app.config["SIGNED_URL_SECONDS"]
    return url_for("evidence.content", attachment_id=attachment.id, variant=variant, exp=exp,
                   sig=_signature(attachment.id, variant, exp))


# A signed link lives SIGNED_URL_SECONDS; one claiming longer was not made here (hosts' clocks may differ a little).
CLOCK_SKEW_SECONDS = 60


def exp_alive(exp: int) -> bool:
    """Whether a signed link's expiry lies between now and now + SIGNED_URL_SECONDS (plus a little skew): a
    forged far-future `exp` is refused even when the signature checks out."""
    now = request_now().timestamp()
    return now <= exp <= now + current_app.config["SIGNED_URL_SECONDS"] + CLOCK_SKEW_SECONDS


class AttachmentOut(Schema):
    id = fields.Integer()
    problem_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(attachments.KINDS))
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    taken_at = fields.DateTime(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    flags = fields.List(fields.String())
    note = fields.String(allow_none=True)
    url = Computed(lambda a: signed_url(a, "original"), returns=fields.String())
    thumbnail_url = Computed(lambda a: signed_url(a, "thumbnail"), returns=fields.String())
    uploaded_by = fields.Integer(attribute="uploaded_by_id")
    created_at = fields.DateTime()


class AttachmentList(Schema):
    items = fields.List(fields.Nested(AttachmentOut))
    next_cursor = fields.String(allow_none=True)


@blp.route(f"/problems/<{ID}:problem_id>/attachments", methods=["POST"], endpoint="upload")
@write
@visible_problem
@blp.arguments(UploadForm, location="form")
@blp.arguments(UploadFiles, location="files")
@blp.response(201, AttachmentOut)
@blp.alt_response(200, schema=AttachmentOut, description="A repeated client_id: the first upload")
@blp.alt_response(413, schema=ProblemSchema)
@blp.alt_response(415, schema=ProblemSchema)
def upload(form, files, problem_id):
    """Upload a photo (multipart: kind, file, note?, client_id?); its type is read from its bytes."""
    config = current_app.config
    attachment, created = attachments.add_attachment(
        actor=current_actor(), now=request_now(), problem_id=problem_id, data=files["file"].read(),
        storage=current_app.extensions["rectify_storage"], max_bytes=config["ATTACHMENT_MAX_BYTES"],
        far_m=config["ATTACHMENT_FAR_METRES"], **form)
    return attachment, 201 if created else 200


@blp.route(f"/problems/<{ID}:problem_id>/attachments", methods=["GET"], endpoint="list")
@blp.response(200, AttachmentList)
@blp.alt_response(404, schema=ProblemSchema)
def list_attachments(problem_id):
    """A problem's photos, oldest first, each with signed URLs valid for 15 minutes."""
    return {"items": attachments.list_attachments(actor=current_actor(), problem_id=problem_id), "next_cursor": None}


@blp.route(f"/attachments/<{ID}:attachment_id>/content", methods=["GET"], endpoint="content")
@blp.arguments(ContentArgs, location="query")
@blp.response(200, content_type="application/octet-stream",
              description="The image (or its JPEG thumbnail); the signed URL is the credential")
@blp.alt_response(403, schema=ProblemSchema)
@blp.doc(security=[])
def content(args, attachment_id):
    """The bytes, for a URL from `url`/`thumbnail_url`: no Authorization header needed until it expires."""
    expected = _signature(attachment_id, args["variant"], args["exp"])
    attachment = attachments.get_attachment(attachment_id)
    if not hmac.compare_digest(expected, args["sig"]) or not exp_alive(args["exp"]) or attachment is None:
        return problem_response(403, detail="This link is forged or has expired; list the attachments again.")
    thumb = args["variant"] == "thumbnail"
    data = current_app.extensions["rectify_storage"].get(f"{attachment.sha256}-thumb" if thumb else attachment.sha256)
    response = Response(data, mimetype="image/jpeg" if thumb else attachment.content_type)
    # Never let a browser treat the bytes as anything but the image they are.
    response.headers.update({"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
                             "Content-Disposition": f'inline; filename="{attachment.sha256[:16]}"',
                             "Cache-Control": "private, max-age=900"})
    return response
