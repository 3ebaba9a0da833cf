"""Activity days of a campaign or a star (志愿服务日, 宣传, 清洁, 培训): who organised them, where, and how many
people took part or were reached."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class CampaignActivity(db.Model):
    __tablename__ = "campaign_activities"
    __table_args__ = (
        UniqueConstraint("created_by_id", "client_id"),  # an offline phone's retry records it once
        Index("ix_campaign_activities_list_id_starts_at", "list_id", "starts_at"),
        Index("ix_campaign_activities_unit_id_starts_at", "unit_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("problem_lists.id"))
    kind: Mapped[str] = mapped_column(String(16))  # volunteer_day | publicity | cleaning | training | other
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    place: Mapped[str | None] = mapped_column(String(200))  # free text where there is no point
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the organising unit
    timezone: Mapped[str] = mapped_column(String(64))  # the organising unit's, for weeks and exports
    participants: Mapped[int]
    volunteers: Mapped[int | None]
    reached: Mapped[int | None]  # households or people reached
    materials: Mapped[int | None]  # leaflets and other materials handed out
    note: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
