"""Tamper evidence: every problem's events form a hash chain, and `verify_chains` walks it.

Parties (经营主体) keep a trail of their own (party_events: registration, edits, inspections, orders, ladder
steps) chained the same way, with the same canonical form over party_events' columns and `parties.last_seq`
as its counter; `verify_chains` walks the problem trails, then the party trails, then the admin trail (every
change to reference data and people: admin_events, one chain for the district, counted in
`admin_trail.last_seq`). A `Chain` names one kind.

What is hashed, exactly (so that anyone can re-check a trail without this code):

- canonical(event) is the JSON object of every column of `problem_events` except `id`, `prev_hash` and
  `hash` — today problem_id, seq, action, from_state, to_state, actor_id, actor_name, actor_role, note,
  fields, stage, stage_overdue, stage_natural_s, stage_working_s, at, and any nullable column added later
  — leaving out the columns whose value is null (so a nullable column added later does not change old
  events' hashes); datetimes as UTC ISO 8601 with microseconds (`2026-11-25T02:00:00.000000+00:00`);
  written as Python's `json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
  writes it (keys sorted at every level, no whitespace, non-ASCII characters as themselves), in UTF-8.
- hash = lowercase hex SHA-256 of the 64 ASCII characters of `prev_hash` followed by canonical(event);
  `prev_hash` is the previous event's (seq − 1) `hash`, or 64 zeros for seq 1.

The chain proves the order and content of each trail and, with `problems.last_seq`, that its tail is
complete. A rewrite of a whole trail (or of its tail together with `last_seq`) is caught by the daily
anchor: a digest of every chain's head as of an instant, sent out through the outbox (`audit.anchor`
webhook) and the log, so that a copy lives outside this database. `heads_digest(as_of)` recomputes it at any
later time (`flask audit digest --as-of`); a different answer means a trail was changed.

The digest as of T: SHA-256 over the lines `<problem_id>:<seq>:<hash>\n`, lowest problem first, of each
problem's highest-seq event whose `at` is at or before T (problems with no such event are left out), then
the lines `party:<party_id>:<seq>:<hash>\n` of the party trails, the same way, then the line
`admin:1:<seq>:<hash>\n` of the admin trail's head (left out while it has no event at or before T).
The anchor takes T = its tick minus ANCHOR_LAG, so no transaction still open at T can add to it.
"""

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter

from sqlalchemy import and_, bindparam, func, select, tuple_, update

from models import AdminEvent, AdminTrail, OutboxMessage, Party, PartyEvent, Problem, ProblemEvent
from models.base import db, mark_written
from workflow.notifications import outbox

log = logging.getLogger("rectify.audit")

GENESIS = "0" * 64
NOT_HASHED = frozenset({"id", "prev_hash", "hash"})
STREAM_BATCH = 1000
ANCHOR_TOPIC = "audit.anchor"
ANCHOR_LAG = timedelta(minutes=10)


def hashed_columns(event_model) -> tuple[str, ...]:
    """The columns of an event table that its hash covers: all but `id` and the hashes."""
    return tuple(c.key for c in event_model.__table__.columns if c.key not in NOT_HASHED)


class Chain:
    """One kind of hash-chained trail: its owner (counting its events in `last_seq`), the event model, and
    the event column that names the owner."""

    def __init__(self, name: str, owner, event, key: str):
        self.name, self.owner, self.event, self.key = name, owner, event, key
        self.columns = hashed_columns(event)
        self.owner_column = getattr(event, key)
        self.previous = select(event.hash).where(self.owner_column == bindparam("owner_id"),
                                                 event.seq == bindparam("seq"))


PROBLEMS = Chain("problem", Problem, ProblemEvent, "problem_id")
PARTIES = Chain("party", Party, PartyEvent, "party_id")
ADMIN = Chain("admin", AdminTrail, AdminEvent, "trail_id")
HASHED_COLUMNS = PROBLEMS.columns


# --- hashing ---------------------------------------------------------------------------------

