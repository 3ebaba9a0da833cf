"""Every code the domain speaks, with its label for people (Chinese first, English second)."""

from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # The 12345 hotline bridge's system account: reports, reads its own reports, records callbacks.
    HOTLINE = "hotline"
    # An Open311 client application's account: it reports through /open311 only and never holds a token.
    PUBLIC = "public"


class State(StrEnum):
    REPORTED = "reported"
    ASSIGNED = "assigned"
    RECTIFYING = "rectifying"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"


# A case that is over: no clock runs, nothing fires, a list counts it done.
FINISHED_STATES = frozenset({State.CLOSED, State.CANCELLED})


class Action(StrEnum):
    REPORT = "report"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    RETURN = "return"
    ACCEPT = "accept"
    SUBMIT = "submit"
    VERIFY = "verify"
    REJECT = "reject"
    CLOSE = "close"
    SEND_BACK = "send_back"
    CANCEL = "cancel"
    SUSPEND = "suspend"
    RESUME = "resume"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    DENY_EXTENSION = "deny_extension"
    COMMENT = "comment"
    CALLBACK = "callback"
    REOPEN = "reopen"
    EDIT = "edit"
    ESCALATE = "escalate"
    ATTACH = "attach"
    RELEASE = "release"  # by the system: the handler left, the problem is back on the unit's queue


class Source(StrEnum):
    """Where a problem was first reported from (漏报: the outside sources found what the grid missed)."""

    OFFICER = "officer"
    PATROL = "patrol"
    INSPECTION = "inspection"
    PUBLIC = "public"
    HOTLINE = "hotline"
    MEDIA = "media"


OUTSIDE_SOURCES = frozenset({Source.PUBLIC, Source.HOTLINE, Source.MEDIA})
# The sources whose reporter is called back after closing (回访), and whose reports count as 漏报.
CALLED_BACK_SOURCES = frozenset({Source.PUBLIC, Source.HOTLINE})


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"
    UNREACHABLE = "unreachable"


