"""Escalation rules (supervisors for their subtree, admins for all), the inbox, and webhooks (admins; supervisors
those of their subtree)."""

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.blueprint import ID, Blueprint
from api.context import current_actor, if_match_version, request_now, require_role
from api.errors import ProblemSchema
from api.fields import StrictBoolean, StrictFloat, StrictString
from api.schemas import ETAG, In, PageArgs, _id, choice, edit_doc, etag, page_of, reason_field
from api.write import write
from models.enums import DeliveryStatus, NotificationType, Severity, Stage, WebhookFormat
from workflow.escalation import firing, rules
from workflow.notifications import delivery, inbox, webhooks
from workflow.paging import by_column

blp = Blueprint("escalation", __name__, url_prefix="/api/v1",
                description="Escalation rules (督办), the in-app inbox, and webhooks.")

NOTIFY = validate.Regexp(r"^(handler|unit_supervisors|parent_supervisors|user:[1-9][0-9]{0,9})$",
                         error="handler | unit_supervisors | parent_supervisors | user:<id>")


class EffectsIn(In):
    supervise = StrictBoolean()
    raise_severity = StrictBoolean()
    hot_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))


class RuleFields(In):
    name = StrictString(validate=validate.Length(min=1, max=100))
    trigger = fields.String(validate=validate.OneOf(firing.TRIGGERS))
    stage = choice(Stage, allow_none=True)
    fraction = StrictFloat(allow_none=True, validate=validate.Range(min=0.01, max=0.99))
    after_minutes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=525600))
    threshold = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=1000))
    window_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=365))
    level = fields.Integer(strict=True, validate=validate.Range(min=1, max=9))
    notify = fields.List(fields.String(validate=NOTIFY), validate=validate.Length(max=20))
    effects = fields.Nested(EffectsIn)
    categories = fields.List(StrictString(validate=validate.Length(min=1, max=40)), allow_none=True)
    severities = fields.List(choice(Severity), allow_none=True)
    unit_id = _id(allow_none=True)
    active = StrictBoolean()


class RuleIn(RuleFields):
    name = StrictString(required=True, validate=validate.Length(min=1, max=100))
    trigger = fields.String(required=True, validate=validate.OneOf(firing.TRIGGERS))


class RuleEditIn(RuleFields):
    reason = reason_field()

    @validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("give at least one field to change", "_schema")


class RuleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    trigger = fields.String()
    stage = fields.String(allow_none=True)
    fraction = fields.Float(allow_none=True)
    after_minutes = fields.Integer(allow_none=True)
    threshold = fields.Integer(allow_none=True)
    window_days = fields.Integer(allow_none=True)
    level = fields.Integer()
    notify = fields.List(fields.String())
    effects = fields.Dict()
    categories = fields.List(fields.String(), allow_none=True)
    severities = fields.List(fields.String(), allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    failing = fields.Boolean(attribute="failing", metadata={
        "description": "the sweep could not run this rule and skips it until it is edited"})
    failing_since = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    version = fields.Integer()


class DryRunHit(Schema):
    problem_id = fields.Integer()
    code = fields.String()
    due_at = fields.DateTime()
    stage = fields.String(allow_none=True)


class DryRunOut(Schema):
    items = fields.List(fields.Nested(DryRunHit))


class InboxArgs(PageArgs):
    unread = fields.Boolean()


class NotificationOut(Schema):
    id = fields.Integer()
    type = choice(NotificationType)
    title = fields.String()
    body = fields.String()
    problem_id = fields.Integer(allow_none=True)
    round_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class ReadAllOut(Schema):
    marked = fields.Integer()


ASCII_URL = validate.Regexp(r"^[\x21-\x7e]+$", error="ASCII only: write international hosts in punycode")


HTTP_URL = validate.URL(schemes={"http", "https"}, require_tld=False)


def _url_or_mailto(value: str) -> None:
    """An http(s) URL, or for an e-mail channel `mailto:` addresses (checked further by the workflow)."""
    if not value.startswith("mailto:"):
        HTTP_URL(value)


class WebhookIn(In):
    url = StrictString(required=True, validate=[validate.Length(max=500), ASCII_URL, _url_or_mailto],
                     metadata={"description": "where to POST: a receiver of ours, or a group-chat robot's URL; "
                                              "never a private, loopback or link-local address"})
    secret = StrictString(load_only=True, validate=validate.Length(min=16, max=200), metadata={
        "description": "rectify: signs X-Rectify-Signature (omit it and one is made and shown once); dingtalk "
                       "and feishu: the robot's signing secret (required); wecom: none (the key is in the URL)"})
    events = fields.List(fields.String(validate=validate.OneOf(delivery.EVENTS)), required=True,
                         validate=validate.Length(min=1))
    active = StrictBoolean(load_default=True)
    format = choice(WebhookFormat, load_default=WebhookFormat.RECTIFY, metadata={
        "description": "rectify (signed JSON), wecom, dingtalk, feishu (group-chat robots), email (the daily "
                       "digest by mail: events [digest.daily] only)"})
    unit_id = _id(allow_none=True, metadata={
        "description": "only events of this unit's subtree (a supervisor: their own unit unless given)"})


class WebhookEditIn(In):
    url = StrictString(validate=[validate.Length(max=500), ASCII_URL, _url_or_mailto])
    secret = StrictString(load_only=True, validate=validate.Length(min=16, max=200))
    events = fields.List(fields.String(validate=validate.OneOf(delivery.EVENTS)), validate=validate.Length(min=1))
    active = StrictBoolean()
    unit_id = _id(allow_none=True)
    reason = reason_field()

    @validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ValidationError("give at least one field to change", "_schema")


class WebhookOut(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    version = fields.Integer()
    format = choice(WebhookFormat)
    unit_id = fields.Integer(allow_none=True)


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(allow_none=True, attribute="shown_secret", metadata={
        "description": "the secret made for you, shown this once (null when you gave one, and on a replay)"})


class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([status.value for status in DeliveryStatus]))


class DeliveryOut(Schema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    event_id = fields.Integer()
    event_type = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


RulePage = page_of(RuleOut, "RulePage")
NotificationPage = page_of(NotificationOut, "NotificationPage")
WebhookPage = page_of(WebhookOut, "WebhookPage")
DeliveryPage = page_of(DeliveryOut, "DeliveryPage")


@blp.route("/escalation-rules")
class Rules(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RulePage)
    def get(self, args):
        """Rules: a supervisor sees their subtree's and the city-wide ones; an admin all."""
        return by_column(rules.select_rules(actor=current_actor()), firing.EscalationRule.id, **args)

    @write
    @blp.arguments(RuleIn)
    @blp.response(201, RuleOut)
    def post(self, data):
        """Add a rule (a supervisor: with a unit_id in their subtree)."""
        return rules.create_rule(actor=current_actor(), now=request_now(), **data), 201


@blp.route(f"/escalation-rules/<{ID}:rule_id>")
class RuleById(MethodView):
    @blp.response(200, RuleOut)
    @blp.alt_response(404, schema=ProblemSchema)
    def get(self, rule_id):
        """One rule."""
        return rules.get_rule(actor=current_actor(), rule_id=rule_id)

    @write
    @blp.arguments(RuleEditIn)
    @blp.response(200, RuleOut, headers=ETAG)
    @edit_doc(blp)
    def patch(self, data, rule_id):
        """Change a rule under If-Match (set active false to retire it; its firings stay on the trails); the
        change goes on the admin trail."""
        rule = rules.edit_rule(actor=current_actor(), now=request_now(), rule_id=rule_id,
                               expected_version=if_match_version(), **data)
        return rule, 200, etag(rule)


@blp.route("/escalation-rules/dry-run", methods=["POST"])
@write  # writes nothing, but a POST honours Idempotency-Key like every other
@blp.arguments(RuleIn)
@blp.response(200, DryRunOut)
def dry_run(data):
    """Which problems a draft rule would fire on now, without firing it (nothing is written)."""
    require_role("admin", "supervisor")
    return {"items": rules.dry_run(actor=current_actor(), now=request_now(), **data)}


@blp.route("/me/notifications")
@blp.arguments(InboxArgs, location="query")
@blp.response(200, NotificationPage)
def my_notifications(args):
    """The caller's inbox: unread first, newest first."""
    return inbox.inbox(actor=current_actor(), unread=args.pop("unread", None), **args)


@blp.route(f"/me/notifications/<{ID}:notification_id>/read", methods=["POST"])
@write
@blp.response(200, NotificationOut)
@blp.alt_response(404, schema=ProblemSchema)
def read_one(notification_id):
    """Mark one notification read."""
    inbox.mark_read(actor=current_actor(), now=request_now(), notification_id=notification_id)
    return inbox.get_notification(actor=current_actor(), notification_id=notification_id)


@blp.route("/me/notifications/read-all", methods=["POST"])
@write
@blp.response(200, ReadAllOut)
def read_all():
    """Mark every unread notification read."""
    return {"marked": inbox.mark_read(actor=current_actor(), now=request_now())}


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, WebhookPage)
    def get(self, args):
        """Webhooks and group-chat robots: an admin's all, a supervisor's those of their subtree."""
        return by_column(webhooks.select_webhooks(actor=current_actor()), webhooks.Webhook.id, **args)

    @write(scrub=("secret",))
    @blp.arguments(WebhookIn)
    @blp.response(201, WebhookCreatedOut)
    @blp.alt_response(403, schema=ProblemSchema)
    def post(self, data):
        """Add a webhook or group-chat robot (admins anywhere, supervisors in their subtree). The secret is
        write-only; one made for you is shown in this answer only (its stored replay holds null)."""
        require_role("admin", "supervisor")
        return webhooks.create_webhook(actor=current_actor(), now=request_now(), allow_private=_private(),
                                       **data), 201


@blp.route(f"/webhooks/<{ID}:webhook_id>", methods=["PATCH"])
@write
@blp.arguments(WebhookEditIn)
@blp.response(200, WebhookOut, headers=ETAG)
@edit_doc(blp)
def edit_webhook(data, webhook_id):
    """Change a webhook under If-Match, or set active false to stop its deliveries (admins; supervisors their
    subtree's); on the admin trail (a new secret is written "changed")."""
    require_role("admin", "supervisor")
    hook = webhooks.edit_webhook(actor=current_actor(), now=request_now(), webhook_id=webhook_id,
                                 expected_version=if_match_version(), allow_private=_private(), **data)
    return hook, 200, etag(hook)


@blp.route(f"/webhooks/<{ID}:webhook_id>/deliveries")
@blp.arguments(DeliveryArgs, location="query")
@blp.response(200, DeliveryPage)
def list_deliveries(args, webhook_id):
    """A webhook's deliveries, e.g. ?status=dead for the dead letters (admins; supervisors their subtree's)."""
    require_role("admin", "supervisor")
    limit, cursor = args.pop("limit"), args.pop("cursor", None)
    return by_column(webhooks.select_deliveries(actor=current_actor(), webhook_id=webhook_id, **args),
                     webhooks.WebhookDelivery.id, limit=limit, cursor=cursor)


@blp.route(f"/webhook-deliveries/<{ID}:delivery_id>/redrive", methods=["POST"])
@write
@blp.response(200, DeliveryOut)
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def redrive(delivery_id):
    """Give a dead delivery a fresh set of attempts from now (admins; supervisors their subtree's)."""
    require_role("admin", "supervisor")
    return webhooks.redrive(actor=current_actor(), delivery_id=delivery_id, now=request_now())


def _private() -> bool:
    """WEBHOOK_ALLOW_PRIVATE: a receiver on 127.0.0.1 or the office network (tests; never by default)."""
    return current_app.config["WEBHOOK_ALLOW_PRIVATE"]