def _json_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(content: Mapping, columns: tuple[str, ...] = HASHED_COLUMNS) -> bytes:
    """The canonical bytes of an event's content (a mapping of column name to value)."""
    document = {name: _json_value(content[name]) for name in columns if content.get(name) is not None}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, content: Mapping, columns: tuple[str, ...] = HASHED_COLUMNS) -> str:
    """sha256(prev_hash || canonical(content)), as lowercase hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(content, columns)).hexdigest()


def _content(event, columns: tuple[str, ...]) -> dict:
    return {name: getattr(event, name) for name in columns}


def next_seq(owner, chain: Chain = PROBLEMS) -> int:
    """Bump the owner's `last_seq` with an UPDATE (its row lock orders concurrent appends) and return it."""
    stmt = (update(chain.owner).where(chain.owner.id == owner.id).values(last_seq=chain.owner.last_seq + 1)
            .returning(chain.owner.last_seq).execution_options(synchronize_session=False))
    seq = db.session.execute(stmt).scalar_one()
    mark_written(owner, {"last_seq": seq})
    return seq


def insert_sealed(event, chain: Chain = PROBLEMS):
    """Seal a new event whose seq the owner's row already counts, and insert it."""
    seal_event(event, chain)
    db.session.add(event)
    db.session.flush([event])
    return event


def seal_event(event, chain: Chain = PROBLEMS) -> None:
    """Set `prev_hash` and `hash` of a new event, before it is inserted.

    The caller has already bumped the owner's `last_seq` to `event.seq` in this transaction with an UPDATE:
    on PostgreSQL that row lock orders writers, and this SELECT, a new statement under READ COMMITTED,
    sees the predecessor its previous holder committed. (A subquery in the UPDATE's RETURNING would not:
    it reads the snapshot taken before the UPDATE waited for the lock.) SQLite runs one writer at a time.
    """
    if event.fields is None:  # the column's default would apply only at the INSERT, after hashing
        event.fields = {}
    if event.seq == 1:
        event.prev_hash = GENESIS
    else:
        # Core on the session's connection (this transaction), without the ORM's per-statement work. A
        # missing predecessor means the trail is broken already: chain on, and verify names the gap.
        previous = {"owner_id": getattr(event, chain.key), "seq": event.seq - 1}
        event.prev_hash = db.session.connection().execute(chain.previous, previous).scalar() or GENESIS
    event.hash = chain_hash(event.prev_hash, _content(event, chain.columns), chain.columns)


def heads(keys: list[tuple[int, int]]) -> dict[int, str]:
    """{problem id: hash of its event at seq} for (problem id, seq) pairs, in one statement (the sweep seals
    a batch of events with it; the callers hold the problems' rows locked, so the heads cannot move)."""
    if not keys:
        return {}
    stmt = select(ProblemEvent.problem_id, ProblemEvent.hash).where(
        tuple_(ProblemEvent.problem_id, ProblemEvent.seq).in_(keys))
    return dict(db.session.execute(stmt).tuples().all())


def seal_after(event, prev_hash: str, chain: Chain = PROBLEMS) -> None:
    """Seal a new event whose predecessor's hash the caller knows (GENESIS for seq 1)."""
    if event.fields is None:
        event.fields = {}
    event.prev_hash = prev_hash
    event.hash = chain_hash(prev_hash, _content(event, chain.columns), chain.columns)


def seal_row(row: dict, prev_hash: str, chain: Chain = PROBLEMS) -> None:
    """`seal_after` for an event kept as a plain row of its columns (inserted with Core, not the ORM)."""
    row["prev_hash"] = prev_hash
    row["hash"] = chain_hash(prev_hash, row, chain.columns)


