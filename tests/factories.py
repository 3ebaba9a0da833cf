"""Rows for tests, built through the same workflow functions an admin uses."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models import Category, Grid, Point, Problem, Unit, User
from models.base import db
from workflow import org
from workflow.problems import actions, reporting

NATURAL = {"dispatch": {"minutes": 60, "clock": "natural"}, "accept": {"minutes": 60, "clock": "natural"},
           "rectify": {"minutes": 600, "clock": "natural"}, "verify": {"minutes": 120, "clock": "natural"},
           "whole": {"minutes": 2880, "clock": "natural"}}
WORKING = {"dispatch": {"minutes": 120, "clock": "working"}, "accept": {"minutes": 240, "clock": "working"},
           "rectify": {"minutes": 960, "clock": "working"}, "verify": {"minutes": 480, "clock": "working"},
           "whole": {"minutes": 2400, "clock": "working"}}


@dataclass
class World:
    """district ─┬─ east (subdistrict) ─ squad (handlers)
                 ├─ west (subdistrict)
                 └─ sanitation (department)"""

    now: datetime
    units: dict[str, Unit] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    points: dict[str, Point] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)

    @classmethod
    def build(cls, *, now: datetime) -> "World":
        w = cls(now=now)
        w.unit("district", "district", None, code="LY")
        w.unit("east", "subdistrict", "district")
        w.unit("west", "subdistrict", "district")
        w.unit("squad", "squad", "east")
        w.unit("sanitation", "department", "district")
        w.grids["east"] = org.create_grid(actor=None, now=now, name="东关第一网格", unit_id=w.units["east"].id)
        w.grids["west"] = org.create_grid(actor=None, now=now, name="西城第一网格", unit_id=w.units["west"].id)
        w.points["market"] = org.create_point(actor=None, now=now, name="东关早市", grid_id=w.grids["east"].id,
                                              lat=35.0621, lng=118.3561, address="东关路 1 号")
        w.points["night"] = org.create_point(actor=None, now=now, name="西城夜市", grid_id=w.grids["west"].id,
                                             lat=35.0589, lng=118.3302, address="西城广场")
        w.categories["hawker"] = org.create_category(actor=None, now=now, code="hawker", name="流动摊贩",
                                                     name_en="Street hawker", limits=NATURAL)
        w.categories["shopfront"] = org.create_category(actor=None, now=now, code="shopfront", name="突店经营",
                                                        name_en="Shop-front extension", limits=WORKING)
        w.user("admin", "admin", None)
        w.user("supervisor", "supervisor", "district")
        w.user("east_supervisor", "supervisor", "east")
        w.user("west_supervisor", "supervisor", "west")
        w.user("officer", "officer", "east", grids=["east"])
        w.user("officer2", "officer", "east", grids=["east"])
        w.user("west_officer", "officer", "west", grids=["west"])
        w.user("handler", "handler", "squad")
        w.user("handler2", "handler", "squad")
        w.user("sanitation_handler", "handler", "sanitation")
        return w

    def unit(self, key: str, kind: str, parent: str | None, code: str | None = None) -> Unit:
        self.units[key] = org.create_unit(actor=None, now=self.now, name=key, kind=kind, code=code,
                                          parent_id=self.units[parent].id if parent else None)
        return self.units[key]

    def user(self, key: str, role: str, unit: str | None, grids: tuple = ()) -> User:
        user, token = org.create_user(actor=None, now=self.now, name=key, role=role,
                                      unit_id=self.units[unit].id if unit else None,
                                      grid_ids=[self.grids[g].id for g in grids])
        self.users[key], self.tokens[key] = user, token
        return user

    def auth(self, key: str, **headers) -> dict:
        """Headers for an API call as user `key`."""
        return {"Authorization": f"Bearer {self.tokens[key]}", **headers}

    def report(self, *, by: str = "officer", category: str = "hawker", point: str = "market",
               at: datetime | None = None, **fields) -> Problem:
        problem, _ = reporting.report_problem(actor=self.users[by], now=at or self.now, title="占道经营",
                                             category_code=self.categories[category].code,
                                             point_id=self.points[point].id, **fields)
        db.session.commit()
        return problem

    def act(self, problem: Problem, action: str, *, by: str, at: datetime | None = None, **fields) -> Problem:
        """Apply an action as user `by` and commit, as a request would."""
        result = actions.apply_action(actor=self.users[by], now=at or self.now, problem_id=problem.id,
                                       action=action, expected_version=problem.version, **fields)
        db.session.commit()
        return result

    def walk(self, problem: Problem, *steps: tuple, at: datetime | None = None) -> Problem:
        """Apply (action, by, fields) steps in order, one minute apart."""
        at = at or self.now
        for index, (action, by, fields) in enumerate(steps):
            problem = self.act(problem, action, by=by, at=at + timedelta(minutes=index + 1), **fields)
        return problem

    def to_state(self, state: str, *, category: str = "hawker") -> Problem:
        """A fresh problem walked into `state` along the usual path."""
        problem = self.report(category=category)
        for action, by, fields in PATHS[state](self):
            problem = self.act(problem, action, by=by, **fields)
        return problem


def _assign(w: World) -> tuple:
    return ("assign", "supervisor", {"unit_id": w.units["squad"].id})


PATHS = {
    "reported": lambda w: [],
    "assigned": lambda w: [_assign(w)],
    "rectifying": lambda w: [_assign(w), ("accept", "handler", {})],
    "verifying": lambda w: [_assign(w), ("accept", "handler", {}), ("submit", "handler", {"note": "done"})],
    "verified": lambda w: [_assign(w), ("accept", "handler", {}), ("submit", "handler", {"note": "done"}),
                           ("verify", "officer", {"note": "ok"})],
    "closed": lambda w: [_assign(w), ("accept", "handler", {}), ("submit", "handler", {"note": "done"}),
                         ("verify", "officer", {"note": "ok"}), ("close", "supervisor", {})],
    "cancelled": lambda w: [("cancel", "supervisor", {"reason": "duplicate"})],
    "suspended": lambda w: [_assign(w), ("accept", "handler", {}), ("suspend", "supervisor", {"note": "winter"})],
}


def default_fields(w: World, action: str, now: datetime) -> dict:
    """A valid set of fields for each action, for walks over the whole table."""
    return {
        "assign": {"unit_id": w.units["squad"].id},
        "reassign": {"unit_id": w.units["squad"].id, "note": "handler changed"},
        "return": {"reason": "not ours"},
        "submit": {"note": "cleared"},
        "verify": {"note": "checked on site"},
        "reject": {"reason": "still there"},
        "send_back": {"reason": "photos unclear"},
        "cancel": {"reason": "duplicate"},
        "suspend": {"note": "waiting for demolition"},
        "request_extension": {"until": now + timedelta(days=30), "note": "contractor needed"},
        "comment": {"text": "noted"},
    }.get(action, {})
