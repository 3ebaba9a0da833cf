"""Exports of the filtered ledger: the XLSX opens with openpyxl and says what the API says."""

import csv
import io
import json

from openpyxl import load_workbook

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow.problems import reporting


def ledger_codes(client, world, by="supervisor", **query) -> list[str]:
    items = client.get("/api/v1/problems", query_string={"limit": 200, **query}, headers=world.auth(by)).json
    return [item["code"] for item in items["items"]]


def export(client, world, fmt, by="supervisor", **query):
    response = client.get("/api/v1/problems/export", query_string={"format": fmt, **query}, headers=world.auth(by))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def some_problems(world):
    world.to_state("closed")
    world.to_state("rectifying")
    world.report(by="west_officer", point="night")
    reporting.report_problem(actor=world.users["officer"], now=NOW, category_code="hawker",
                            point_id=world.points["market"].id, title='早市 占道，含"引号"')
    db.session.commit()


def test_the_xlsx_opens_and_its_rows_equal_the_filtered_ledger(client, world):
    some_problems(world)
    response = export(client, world, "xlsx", state="reported,rectifying")
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "状态", "类别", "标题")
    assert [row[0] for row in rows[1:]] == ledger_codes(client, world, state="reported,rectifying")
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["D"].width == 30
    assert {row[11] for row in rows[1:]} == {"Asia/Shanghai"}
    assert rows[1][8] == "2026-11-25 10:00"  # reported at NOW, in the unit's timezone


def test_the_csv_starts_with_a_bom_and_keeps_chinese_text_and_quotes(client, world):
    some_problems(world)
    text = export(client, world, "csv").data.decode("utf-8")
    assert text.startswith("\ufeff编号,状态")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ledger_codes(client, world)
    assert any("含\"引号\"" in row[3] for row in rows)


def test_the_geojson_is_a_feature_collection_of_points(client, world):
    some_problems(world)
    collection = json.loads(export(client, world, "geojson").data)
    assert collection["type"] == "FeatureCollection"
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "Point" and len(feature["geometry"]["coordinates"]) == 2
    assert feature["properties"]["reported_at"].endswith("+00:00") and "state_label" in feature["properties"]
    assert [f["properties"]["code"] for f in collection["features"]] == ledger_codes(client, world)


def test_an_export_sees_only_the_callers_scope(client, world):
    some_problems(world)
    sheet = load_workbook(io.BytesIO(export(client, world, "xlsx", by="west_supervisor").data)).active
    codes = [row[0] for row in list(sheet.iter_rows(values_only=True))[1:]]
    assert codes == ledger_codes(client, world, by="west_supervisor") and len(codes) == 1


def test_an_export_without_a_known_format_or_with_paging_is_422(client, world):
    for query in ({"format": "pdf"}, {}, {"format": "csv", "limit": 10}):
        assert_problem_json(client.get("/api/v1/problems/export", query_string=query,
                                       headers=world.auth("supervisor")), 422)
