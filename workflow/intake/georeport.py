"""The district as Open311 GeoReport v2 sees it: public categories are services, problems are requests.

Only what the public may see leaves here: no reporter, no contact, no handler, no free text written by staff
(status notes come from the trail's action labels). The face (open311/) renders these dicts as JSON or XML.
"""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, true

from models import Category, Problem, ProblemEvent, Unit, User
from models.base import db
from models.enums import Source, State, label
from workflow.errors import Invalid, NotFound
from workflow.intake.contact import clean_text
from workflow.problems import reporting

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T00:00:00Z"  # when this face last changed (discovery's changeset)
DEFAULT_WINDOW = timedelta(days=90)  # the spec: without dates, the last 90 days; never a longer span
MAX_REQUESTS = 1000
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
MAX_IDS = 100
CLOSED_STATES = (State.CLOSED, State.CANCELLED)
TEXT_LIMITS = {"description": 4000, "first_name": 50, "last_name": 50, "address_string": 300}
LIST_TYPES = ("singlevaluelist", "multivaluelist")


def check_attributes(attributes: list | None) -> list | None:
    """Open311 attributes: unique codes; list types carry their values, other types none."""
    if not attributes:
        return None
    codes = [a["code"] for a in attributes]
    if len(codes) != len(set(codes)):
        raise Invalid("attribute codes repeat", errors={"attributes": ["each code once"]})
    for attribute in attributes:
        listed = attribute["datatype"] in LIST_TYPES
        if listed != bool(attribute.get("values")):
            raise Invalid(f"attribute {attribute['code']!r}: values go with the list datatypes, and only with them",
                          errors={"attributes": ["values go with singlevaluelist and multivaluelist only"]})
    return [dict(a) for a in attributes]


def _public_categories():
    return select(Category).where(Category.public.is_(True), Category.active.is_(True)).order_by(Category.code)


def services(*, lang: str = "zh") -> list[dict]:
    """GET services: one per public category."""
    groups = {c.code: c for c in db.session.scalars(select(Category))}
    return [_service(category, groups, lang) for category in db.session.scalars(_public_categories())]


def _name(category: Category, lang: str) -> str:
    return category.name_en if lang == "en" and category.name_en else category.name


def _service(category: Category, groups: dict, lang: str) -> dict:
    parent = groups.get(category.parent_code)
    return {"service_code": category.code, "service_name": _name(category, lang),
            "description": category.public_description or _name(category, lang),
            "metadata": bool(category.attributes), "type": "realtime",
            "keywords": ",".join(filter(None, [category.name, category.name_en])),
            "group": _name(parent, lang) if parent else ""}


def public_category(code: str) -> Category:
    """The public category with this service code, or NotFound."""
    category = db.session.scalars(_public_categories().where(Category.code == code)).first()
    if category is None:
        raise NotFound(f"no service {code!r}")
    return category


def service_definition(code: str) -> dict:
    """GET services/{code}: the attributes a request of this service may or must carry."""
    category = public_category(code)
    return {"service_code": category.code,
            "attributes": [_attribute(a, order) for order, a in enumerate(category.attributes or [], 1)]}


def _attribute(attribute: dict, order: int) -> dict:
    return {"variable": True, "code": attribute["code"], "datatype": attribute["datatype"],
            "required": bool(attribute.get("required")),
            "datatype_description": attribute.get("datatype_description") or "", "order": order,
            "description": attribute["description"],
            "values": [{"key": v["key"], "name": v["name"]} for v in attribute.get("values") or []]}


# --- POST requests ---------------------------------------------------------------------------------

def submit_request(*, account: User, now: datetime, form: dict, attributes: dict[str, list[str]],
                   nearest_m: float) -> Problem:
    """POST requests: a public report in the grid its coordinates fall in (or at the point its address names)."""
    category = public_category(_required(form, "service_code"))
    texts = {name: clean_text(form.get(name), name=name, max_len=limit, multiline=name == "description")
             for name, limit in TEXT_LIMITS.items()}
    location = _location(form, texts["address_string"])
    name = " ".join(filter(None, [texts["first_name"], texts["last_name"]])) or None
    contact = {"contact_name": name, "contact_phone": form.get("phone"), "contact_email": form.get("email")}
    title = f"{category.name}：{texts['description'] or location.get('address') or ''}".rstrip("：")[:200]
    problem, _ = reporting.report_problem(
        actor=account, now=now, category_code=category.code, title=title, description=texts["description"],
        source=Source.PUBLIC, contact=contact, media_url=form.get("media_url") or None,
        intake_attributes=_answers(category, attributes), nearest_m=nearest_m, **location)
    return problem


