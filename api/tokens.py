"""Bearer tokens: one per device, each with an expiry, revocable; a user sees and revokes their own,
an admin issues and revokes anyone's."""

from marshmallow import Schema, fields, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, current_token, request_now, require_role
from api.errors import ProblemSchema
from api.fields import AwareDateTime, Computed, StrictString
from api.schemas import In
from api.write import write
from workflow import auth

blp = Blueprint("tokens", __name__, url_prefix="/api/v1",
                description="Bearer tokens (one per device): list and revoke your own; admins issue and revoke.")


class TokenIn(In):
    label = StrictString(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "which device or purpose, e.g. 'phone' or 'desktop'"})
    expires_at = AwareDateTime(metadata={"description": "default: one year from now; at most three years"})


class TokenOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    label = fields.String()
    status = Computed(lambda token: token.status(request_now()),
                      returns=fields.String(validate=validate.OneOf(["active", "expired", "revoked"])))
    current = Computed(lambda token: token.id == current_token().id, returns=fields.Boolean(),
                       metadata={"description": "true for the token this request was made with"})
    created_by = fields.Integer(attribute="created_by_id", allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: never (tokens that predate expiry)"})
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})


class NewTokenOut(TokenOut):
    token = fields.String(allow_none=True, metadata={"description": "the bearer token: shown once; null on replays"})


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut))
    next_cursor = fields.String(allow_none=True)


@blp.route("/me/tokens", methods=["GET"])
@blp.response(200, TokenList)
def my_tokens():
    """The caller's tokens (never their values), oldest first; `current` marks the one in use."""
    return {"items": auth.list_tokens(actor=current_actor(), user_id=current_actor().id), "next_cursor": None}


@blp.route(f"/me/tokens/<{ID}:token_id>", methods=["DELETE"])
@write
@blp.response(204)
@blp.alt_response(404, schema=ProblemSchema)
def revoke_my_token(token_id):
    """Revoke one of your tokens (a lost phone's, or the one in use: it stops working at once)."""
    auth.revoke_token(actor=current_actor(), now=request_now(), user_id=current_actor().id, token_id=token_id)


@blp.route(f"/users/<{ID}:user_id>/tokens", methods=["GET"])
@blp.response(200, TokenList)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def user_tokens(user_id):
    """A user's tokens (admin; anyone for themselves)."""
    return {"items": auth.list_tokens(actor=current_actor(), user_id=user_id), "next_cursor": None}


@blp.route(f"/users/<{ID}:user_id>/tokens", methods=["POST"])
@write(scrub=("token",))
@blp.arguments(TokenIn)
@blp.response(201, NewTokenOut)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def issue_token(data, user_id):
    """Issue a user a token for another device (admin); the response carries it, once."""
    require_role("admin")
    row, token = auth.issue_token_for(actor=current_actor(), now=request_now(), user_id=user_id, **data)
    row.token = token
    return row, 201


@blp.route(f"/users/<{ID}:user_id>/tokens/<{ID}:token_id>", methods=["DELETE"])
@write
@blp.response(204)
@blp.alt_response(403, schema=ProblemSchema)
@blp.alt_response(404, schema=ProblemSchema)
def revoke_token(user_id, token_id):
    """Revoke a user's token (admin; anyone their own)."""
    auth.revoke_token(actor=current_actor(), now=request_now(), user_id=user_id, token_id=token_id)
