"""The ladder and the inspection templates of config/defaults, seeded where they are missing."""

from datetime import datetime
from functools import partial

from sqlalchemy import select

from models import InspectionTemplate, LadderStep
from models.base import db
from workflow import defaults
from workflow.inspections import templates


def seed_ladder() -> int:
    """Add the ladder's steps when there are none."""
    if db.session.scalar(select(LadderStep.code).limit(1)) is not None:
        return 0
    specs = defaults.load("ladder.toml")["steps"]
    db.session.add_all(LadderStep(**spec) for spec in specs)
    db.session.flush()
    return len(specs)


def seed_templates(*, now: datetime) -> int:
    """Add the default templates whose code does not exist yet (version 1)."""
    return defaults.add_missing(defaults.load("inspection_templates.toml")["templates"],
                                db.session.scalars(select(InspectionTemplate.code)),
                                partial(templates.create_template, actor=None, now=now))


def seed_inspections(*, now: datetime) -> tuple[int, int]:
    """The ladder and the default templates: (steps, templates) added."""
    return seed_ladder(), seed_templates(now=now)
