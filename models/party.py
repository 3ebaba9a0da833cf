"""Parties (经营主体): shops, restaurants, stalls and booths at a point; their tags, trail and ladder."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow


class Party(db.Model):
    __tablename__ = "parties"
    __table_args__ = (
        Index("ix_parties_grid_id_kind", "grid_id", "kind"),
        # The ladder's step-down sweep reads the parties on a step since before a cutoff.
        Index("ix_parties_ladder_step_ladder_since", "ladder_step", "ladder_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # restaurant | shop | stall | market_booth | other
    # 统一社会信用代码 (GB 32100), 18 characters with its check character; stalls may have none.
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    licence_numbers: Mapped[list] = mapped_column(JSON, default=list)
    # Personal data: shown in full only to the party's supervisors and the officers who inspected it.
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10), default="operating")  # operating | closed | moved
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    grid_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    # The enforcement ladder (ladder_steps.code; null: no step in effect), since when, and a step up that
    # waits for a supervisor (立案处罚 needs a case number and a penalty only a person can record).
    ladder_step: Mapped[str | None] = mapped_column(String(16))
    ladder_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proposed_step: Mapped[str | None] = mapped_column(String(16))
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    last_seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tag_rows: Mapped[list["PartyTag"]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                      order_by="PartyTag.tag")

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class PartyTag(db.Model):
    """A tag of a party (e.g. bottled_gas): rows, so that a campaign's scope is an index lookup."""

    __tablename__ = "party_tags"
    __table_args__ = (Index("ix_party_tags_tag_party_id", "tag", "party_id"),)

    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class PartyEvent(db.Model):
    """The party's append-only trail: registration, edits, inspections, orders and ladder steps, hash-chained
    exactly as problem events are (workflow/audit.py)."""

    __tablename__ = "party_events"
    __table_args__ = (UniqueConstraint("party_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    from_step: Mapped[str | None] = mapped_column(String(16))
    to_step: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LadderStep(db.Model):
    """A step of the enforcement ladder, as data: who may put a party on it, what it needs recorded, when a
    repeat failure climbs from it and after how many clean days a party comes down from it."""

    __tablename__ = "ladder_steps"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    rank: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str | None] = mapped_column(String(60))
    decided_by: Mapped[list] = mapped_column(JSON, default=list)  # roles that may take this step
    requires: Mapped[list] = mapped_column(JSON, default=list)  # e.g. ["case_number", "penalty"]
    repeat_within_days: Mapped[int | None]
    clean_days: Mapped[int | None]
