"""Exports of the filtered ledger: CSV (UTF-8 with BOM for Excel), XLSX and GeoJSON, streamed.

Rows come from the database in batches (`yield_per`, plain column tuples: no ORM objects per row), and the XLSX
is streamed into a zipped temporary file, so memory stays bounded however many problems are exported. The
XLSX is written here, from a few fixed XML parts and one row template (inline strings, one frozen header row,
column widths): openpyxl, even in write-only mode, builds objects per cell and managed ~3,000 rows a second on
our 2 cores against 20,000 needed (bench/RESULTS.md). Tests read the result back with openpyxl.
"""

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from models import Category, Grid, Problem, Unit, User
from models.base import db
from models.enums import label
from workflow.ledger.query import ledger_filters
from workflow.scope import problem_filter

BATCH = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# (header, width in characters). 所属单位: the grid's unit, or the unit a shortfall without a place belongs to.
COLUMNS = [("编号", 18), ("状态", 8), ("类别", 14), ("标题", 30), ("严重程度", 8), ("地址", 30), ("网格", 16),
           ("责任单位", 16), ("上报时间", 17), ("整改期限", 17), ("结案时间", 17), ("时区", 14), ("是否超期", 8),
           ("返工次数", 8), ("督办", 6), ("纬度", 10), ("经度", 10), ("所属单位", 16)]


def safe_text(value) -> str:
    """Text for a spreadsheet cell (CSV or XLSX), the one helper every export and workbook uses: never read as
    a formula (a leading =, +, -, @, tab or CR gets an apostrophe, as OWASP advises) and without the control
    characters XML cannot carry (text stored before they were refused)."""
    text = ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _problems(actor: User, now: datetime, filters: dict) -> Iterator[Problem]:
    stmt = (select(Problem).where(problem_filter(actor), *ledger_filters(now, filters))
            .order_by(Problem.reported_at.desc(), Problem.id.desc()).execution_options(yield_per=BATCH))
    yield from db.session.scalars(stmt)


def _names(model) -> dict[int, str]:
    return dict(db.session.execute(select(model.id, model.name)).tuples().all())


def _local(value: datetime | None, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


ROW_COLUMNS = (Problem.code, Problem.state, Problem.category_id, Problem.title, Problem.severity, Problem.address,
               Problem.grid_id, Problem.unit_id, Problem.reported_at, Problem.due_at, Problem.closed_at,
               Problem.timezone, Problem.rework_count, Problem.supervised, Problem.lat, Problem.lng,
               Problem.grid_unit_id)


def rows(*, actor: User, now: datetime, filters: dict) -> Iterator[list]:
    """One list of cell values per problem, in ledger order, times in the problem's own timezone."""
    grids, units, categories = _names(Grid) | {None: ""}, _names(Unit), _names(Category)
    stmt = (select(*ROW_COLUMNS, Problem.overdue_clause(now).label("overdue"))
            .where(problem_filter(actor), *ledger_filters(now, filters))
            .order_by(Problem.reported_at.desc(), Problem.id.desc()).execution_options(yield_per=BATCH))
    for p in db.session.execute(stmt):
        yield [safe_text(p.code), label(p.state), safe_text(categories[p.category_id]), safe_text(p.title),
               label(p.severity), safe_text(p.address), safe_text(grids[p.grid_id]), safe_text(units.get(p.unit_id)),
               _local(p.reported_at, p.timezone),
               _local(p.due_at, p.timezone), _local(p.closed_at, p.timezone), p.timezone,
               "是" if p.overdue else "否", p.rework_count, "是" if p.supervised else "否",
               p.lat if p.lat is not None else "", p.lng if p.lng is not None else "",
               safe_text(units[p.grid_unit_id])]


def csv_chunks(*, actor: User, now: datetime, filters: dict) -> Iterator[str]:
    """The CSV, a few hundred rows at a time, starting with a BOM so Excel reads the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([name for name, _ in COLUMNS])
    for count, row in enumerate(rows(actor=actor, now=now, filters=filters), 1):
        writer.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
    'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
    'formats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
    '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="问题台账" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
    '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship '
    'Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>',
    "xl/styles.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
    '</fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
    '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="1">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle '
    'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxml'
              'formats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
              'topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><cols>{cols}</cols>'
              '<sheetData>')
LETTERS = [get_column_letter(index) for index in range(1, len(COLUMNS) + 1)]


# Which cells hold text people typed (escaped), which are numbers (rework count, latitude, longitude: a whole
# cell each, or nothing when empty); the others are labels, times and zone names this module wrote.
TYPED_TEXT = {0, 2, 3, 5, 6, 7, 17}
NUMBERS = {13, 15, 16}


def _row_template() -> str:
    cells = []
    for index, letter in enumerate(LETTERS):
        if index in NUMBERS:
            cells.append(f"{{{index + 1}}}")
        else:
            cells.append(f'<c r="{letter}{{0}}" t="inlineStr"><is><t>{{{index + 1}}}</t></is></c>')
    return '<row r="{0}">' + "".join(cells) + "</row>"


ROW_TEMPLATE = _row_template()


def _row(number: int, values: list) -> str:
    """One sheet row: a format string filled in, which is what keeps the export fast."""
    cells = [escape(str(value)) if index in TYPED_TEXT else value for index, value in enumerate(values)]
    for index in NUMBERS:
        value = values[index]
        cells[index] = f'<c r="{LETTERS[index]}{number}"><v>{value!r}</v></c>' if value != "" else ""
    return ROW_TEMPLATE.format(number, *cells)


def xlsx_chunks(*, actor: User, now: datetime, filters: dict) -> Iterator[bytes]:
    """The workbook (Chinese headers, frozen header row, column widths), via a temporary file."""
    cols = "".join(f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>'
                   for i, (_, width) in enumerate(COLUMNS, 1))
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
            for name, part in XLSX_PARTS.items():
                book.writestr(name, part)
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                header = "".join(f'<c r="{letter}1" t="inlineStr"><is><t>{name}</t></is></c>'
                                 for letter, (name, _) in zip(LETTERS, COLUMNS, strict=True))
                buffer = [SHEET_HEAD.format(cols=cols), f'<row r="1">{header}</row>']
                for number, row in enumerate(rows(actor=actor, now=now, filters=filters), 2):
                    buffer.append(_row(number, row))
                    if len(buffer) >= 500:
                        sheet.write("".join(buffer).encode())
                        buffer.clear()
                buffer.append("</sheetData></worksheet>")
                sheet.write("".join(buffer).encode())
        out.seek(0)
        while chunk := out.read(65536):
            yield chunk


def geojson_chunks(*, actor: User, now: datetime, filters: dict) -> Iterator[str]:
    """A FeatureCollection of the problems that have coordinates, with codes, labels and offset times."""
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    for p in _problems(actor, now, filters):
        if p.lat is None or p.lng is None:
            continue
        feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [p.lng, p.lat]},
                   "properties": {"id": p.id, "code": p.code, "state": p.state, "state_label": label(p.state),
                                  "category_code": p.category.code, "title": p.title, "severity": p.severity,
                                  "reported_at": p.reported_at.isoformat(), "overdue": p.is_overdue(now),
                                  "due_at": p.due_at.isoformat() if p.due_at else None}}
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
        first = False
        db.session.expunge(p)
    yield "]}"
