"""Inspections (检查): templates, recording them, orders to rectify (and their printable notice), the tasks
they leave (re-inspections, expiry re-checks), item photos, and campaign coverage with its XLSX ledger."""

import base64
import hashlib
import hmac
from urllib.parse import quote

from flask import Response, current_app, g, render_template, url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from api.blueprint import ID, Blueprint
from api.context import current_actor, lang, request_now, require_role
from api.errors import ProblemSchema, problem_response
from api.evidence import exp_alive
from api.fields import AwareDateTime, CommaList, Computed, StrictBoolean, StrictFloat, StrictString
from api.openapi import refuses
from api.schemas import In, PageArgs, _id, choice, page_of, text
from api.write import write
from models.enums import ItemType, OrderState, Outcome, PartyKind, Severity, TaskKind
from workflow.inspections import coverage, inspections, ledger, orders, photos, tasks, templates
from workflow.inspections.vocabulary import label as term
from workflow.paging import MAX_ID

blp = Blueprint("inspections", __name__, url_prefix="/api/v1", template_folder="templates",
                description="Inspections (检查): typed checklists, orders to rectify (责令限期整改通知书), "
                            "re-inspections, expiry re-checks and campaign coverage.")

CODE = r"^[a-z][a-z0-9_]{0,39}$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- templates ---------------------------------------------------------------------------------------

class TemplateChoiceIn(In):
    value = StrictString(required=True, validate=validate.Length(min=1, max=40))
    label = text(100, required=True)
    pass_ = StrictBoolean(data_key="pass", attribute="pass", required=True)


class TemplateItemIn(In):
    code = StrictString(required=True, validate=validate.Regexp(CODE))
    label = text(200, required=True)
    type = choice(ItemType, required=True)
    required = StrictBoolean()
    photo_required = StrictBoolean()
    choices = fields.List(fields.Nested(TemplateChoiceIn), validate=validate.Length(min=2, max=30))
    min = StrictFloat(validate=validate.Range(min=-1e9, max=1e9))
    max = StrictFloat(validate=validate.Range(min=-1e9, max=1e9))
    unit = text(10)
    max_age_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=36500))
    recheck_days_before = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))
    category = StrictString(validate=validate.Length(min=1, max=40))
    severity = choice(Severity)
    rectify_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=90))
    on_fail = fields.String(validate=validate.OneOf(templates.ON_FAIL))
    requirement = text(500)
    hint = text(500)


class InspectionTemplateSaveIn(In):
    name = text(100, required=True)
    items = fields.List(fields.Nested(TemplateItemIn), required=True, validate=validate.Length(min=1, max=100))


class InspectionTemplateIn(InspectionTemplateSaveIn):
    code = StrictString(required=True, validate=validate.Regexp(CODE))


class InspectionTemplateArgs(In):
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class InspectionTemplateOut(Schema):
    id = fields.Integer()
    code = fields.String()
    version = fields.Integer()
    name = fields.String()
    items = fields.List(fields.Dict(), metadata={"description": "code, label, type (check|choice|number|date), "
                                                "required, choices?, min?, max?, max_age_days?, photo_required, "
                                                "category, severity, rectify_days, on_fail, requirement"})
    in_use = Computed(templates.in_use, returns=fields.Boolean(), metadata={
        "description": "inspections used this version: a change makes the next version"})
    created_at = fields.DateTime()


class InspectionTemplateList(Schema):
    items = fields.List(fields.Nested(InspectionTemplateOut))


@blp.route("/inspection-templates")
class Templates(MethodView):
    @blp.response(200, InspectionTemplateList)
    def get(self):
        """The newest version of every template (the default gas template: `gas_safety`)."""
        return {"items": templates.list_latest()}

    @write
    @blp.arguments(InspectionTemplateIn)
    @blp.response(201, InspectionTemplateOut)
    @blp.alt_response(409, schema=ProblemSchema)
    def post(self, data):
        """Make a new template (admins); errors name the item: `items[3].max`."""
        require_role("admin")
        return templates.create_template(actor=current_actor(), now=request_now(), **data), 201


