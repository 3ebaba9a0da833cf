"""Text from outside never breaks an export or a report, and never becomes a formula (issue 21, items 2-4)."""

import csv
import inspect
import io
from datetime import timedelta

import pytest
from marshmallow import Schema, fields, validate
from openpyxl import load_workbook
from sqlalchemy import select, update

import api
from api.fields import StrictString
from api.schemas import In
from models import Problem, UnitReport
from models.base import db
from schedules.jobs import run_job
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from tests.workflow.patrols.test_patrols import local
from workflow.ledger import unit_reports

PROBLEMS = "/api/v1/problems"
THURSDAY_MIDNIGHT = local(2026, 11, 26, 0, 5)
FORMULAS = ['=HYPERLINK("http://evil","点我")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


def report(client, world, **fields):
    body = {"category_code": "hawker", "point_id": world.points["market"].id, "title": "早市占道经营"} | fields
    return client.post(PROBLEMS, json=body, headers=world.auth("officer"))


# --- item 2: control characters -------------------------------------------------------------

@pytest.mark.parametrize("char", [chr(c) for c in range(32) if chr(c) not in "\t\n\r"])
def test_a_title_with_a_c0_control_character_is_refused_naming_the_field(client, world, char):
    response = report(client, world, title=f"占道{char}经营")
    assert_problem_json(response, 422, "validation")
    assert "title" in response.json["errors"]
    assert db.session.scalar(select(Problem.id)) is None


def test_tab_newline_and_carriage_return_are_still_text(client, world):
    response = report(client, world, title="占道\t经营", description="第一行\r\n第二行")
    assert response.status_code == 201, response.json


def _text_fields_of(schema: type[Schema]):
    for name, field in schema().fields.items():
        if field.dump_only:
            continue
        inner = getattr(field, "inner", None) or getattr(field, "value_field", None)
        for candidate in (field, inner):
            closed = any(isinstance(v, validate.OneOf | validate.Regexp) for v in getattr(candidate, "validators", ()))
            if type(candidate) is fields.String and not closed and name != "cursor":  # cursor: opaque, decoded
                yield name


def test_every_free_text_field_of_every_write_refuses_control_characters():
    """Every input schema's free text is a StrictString (which refuses C0 controls but tab, LF, CR)."""
    loose = []
    for module in vars(api).values():
        if not inspect.ismodule(module) or not module.__name__.startswith("api."):
            continue
        for name, schema in vars(module).items():
            if inspect.isclass(schema) and issubclass(schema, In) and schema.__module__ == module.__name__:
                loose += [f"{module.__name__}.{name}.{field}" for field in _text_fields_of(schema)]
    assert loose == []
    assert StrictString().deserialize("a\tb\nc\r") == "a\tb\nc"
    with pytest.raises(Exception, match="Control characters"):
        StrictString().deserialize("占道\x01经营")


def _store_title(problem_id: int, title: str) -> None:
    """Text that reached the database before control characters were refused."""
    db.session.execute(update(Problem).where(Problem.id == problem_id).values(title=title))
    db.session.commit()


def test_the_xlsx_export_opens_though_a_stored_title_holds_a_control_character(client, world):
    problem = world.report()
    _store_title(problem.id, "占道\u0001经营")
    response = client.get("/api/v1/problems/export", query_string={"format": "xlsx"},
                          headers=world.auth("supervisor"))
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[1][3] == "占道经营"


def test_daily_reports_are_made_though_an_overdue_title_holds_a_control_character(world):
    problem = world.report()  # its dispatch hour runs out at 11:00: overdue at midnight
    _store_title(problem.id, "占道\u0001经营")
    assert run_job("make_unit_reports", now=THURSDAY_MIDNIGHT) == "made 5 unit reports"
    east = db.session.scalars(select(UnitReport).where(UnitReport.unit_id == world.units["east"].id)).one()
    overdue = list(load_workbook(io.BytesIO(east.xlsx))["超期问题"].iter_rows(min_row=2, values_only=True))
    assert overdue[0][1] == "占道经营"


def test_one_units_report_failing_stops_no_other_and_is_tried_again(world, monkeypatch):
    world.report()
    real = unit_reports.render_xlsx
    east_id = world.units["east"].id

    def render(unit, report, overdue):
        if unit.id == east_id:
            raise ValueError("a broken report")
        return real(unit, report, overdue)

    monkeypatch.setattr(unit_reports, "render_xlsx", render)
    summary = run_job("make_unit_reports", now=THURSDAY_MIDNIGHT)
    assert summary == "made 4 unit reports; 1 failed (tried again next tick)"
    monkeypatch.setattr(unit_reports, "render_xlsx", real)
    assert run_job("make_unit_reports", now=THURSDAY_MIDNIGHT + timedelta(minutes=10)) == "made 1 unit reports"
    assert db.session.scalars(select(UnitReport).where(UnitReport.unit_id == east_id)).one()


# --- items 3 and 4: formulas ------------------------------------------------------------------

def _formula_problems(client, world) -> None:
    for index, text in enumerate(FORMULAS):
        assert report(client, world, title=text, client_id=f"t{index}").status_code == 201
    by_place = {"category_code": "hawker", "grid_id": world.grids["east"].id, "title": "游商", "lat": 35.06,
                "lng": 118.35, "address": FORMULAS[1]}
    assert client.post(PROBLEMS, json=by_place, headers=world.auth("officer")).status_code == 201


def test_csv_cells_that_would_be_formulas_start_with_an_apostrophe(client, world):
    _formula_problems(client, world)
    text = client.get("/api/v1/problems/export", query_string={"format": "csv"},
                      headers=world.auth("supervisor")).data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    titles = {row["标题"] for row in rows}
    assert {"'" + formula for formula in FORMULAS} <= titles
    assert not titles & set(FORMULAS)
    assert "'" + FORMULAS[1] in {row["地址"] for row in rows}


def test_the_ledger_xlsx_holds_the_same_safe_text(client, world):
    _formula_problems(client, world)
    response = client.get("/api/v1/problems/export", query_string={"format": "xlsx"},
                          headers=world.auth("supervisor"))
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [row[3] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)
    assert {"'" + formula for formula in FORMULAS} <= {cell.value for cell in cells}


def test_an_overdue_title_never_becomes_a_formula_in_the_unit_report(world):
    problem = world.report()
    _store_title(problem.id, FORMULAS[0])
    run_job("make_unit_reports", now=THURSDAY_MIDNIGHT)
    east = db.session.scalars(select(UnitReport).where(UnitReport.unit_id == world.units["east"].id)).one()
    (row,) = load_workbook(io.BytesIO(east.xlsx))["超期问题"].iter_rows(min_row=2)
    assert row[1].data_type == "s"
    assert row[1].value == "'" + FORMULAS[0]
    assert NOW  # the problem was reported at NOW and overdue by midnight
