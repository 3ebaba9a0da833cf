"""Campaign coverage: which parties a campaign covers and how far each got, per grid and per officer.

Per party in scope (matching the campaign's scope, operating), as of now, from the campaign's inspections
(`list_id`) and the orders they issued:
- inspected: at least one inspection; its officer is the officer of the party's first one;
- passed: the first inspection passed;
- ordered: an order to rectify was issued;
- rectified: ordered, and every problem its orders raised or carried is closed (or cancelled);
- reinspected_passed: ordered, and the latest order was complied with at a re-inspection;
- outstanding: not inspected, or ordered and the latest order not yet complied with.
One statement computes each party's flags and sums them by (grid, officer); totals, per grid and per officer
are folded from those few rows. The first inspection and the latest order are marked when written
(`first_in_list`, `superseded`), so the statement is plain hash joins over the parties in scope.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, case, exists, func, select

from models import (
    CampaignScope,
    Grid,
    Inspection,
    InspectionFinding,
    Party,
    PartyTag,
    Problem,
    ProblemList,
    RectificationOrder,
    Unit,
    User,
)
from models.base import db
from models.enums import FINISHED_STATES, OrderState, Outcome, PartyKind, PartyStatus
from workflow.errors import Conflict, Invalid
from workflow.inspections import templates
from workflow.ledger.lists import get_list, manage_list
from workflow.scope import subtree_ids

FIGURES = ("in_scope", "inspected", "passed", "ordered", "rectified", "reinspected_passed", "outstanding")


# --- the scope -------------------------------------------------------------------------------------

def set_scope(*, actor: User, now: datetime, list_id: int, template_code: str, tags: list[str] | None = None,
              grid_ids: list[int] | None = None, kinds: list[str] | None = None) -> CampaignScope:
    """Say which parties a campaign covers (all of `tags`, any of `grid_ids` and `kinds`) and its checklist."""
    campaign = manage_list(actor=actor, list_id=list_id)
    if campaign.kind != "campaign":
        raise Conflict("only a campaign list has a scope of parties", errors={"list_id": ["not a campaign"]})
    _check_scope(campaign, template_code, grid_ids or [], kinds or [])
    scope = db.session.get(CampaignScope, list_id) or CampaignScope(list_id=list_id)
    scope.template_code, scope.updated_at = template_code, now
    scope.tags = list(dict.fromkeys(tags or []))
    scope.grid_ids, scope.kinds = sorted(set(grid_ids or [])), sorted(set(kinds or []))
    db.session.add(scope)
    db.session.flush()
    return scope


def _check_scope(campaign: ProblemList, template_code: str, grid_ids: list[int], kinds: list[str]) -> None:
    """The template exists; the grids lie in the lead unit's area (its supervisors answer for the campaign)."""
    templates.get_template(code=template_code, field="template_code")
    area = subtree_ids(db.session.get(Unit, campaign.lead_unit_id))
    inside = set(db.session.scalars(select(Grid.id).where(Grid.id.in_(grid_ids), Grid.unit_id.in_(area))))
    if unknown := sorted(set(grid_ids) - inside):
        raise Invalid("grids outside the lead unit's area", errors={"grid_ids": [f"unknown or outside: {unknown}"]})
    bad_kinds = sorted(set(kinds) - set(PartyKind))
    if bad_kinds:
        raise Invalid("unknown kinds", errors={"kinds": [f"unknown: {bad_kinds}"]})


def get_scope(*, actor: User, list_id: int) -> CampaignScope:
    """The campaign's scope (Conflict while none is set), for those who see the list."""
    get_list(actor=actor, list_id=list_id)
    scope = db.session.get(CampaignScope, list_id)
    if scope is None:
        raise Conflict("the campaign has no scope of parties yet: PUT /problem-lists/{id}/scope",
                       errors={"scope": ["not set"]})
    return scope