@blp.route("/inspection-templates/<code>")
class TemplateByCode(MethodView):
    @blp.arguments(InspectionTemplateArgs, location="query")
    @blp.response(200, InspectionTemplateOut)
    @blp.alt_response(404, schema=ProblemSchema)
    def get(self, args, code):
        """A template: its newest version, or `?version=`."""
        return templates.get_template(code=code, version=args.get("version"))

    @write
    @blp.arguments(InspectionTemplateSaveIn)
    @blp.response(200, InspectionTemplateOut, description="The newest version changed in place: no inspection used it")
    @blp.alt_response(201, schema=InspectionTemplateOut, description="A new version: inspections used the newest one")
    @blp.alt_response(404, schema=ProblemSchema)
    def put(self, data, code):
        """Change a template (admins): in place while unused, else as its next version."""
        require_role("admin")
        template, new = templates.save_template(actor=current_actor(), now=request_now(), code=code, **data)
        return template, 201 if new else 200


# --- inspections -------------------------------------------------------------------------------------

class InspectionResultIn(In):
    item = StrictString(required=True, validate=validate.Length(min=1, max=40))
    value = fields.Raw(required=True, allow_none=True, metadata={
        "description": "check: pass|fail|na; choice: a choice's value; number; date: YYYY-MM-DD; null: not "
                       "answered (optional items only)",
        "anyOf": [{"type": "string", "nullable": True}, {"type": "number", "nullable": True}]})
    note = StrictString(allow_none=True, validate=validate.Length(max=500))
    photo_ids = fields.List(_id(), validate=validate.Length(max=10))


class InspectionIn(In):
    party_id = _id(required=True)
    template_code = StrictString(required=True, validate=validate.Length(min=1, max=40))
    template_version = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "the version the phone filled in (default: the newest)"})
    list_id = _id(allow_none=True, metadata={"description": "the campaign (a problem list of kind campaign)"})
    round_id = _id(allow_none=True)
    at = AwareDateTime(metadata={"description": "the phone's time of the inspection"})
    client_id = StrictString(allow_none=True, validate=validate.Length(min=1, max=100))
    note = StrictString(allow_none=True, validate=validate.Length(max=2000))
    results = fields.List(fields.Nested(InspectionResultIn), required=True, validate=validate.Length(max=200))


class OrderBriefOut(Schema):
    id = fields.Integer()
    number = fields.String()
    deadline_on = fields.Date()
    deadline_at = fields.DateTime()
    state = fields.String()


class InspectionOut(Schema):
    id = fields.Integer()
    party_id = fields.Integer()
    template_code = Computed(lambda i: _template(i).code, returns=fields.String())
    template_version = Computed(lambda i: _template(i).version, returns=fields.Integer())
    officer_id = fields.Integer()
    list_id = fields.Integer(allow_none=True)
    round_id = fields.Integer(allow_none=True)
    client_id = fields.String(allow_none=True)
    at = fields.DateTime()
    received_at = fields.DateTime()
    outcome = fields.String(metadata={"description": "pass | rectify"})
    outcome_label = Computed(lambda i: term("outcome", i.outcome, lang()), returns=fields.String())
    results = fields.List(fields.Dict())
    note = fields.String(allow_none=True)
    problem_ids = Computed(lambda i: _outcome(i)["problem_ids"], returns=fields.List(fields.Integer()))
    order = Computed(lambda i: _brief(_outcome(i)["order"]), returns=fields.Nested(OrderBriefOut, allow_none=True))
    reinspected_order_id = Computed(lambda i: _outcome(i)["reinspected_order_id"],
                                    returns=fields.Integer(allow_none=True))


def _outcome(inspection) -> dict:
    """What the inspection raised, read once per request and inspection."""
    cache = g.setdefault("inspection_outcomes", {})
    if inspection.id not in cache:
        cache[inspection.id] = inspections.outcome_of(inspection)
    return cache[inspection.id]


def _template(inspection):
    return templates.by_id(inspection.template_id)


def _brief(order):
    return OrderBriefOut().dump(order) if order is not None else None


class InspectionArgs(PageArgs):
    party_id = _id()
    list_id = _id()
    officer_id = _id()
    outcome = CommaList(choice(Outcome))


InspectionPage = page_of(InspectionOut, "InspectionPage")


