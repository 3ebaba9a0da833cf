"""Open311 API keys (admin): one per client application, shown once, revocable."""

from marshmallow import Schema, fields, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, request_now, require_role
from api.errors import ProblemSchema
from api.fields import Computed, StrictString
from api.schemas import In, PageArgs
from api.write import write
from workflow.intake import keys

blp = Blueprint("open311_keys", __name__, url_prefix="/api/v1/open311-keys",
                description="Open311 API keys (admin): one per client application; hashed, revocable.")


class KeyIn(In):
    name = StrictString(required=True, validate=validate.Length(min=1, max=100),
                        metadata={"description": "the client application, e.g. 'city app'"})


class KeyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    user_id = fields.Integer(metadata={"description": "the application's system account (role public): the "
                                                      "reporter of what it posts"})
    status = Computed(lambda row: "revoked" if row.revoked_at else "active",
                      returns=fields.String(validate=validate.OneOf(["active", "revoked"])))
    created_by = fields.Integer(attribute="created_by_id", allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})


class NewKeyOut(KeyOut):
    api_key = fields.String(allow_none=True, metadata={"description": "the key: shown once; null on replays"})


class KeyPage(Schema):
    items = fields.List(fields.Nested(KeyOut))
    next_cursor = fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, KeyPage)
@blp.alt_response(403, schema=ProblemSchema)
def list_keys(args):
    """Every key (never its value), oldest first."""
    require_role("admin")
    return keys.list_keys(actor=current_actor(), **args)


@blp.route("", methods=["POST"])
@write(scrub=("api_key",))
@blp.arguments(KeyIn)
@blp.response(201, NewKeyOut)
@blp.alt_response(403, schema=ProblemSchema)
def create_key(data):
    """A key for a client application; the response carries it, once."""
    require_role("admin")
    row, key = keys.create_key(actor=current_actor(), now=request_now(), **data)
    row.api_key = key
    return row, 201


@blp.route(f"/<{ID}:key_id>", methods=["DELETE"])
@write
@blp.response(204)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def revoke_key(key_id):
    """Revoke a key: its application can no longer post (reads stay public)."""
    require_role("admin")
    keys.revoke_key(actor=current_actor(), now=request_now(), key_id=key_id)
