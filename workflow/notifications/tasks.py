"""What waits for me now: a to-do queue per person, computed from the state of things, never from messages.

Each kind is one query for candidates in the caller's scope, and every problem candidate is then kept only
when `allowed_actions` lets the caller take the action the task is about, so a task is listed to exactly the
people who can act on it (the button is there when they open it). Patrol rounds and the gas-safety
inspection tasks (workflow/inspections/tasks.py) join the same queue.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from models import Party, PatrolRound, Problem, Unit, User, user_grids
from models.base import db
from models.enums import Action, Light, Role, RoundState, State, TaskKind
from workflow.errors import Invalid
from workflow.inspections import tasks as inspection_tasks
from workflow.notifications import work
from workflow.patrols.rounds import rounds_of
from workflow.problems.actions import may_take
from workflow.scope import subtree_ids

KINDS = ("dispatch", "accept", "rectify", "verify", "close", "decide_extension", "decide_suspension", "round",
         "inspection")
LABELS = {"dispatch": ("待派遣", "To dispatch"), "accept": ("待受理", "To accept"),
          "rectify": ("待整改", "To rectify"), "verify": ("待核查", "To verify"), "close": ("待结案", "To close"),
          "decide_extension": ("待审批延期", "Extension to decide"),
          "decide_suspension": ("挂账待处理", "Suspension to review"), "round": ("今日巡查", "Patrol round today"),
          "inspection": ("燃气复查", "Gas-safety recheck")}
# The action whose button a problem task stands for (allowed_actions must offer it).
ACTION_OF = {"dispatch": "assign", "accept": "accept", "rectify": "submit", "verify": "verify", "close": "close",
             "decide_extension": "grant_extension", "decide_suspension": "resume"}
TODAY = (RoundState.SCHEDULED, RoundState.OPEN, RoundState.IN_PROGRESS)  # a round still to walk
SOON = timedelta(hours=2)  # a round that opens within this is "about to open"
CAP = 500  # candidates per kind: a queue longer than this is a backlog for the ledger's filters, not a to-do list


@dataclass
class Task:
    kind: str
    title: str
    due_at: datetime | None
    since: datetime | None
    light: str | None = None
    problem_id: int | None = None
    code: str | None = None
    state: str | None = None
    rework_count: int = 0
    severity: str | None = None
    round_id: int | None = None
    inspection_task_id: int | None = None
    party_id: int | None = None

    def sort_key(self) -> tuple:
        """The most pressing first: overdue and soonest deadlines, tasks without a deadline last."""
        far = datetime.max.replace(tzinfo=UTC)
        return (self.due_at or far, KINDS.index(self.kind), self.problem_id or self.round_id
                or self.inspection_task_id or 0)


def kind_label(kind: str, lang: str = "zh") -> str:
    """A task kind's label for people."""
    zh, en = LABELS[kind]
    return en if lang == "en" else zh


def my_tasks(*, actor: User, now: datetime, kinds: list[str] | None = None) -> list[Task]:
    """Every task waiting for `actor` at `now`, the most pressing first."""
    wanted = [kind for kind in KINDS if not kinds or kind in kinds]
    found: list[Task] = []
    for kind in wanted:
        found += _FINDERS[kind](actor, now)
    return sorted(found, key=Task.sort_key)


def summary(*, actor: User, now: datetime) -> dict:
    """How many tasks of each kind wait for `actor` (a phone's badge)."""
    counts = dict.fromkeys(KINDS, 0)
    for task in my_tasks(actor=actor, now=now):
        counts[task.kind] += 1
    return {"total": sum(counts.values()), "by_kind": counts}


def page(tasks: list[Task], *, limit: int, cursor: str | None) -> dict:
    """A page of the sorted queue; the cursor is the position after the last item shown."""
    start = _offset(cursor)
    items = tasks[start:start + limit]
    more = start + limit < len(tasks)
    return {"items": items, "next_cursor": str(start + limit) if more else None}


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 6:
        raise Invalid("a bad cursor", errors={"cursor": ["not a cursor of this list"]})
    return int(cursor)


# --- problem kinds ------------------------------------------------------------------------------------

def _in_subtree(actor: User):
    units = subtree_ids(actor.unit)
    return or_(Problem.grid_unit_id.in_(units), Problem.unit_id.in_(units))


def _mine_or_unnamed(actor: User):
    return (Problem.unit_id == actor.unit_id) & or_(Problem.handler_id == actor.id, Problem.handler_id.is_(None))


def _problem_conditions(kind: str, actor: User) -> list | None:
    """The SQL for a problem kind's candidates, or None when the caller's role never has that kind."""
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        return {"dispatch": [Problem.state == State.REPORTED, _in_subtree(actor)],
                "close": [Problem.state == State.VERIFIED, _in_subtree(actor)],
                "decide_extension": [Problem.state == State.RECTIFYING, Problem.extension_until.is_not(None),
                                     _in_subtree(actor)],
                "decide_suspension": [Problem.state == State.SUSPENDED, _in_subtree(actor)]}.get(kind)
    if actor.role == Role.HANDLER and actor.unit_id is not None:
        return {"accept": [Problem.state == State.ASSIGNED, _mine_or_unnamed(actor)],
                "rectify": [Problem.state == State.RECTIFYING, _mine_or_unnamed(actor)]}.get(kind)
    if actor.role == Role.OFFICER and kind == "verify":
        grids = select(user_grids.c.grid_id).where(user_grids.c.user_id == actor.id)
        return [Problem.state == State.VERIFYING, Problem.grid_id.in_(grids)]
    return None