@blp.route("/inspections")
class Inspections(MethodView):
    @blp.arguments(InspectionArgs, location="query")
    @blp.response(200, InspectionPage)
    def get(self, args):
        """Inspections at the parties the caller may see, by id."""
        return inspections.list_inspections(actor=current_actor(), **args)

    @write
    @blp.arguments(InspectionIn)
    @blp.response(201, InspectionOut)
    @blp.alt_response(200, schema=InspectionOut, description="A repeated client_id: the first inspection")
    @blp.alt_response(409, schema=ProblemSchema)
    @refuses(404)  # a party the caller cannot see, or no such template
    def post(self, data):
        """Record an inspection (officers in their grids, supervisors in their area): results are checked
        against the template version (errors name the item: `items[3].value`), failed items raise problems
        and, from the order step of the ladder up, an order to rectify."""
        inspection, created = inspections.record_inspection(actor=current_actor(), now=request_now(), **data)
        return inspection, 201 if created else 200, {"Location": f"/api/v1/inspections/{inspection.id}"}


@blp.route(f"/inspections/<{ID}:inspection_id>")
@blp.response(200, InspectionOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_inspection(inspection_id):
    """One inspection with what it raised."""
    return inspections.get_inspection(actor=current_actor(), inspection_id=inspection_id)


# --- orders to rectify ---------------------------------------------------------------------------------

class RectificationOrderOut(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"description": "<unit>责改字〔2026〕第0012号"})
    unit_id = fields.Integer()
    party_id = fields.Integer()
    inspection_id = fields.Integer()
    list_id = fields.Integer(allow_none=True)
    issued_by_id = fields.Integer()
    issued_at = fields.DateTime()
    deadline_on = fields.Date()
    deadline_at = fields.DateTime()
    items = fields.List(fields.Dict())
    state = fields.String(metadata={"description": "open | complied | failed"})
    state_label = Computed(lambda o: term("order_state", o.state, lang()), returns=fields.String())
    closed_at = fields.DateTime(allow_none=True)
    closed_by_inspection_id = fields.Integer(allow_none=True)
    print_url = Computed(lambda o: url_for("inspections.print_order", order_id=o.id), returns=fields.String())


class RectificationOrderArgs(PageArgs):
    party_id = _id()
    list_id = _id()
    state = CommaList(choice(OrderState))


RectificationOrderPage = page_of(RectificationOrderOut, "RectificationOrderPage")
PRINT_STYLE = ("body{font-family:'SimSun','Songti SC','Noto Serif CJK SC',serif;max-width:46em;margin:2em auto;"
               "line-height:1.9;color:#000}h1,h2{text-align:center;margin:.2em 0}h1{font-size:1.5em}"
               "h2{font-size:1.9em;letter-spacing:.3em}.number{text-align:right}.sign{margin-top:3em}"
               ".seal{text-align:right;margin-top:2em}ol li{margin:.4em 0}"
               "@media print{body{margin:0}}")
