"""The problem aggregate: a problem, its append-only event trail and its evidence."""

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_, or_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.category import Category
from models.enums import FINISHED_STATES, Light, State


class Problem(db.Model):
    __tablename__ = "problems"
    __table_args__ = (
        UniqueConstraint("reporter_id", "client_id"),
        Index("ix_problems_reported_at_id", "reported_at", "id"),
        Index("ix_problems_state_reported_at", "state", "reported_at"),
        # Performance (bench/RESULTS.md): ledger pages in an officer's grids or a handler's unit walk these in
        # order; the sweep takes what is due in index order; patrol checklists look up problems at points.
        Index("ix_problems_grid_id_reported_at_id", "grid_id", "reported_at", "id"),
        Index("ix_problems_unit_id_reported_at_id", "unit_id", "reported_at", "id"),
        Index("ix_problems_next_check_at_id", "next_check_at", "id"),
        Index("ix_problems_point_id_state_closed_at", "point_id", "state", "closed_at"),
        # Recurrence (the same category at the same point within days): statistics and the escalation rule.
        Index("ix_problems_point_id_category_id_reported_at", "point_id", "category_id", "reported_at"),
        # The console's dashboard: open problems by state and light in a scope, read from the index alone.
        Index("ix_problems_open_desk", "state", "stage_due_at", "stage_warn_at", "grid_unit_id", "unit_id",
              postgresql_where=text("state NOT IN ('closed', 'cancelled')"),
              sqlite_where=text("state NOT IN ('closed', 'cancelled')")),
        # The to-do queue's extensions to decide: the few problems whose extension request waits.
        Index("ix_problems_pending_extension", "stage_due_at", "id",
              postgresql_where=text("extension_until IS NOT NULL"), sqlite_where=text("extension_until IS NOT NULL")),
        # A hotline ticket (or any outside reference) makes one problem per source, however often it is posted.
        Index("uq_problems_source_external_ref", "source", "external_ref", unique=True),
        # 漏报: the share of a grid's problems first reported from outside, per period.
        Index("ix_problems_source_reported_at", "source", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(10), default="normal")

    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"), index=True)
    # A problem of a non-spatial category (decision 0091) has no grid, point or coordinates: its `grid_unit_id`
    # (the area unit, which scope, statistics and unit reports follow) is the unit named at the report.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    grid_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    address: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64))

    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str | None] = mapped_column(String(100))
    resolved_on_site: Mapped[bool] = mapped_column(default=False)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    # The problem this one repeats (反弹): the latest earlier one of the same category at the same point, not
    # cancelled, reported in the 30 days before it and verified or closed by then. Linked at the report,
    # relinked when that one is cancelled or its report is moved; statistics count recurrences from it.
    recurrence_of: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    # The problem this report may duplicate: the latest earlier one of its category at its point that was still
    # open when it was reported (workflow/problems/recurrence.py); a supervisor cancels it with duplicate_of.
    possible_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_rounds.id"), index=True)  # a finding
    # The party (经营主体) the problem is about, when it has one: an inspection's failed item always does.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)

    # Where the report came from (models/enums.py::Source) and, from outside, its reference there (the
    # hotline ticket number) and the reporter's contact: only supervisors and admins ever see the contact.
    source: Mapped[str] = mapped_column(String(12), default="officer", server_default="officer")
    external_ref: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # A link the reporter gave (Open311 media_url): stored, shown, never fetched by the server.
    media_url: Mapped[str | None] = mapped_column(String(2000))
    # Answers to the Open311 service definition's attributes: {code: value or [values]}.
    intake_attributes: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # The latest callback (回访) to the reporter after closing; the trail keeps every one.
    callback_satisfaction: Mapped[str | None] = mapped_column(String(24))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The running stage clock; a new cycle starts every time a stage clock starts afresh.
    stage: Mapped[str | None] = mapped_column(String(10))
    stage_cycle: Mapped[int] = mapped_column(default=0)
    # When the problem entered the running stage (kept across pauses and extension cycles): statistics.
    stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the stage clock last (re)started counting — the stage start, or the resume after a pause —
    # with `stage_elapsed_s` of its `stage_limit_s` (clock seconds of this cycle) already used then.
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_limit_s: Mapped[int | None]
    stage_elapsed_s: Mapped[int] = mapped_column(default=0, server_default="0")
    stage_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stage_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the current round of work began (accept, reject, send_back): evidence must be newer.
    work_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    whole_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # While the clocks are paused (挂账, or a pending extension when the category says so)
    # the deadlines are null and what was left of each is kept here, in seconds of its clock.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_warn_left_s: Mapped[int | None]
    stage_left_s: Mapped[int | None]
    whole_left_s: Mapped[int | None]

    # When the escalation sweep should look at this problem next (an index scan finds what is due).
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rework_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    supervised: Mapped[bool] = mapped_column(default=False)

    extension_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    extension_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_count: Mapped[int] = mapped_column(default=0)
    extension_granted_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))

    version: Mapped[int] = mapped_column(default=1)
    last_seq: Mapped[int] = mapped_column(default=0)

    category: Mapped[Category] = relationship(lazy="joined", innerjoin=True)
    # Loaded on first use and then held by the problem: the problems of a ledger page share a few area units,
    # which `session.get` alone would select again for each row (the identity map holds objects weakly).
    grid_unit: Mapped["Unit"] = relationship(foreign_keys=[grid_unit_id], viewonly=True)  # noqa: F821

    def is_open(self) -> bool:
        return self.state not in FINISHED_STATES

    def light(self, now: datetime) -> Light | None:
        """Traffic light of the running stage clock: green, yellow (≥ 80 %), red (past due); red too while
        the clocks are paused on a problem that was already overdue (frozen), null while paused otherwise."""
        if self.paused_at is not None:
            return Light.RED if self._overdue_when_paused() else None
        if self.stage_due_at is None:
            return None
        if now >= self.stage_due_at:
            return Light.RED
        if self.stage_warn_at is not None and now >= self.stage_warn_at:
            return Light.YELLOW
        return Light.GREEN

    @staticmethod
    def light_clause(light: Light, now: datetime):
        """`light(now) == light` in SQL (the ledger's ?light= filter)."""
        if light == Light.RED:
            return or_(Problem.stage_due_at <= now, Problem.frozen_clause())
        if light == Light.YELLOW:
            return and_(Problem.stage_warn_at <= now, Problem.stage_due_at > now)
        return and_(Problem.stage_warn_at > now, Problem.stage_due_at > now)

    @staticmethod
    def frozen_clause():
        """Paused after a deadline had passed (red while paused), in SQL."""
        return and_(Problem.paused_at.is_not(None),
                    or_(and_(Problem.stage_left_s.is_not(None), Problem.stage_left_s < 0),
                        and_(Problem.whole_left_s.is_not(None), Problem.whole_left_s < 0)))

    @staticmethod
    def overdue_clause(now: datetime):
        """`is_overdue` in SQL. IS NOT NULL spelled out so that its negation is never NULL."""
        running = or_(and_(Problem.stage_due_at.is_not(None), Problem.stage_due_at <= now),
                      and_(Problem.due_at.is_not(None), Problem.due_at <= now))
        frozen = Problem.frozen_clause()
        finished_late = and_(Problem.state == State.CLOSED, Problem.due_at.is_not(None),
                             Problem.closed_at.is_not(None), Problem.closed_at >= Problem.due_at)
        return or_(and_(Problem.state.not_in(FINISHED_STATES), or_(running, frozen)), finished_late)

    def is_overdue(self, now: datetime) -> bool:
        """The one definition of overdue (decision 0033): an open problem past its stage or whole-case deadline
        now, or past one when its clocks were paused (frozen while suspended); a closed problem closed at or
        after its whole-case deadline. A cancelled problem is never overdue."""
        if self.state == State.CLOSED:
            return self.due_at is not None and self.closed_at is not None and self.closed_at >= self.due_at
        if not self.is_open():
            return False
        if self.paused_at is not None:
            return self._overdue_when_paused()
        return any(due is not None and now >= due for due in (self.stage_due_at, self.due_at))

    def _overdue_when_paused(self) -> bool:
        return any(left is not None and left < 0 for left in (self.stage_left_s, self.whole_left_s))


