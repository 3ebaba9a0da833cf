"""The ladder and the inspection templates of config/defaults, seeded where they are missing."""

import tomllib
from datetime import datetime

from sqlalchemy import select

from config.settings import DEFAULTS
from models import InspectionTemplate, LadderStep
from models.base import db
from workflow.inspections import templates


def _load(name: str) -> dict:
    return tomllib.loads((DEFAULTS / name).read_text(encoding="utf-8"))


def seed_ladder() -> int:
    """Add the ladder's steps when there are none."""
    if db.session.scalar(select(LadderStep.code).limit(1)) is not None:
        return 0
    specs = _load("ladder.toml")["steps"]
    db.session.add_all(LadderStep(**spec) for spec in specs)
    db.session.flush()
    return len(specs)


def seed_templates(*, now: datetime) -> int:
    """Add the default templates whose code does not exist yet (version 1)."""
    existing = set(db.session.scalars(select(InspectionTemplate.code)))
    added = 0
    for spec in _load("inspection_templates.toml")["templates"]:
        if spec["code"] not in existing:
            templates.create_template(actor=None, now=now, **spec)
            added += 1
    return added


def seed_inspections(*, now: datetime) -> tuple[int, int]:
    """The ladder and the default templates: (steps, templates) added."""
    return seed_ladder(), seed_templates(now=now)