PRINT_POLICY = ("default-src 'none'; style-src 'sha256-" +
                base64.b64encode(hashlib.sha256(PRINT_STYLE.encode()).digest()).decode() +
                "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@blp.route("/orders")
@blp.arguments(RectificationOrderArgs, location="query")
@blp.response(200, RectificationOrderPage)
def list_orders(args):
    """Orders to rectify at the parties the caller may see, by id."""
    return orders.list_orders(actor=current_actor(), **args)


@blp.route(f"/orders/<{ID}:order_id>")
@blp.response(200, RectificationOrderOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_order(order_id):
    """One order to rectify."""
    return orders.get_order(actor=current_actor(), order_id=order_id)


@blp.route(f"/orders/<{ID}:order_id>/print", endpoint="print_order")
@blp.response(200, content_type="text/html", description="The notice as a printable HTML page (A4)")
@blp.alt_response(404, schema=ProblemSchema)
def print_order(order_id):
    """The order as the printable notice (责令限期整改通知书): print it, or save it as PDF from the browser."""
    page = render_template("order_to_rectify.html", style=PRINT_STYLE,
                           **orders.printable(actor=current_actor(), order_id=order_id))
    return Response(page, content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PRINT_POLICY})


# --- tasks --------------------------------------------------------------------------------------------

class InspectionTaskArgs(PageArgs):
    state = CommaList(fields.String(validate=validate.OneOf([tasks.OPEN, tasks.DONE])))
    kind = CommaList(choice(TaskKind))
    party_id = _id()


class InspectionTaskOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "reinspection (an order's deadline passed) | recheck (an item "
                                                  "expires soon)"})
    kind_label = Computed(lambda t: term("task_kind", t.kind, lang()), returns=fields.String())
    party_id = fields.Integer()
    order_id = fields.Integer(allow_none=True)
    item_code = fields.String(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    due_on = fields.Date()
    state = fields.String()
    created_at = fields.DateTime()
    done_at = fields.DateTime(allow_none=True)
    done_by_inspection_id = fields.Integer(allow_none=True)


InspectionTaskPage = page_of(InspectionTaskOut, "InspectionTaskPage")


@blp.route("/inspection-tasks")
@blp.arguments(InspectionTaskArgs, location="query")
@blp.response(200, InspectionTaskPage)
def list_tasks(args):
    """Re-inspections and expiry re-checks at the parties the caller may see (an officer: their grids)."""
    return tasks.list_tasks(actor=current_actor(), **args)


# --- photos -------------------------------------------------------------------------------------------

class InspectionPhotoForm(In):
    client_id = StrictString(validate=validate.Length(min=1, max=100))


class InspectionPhotoFiles(In):
    file = Upload(required=True)


class InspectionPhotoArgs(In):
    variant = fields.String(load_default="original", validate=validate.OneOf(["original", "thumbnail"]))
    exp = fields.Integer(required=True, validate=validate.Range(min=0, max=2**40))
    sig = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


def _signature(photo_id: int, variant: str, exp: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"inspection-photo:{photo_id}:{variant}:{exp}".encode(), hashlib.sha256).hexdigest()


def _signed_url(photo, variant: str) -> str:
    exp = int(request_now().timestamp()) + current_app.config["SIGNED_URL_SECONDS"]
    return url_for("inspections.photo_content", photo_id=photo.id, variant=variant, exp=exp,
                   sig=_signature(photo.id, variant, exp))


class InspectionPhotoOut(Schema):
    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    taken_at = fields.DateTime(allow_none=True)
    inspection_id = fields.Integer(allow_none=True)
    activity_id = fields.Integer(allow_none=True, metadata={"description": "the campaign activity that named it"})
    url = Computed(lambda p: _signed_url(p, "original"), returns=fields.String())
    thumbnail_url = Computed(lambda p: _signed_url(p, "thumbnail"), returns=fields.String())
    created_at = fields.DateTime()


@blp.route("/inspection-photos", methods=["POST"], endpoint="upload_photo")
@write
@blp.arguments(InspectionPhotoForm, location="form")
@blp.arguments(InspectionPhotoFiles, location="files")
@blp.response(201, InspectionPhotoOut)
@blp.alt_response(200, schema=InspectionPhotoOut, description="A repeated client_id: the first upload")
@blp.alt_response(413, schema=ProblemSchema)
@blp.alt_response(415, schema=ProblemSchema)
def upload_photo(form, files):
    """Upload an item's photo (multipart: file, client_id?) before the inspection that names it in `photo_ids`."""
    photo, created = photos.add_photo(actor=current_actor(), now=request_now(), data=files["file"].read(),
                                      storage=current_app.extensions["rectify_storage"],
                                      max_bytes=current_app.config["ATTACHMENT_MAX_BYTES"], **form)
    return photo, 201 if created else 200


@blp.route(f"/inspection-photos/<{ID}:photo_id>")
@blp.response(200, InspectionPhotoOut)
@blp.alt_response(404, schema=ProblemSchema)
def get_photo(photo_id):
    """A photo (its uploader, or whoever sees its inspection), with signed URLs valid for 15 minutes."""
    return photos.get_photo(actor=current_actor(), photo_id=photo_id)


@blp.route(f"/inspection-photos/<{ID}:photo_id>/content", endpoint="photo_content")
@blp.arguments(InspectionPhotoArgs, location="query")
@blp.response(200, content_type="application/octet-stream", description="The image; the signed URL is the credential")
@blp.alt_response(403, schema=ProblemSchema)
@blp.doc(security=[])
def photo_content(args, photo_id):
    """The bytes, for a URL from `url`/`thumbnail_url`: no Authorization header needed until it expires."""
    expected = _signature(photo_id, args["variant"], args["exp"])
    photo = photos.photo_by_id(photo_id)
    if not hmac.compare_digest(expected, args["sig"]) or not exp_alive(args["exp"]) or photo is None:
        return problem_response(403, detail="This link is forged or has expired; read the photo again.")
    thumb = args["variant"] == "thumbnail"
    data = current_app.extensions["rectify_storage"].get(f"{photo.sha256}-thumb" if thumb else photo.sha256)
    response = Response(data, mimetype="image/jpeg" if thumb else photo.content_type)
    response.headers.update({"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
                             "Content-Disposition": f'inline; filename="{photo.sha256[:16]}"',
                             "Cache-Control": "private, max-age=900"})
    return response


# --- campaigns: scope, coverage, the ledger ---------------------------------------------------------------

class CampaignScopeIn(In):
    template_code = StrictString(required=True, validate=validate.Length(min=1, max=40))
    tags = fields.List(StrictString(validate=validate.Regexp(r"^[a-z0-9_]{1,40}$")), validate=validate.Length(max=10))
    grid_ids = fields.List(_id(), validate=validate.Length(max=500))
    kinds = fields.List(choice(PartyKind), validate=validate.Length(max=5))


class CampaignScopeOut(Schema):
    list_id = fields.Integer()
    template_code = fields.String()
    tags = fields.List(fields.String(), metadata={"description": "a party has every one of them"})
    grid_ids = fields.List(fields.Integer(), metadata={"description": "any of them; empty: the lead unit's area"})
    kinds = fields.List(fields.String(), metadata={"description": "any of them; empty: every kind"})
    updated_at = fields.DateTime()


class CoverageFigures(Schema):
    in_scope = fields.Integer()
    inspected = fields.Integer()
    passed = fields.Integer(metadata={"description": "passed at the first inspection"})
    ordered = fields.Integer(metadata={"description": "ordered to rectify"})
    rectified = fields.Integer(metadata={"description": "every problem of its orders closed"})
    reinspected_passed = fields.Integer(metadata={"description": "the latest order complied at re-inspection"})
    outstanding = fields.Integer(metadata={"description": "not inspected, or its latest order not complied"})


class GridCoverage(CoverageFigures):
    grid_id = fields.Integer()
    name = fields.String(allow_none=True)


class OfficerCoverage(CoverageFigures):
    officer_id = fields.Integer(allow_none=True, metadata={"description": "of the first inspection; null: "
                                                                           "parties not inspected yet"})
    name = fields.String(allow_none=True)


class CoverageOut(Schema):
    list_id = fields.Integer()
    scope = fields.Nested(CampaignScopeOut)
    totals = fields.Nested(CoverageFigures)
    by_grid = fields.List(fields.Nested(GridCoverage))
    by_officer = fields.List(fields.Nested(OfficerCoverage))


@blp.route(f"/problem-lists/<{ID}:list_id>/scope")
class Scope(MethodView):
    @blp.response(200, CampaignScopeOut)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema)
    def get(self, list_id):
        """Which parties the campaign covers and with which checklist (409 while none is set)."""
        return coverage.get_scope(actor=current_actor(), list_id=list_id)

    @write
    @blp.arguments(CampaignScopeIn)
    @blp.response(200, CampaignScopeOut)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema)
    def put(self, data, list_id):
        """Set the campaign's scope of parties (every tag, any grid, any kind) and its checklist."""
        return coverage.set_scope(actor=current_actor(), now=request_now(), list_id=list_id, **data)


@blp.route(f"/problem-lists/<{ID}:list_id>/coverage")
@blp.response(200, CoverageOut)
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def campaign_coverage(list_id):
    """The campaign's coverage: in scope, inspected, passed, ordered, rectified, re-inspected and passed,
    outstanding; in total, per grid and per officer."""
    return coverage.coverage(actor=current_actor(), list_id=list_id)


@blp.route(f"/problem-lists/<{ID}:list_id>/inspection-ledger")
@blp.response(200, content_type=XLSX, description="燃气安全检查台账: a row per party in scope")
@blp.alt_response(404, schema=ProblemSchema)
@blp.alt_response(409, schema=ProblemSchema)
def inspection_ledger(list_id):
    """The campaign's inspection ledger (燃气安全检查台账) as XLSX: every item's latest answer per party,
    order numbers, re-inspection and ladder."""
    name, data = ledger.workbook(actor=current_actor(), list_id=list_id)
    return Response(data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"inspection-ledger-{list_id}.xlsx\"; "
                               f"filename*=UTF-8''{quote(name)}"})