class ProblemEvent(db.Model):
    __tablename__ = "problem_events"
    __table_args__ = (UniqueConstraint("problem_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The actor's name and role as they were when the event happened.
    actor_name: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    stage: Mapped[str | None] = mapped_column(String(10))
    stage_overdue: Mapped[bool | None]
    # On the event that ended a stage: how long the stage took, in natural and in working seconds
    # (from entering the stage to leaving it, pauses included).
    stage_natural_s: Mapped[int | None]
    stage_working_s: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Tamper evidence (workflow/audit.py says exactly what is hashed): the previous event's `hash` (64
    # zeros for seq 1) and sha256(prev_hash || canonical content), hex. A later column must be nullable
    # (nulls are left out of the content) or old events stop verifying. PostgreSQL refuses UPDATE/DELETE.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Attachment(db.Model):
    """Evidence on a problem (整改前后照片): the stored image and what its EXIF says."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("problem_id", "uploaded_by_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # before | after | verification | other
    content_type: Mapped[str] = mapped_column(String(64))  # from the bytes, never from the client
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))  # the storage key: a retried upload stores once
    width: Mapped[int | None]
    height: Mapped[int | None]
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    flags: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(100))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CodeCounter(db.Model):
    """The last sequence number handed out for human problem codes per prefix and local day."""

    __tablename__ = "code_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class OpenProblemCount(db.Model):
    """Open problems counted by what the dashboard groups and scopes them by (decision 0116).

    Database triggers on `problems` (the migration 9b6c2d4e1f70 holds their SQL) append a row of -1 for a
    problem's old key and +1 for its new one whenever one of the key's columns changes, so every writer (the
    ORM, one-statement writes, bulk SQL) keeps it exact without knowing it; the `compact_counts` job folds the
    rows into one per key. The deadlines are kept by UTC day: a light is read as the days before today from
    here plus today's deadlines up to now from the problems' own indexes."""

    __tablename__ = "open_problem_counts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    grid_id: Mapped[int | None]
    grid_unit_id: Mapped[int]
    unit_id: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(16))
    due_day: Mapped[date | None]  # the UTC day of stage_due_at
    warn_day: Mapped[date | None]  # the UTC day of stage_warn_at
    frozen: Mapped[bool]  # paused after a deadline passed: red while paused
    n: Mapped[int]


class StageSpan(db.Model):
    """A stage that a problem left, for the statistics' stage times (decision 0123): one row per stage-ending
    event (`stage_natural_s` set), with the problem's `reported_at` beside it, so that a period's stage times
    are read by an index range on `reported_at` instead of through every event of the period's problems.

    A database trigger on `problem_events` (the migration d3f5a7b9c124 holds its SQL) inserts the row in the
    same statement as the event, so every writer (the ORM, the one-statement transition, the sweep's plain rows,
    bulk SQL) keeps it without knowing it; the hash chain does not cover it (it is not an event column).
    A problem's `reported_at` never changes after its report, so the copy stays true."""

    __tablename__ = "stage_spans"
    __table_args__ = (
        Index("ix_stage_spans_reported_at", "reported_at", "problem_id",
              postgresql_include=["stage", "natural_s", "working_s"]),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # problem_events.id
    problem_id: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the problem's
    stage: Mapped[str | None] = mapped_column(String(10))
    natural_s: Mapped[int] = mapped_column(Integer)
    working_s: Mapped[int | None] = mapped_column(Integer)
