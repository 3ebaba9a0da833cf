"""The boundary of every write: one commit, and Idempotency-Key replay for retried requests."""

import functools
import json

from flask import Response, g, make_response, request
from sqlalchemy.exc import IntegrityError

from api.context import current_actor, request_now
from api.errors import from_domain
from models.base import db
from workflow import idempotency
from workflow.errors import DomainError, Invalid

KEPT_HEADERS = ("Content-Type", "ETag", "Location", "Deprecation")
# Answers about the If-Match header are not the request's outcome: a retry that fixes it must run.
NOT_STORED = frozenset({412, 428})
MAX_KEY_LENGTH = 255


class Replay(Exception):
    def __init__(self, response: Response):
        super().__init__("replay")
        self.response = response


def check_replay() -> None:
    """At the contract's replay point: answer a retried request with its stored first response."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return
    idempotency.claim(user_id=current_actor().id, key=_checked(key))
    record = idempotency.find(user_id=current_actor().id, key=key, request_hash=_fingerprint(),
                              now=request_now())
    if record is not None:
        response = Response(record.body, status=record.status, headers=record.headers)
        response.headers["Idempotent-Replayed"] = "true"
        raise Replay(response)
    g.idempotency_key = key


def _checked(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid("Idempotency-Key must be 1-255 printable characters",
                                  errors={"Idempotency-Key": ["1-255 printable characters"]})
    return key


def _fingerprint() -> str:
    return idempotency.fingerprint(request.method, request.path, request.get_data())


def write(view):
    """Commit once what the view did; store the response when the request has an Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            response = make_response(view(*args, **kwargs))
        except Replay as replay:
            db.session.rollback()
            return replay.response
        except DomainError as error:
            db.session.rollback()
            response = from_domain(error)
        if response.status_code >= 400 and ("idempotency_key" not in g or response.status_code in NOT_STORED):
            return response
        return _commit(response)

    return wrapper


def _commit(response: Response) -> Response:
    key = g.get("idempotency_key")
    try:
        if key is not None:
            _store(key, response)
        db.session.commit()
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        db.session.rollback()
        if key is None:
            raise
        try:
            check_replay()
        except Replay as replay:
            return replay.response
        raise
    return response


def _store(key: str, response: Response) -> None:
    body = response.get_data(as_text=True)
    secrets = g.get("idempotency_scrub", ())
    if secrets and response.is_json:
        body = json.dumps(json.loads(body) | {name: None for name in secrets}, ensure_ascii=False)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    idempotency.store(user_id=current_actor().id, key=key, request_hash=_fingerprint(),
                      status=response.status_code, body=body, headers=headers, now=request_now())
