"""A row named by an input field: the row, or a 422 naming the field when it is unknown or retired."""

from models.base import db
from workflow.errors import Invalid


def known(model, row_id: int, field: str, what: str, *, active: bool = True):
    """The row of `model` with id `row_id`: 422 on `field` when there is none, or it is retired (`active`)."""
    row = db.session.get(model, row_id)
    if row is None:
        raise Invalid(f"unknown {what} {row_id}", errors={field: [f"unknown {what}"]})
    if active and not row.active:
        raise Invalid(f"{what} {row_id} is retired", errors={field: [f"retired {what}"]})
    return row