def in_scope(scope: CampaignScope, campaign: ProblemList):
    """The SQL condition for the operating parties a campaign covers (no grids given: the lead unit's area)."""
    conds = [Party.status == PartyStatus.OPERATING]
    # One semi-join per tag: the planner estimates them well (a GROUP BY ... HAVING count(*) = n looked like a
    # hundred rows to PostgreSQL and sent it into nested loops over 20,000 parties).
    conds += [Party.id.in_(select(PartyTag.party_id).where(PartyTag.tag == tag)) for tag in scope.tags]
    if scope.grid_ids:
        conds.append(Party.grid_id.in_(scope.grid_ids))
    else:  # the area's unit ids as values: PostgreSQL estimates them from its statistics (a subquery on the
        # units' path looked like one unit to it, and it chose nested loops over every party)
        area = list(db.session.scalars(subtree_ids(db.session.get(Unit, campaign.lead_unit_id))))
        conds.append(Party.grid_unit_id.in_(area))
    if scope.kinds:
        conds.append(Party.kind.in_(scope.kinds))
    return and_(*conds)


# --- the figures -----------------------------------------------------------------------------------

def party_flags(scope: CampaignScope, campaign: ProblemList):
    """One row per party in scope: grid, officer of its first inspection, and a 0/1 column per figure."""
    list_id = campaign.id
    first = (select(Inspection.party_id, Inspection.officer_id, Inspection.outcome)
             .where(Inspection.list_id == list_id, Inspection.first_in_list.is_(True)).subquery())
    latest = (select(RectificationOrder.party_id, RectificationOrder.state)
              .where(RectificationOrder.list_id == list_id, RectificationOrder.superseded.is_(False)).subquery())
    unfinished = exists().where(RectificationOrder.list_id == list_id, RectificationOrder.party_id == Party.id,
                                InspectionFinding.order_id == RectificationOrder.id,
                                Problem.id == InspectionFinding.problem_id, Problem.state.not_in(FINISHED_STATES))
    inspected, ordered = first.c.party_id.is_not(None), latest.c.party_id.is_not(None)
    complied = latest.c.state == OrderState.COMPLIED
    return (select(Party.id.label("party_id"), Party.grid_id, first.c.officer_id,
                   _flag(inspected).label("inspected"), _flag(first.c.outcome == Outcome.PASS).label("passed"),
                   _flag(ordered).label("ordered"), _flag(and_(ordered, ~unfinished)).label("rectified"),
                   _flag(and_(ordered, complied)).label("reinspected_passed"),
                   _flag(~inspected | (ordered & ~complied)).label("outstanding"))
            .outerjoin(first, first.c.party_id == Party.id).outerjoin(latest, latest.c.party_id == Party.id)
            .where(in_scope(scope, campaign)))


def _flag(condition):
    return case((condition, 1), else_=0)


def coverage(*, actor: User, list_id: int) -> dict:
    """The campaign's figures in total, per grid and per officer (null: parties nobody inspected yet)."""
    campaign = get_list(actor=actor, list_id=list_id)
    scope = get_scope(actor=actor, list_id=list_id)
    flags = party_flags(scope, campaign).subquery()
    sums = [func.count().label("in_scope")] + [func.sum(flags.c[name]).label(name) for name in FIGURES[1:]]
    rows = db.session.execute(select(flags.c.grid_id, flags.c.officer_id, *sums)
                              .group_by(flags.c.grid_id, flags.c.officer_id)).mappings().all()
    totals, by_grid, by_officer = _zero(), defaultdict(_zero), defaultdict(_zero)
    for row in rows:
        for target in (totals, by_grid[row["grid_id"]], by_officer[row["officer_id"]]):
            for name in FIGURES:
                target[name] += int(row[name] or 0)
    return {"list_id": list_id, "scope": scope, "totals": totals,
            "by_grid": _labelled(by_grid, Grid, "grid_id"), "by_officer": _labelled(by_officer, User, "officer_id")}


def _zero() -> dict[str, int]:
    return dict.fromkeys(FIGURES, 0)


def _labelled(groups: dict, model, key: str) -> list[dict]:
    names = dict(db.session.execute(select(model.id, model.name).where(model.id.in_([k for k in groups if k])))
                 .tuples().all())
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    return [{key: k, "name": names.get(k), **figures} for k, figures in ordered]


def campaign_items(scope: CampaignScope) -> list[dict]:
    """The items of the campaign's checklist (its newest version), for the ledger's columns."""
    return list(templates.get_template(code=scope.template_code).items)