# --- verifying -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """The first broken link of a trail: `kind` is edited, missing, reordered or inserted; `chain` says whose
    trail (problem or party) `owner_id` names."""

    owner_id: int
    seq: int
    kind: str
    detail: str
    chain: str = "problem"

    @property
    def problem_id(self) -> int | None:
        return self.owner_id if self.chain == PROBLEMS.name else None

    @property
    def party_id(self) -> int | None:
        return self.owner_id if self.chain == PARTIES.name else None

    def __str__(self) -> str:
        if self.chain == ADMIN.name:
            return f"BROKEN: admin trail event seq {self.seq}: {self.kind} ({self.detail})"
        return f"BROKEN: {self.chain} {self.owner_id} event seq {self.seq}: {self.kind} ({self.detail})"



@dataclass(frozen=True)
class Verdict:
    problems: int
    events: int
    broken: Break | None
    parties: int = 0
    party_events: int = 0
    admin_events: int = 0

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chains(*, problem_id: int | None = None, party_id: int | None = None,
                  admin_only: bool = False) -> Verdict:
    """Walk every problem's trail, then every party's, then the admin trail (or only the one asked for), in
    order; stop at the first broken link.

    Streams the events, one trail in memory at a time, from one statement per kind (one snapshot each).
    """
    problems = events = parties = party_events = 0
    if admin_only:
        _, admin_events, broken = _walk(ADMIN, None)
        return Verdict(0, 0, broken, admin_events=admin_events)
    if party_id is None:
        problems, events, broken = _walk(PROBLEMS, problem_id)
        if broken is not None or problem_id is not None:
            return Verdict(problems, events, broken)
    parties, party_events, broken = _walk(PARTIES, party_id)
    if broken is not None or party_id is not None:
        return Verdict(problems, events, broken, parties, party_events)
    _, admin_events, broken = _walk(ADMIN, None)
    return Verdict(problems, events, broken, parties, party_events, admin_events)


def _walk(chain: Chain, owner_id: int | None) -> tuple[int, int, Break | None]:
    """(trails, events, first break) of one kind of chain."""
    owners = events = 0
    result = db.session.execute(_trails_stmt(chain, owner_id), execution_options={"yield_per": STREAM_BATCH})
    try:
        for (oid, last_seq), group in groupby(result.mappings(), key=itemgetter("chain_id", "chain_last_seq")):
            trail = [row for row in group if row["seq"] is not None]
            owners, events = owners + 1, events + len(trail)
            broken = check_trail(oid, last_seq, trail, chain)
            if broken is not None:
                return owners, events, broken
    finally:
        result.close()  # a server-side cursor on PostgreSQL: close it when stopping early
    return owners, events, None


def _trails_stmt(chain: Chain, owner_id: int | None):
    """Every owner with its events (none: a row of nulls), lowest owner first, then by seq."""
    owner, event = chain.owner, chain.event
    stmt = (select(owner.id.label("chain_id"), owner.last_seq.label("chain_last_seq"), *event.__table__.columns)
            .outerjoin(event, chain.owner_column == owner.id)
            .order_by(owner.id, event.seq))
    return stmt if owner_id is None else stmt.where(owner.id == owner_id)


def check_trail(owner_id: int, last_seq: int, trail: list[Mapping], chain: Chain = PROBLEMS) -> Break | None:
    """The first broken link of one trail (events in seq order), or None."""
    prev, expected = GENESIS, 1
    for event in trail:
        if (out_of_place := _out_of_place(chain, owner_id, last_seq, event["seq"], expected)) is not None:
            return out_of_place
        if chain_hash(event["prev_hash"], event, chain.columns) != event["hash"]:
            return _mismatch(chain, owner_id, event, trail)
        if event["prev_hash"] != prev:
            return _unlinked(chain, owner_id, event, trail)
        prev, expected = event["hash"], expected + 1
    if expected <= last_seq:
        return Break(owner_id, expected, "missing",
                     f"the trail ends at seq {expected - 1} but the {chain.name} counts {last_seq} events",
                     chain.name)
    return None


def _out_of_place(chain: Chain, owner_id: int, last_seq: int, seq: int, expected: int) -> Break | None:
    """The seq where `expected` should stand: a gap, an event beyond the counter, or an impossible seq."""
    if seq < expected:
        return Break(owner_id, seq, "edited", "a seq below 1", chain.name)
    if seq > expected and expected <= last_seq:
        return Break(owner_id, expected, "missing", f"the trail jumps from seq {expected - 1} to {seq}", chain.name)
    if seq > last_seq:
        return Break(owner_id, seq, "inserted", f"the {chain.name} counts {last_seq} events", chain.name)
    return None


def _mismatch(chain: Chain, owner_id: int, event: Mapping, trail: list[Mapping]) -> Break:
    """An event whose content does not give its hash: moved from another seq, or edited."""
    seq, highest = event["seq"], max(len(trail), trail[-1]["seq"]) + 1
    for origin in range(1, highest + 1):
        if origin != seq and chain_hash(event["prev_hash"], {**event, "seq": origin}, chain.columns) == event["hash"]:
            return Break(owner_id, seq, "reordered", f"the event written as seq {origin} stands at seq {seq}",
                         chain.name)
    return Break(owner_id, seq, "edited", "its content does not match its hash", chain.name)


def _unlinked(chain: Chain, owner_id: int, event: Mapping, trail: list[Mapping]) -> Break:
    """A self-consistent event that does not follow its predecessor."""
    seq = event["seq"]
    if any(other["hash"] == event["prev_hash"] for other in trail if other["seq"] != seq - 1):
        return Break(owner_id, seq, "reordered", f"it follows another event than seq {seq - 1}", chain.name)
    return Break(owner_id, seq - 1, "edited", f"rewritten with a fresh hash: seq {seq} does not follow it",
                 chain.name)



# --- anchoring -------------------------------------------------------------------------------

def heads_digest(as_of: datetime) -> dict:
    """The digest of every chain's head as of `as_of` (see the module's docstring), streamed."""
    digest = hashlib.sha256()
    problems, events = _digest_heads(digest, PROBLEMS, as_of, "")
    parties, party_events = _digest_heads(digest, PARTIES, as_of, "party:")
    _, admin_events = _digest_heads(digest, ADMIN, as_of, "admin:")
    heads = {"as_of": as_of.astimezone(UTC).isoformat(timespec="microseconds"), "digest": digest.hexdigest(),
             "problems": problems, "events": events}
    heads |= {"parties": parties, "party_events": party_events} if parties else {}
    return heads | ({"admin_events": admin_events} if admin_events else {})


def _digest_heads(digest, chain: Chain, as_of: datetime, prefix: str) -> tuple[int, int]:
    """Feed `digest` the head of each trail of one kind as of `as_of`; (trails, events) counted."""
    event = chain.event
    heads = (select(chain.owner_column.label("owner_id"), func.max(event.seq).label("seq"))
             .where(event.at <= as_of).group_by(chain.owner_column).subquery())
    stmt = (select(heads.c.owner_id, heads.c.seq, event.hash)
            .join(event, and_(chain.owner_column == heads.c.owner_id, event.seq == heads.c.seq))
            .order_by(heads.c.owner_id))
    owners = events = 0
    for owner_id, seq, head in db.session.execute(stmt, execution_options={"yield_per": STREAM_BATCH}):
        digest.update(f"{prefix}{owner_id}:{seq}:{head}\n".encode("ascii"))
        owners, events = owners + 1, events + seq
    return owners, events


def anchor(*, now: datetime, day_start: datetime) -> dict | None:
    """Once a day (no anchor since `day_start`): the digest of the chain heads as of now − ANCHOR_LAG, queued
    for the `audit.anchor` webhook and logged. Returns what was anchored, or None when today's is out."""
    sent = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.topic == ANCHOR_TOPIC,
                                                             OutboxMessage.created_at >= day_start).limit(1))
    if sent is not None:
        return None
    heads = heads_digest(now - ANCHOR_LAG)
    outbox.enqueue(topic=ANCHOR_TOPIC, payload=heads, now=now)
    log.info("audit anchor as of %s: %s over %d problems, %d events", heads["as_of"], heads["digest"],
             heads["problems"], heads["events"])
    return heads
