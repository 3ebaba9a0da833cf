"""The first day's roster from a spreadsheet: the template filled in, checked row by row, all or nothing,
idempotent on rerun."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import AdminEvent, Grid, Point, Unit, User
from models.base import db
from tests.conftest import NOW
from workflow.errors import Invalid, PayloadTooLarge, UnsupportedMedia
from workflow.roster import imports


def filled(units=(), grids=(), points=(), people=()) -> bytes:
    """The template with rows added to its sheets."""
    book = load_workbook(io.BytesIO(imports.template()))
    for sheet, rows in (("单位", units), ("网格", grids), ("点位", points), ("人员", people)):
        for row in rows:
            book[sheet].append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def district(points=200, people=50) -> bytes:
    """A district of two subdistricts with a grid each, `points` points and `people` people."""
    units = [("LY01", "临沂区", "district", None, None), ("LY0101", "东关街道", "subdistrict", "LY01", None),
             ("LY0102", "西城街道", "subdistrict", "LY01", None), ("LY010101", "东关中队", "squad", "LY0101", None)]
    grids = [("G-E1", "东关第一网格", "LY0101"), ("G-W1", "西城第一网格", "LY0102")]
    spots = [(f"P{n:04d}", f"点位{n}", "G-E1" if n % 2 else "G-W1", 35.0 + n / 10000, 118.3 + n / 10000, f"路{n}号")
             for n in range(points)]
    roles = [("巡查员", "LY0101", "G-E1"), ("处置人员", "LY010101", None), ("值班长", "LY0101", None)]
    staff = [(f"人员{n}", roles[n % 3][0], roles[n % 3][1], f"1380000{n:04d}", f"E{n:04d}", roles[n % 3][2])
             for n in range(people)]
    return filled(units, grids, spots, staff)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_district_of_200_points_and_50_people_imports_and_a_rerun_changes_nothing(world):
    before = {model: count(model) for model in (Unit, Grid, Point, User)}
    report = imports.import_roster(actor=world.users["admin"], now=NOW, data=district(), filename="roster.xlsx")
    db.session.commit()
    assert report.created == {"units": 4, "grids": 2, "points": 200, "people": 50}
    assert {model: count(model) - before[model] for model in before} == {Unit: 4, Grid: 2, Point: 200, User: 50}
    assert len(report.tokens) == 50 and all(len(t["token"]) >= 32 for t in report.tokens)
    squad = db.session.scalar(select(Unit).where(Unit.unit_code == "LY010101"))
    assert squad.path.startswith(db.session.scalar(select(Unit.path).where(Unit.unit_code == "LY0101")))
    officer = db.session.scalar(select(User).where(User.phone == "13800000000"))
    assert officer.role == "officer" and [g.code for g in officer.grids] == ["G-E1"]
    events = count(AdminEvent)
    assert events == 256

    again = imports.import_roster(actor=world.users["admin"], now=NOW, data=district(), filename="roster.xlsx")
    db.session.commit()
    assert again.created == again.updated == {"units": 0, "grids": 0, "points": 0, "people": 0}
    assert again.unchanged == {"units": 4, "grids": 2, "points": 200, "people": 50}
    assert again.tokens == [] and count(AdminEvent) == events


def test_a_rerun_with_a_moved_point_and_a_renamed_person_changes_just_those(world):
    imports.import_roster(actor=None, now=NOW, data=district(points=3, people=3))
    db.session.commit()
    data = district(points=3, people=3)
    book = load_workbook(io.BytesIO(data))
    book["点位"]["D2"] = 35.5
    book["人员"]["A3"] = "改名"
    out = io.BytesIO()
    book.save(out)
    report = imports.import_roster(actor=None, now=NOW, data=out.getvalue())
    assert report.updated == {"units": 0, "grids": 0, "points": 1, "people": 1}
    moved = db.session.scalar(select(AdminEvent).where(AdminEvent.action == "import", AdminEvent.resource == "point"))
    assert moved.fields == {"lat": {"before": 35.0, "after": 35.5}}


def test_a_file_with_three_bad_rows_is_refused_whole_naming_the_three_rows(world):
    data = district(points=5, people=3)
    book = load_workbook(io.BytesIO(data))
    book["点位"]["D4"] = "北纬35度"       # points row 4: lat
    book["点位"]["C6"] = "G-NOWHERE"     # points row 6: grid_code
    book["人员"]["B3"] = "队长"           # people row 3: role
    out = io.BytesIO()
    book.save(out)
    before = {model: count(model) for model in (Unit, Grid, Point, User, AdminEvent)}
    with pytest.raises(Invalid) as refused:
        imports.import_roster(actor=None, now=NOW, data=out.getvalue())
    db.session.rollback()
    assert set(refused.value.errors) == {"points[4].lat", "points[6].grid_code", "people[3].role"}
    assert refused.value.errors["points[6].grid_code"] == ["unknown grid G-NOWHERE"]
    assert "3 rows refused" in refused.value.detail
    assert {model: count(model) for model in before} == before


@pytest.mark.parametrize(("rows", "key", "message"), [
    ({"units": [("U1", "甲", "galaxy", None, None)]}, "units[2].kind", None),
    ({"units": [("U1", "甲", "district", None, "Mars/Base")]}, "units[2].timezone", "not an IANA timezone"),
    ({"units": [("U1", "甲", "district", "U1", None)]}, "units[2].parent_code", "a unit cannot be its own parent"),
    ({"units": [("U1", "甲", "district", None, None), ("U1", "乙", "district", None, None)]}, "units[3].unit_code",
     "repeats row 2"),
    ({"grids": [("G1", "网格", "NOPE")]}, "grids[2].unit_code", "unknown unit NOPE"),
    ({"grids": [("G 1", "网格", None)]}, "grids[2].code", "1-32 letters, digits, _ . -"),
    ({"points": [("P1", "点\n位", "G1", 35, 118, None)]}, "points[2].name", "control characters are not allowed"),
    ({"points": [("P1", "点位", None, 35, 181, None)]}, "points[2].lng", "a number between -180 and 180"),
    ({"people": [("张三", "巡查员", None, "13800000000", None, None)]}, "people[2].unit_code",
     "required for this role"),
    ({"people": [("张三", "处置人员", None, None, None, None)]}, "people[2].phone",
     "give a phone number or an employee number (工号)"),
    ({"people": [("张三", "admin", None, "call me", None, None)]}, "people[2].phone", None),
    ({"people": [("张三", "admin", None, "13800000000", None, "G1")]}, "people[2].grid_codes",
     "only officers patrol grids"),
], ids=["kind", "timezone", "own parent", "repeated key", "unknown unit", "bad code", "control character",
        "longitude", "unit required", "no natural key", "phone", "grids for an admin"])
def test_each_bad_row_is_named_with_its_field(world, rows, key, message):
    data = filled(**rows)
    with pytest.raises(Invalid) as refused:
        imports.import_roster(actor=None, now=NOW, data=data)
    assert key in refused.value.errors, refused.value.errors
    if message:
        assert message in refused.value.errors[key]


def test_a_child_before_its_parent_in_the_file_is_fine_and_a_circle_is_refused(world):
    report = imports.import_roster(actor=None, now=NOW, data=filled(units=[
        ("C", "社区", "community", "P", None), ("P", "街道", "subdistrict", None, None)]))
    assert report.created["units"] == 2
    db.session.rollback()
    with pytest.raises(Invalid) as refused:
        imports.import_roster(actor=None, now=NOW, data=filled(units=[
            ("A", "甲", "community", "B", None), ("B", "乙", "community", "A", None)]))
    assert set(refused.value.errors) == {"units[2].parent_code", "units[3].parent_code"}


def test_an_existing_person_is_matched_by_phone_and_their_role_or_unit_is_not_changed_by_an_import(world):
    officer = world.users["officer"]
    officer.phone = "13900000001"
    db.session.commit()
    world.units["east"].unit_code = "EAST"
    db.session.commit()
    with pytest.raises(Invalid) as refused:
        imports.import_roster(actor=None, now=NOW, data=filled(people=[("officer", "处置人员", "EAST", "13900000001",
                                                                       None, None)]))
    assert list(refused.value.errors) == ["people[2].role"]
    assert f"PATCH /api/v1/users/{officer.id}" in refused.value.errors["people[2].role"][0]


def test_a_csv_names_each_rows_kind_and_may_be_gbk(world):
    text = ("类别,单位编码,单位名称,类型,网格编码,网格名称,所属单位编码\n"
            "单位,LY9,新区,district,,,\n"
            "网格,,,,G9,新区网格,LY9\n")
    for encoding in ("utf-8-sig", "gb18030"):
        report = imports.import_roster(actor=None, now=NOW, data=text.encode(encoding), filename="roster.csv")
        assert report.created["units"] + report.unchanged["units"] == 1
        assert report.created["grids"] + report.unchanged["grids"] == 1
    assert db.session.scalar(select(Grid.name).where(Grid.code == "G9")) == "新区网格"


def test_a_file_that_is_not_a_roster_is_refused_clearly(world):
    with pytest.raises(PayloadTooLarge):
        imports.import_roster(actor=None, now=NOW, data=b"x" * (imports.MAX_BYTES + 1))
    with pytest.raises(UnsupportedMedia):
        imports.import_roster(actor=None, now=NOW, data=b"\xd0\xcf\x11\xe0 an old xls", filename="roster.xls")
    with pytest.raises(Invalid) as broken:
        imports.import_roster(actor=None, now=NOW, data=b"PK\x03\x04 not really a zip", filename="roster.xlsx")
    assert broken.value.errors == {"file": ["not a readable XLSX workbook"]}
    with pytest.raises(Invalid) as nul:
        nul_in_a_name = "类别,单位编码,单位名称,类型\n单位,U1,a\x00b,district\n".encode()
        imports.import_roster(actor=None, now=NOW, data=nul_in_a_name, filename="r.csv")
    assert nul.value.errors == {"units[2].name": ["control characters are not allowed"]}
    with pytest.raises(Invalid) as huge:
        imports.import_roster(actor=None, now=NOW, data=b"kind,name\nunits," + b"x" * 200_000 + b"\n")
    assert huge.value.errors == {"file": ["not a readable CSV"]}
    with pytest.raises(Invalid) as empty:
        imports.import_roster(actor=None, now=NOW, data=b"")
    assert empty.value.errors == {"file": ["empty"]}
    with pytest.raises(Invalid) as no_kind:
        imports.import_roster(actor=None, now=NOW, data="名称,编码\n甲,1\n".encode(), filename="roster.csv")
    assert "file" in no_kind.value.errors
    with pytest.raises(Invalid) as unknown_column:
        imports.import_roster(actor=None, now=NOW, data="类别,颜色\n单位,红\n".encode(), filename="r.csv")
    assert unknown_column.value.errors == {"file[1]": ["unknown column 颜色"]}
    with pytest.raises(Invalid) as missing_column:
        imports.import_roster(actor=None, now=NOW, data="类别,单位名称\n单位,新区\n".encode(), filename="r.csv")
    assert missing_column.value.errors == {"units[1]": ["missing column 单位编码", "missing column 类型"]}
