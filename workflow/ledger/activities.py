"""Activity days of a campaign or a star (decision 0092): a volunteer day, publicity, cleaning or training, with
its organising unit, place and counts — participants, volunteers, households or people reached, materials handed
out — and photos. Recorded from phones (offline-safe with `client_id`), totalled per campaign, unit and week.

Who: the units taking part in a list are its lead unit and its cooperating units (and, for a star, its drive's).
Officers and supervisors of a taking-part unit, of a unit below one or above one, record activities their own
unit's subtree organised; they and the list's supervisors read them; admins do both.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import CampaignActivity, InspectionPhoto, Point, ProblemList, Unit, User
from models.base import db
from models.enums import ListState, Role
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.ledger.lists import children_of, lock_list, visible_lists
from workflow.scope import subtree_ids, unit_within

KINDS = ("volunteer_day", "publicity", "cleaning", "training", "other")
KIND_LABELS = {"volunteer_day": "志愿服务日", "publicity": "宣传", "cleaning": "清洁", "training": "培训",
               "other": "其他"}
COUNTS = ("participants", "volunteers", "reached", "materials")
RECORDERS = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMIN})
CLOCK_SKEW = timedelta(minutes=5)
LONGEST = timedelta(days=7)


def _taking_part(problem_list: ProblemList) -> list[Unit]:
    """The lead and cooperating units of the list and, for a star, of its drive."""
    lists = [problem_list] + ([db.session.get(ProblemList, problem_list.parent_id)] if problem_list.parent_id else [])
    ids = {unit_id for found in lists for unit_id in (found.lead_unit_id, *found.unit_ids)}
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids))))


def _related(unit: Unit, units: list[Unit]) -> bool:
    """`unit` lies in, or above, one of `units`."""
    return any(unit_within(unit, other) or unit_within(other, unit) for other in units)


def _list_for(actor: User, list_id: int) -> ProblemList:
    """The list, if the caller reads its activities: an admin, a supervisor who sees it, or someone of a unit
    taking part (NotFound otherwise; handlers are refused)."""
    if actor.role not in RECORDERS:
        raise Forbidden("activities are recorded and read by officers, supervisors and admins")
    problem_list = db.session.get(ProblemList, list_id)
    if problem_list is None:
        raise NotFound(f"problem list {list_id} not found")
    if actor.role == Role.ADMIN:
        return problem_list
    if actor.role == Role.SUPERVISOR and db.session.scalar(
            select(ProblemList.id).where(ProblemList.id == list_id, visible_lists(actor))):
        return problem_list
    if actor.unit is None or not _related(actor.unit, _taking_part(problem_list)):
        raise NotFound(f"problem list {list_id} not found")
    return problem_list


def record_activity(*, actor: User, now: datetime, list_id: int, kind: str, starts_at: datetime, unit_id: int,
                    participants: int, client_id: str | None = None, photo_ids: list[int] | None = None,
                    **fields) -> tuple[CampaignActivity, bool]:
    """Record an activity day on a list; a repeated `client_id` of the same person returns the first record."""
    problem_list = _list_for(actor, list_id)
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing, False
    unit = _organiser(actor, problem_list, unit_id)
    _check_when(now, starts_at, fields.get("ends_at"))
    _check_place(fields.get("point_id"), fields.get("place"))
    activity = CampaignActivity(list_id=problem_list.id, kind=kind, starts_at=starts_at, unit_id=unit.id,
                                timezone=unit.timezone, participants=participants, client_id=client_id,
                                created_by_id=actor.id, created_at=now, **fields)
    try:
        with db.session.begin_nested():
            db.session.add(activity)
            db.session.flush()
    except IntegrityError:
        return _by_client_id(actor, client_id), False
    _claim_photos(actor, activity, photo_ids or [])
    return activity, True


def _by_client_id(actor: User, client_id: str | None) -> CampaignActivity | None:
    return db.session.scalars(select(CampaignActivity).where(CampaignActivity.created_by_id == actor.id,
                                                             CampaignActivity.client_id == client_id)).first()


def _organiser(actor: User, problem_list: ProblemList, unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise Invalid("unknown unit", errors={"unit_id": ["unknown unit"]})
    if actor.role != Role.ADMIN and not unit_within(unit, actor.unit):
        raise Forbidden("record activities your own unit's subtree organised")
    lock_list(problem_list.id, shared=True)
    if problem_list.state != ListState.OPEN:
        raise Conflict("the list is closed: it takes no more activities")
    if not _related(unit, _taking_part(problem_list)):
        raise Invalid("the unit does not take part", errors={"unit_id": ["not a lead or cooperating unit of the list"]})
    return unit


def _check_when(now: datetime, starts_at: datetime, ends_at: datetime | None) -> None:
    if starts_at > now + CLOCK_SKEW:
        raise Invalid("an activity is recorded once it has happened", errors={"starts_at": ["in the future"]})
    if ends_at is not None and not starts_at < ends_at <= starts_at + LONGEST:
        raise Invalid("ends_at must follow starts_at, within 7 days", errors={"ends_at": ["after starts_at, ≤ 7 days"]})


def _check_place(point_id: int | None, place: str | None) -> None:
    if point_id is None and not place:
        raise Invalid("say where: a point or a place", errors={"place": ["give point_id or place"]})
    if point_id is not None and db.session.get(Point, point_id) is None:
        raise Invalid("unknown point", errors={"point_id": ["unknown point"]})


def _claim_photos(actor: User, activity: CampaignActivity, photo_ids: list[int]) -> None:
    """The photos the activity names: uploaded by the recorder, not yet used by an inspection or an activity."""
    wanted = set(photo_ids)
    mine = set(db.session.scalars(select(InspectionPhoto.id).where(
        InspectionPhoto.id.in_(wanted), InspectionPhoto.uploaded_by_id == actor.id,
        InspectionPhoto.inspection_id.is_(None), InspectionPhoto.activity_id.is_(None))
        .with_for_update()))
    if bad := sorted(wanted - mine):
        raise Invalid("unknown or used photos", errors={"photo_ids": [f"not your unused photos: {bad}"]})
    for photo in db.session.scalars(select(InspectionPhoto).where(InspectionPhoto.id.in_(mine))):
        photo.activity_id = activity.id


def photos_of(activity_ids: list[int]) -> dict[int, list[InspectionPhoto]]:
    found = defaultdict(list)
    stmt = select(InspectionPhoto).where(InspectionPhoto.activity_id.in_(activity_ids)).order_by(InspectionPhoto.id)
    for photo in db.session.scalars(stmt):
        found[photo.activity_id].append(photo)
    return found


def readable(actor: User, activity_id: int) -> bool:
    """Whether `actor` reads the activity (and so its photos)."""
    activity = db.session.get(CampaignActivity, activity_id)
    try:
        return activity is not None and _list_for(actor, activity.list_id) is not None
    except (NotFound, Forbidden):
        return False


def _list_ids(problem_list: ProblemList) -> list[int]:
    """A list's own id and its children's: a drive's activities are its stars' too."""
    return [problem_list.id, *(child.id for child in children_of(problem_list.id))]


def select_activities(*, actor: User, list_id: int, kind: str | None = None, unit_id: int | None = None):
    """The activities of a list and of its children, for keyset paging (newest first)."""
    problem_list = _list_for(actor, list_id)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    if unit_id and unit is None:
        raise Invalid("unknown unit", errors={"unit_id": ["unknown unit"]})
    conds = [CampaignActivity.list_id.in_(_list_ids(problem_list)),
             CampaignActivity.kind == kind if kind else None,
             CampaignActivity.unit_id.in_(subtree_ids(unit)) if unit else None]
    return select(CampaignActivity).where(*[c for c in conds if c is not None])


def activities_of(problem_list: ProblemList) -> list[CampaignActivity]:
    """Every activity of a list and of its children, oldest first (callers have checked who may read)."""
    stmt = (select(CampaignActivity).where(CampaignActivity.list_id.in_(_list_ids(problem_list)))
            .order_by(CampaignActivity.starts_at, CampaignActivity.id))
    return list(db.session.scalars(stmt))


def _zero() -> dict:
    return {"activities": 0} | dict.fromkeys(COUNTS, 0)


def _add(into: dict, activity: CampaignActivity) -> None:
    into["activities"] += 1
    for name in COUNTS:
        into[name] += getattr(activity, name) or 0


def week_of(activity: CampaignActivity) -> date:
    """The Monday of the activity's local week (in its organising unit's timezone)."""
    day = activity.starts_at.astimezone(ZoneInfo(activity.timezone)).date()
    return day - timedelta(days=day.weekday())


def totals(*, actor: User, list_id: int) -> dict:
    """The list's activities (its children's included) added up: in total, per organising unit, per local week."""
    return totals_of(_list_for(actor, list_id))


def totals_of(problem_list: ProblemList) -> dict:
    total, by_unit, by_week, by_kind = _zero(), defaultdict(_zero), defaultdict(_zero), defaultdict(_zero)
    for activity in activities_of(problem_list):
        for into in (total, by_unit[activity.unit_id], by_week[week_of(activity)], by_kind[activity.kind]):
            _add(into, activity)
    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(list(by_unit)))).tuples().all())
    return {"list_id": problem_list.id, "totals": total,
            "by_unit": [{"unit_id": unit_id, "label": names[unit_id]} | figures
                        for unit_id, figures in sorted(by_unit.items())],
            "by_week": [{"week": week} | figures for week, figures in sorted(by_week.items())],
            "by_kind": [{"kind": kind, "label": KIND_LABELS[kind]} | figures
                        for kind, figures in sorted(by_kind.items())]}


def unit_figures(unit: Unit, start: datetime, end: datetime) -> dict:
    """Activities organised by `unit`'s subtree that started in [start, end): the unit reports' figures."""
    sums = [func.count(CampaignActivity.id), *(func.coalesce(func.sum(getattr(CampaignActivity, name)), 0)
                                               for name in COUNTS)]
    row = db.session.execute(select(*sums).where(
        CampaignActivity.unit_id.in_(subtree_ids(unit)), CampaignActivity.starts_at >= start,
        CampaignActivity.starts_at < end)).one()
    return dict(zip(("activities", *COUNTS), (int(value) for value in row), strict=True))
