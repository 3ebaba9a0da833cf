"""Error kinds and domain errors. ERROR_KINDS is the one table of status, slug and titles; api/errors.py renders it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    """One kind of error a client can switch on: `/errors/<slug>`, with its title in Chinese and English."""

    status: int
    slug: str
    zh: str
    en: str

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


# The first kind listed for a status is the one an HTTP error of that status gets when it names none.
ERROR_KINDS = (
    ErrorKind(400, "bad-request", "请求无法解析", "Bad request"),
    ErrorKind(401, "unauthenticated", "需要登录凭证", "Authentication required"),
    ErrorKind(403, "forbidden", "无权执行", "Forbidden"),
    ErrorKind(403, "separation-of-duties", "不得自查自结", "Separation of duties"),
    ErrorKind(404, "not-found", "未找到", "Not found"),
    ErrorKind(405, "method-not-allowed", "不支持该方法", "Method not allowed"),
    ErrorKind(409, "conflict", "冲突", "Conflict"),
    ErrorKind(409, "invalid-transition", "当前状态不允许此操作", "Action not allowed in this state"),
    ErrorKind(409, "extension-conflict", "延期申请冲突", "Extension request conflict"),
    ErrorKind(409, "evidence-required", "缺少所需照片", "Evidence required"),
    ErrorKind(409, "idempotency-in-flight", "相同请求正在处理", "Request in flight"),
    ErrorKind(412, "stale-version", "数据已被他人修改", "Stale version"),
    ErrorKind(413, "payload-too-large", "请求体过大", "Payload too large"),
    ErrorKind(415, "unsupported-media-type", "不支持的内容类型", "Unsupported media type"),
    ErrorKind(422, "validation", "请求参数有误", "Invalid request"),
    ErrorKind(428, "if-match-required", "缺少 If-Match", "If-Match required"),
    ErrorKind(429, "too-many-requests", "认证失败次数过多", "Too many failed authentications"),
    ErrorKind(500, "internal", "内部错误", "Internal error"),
    ErrorKind(503, "unavailable", "服务暂不可用", "Service unavailable"),
)
KIND_OF_SLUG = {kind.slug: kind for kind in ERROR_KINDS}
KIND_OF_STATUS = {kind.status: kind for kind in reversed(ERROR_KINDS)}
UNKNOWN_KIND = ErrorKind(0, "error", "错误", "Error")


def kind_of(*, status: int, slug: str | None = None) -> ErrorKind:
    """The kind named by `slug`, else the default kind of `status`, else a bare "error" of that status."""
    if slug is not None:
        return KIND_OF_SLUG[slug]
    return KIND_OF_STATUS.get(status, UNKNOWN_KIND)


class DomainError(Exception):
    """An error raised in workflow/; its `kind` says the status, slug and titles."""

    kind = KIND_OF_SLUG["bad-request"]
    status, slug = kind.status, kind.slug

    def __init_subclass__(cls, slug: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if slug is not None:
            cls.kind = KIND_OF_SLUG[slug]
            cls.status, cls.slug = cls.kind.status, cls.kind.slug

    def __init__(self, detail: str, *, errors: dict | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.extra = extra or {}


class NotFound(DomainError, slug="not-found"):
    pass


class Forbidden(DomainError, slug="forbidden"):
    pass


class SeparationOfDuties(Forbidden, slug="separation-of-duties"):
    pass


class Invalid(DomainError, slug="validation"):
    pass


class Conflict(DomainError, slug="conflict"):
    pass


class InvalidTransition(Conflict, slug="invalid-transition"):
    pass


class ExtensionConflict(Conflict, slug="extension-conflict"):
    pass


class EvidenceRequired(Conflict, slug="evidence-required"):
    pass


class IdempotencyInFlight(Conflict, slug="idempotency-in-flight"):
    pass


class UnsupportedMedia(DomainError, slug="unsupported-media-type"):
    pass


class PayloadTooLarge(DomainError, slug="payload-too-large"):
    pass


class PreconditionRequired(DomainError, slug="if-match-required"):
    pass


class Stale(DomainError, slug="stale-version"):
    pass


ERROR_TYPES = [
    NotFound, Forbidden, SeparationOfDuties, Invalid, Conflict, InvalidTransition,
    ExtensionConflict, EvidenceRequired, IdempotencyInFlight, UnsupportedMedia, PayloadTooLarge,
    PreconditionRequired, Stale,
]
