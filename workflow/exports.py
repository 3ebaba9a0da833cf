"""Exports of the filtered ledger: CSV (UTF-8 with BOM for Excel), XLSX and GeoJSON, streamed.

Rows come from the database in batches (`yield_per`), and the XLSX is written by openpyxl's write-only
mode into a temporary file, so memory stays bounded however many problems are exported.
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from models import Category, Grid, Problem, Unit, User
from models.base import db
from models.enums import label
from workflow.ledger import ledger_filters
from workflow.scope import problem_filter

BATCH = 1000
# (header, width in characters)
COLUMNS = [("编号", 18), ("状态", 8), ("类别", 14), ("标题", 30), ("严重程度", 8), ("地址", 30), ("网格", 16),
           ("责任单位", 16), ("上报时间", 17), ("整改期限", 17), ("结案时间", 17), ("时区", 14), ("是否超期", 8),
           ("返工次数", 8), ("督办", 6), ("纬度", 10), ("经度", 10)]


def _problems(actor: User, now: datetime, filters: dict) -> Iterator[Problem]:
    stmt = (select(Problem).where(problem_filter(actor), *ledger_filters(now, filters))
            .order_by(Problem.reported_at.desc(), Problem.id.desc()).execution_options(yield_per=BATCH))
    yield from db.session.scalars(stmt)


def _names(model) -> dict[int, str]:
    return dict(db.session.execute(select(model.id, model.name)).tuples().all())


def _local(value: datetime | None, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


def rows(*, actor: User, now: datetime, filters: dict) -> Iterator[list]:
    """One list of cell values per problem, in ledger order, times in the problem's own timezone."""
    grids, units, categories = _names(Grid), _names(Unit), _names(Category)
    for p in _problems(actor, now, filters):
        yield [p.code, label(p.state), categories[p.category_id], p.title, label(p.severity), p.address or "",
               grids[p.grid_id], units.get(p.unit_id, ""), _local(p.reported_at, p.timezone),
               _local(p.due_at, p.timezone), _local(p.closed_at, p.timezone), p.timezone,
               "是" if p.is_overdue(now) else "否", p.rework_count, "是" if p.supervised else "否",
               p.lat if p.lat is not None else "", p.lng if p.lng is not None else ""]
        db.session.expunge(p)  # keep the identity map from growing with the export


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


def xlsx_chunks(*, actor: User, now: datetime, filters: dict) -> Iterator[bytes]:
    """The workbook (Chinese headers, frozen header row, column widths), via a temporary file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("问题台账")
    sheet.freeze_panes = "A2"
    for index, (_, width) in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([name for name, _ in COLUMNS])
    for row in rows(actor=actor, now=now, filters=filters):
        sheet.append(row)
    with tempfile.TemporaryFile() as out:
        book.save(out)
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
