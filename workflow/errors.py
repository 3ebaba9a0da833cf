"""Domain errors. Each knows its HTTP status and a stable slug; api/errors.py renders them."""


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.extra = extra or {}


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class SeparationOfDuties(Forbidden):
    slug, title = "separation-of-duties", "Separation of duties"


class Invalid(DomainError):
    status, slug, title = 422, "validation", "Invalid request"


class OutsideArea(Invalid):
    slug, title = "outside-area", "Outside the district"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "Action not allowed in this state"


class ExtensionConflict(Conflict):
    slug, title = "extension-conflict", "Extension request conflict"


class EvidenceRequired(Conflict):
    slug, title = "evidence-required", "Evidence required"


class IdempotencyInFlight(Conflict):
    slug, title = "idempotency-in-flight", "Request in flight"


class UnsupportedMedia(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "if-match-required", "If-Match required"


class Stale(DomainError):
    status, slug, title = 412, "stale-version", "Stale version"


ERROR_TYPES = [
    NotFound, Forbidden, SeparationOfDuties, Invalid, OutsideArea, Conflict, InvalidTransition,
    ExtensionConflict, EvidenceRequired, IdempotencyInFlight, UnsupportedMedia, PayloadTooLarge,
    PreconditionRequired, Stale,
]
