"""The organisation: units (a tree), users, grids and points."""

from datetime import datetime

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow

user_grids = Table(
    "user_grids",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("grid_id", ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True),
)


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(8))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # "/1/4/9/": the ids from the root down to this unit, so a subtree is one prefix match.
    path: Mapped[str] = mapped_column(String(400), index=True, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # The unit's code in the city's register (单位编码): the natural key of a roster import. `code` above is
    # the district's prefix of problem codes (LY), letters only.
    unit_code: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Quiet hours (local "HH:MM"): non-urgent group-chat messages wait until they end.
    quiet_start: Mapped[str] = mapped_column(String(5), default="22:00", server_default="22:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="07:00", server_default="07:00")

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])

    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this unit."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Natural keys of a roster import: a mobile number, an employee number (工号); either may be missing.
    phone: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    employee_no: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    version: Mapped[int] = mapped_column(default=1)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The console's sign-in: a login (employee number or phone) and an argon2 hash. A password an admin set
    # is temporary (the first sign-in must change it); password_set_at ends the sessions opened before it.
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_temporary: Mapped[bool] = mapped_column(default=False)
    password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit | None] = relationship(lazy="joined")
    grids: Mapped[list["Grid"]] = relationship(secondary=user_grids, order_by="Grid.id")

    @property
    def grid_ids(self) -> list[int]:
        return [grid.id for grid in self.grids]


class ApiToken(db.Model):
    """A bearer token of a user (one per device), stored as its SHA-256; revoked and expired tokens stay."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def status(self, now: datetime) -> str:
        """active, expired or revoked (a revoked token that has also expired reads revoked)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class Grid(db.Model):
    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)  # natural key of imports
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    # Optional GeoJSON Polygon or MultiPolygon (WGS-84 lng/lat): public reports inside it land in this grid.
    boundary: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class Point(db.Model):
    __tablename__ = "points"
    __table_args__ = (Index("ix_points_grid_id_name", "grid_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    # Escalation marks recurring places hot; patrol checklists include them until then.
    hot_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)  # natural key of imports
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    grid: Mapped[Grid] = relationship()
