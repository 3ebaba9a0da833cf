"""Problem lists (问题清单): campaigns, star-creation shortfall lists, a round's findings."""

from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.enums import ListState

problem_list_items = Table(
    "problem_list_items",
    db.metadata,
    Column("list_id", ForeignKey("problem_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("problem_id", ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, nullable=False),
)


class ProblemList(db.Model):
    __tablename__ = "problem_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # campaign | star | round_findings | other
    # A drive (e.g. 五星支部创建) holds one child list per star; progress rolls up one level (decision 0090).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("problem_lists.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)  # 牵头单位
    unit_ids: Mapped[list] = mapped_column(JSON, default=list)  # cooperating units
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    target_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default=ListState.OPEN)  # a ListState
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
