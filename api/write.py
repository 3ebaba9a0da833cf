"""The boundary of every write: one commit, and Idempotency-Key replay for retried requests.

`@write` owns the replay by construction: a request with a stored key is answered before the view runs,
so no handler has to remember it (docs/decisions/0001-replay-before-the-view.md).
"""

import functools
import hashlib
import json

from flask import Response, make_response, request
from sqlalchemy.exc import IntegrityError

from api.context import current_actor, request_now
from api.errors import from_domain
from models import IdempotencyRecord
from models.base import db
from workflow import idempotency, waiting
from workflow.errors import DomainError, IdempotencyInFlight, Invalid

KEPT_HEADERS = ("Content-Type", "ETag", "Location", "Deprecation")
# Answers about the If-Match header are not the request's outcome: a retry that fixes it must run.
NOT_STORED = frozenset({412, 428})
MAX_KEY_LENGTH = 255


def write(view=None, *, scrub: tuple[str, ...] = ()):
    """Replay a stored Idempotency-Key answer, else run the view, commit once and store its answer.

    `scrub` names response fields that are secrets: the stored copy has them null (`@write(scrub=("token",))`).
    """
    if view is None:
        return functools.partial(write, scrub=scrub)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with waiting.deferring():
            return _run(view, args, kwargs, scrub)

    wrapper.honours_idempotency_key = True
    return wrapper


def _run(view, args, kwargs, scrub: tuple[str, ...]) -> Response:
    claim = None
    try:
        claim, record = _claim()
        if record is not None:
            replay = _replayed(record)  # before the rollback expires the record
            db.session.rollback()
            return replay
        response = make_response(view(*args, **kwargs))
    except DomainError as error:
        db.session.rollback()
        response = from_domain(error)
    if not _stored(response, claim):
        return _refused(response, claim)
    return _commit(response, claim, scrub)


def _claim() -> tuple[tuple[str, str] | None, IdempotencyRecord | None]:
    """The request's (key, fingerprint), the key held for this transaction, and the answer stored under it
    (one statement); (None, None) without a key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None, None
    claim = _checked(key), idempotency.fingerprint(request.method, request.path, _canonical_body())
    return claim, idempotency.claim(user_id=current_actor().id, key=claim[0], request_hash=claim[1],
                                    now=request_now())


def _replay(key: str, request_hash: str) -> Response | None:
    record = idempotency.find(user_id=current_actor().id, key=key, request_hash=request_hash, now=request_now())
    return None if record is None else _replayed(record)


def _replayed(record: IdempotencyRecord) -> Response:
    response = Response(record.body, status=record.status, headers=record.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _refused(response: Response, claim: tuple[str, str] | None) -> Response:
    """An answer not stored (412, 428, 5xx, or a refusal without a key). A stale If-Match under a key may be
    the key's own first request, committed just as this one claimed the key: then answer as it did."""
    if claim is None or response.status_code != 412:
        return response
    db.session.rollback()
    return _stored_answer(claim) or response


def _stored_answer(claim: tuple[str, str]) -> Response | None:
    """The answer stored under the key (a refusal if it was stored for another request), None if there is none."""
    try:
        return _replay(*claim)
    except DomainError as error:
        return from_domain(error)


def _stored(response: Response, claim: tuple[str, str] | None) -> bool:
    """Whether the answer is committed: a success always; a refusal only to keep it under a key."""
    if response.status_code < 400:
        return True
    return claim is not None and response.status_code < 500 and response.status_code not in NOT_STORED


def _checked(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid("Idempotency-Key must be 1-255 printable characters",
                      errors={"Idempotency-Key": ["1-255 printable characters"]})
    return key


def _canonical_body() -> bytes:
    """The body as fingerprinted: an upload by its form fields and its files' SHA-256, else the raw bytes."""
    if request.mimetype != "multipart/form-data":
        return request.get_data()
    fields = {name: request.form.getlist(name) for name in request.form}
    files = {name: [_sha256(file.stream) for file in request.files.getlist(name)] for name in request.files}
    return json.dumps({"form": fields, "files": files}, sort_keys=True).encode()


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        digest.update(chunk)
    stream.seek(0)  # the view reads the file after us
    return digest.hexdigest()


def _commit(response: Response, claim: tuple[str, str] | None, scrub: tuple[str, ...]) -> Response:
    try:
        if claim is not None and not _store(*claim, response, scrub):
            return _as_the_first(claim)
        waiting.flush()  # a write held back for the answer, when no key's record is stored with it
        db.session.commit()
    except DomainError as error:  # the held write found the row moved since it was read (412)
        db.session.rollback()
        return _refused(from_domain(error), claim)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        db.session.rollback()
        replay = _stored_answer(claim) if claim is not None else None
        if replay is None:
            raise
        return replay
    return response


def _as_the_first(claim: tuple[str, str]) -> Response:
    """Drop this request's change and answer as the request that stored its key first did."""
    db.session.rollback()
    replay = _stored_answer(claim)
    return replay if replay is not None else from_domain(
        IdempotencyInFlight("a request with this Idempotency-Key is still being processed; retry shortly"))


def _store(key: str, request_hash: str, response: Response, scrub: tuple[str, ...]) -> bool:
    body = response.get_data(as_text=True)
    if scrub and response.is_json:
        body = json.dumps(json.loads(body) | dict.fromkeys(scrub), ensure_ascii=False)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return idempotency.store(user_id=current_actor().id, key=key, request_hash=request_hash,
                      status=response.status_code, body=body, headers=headers, now=request_now())
