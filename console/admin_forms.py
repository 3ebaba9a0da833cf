"""The roster's admin forms: which fields each kind of row has, and a posted form read as the API's JSON body.

A form's fields become the body the API's PATCH or POST would take (ids as numbers, coordinates as floats,
yes/no as booleans, an empty field left out of a creation and null in an edit), and the API's own schema
validates it: the console accepts exactly what the API accepts.
"""

import math
from dataclasses import dataclass

from models.enums import Stage

STAGES = tuple(stage.value for stage in Stage)
CLOCKS = ("natural", "working")
MAX_DIGITS = 10


@dataclass(frozen=True)
class Field:
    """One input: `widget` says how it is drawn and read (text, unit, grid, grids, role, kind, float, flag,
    category, limits); `create`/`edit` whether the creation and the edit forms carry it."""

    name: str
    widget: str = "text"
    required: bool = False
    create: bool = True
    edit: bool = True
    label: str = ""

    @property
    def word(self) -> str:
        """The key of its label in console/text.py."""
        return self.label or self.name


def _number(raw: str):
    """An id as a number; anything else as typed, for the schema to name."""
    return int(raw) if raw.isdigit() and len(raw) < MAX_DIGITS else raw


def _float(raw: str):
    try:
        value = float(raw)
    except ValueError:
        return raw
    return value if math.isfinite(value) else raw


def _flag(raw: str):
    return {"true": True, "false": False}.get(raw, raw)


READERS = {"unit": _number, "grid": _number, "float": _float, "flag": _flag}


def read_field(form, field: Field, *, editing: bool):
    """(present, value) of one field: an empty input is absent from a creation and null in an edit."""
    if field.widget == "grids":
        return True, [_number(raw) for raw in form.getlist(field.name) if raw]
    if field.widget == "limits":
        return True, read_limits(form)
    raw = (form.get(field.name) or "").strip()
    if not raw:
        return (editing and field.widget != "flag"), None
    return True, READERS.get(field.widget, str)(raw)


def read_limits(form) -> dict:
    """The stages given a number of minutes, each with its clock."""
    limits = {}
    for stage in STAGES:
        minutes = (form.get(f"limits-{stage}-minutes") or "").strip()
        if minutes:
            limits[stage] = {"minutes": _number(minutes), "clock": form.get(f"limits-{stage}-clock", "")}
    return limits


def body(form, fields: tuple[Field, ...], *, editing: bool) -> dict:
    """The API body of a creation or an edit form."""
    wanted = [f for f in fields if (f.edit if editing else f.create)]
    found = {}
    for field in wanted:
        present, value = read_field(form, field, editing=editing)
        if present:
            found[field.name] = value
    return found


def version(raw: str | None) -> int:
    """The version a form was drawn at (-1 when it names none: always stale)."""
    return int(raw) if raw and raw.isdigit() and len(raw) < MAX_DIGITS else -1


def reason(form) -> dict:
    """The optional reason kept on the admin trail."""
    text = (form.get("reason") or "").strip()
    return {"reason": text} if text else {}


def echo(form, fields: tuple[Field, ...]) -> dict:
    """A refused form's values as typed, to draw it again."""
    values = {}
    for field in fields:
        if field.widget == "grids":
            values[field.name] = [_number(raw) for raw in form.getlist(field.name)]
        elif field.widget == "limits":
            values[field.name] = read_limits(form)
        else:
            values[field.name] = form.get(field.name, "")
    return values