class CancelReason(StrEnum):
    """Why an intake (受理) refused a report."""

    INVALID = "invalid"
    OUT_OF_SCOPE = "out_of_scope"
    DUPLICATE = "duplicate"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Stage(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RECTIFY = "rectify"
    VERIFY = "verify"
    WHOLE = "whole"


class Clock(StrEnum):
    NATURAL = "natural"
    WORKING = "working"


class Light(StrEnum):
    """The traffic light of a running stage clock (`models/problem.py::Problem.light`)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class RoundState(StrEnum):
    """A patrol round: scheduled → open (its window began) → in_progress → completed (late), or incomplete
    (started, never completed by its end plus grace), or missed."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    COMPLETED_LATE = "completed_late"
    INCOMPLETE = "incomplete"
    MISSED = "missed"
    CANCELLED = "cancelled"


class ListState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DeliveryStatus(StrEnum):
    """A webhook delivery: pending until delivered, or dead after its last attempt failed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class NotificationType(StrEnum):
    """What an inbox item is about: an escalation, new work (workflow/notifications/work.py), a digest."""

    ESCALATION = "escalation"
    ASSIGNED = "assigned"
    RETURNED = "returned"
    REWORK = "rework"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    VERIFICATION_WAITING = "verification_waiting"
    CLOSED = "closed"
    ROUND_MISSED = "round_missed"
    ROUND_INCOMPLETE = "round_incomplete"
    DIGEST = "digest"


class WebhookFormat(StrEnum):
    """How a webhook's messages look: Rectify's signed JSON, a group-chat robot's, or e-mail (the digest)."""

    RECTIFY = "rectify"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    EMAIL = "email"


class Trigger(StrEnum):
    """What makes an escalation rule fire."""

    BEFORE_DUE = "before_due"
    AT_DUE = "at_due"
    AFTER_DUE = "after_due"
    NOT_DISPATCHED = "not_dispatched"
    REWORK = "rework"
    RECURRENCE = "recurrence"
    EXTENSION_PENDING = "extension_pending"


class UnitKind(StrEnum):
    DISTRICT = "district"
    SUBDISTRICT = "subdistrict"
    COMMUNITY = "community"
    DEPARTMENT = "department"
    SQUAD = "squad"
    COMPANY = "company"


LABELS: dict[str, tuple[str, str]] = {
    # states
    "reported": ("待派遣", "Reported"),
    "assigned": ("已派遣", "Assigned"),
    "rectifying": ("整改中", "Rectifying"),
    "verifying": ("待核查", "Awaiting verification"),
    "verified": ("待结案", "Awaiting closure"),
    "closed": ("已结案", "Closed"),
    "cancelled": ("已作废", "Cancelled"),
    "suspended": ("挂账", "Suspended"),
    # actions
    "report": ("上报", "Report"),
    "assign": ("派遣", "Assign"),
    "reassign": ("改派", "Reassign"),
    "return": ("回退", "Return"),
    "accept": ("受理", "Accept"),
    "submit": ("提交整改", "Submit rectification"),
    "verify": ("核查通过", "Verify"),
    "reject": ("核查不通过", "Reject"),
    "close": ("结案", "Close"),
    "send_back": ("退回整改", "Send back"),
    "cancel": ("作废", "Cancel"),
    "suspend": ("挂账", "Suspend"),
    "resume": ("恢复整改", "Resume"),
    "request_extension": ("申请延期", "Request extension"),
    "grant_extension": ("批准延期", "Grant extension"),
    "deny_extension": ("驳回延期", "Deny extension"),
    "comment": ("备注", "Comment"),
    "callback": ("回访", "Callback"),
    "reopen": ("重新整改", "Reopen"),
    "edit": ("修改", "Edit"),
    "escalate": ("督办升级", "Escalate"),
    "attach": ("上传附件", "Attach"),
    "release": ("退回单位待派", "Back to the unit's queue"),
    # roles
    "officer": ("巡查员", "Officer"),
    "handler": ("处置人员", "Handler"),
    "supervisor": ("值班长", "Supervisor"),
    "admin": ("管理员", "Administrator"),
    "hotline": ("12345热线", "12345 hotline"),
    "public": ("公众", "Public"),
    # sources (public and hotline are above, as roles)
    "patrol": ("巡查上报", "Patrol"),
    "inspection": ("检查上报", "Inspection"),
    "media": ("媒体曝光", "Media"),
    # callbacks and intake refusals
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "unsatisfied": ("不满意", "Unsatisfied"),
    "unreachable": ("联系不上", "Unreachable"),
    "invalid": ("无效诉求", "Invalid"),
    "out_of_scope": ("非本辖区职责", "Out of scope"),
    "duplicate": ("重复诉求", "Duplicate"),
    "other": ("其他", "Other"),
    # severities, stages, lights
    "low": ("轻微", "Low"),
    "normal": ("一般", "Normal"),
    "high": ("较重", "High"),
    "urgent": ("紧急", "Urgent"),
    "dispatch": ("派遣", "Dispatch"),
    "rectify": ("整改", "Rectify"),
    "whole": ("全流程", "Whole case"),
    "green": ("正常", "On time"),
    "yellow": ("临期", "Due soon"),
    "red": ("超期", "Overdue"),
}


def label(code: str, lang: str = "zh") -> str:
    """The label of a code for people, in Chinese unless `lang` is "en"."""
    zh, en = LABELS.get(code, (code, code))
    return en if lang == "en" else zh


# --- the gas-safety ledger: parties, inspections, orders, the enforcement ladder -------------------

class PartyKind(StrEnum):
    RESTAURANT = "restaurant"
    SHOP = "shop"
    STALL = "stall"
    MARKET_BOOTH = "market_booth"
    OTHER = "other"


class PartyStatus(StrEnum):
    OPERATING = "operating"
    CLOSED = "closed"
    MOVED = "moved"


class ItemType(StrEnum):
    CHECK = "check"
    CHOICE = "choice"
    NUMBER = "number"
    DATE = "date"


class Outcome(StrEnum):
    PASS = "pass"
    RECTIFY = "rectify"


class OrderState(StrEnum):
    OPEN = "open"
    COMPLIED = "complied"
    FAILED = "failed"


class TaskKind(StrEnum):
    REINSPECTION = "reinspection"
    RECHECK = "recheck"


class PartyAction(StrEnum):
    REGISTER = "register"
    EDIT = "edit"
    INSPECT = "inspect"
    ORDER = "order"
    STEP_UP = "step_up"
    STEP_DOWN = "step_down"
    PROPOSE = "propose"
    DISMISS = "dismiss"