def _problem_tasks(kind: str):
    def find(actor: User, now: datetime) -> list[Task]:
        conds = _problem_conditions(kind, actor)
        if conds is None:
            return []
        found = db.session.scalars(select(Problem).where(*conds).order_by(Problem.id).limit(CAP)).all()
        return [_problem_task(kind, problem, now) for problem in found if _can_act(kind, problem, actor, now)]
    return find


def waiting_problems(*, actor: User, now: datetime, limit: int) -> list[tuple[Task, Problem]]:
    """The problem tasks waiting for `actor`, the soonest stage deadline first, at most `limit` (the console's
    desk): the same kinds and the same check as /me/tasks, read in deadline order instead of all at once."""
    found = []
    for kind in ACTION_OF:
        conds = _problem_conditions(kind, actor)
        if conds is not None:
            found += [(_problem_task(kind, problem, now), problem) for problem in _soonest(conds, limit * 2)
                      if _can_act(kind, problem, actor, now)]
    return sorted(found, key=lambda pair: pair[0].sort_key())[:limit]


def _soonest(conds: list, limit: int) -> list[Problem]:
    """Clocked candidates in deadline order (an index range), then those without a clock: never a sort of all."""
    base = select(Problem).where(*conds)
    clocked = db.session.scalars(base.where(Problem.stage_due_at.is_not(None))
                                 .order_by(Problem.stage_due_at, Problem.id).limit(limit)).all()
    if len(clocked) == limit:
        return list(clocked)
    return [*clocked, *db.session.scalars(base.where(Problem.stage_due_at.is_(None)).order_by(Problem.id)
                                          .limit(limit - len(clocked)))]


def _can_act(kind: str, problem: Problem, actor: User, now: datetime) -> bool:
    """The caller has the task's button; an extension waits for its nearest approvers only (work.py)."""
    if not may_take(problem, actor, now, Action(ACTION_OF[kind])):
        return False
    return kind != "decide_extension" or actor.id in work.extension_approvers(problem, now)


def _problem_task(kind: str, problem: Problem, now: datetime) -> Task:
    since = problem.extension_requested_at if kind == "decide_extension" else \
        problem.stage_entered_at or problem.updated_at
    return Task(kind=kind, title=problem.title, due_at=problem.stage_due_at or problem.due_at, since=since,
                light=problem.light(now), problem_id=problem.id, code=problem.code, state=problem.state,
                rework_count=problem.rework_count, severity=problem.severity)


# --- rounds and inspections -----------------------------------------------------------------------

def _local_day(actor: User, now: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(actor.unit.timezone if actor.unit else "Asia/Shanghai")
    start = datetime.combine(now.astimezone(tz).date(), time(), tzinfo=tz)
    return start, start + timedelta(days=1)


def _round_tasks(actor: User, now: datetime) -> list[Task]:
    """Today's rounds of an officer that are open, being walked, or open within SOON."""
    if actor.role != Role.OFFICER:
        return []
    day_start, day_end = _local_day(actor, now)
    stmt = (select(PatrolRound).where(PatrolRound.id.in_(rounds_of(actor.id)),
                                      PatrolRound.state.in_(TODAY),
                                      PatrolRound.planned_start < min(day_end, now + SOON),
                                      PatrolRound.planned_end > day_start)
            .order_by(PatrolRound.planned_start, PatrolRound.id).limit(CAP))
    return [Task(kind="round", title=f"{round_.plan.name} {round_.label}", due_at=round_.planned_end,
                 since=round_.planned_start, round_id=round_.id, state=round_.state)
            for round_ in db.session.scalars(stmt)
            if round_.planned_end + timedelta(minutes=round_.grace_minutes) > now]


def _inspection_tasks(actor: User, now: datetime) -> list[Task]:
    """Open re-inspections and re-checks at the parties of an officer's grids (inspections/tasks.py)."""
    if actor.role != Role.OFFICER:
        return []
    open_ = inspection_tasks.list_tasks(actor=actor, limit=CAP, state=[inspection_tasks.OPEN]).items
    parties = {party.id: party for party in db.session.scalars(
        select(Party).where(Party.id.in_({task.party_id for task in open_})))}
    return [_inspection_task(task, parties[task.party_id], now) for task in open_]


def _inspection_task(task, party: Party, now: datetime) -> Task:
    unit = db.session.get(Unit, party.grid_unit_id)
    due = _end_of(task.due_on, unit.timezone)
    what = "逾期复查" if task.kind == TaskKind.REINSPECTION else f"到期复检 {task.item_code}"
    return Task(kind="inspection", title=f"{party.name} {what}", due_at=due, since=task.created_at,
                light=Light.RED if due <= now else None, inspection_task_id=task.id, party_id=party.id,
                state=task.state)


def _end_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


_FINDERS = {kind: _problem_tasks(kind) for kind in ACTION_OF} | {"round": _round_tasks,
                                                                   "inspection": _inspection_tasks}
