"""Problem categories (问题类别) with their time limits per stage."""

from sqlalchemy import JSON, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import db


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    default_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    requires_after_photo: Mapped[bool] = mapped_column(default=False)
    requires_verification_photo: Mapped[bool] = mapped_column(default=False)
    # While an extension request waits for an answer, do the clocks stop?
    pause_on_extension: Mapped[bool] = mapped_column(default=False)
    # {"dispatch": {"minutes": 120, "clock": "working"}, "accept": ..., "whole": ...}
    limits: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    # A non-spatial category (支部建设, 制度建设): its problems belong to a unit, not to a grid and a point.
    spatial: Mapped[bool] = mapped_column(default=True, server_default=true())
    version: Mapped[int] = mapped_column(default=1)

    def limit(self, stage: str) -> tuple[int, str] | None:
        """The (minutes, clock) limit of a stage, or None when the stage has no limit."""
        entry = (self.limits or {}).get(stage)
        return (entry["minutes"], entry["clock"]) if entry else None