def _required(form: dict, name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise Invalid(f"{name} is required", errors={name: ["required"]})
    return value


def _location(form: dict, address: str | None) -> dict:
    """lat + long (the grid is found from them), or an address_string naming a known point exactly."""
    lat, lng = form.get("lat"), form.get("long")
    if lat or lng:
        return {"lat": _coordinate(lat, "lat", 90), "lng": _coordinate(lng, "long", 180),
                "address": address or "（坐标上报）"}
    if not address:
        raise Invalid("give lat and long, or address_string", errors={"lat": ["lat and long, or address_string"]})
    point = reporting.point_by_address(address)
    if point is None:
        raise Invalid("address_string names no known place: give lat and long",
                      errors={"address_string": ["not a known place; send lat and long"]})
    return {"point_id": point.id}


def _coordinate(value: str | None, name: str, bound: float) -> float:
    try:
        number = float(value or "")
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise Invalid(f"{name} is not a coordinate", errors={name: [f"a number between -{bound} and {bound}"]})
    return number


def _answers(category: Category, given: dict[str, list[str]]) -> dict | None:
    """attribute[code]=value answers checked against the service definition."""
    defined = {a["code"]: a for a in category.attributes or []}
    unknown = sorted(set(given) - set(defined))
    if unknown:
        raise Invalid(f"unknown attributes {unknown}",
                      errors={f"attribute[{c}]": ["not an attribute"] for c in unknown})
    answers = {code: _given(attribute, given.get(code, [])) for code, attribute in defined.items()}
    return {code: answer for code, answer in answers.items() if answer is not None} or None


def _given(attribute: dict, raw: list[str]):
    """The checked answer to one attribute, or None when it was not answered (422 when it must be)."""
    code = attribute["code"]
    values = [v for v in (clean_text(v, name=f"attribute[{code}]", max_len=500) for v in raw) if v]
    if not values:
        if attribute.get("required"):
            raise Invalid(f"attribute {code} is required", errors={f"attribute[{code}]": ["required"]})
        return None
    return _answer(attribute, values)


def _answer(attribute: dict, values: list[str]):
    code, datatype = attribute["code"], attribute["datatype"]
    if datatype != "multivaluelist" and len(values) > 1:
        raise Invalid(f"attribute {code} takes one value", errors={f"attribute[{code}]": ["one value"]})
    if datatype in LIST_TYPES:
        keys = {v["key"] for v in attribute.get("values") or []}
        if not set(values) <= keys:
            raise Invalid(f"attribute {code}: not one of its values", errors={f"attribute[{code}]": sorted(keys)})
        return values if datatype == "multivaluelist" else values[0]
    if datatype == "number":
        _coordinate(values[0], f"attribute[{code}]", 1e15)
    if datatype == "datetime":
        parse_w3(values[0], f"attribute[{code}]")
    return values[0]


# --- GET requests ----------------------------------------------------------------------------------

def parse_w3(value: str, name: str) -> datetime:
    """A W3C datetime with an offset (2010-01-01T00:00:00Z); 400 for anything else."""
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or not EARLIEST <= at <= LATEST:
        raise Invalid(f"{name} is not a W3C datetime with an offset", errors={name: ["e.g. 2026-12-01T00:00:00Z"]})
    return at.astimezone(UTC)


def find_requests(*, now: datetime, service_request_id: str | None = None, service_code: str | None = None,
                  start_date: str | None = None, end_date: str | None = None, status: str | None = None,
                  lang: str = "zh") -> list[dict]:
    """GET requests: by ids (which override every other filter), else a window of at most 90 days."""
    stmt = select(Problem).join(Category, Category.id == Problem.category_id).where(Category.public.is_(True))
    if service_request_id is not None:
        ids = [part.strip() for part in service_request_id.split(",") if part.strip()]
        if not ids or len(ids) > MAX_IDS:
            raise Invalid("service_request_id: 1 to 100 comma-separated ids",
                          errors={"service_request_id": ["1 to 100 ids"]})
        stmt = stmt.where(Problem.code.in_(ids))
    else:
        stmt = _filtered(stmt, now, service_code, start_date, end_date, status)
    problems = db.session.scalars(stmt.order_by(Problem.reported_at.desc(), Problem.id.desc())
                                  .limit(MAX_REQUESTS)).all()
    return [request_dict(p, lang) for p in problems]


def _filtered(stmt, now, service_code, start_date, end_date, status):
    start, end = _window(now, start_date, end_date)
    stmt = stmt.where(Problem.reported_at >= start, Problem.reported_at <= end)
    if service_code:
        stmt = stmt.where(Category.code.in_([c.strip() for c in service_code.split(",")]))
    return stmt.where(_status(status)) if status else stmt


def _window(now: datetime, start_date: str | None, end_date: str | None) -> tuple[datetime, datetime]:
    """The spec's window: the given dates, filled up to 90 days, by default the 90 days before now."""
    end = parse_w3(end_date, "end_date") if end_date else None
    start = parse_w3(start_date, "start_date") if start_date else None
    end = end or (start + DEFAULT_WINDOW if start else now)
    start = start or end - DEFAULT_WINDOW
    if end < start or end - start > DEFAULT_WINDOW:
        raise Invalid("start_date to end_date may span at most 90 days",
                      errors={"end_date": ["at most 90 days after start_date"]})
    return start, end


def _status(status: str):
    wanted = {s.strip() for s in status.split(",")}
    if not wanted <= {"open", "closed"}:
        raise Invalid("status is open or closed", errors={"status": ["open, closed"]})
    if wanted == {"open"}:
        return Problem.state.not_in(CLOSED_STATES)
    return Problem.state.in_(CLOSED_STATES) if wanted == {"closed"} else true()


def get_request(code: str, *, lang: str = "zh") -> dict:
    """GET requests/{id}: one request of a public service, or NotFound."""
    problem = db.session.scalars(
        select(Problem).join(Category, Category.id == Problem.category_id)
        .where(Problem.code == code, Category.public.is_(True))).first()
    if problem is None:
        raise NotFound(f"no request {code!r}")
    return request_dict(problem, lang)


def request_dict(problem: Problem, lang: str = "zh") -> dict:
    """A problem as the public may see it (GeoReport v2 fields plus the detailed state and its label)."""
    tz = ZoneInfo(problem.timezone)
    agency = db.session.get(Unit, problem.unit_id or problem.grid_unit_id)
    return {
        "service_request_id": problem.code,
        "status": "closed" if problem.state in CLOSED_STATES else "open",
        "status_notes": status_notes(problem, lang),
        "service_name": _name(problem.category, lang),
        "service_code": problem.category.code,
        "description": (problem.description or "") if problem.source == Source.PUBLIC else "",
        "agency_responsible": agency.name if agency else "",
        "service_notice": "",
        "requested_datetime": _w3(problem.reported_at, tz),
        "updated_datetime": _w3(problem.updated_at, tz),
        "expected_datetime": _w3(problem.due_at or problem.stage_due_at, tz) if problem.is_open() else "",
        "address": problem.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": problem.lat,
        "long": problem.lng,
        "media_url": problem.media_url or "",
        "detailed_status": problem.state,
        "detailed_status_label": label(problem.state, lang),
    }


def _w3(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).isoformat(timespec="seconds") if at else ""


def status_notes(problem: Problem, lang: str = "zh") -> str:
    """From the trail: the last change of state, by its label and local time (never a staff member's note)."""
    event = db.session.scalars(
        select(ProblemEvent).where(ProblemEvent.problem_id == problem.id,
                                   ProblemEvent.to_state != ProblemEvent.from_state)
        .order_by(ProblemEvent.seq.desc()).limit(1)).first()
    if event is None:
        event = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                                   .order_by(ProblemEvent.seq).limit(1)).first()
    if event is None:
        return ""
    when = event.at.astimezone(ZoneInfo(problem.timezone)).strftime("%Y-%m-%d %H:%M")
    reason = (event.fields or {}).get("reason_code") if event.action == "cancel" else None
    return f"{when} {label(event.action, lang)}" + (f"（{label(reason, lang)}）" if reason else "")
