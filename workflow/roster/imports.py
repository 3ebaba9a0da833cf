"""The first day's roster from a spreadsheet: units, grids, points (with coordinates) and people.

One XLSX with four sheets (单位 units, 网格 grids, 点位 points, 人员 people; `template()` makes it), or one CSV
whose `类别`/`kind` column says which of the four each row is. Headers in Chinese or as the English keys.
Every row is checked before anything is written; one bad row refuses the whole file, and the error names every
bad row by sheet, row number (as the spreadsheet shows it: the header is row 1) and field. Rows match what is
already there by natural key (unit_code, grid code, point code, a person's phone or employee number), so a
rerun of the same file creates nothing and changes nothing. People's role and unit are not changed by an import
(their open work must move with them: PATCH /users/{id}); an officer's grids are.
"""

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy import or_, select

from models import Grid, PatrolPlan, Point, Unit, User
from models.base import db
from models.enums import Role, UnitKind
from workflow import org
from workflow.calendar import check_timezone
from workflow.errors import DomainError, Invalid, PayloadTooLarge, UnsupportedMedia
from workflow.roster import trail
from workflow.roster.edits import GRID, POINT, UNIT, move_unit, save_versioned
from workflow.roster.people import PERSON, PERSONAL, grids_for, leave_teams

MAX_BYTES = 5 * 2**20
MAX_ROWS = 10_000
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CODES = frozenset({"unit_code", "code", "parent_code", "grid_code", "employee_no"})


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header of the template
    required: bool = False
    max_len: int = 100


SHEETS: dict[str, tuple[str, tuple[Column, ...]]] = {
    "units": ("单位", (Column("unit_code", "单位编码", True, 32), Column("name", "单位名称", True),
                       Column("kind", "类型", True), Column("parent_code", "上级单位编码", False, 32),
                       Column("timezone", "时区", False, 64))),
    "grids": ("网格", (Column("code", "网格编码", True, 32), Column("name", "网格名称", True),
                       Column("unit_code", "所属单位编码", True, 32))),
    "points": ("点位", (Column("code", "点位编码", True, 32), Column("name", "点位名称", True, 200),
                        Column("grid_code", "所属网格编码", True, 32), Column("lat", "纬度", True, 32),
                        Column("lng", "经度", True, 32), Column("address", "地址", False, 300))),
    "people": ("人员", (Column("name", "姓名", True), Column("role", "角色", True),
                        Column("unit_code", "所属单位编码", False, 32), Column("phone", "手机号", False, 32),
                        Column("employee_no", "工号", False, 32), Column("grid_codes", "负责网格编码", False, 400))),
}
ORDER = tuple(SHEETS)
KIND_COLUMN = ("类别", "kind")
KIND_NAMES = {name: key for key, (zh, _) in SHEETS.items() for name in (key, zh)} | {"person": "people",
                                                                                      "unit": "units",
                                                                                      "grid": "grids",
                                                                                      "point": "points"}
ROLE_NAMES = {"巡查员": Role.OFFICER, "处置人员": Role.HANDLER, "值班长": Role.SUPERVISOR, "管理员": Role.ADMIN}


@dataclass
class Row:
    sheet: str
    number: int
    values: dict


@dataclass
class Report:
    """What an import did, or would refuse: counts per sheet, new people's tokens, errors by row."""

    created: dict = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    updated: dict = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    unchanged: dict = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    tokens: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)

    def refuse(self, row: Row, column: str, message: str) -> None:
        self.errors.setdefault(f"{row.sheet}[{row.number}].{column}", []).append(message)


# --- reading the file ----------------------------------------------------------------------------

def read_rows(data: bytes, filename: str = "") -> dict[str, list[Row]]:
    """The rows of each sheet, cells as stripped text (None when empty)."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"an import file is limited to {MAX_BYTES // 2**20} MiB")
    if not data:
        raise Invalid("the file is empty", errors={"file": ["empty"]})
    if data[:4] == b"PK\x03\x04":
        return _xlsx_rows(data)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise UnsupportedMedia("not an XLSX workbook (an .xls from old Excel? save it as .xlsx)")
    return _csv_rows(data)


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)  # a phone number or a code Excel stored as a number
    text = str(value).strip()
    return text or None


def _xlsx_rows(data: bytes) -> dict[str, list[Row]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or hostile zip
        raise Invalid(f"not a readable XLSX workbook ({error.__class__.__name__})",
                      errors={"file": ["not a readable XLSX workbook"]}) from None
    try:
        found = {KIND_NAMES.get(name.strip().lower(), KIND_NAMES.get(name.strip())): name for name in book.sheetnames}
        rows = {}
        for sheet in ORDER:
            if sheet in found:
                lines = book[found[sheet]].iter_rows(values_only=True, max_row=MAX_ROWS + 2)
                rows[sheet] = _rows(sheet, [[_cell(value) for value in line] for line in lines])
        return rows
    except DomainError:
        raise
    except Exception as error:  # a sheet that is not what its zip entry claims
        raise Invalid(f"not a readable XLSX workbook ({error.__class__.__name__})",
                      errors={"file": ["not a readable XLSX workbook"]}) from None
    finally:
        book.close()


def _csv_rows(data: bytes) -> dict[str, list[Row]]:
    lines = _csv_lines(_decode(data))
    kind_at = _kind_column(lines[0])
    by_sheet = _by_kind(lines[1:], kind_at)
    names = [name for index, name in enumerate(lines[0]) if index != kind_at]
    _check_csv_columns(names)
    # One header for every kind: each kind reads the columns it knows and leaves the others' alone.
    rows = {sheet: _rows(sheet, [names] + [cells for _, cells in numbered], [n for n, _ in numbered], shared=True)
            for sheet, numbered in by_sheet.items() if sheet is not None}
    _check_csv_kinds(by_sheet)
    return rows


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK unless told UTF-8
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("the CSV is neither UTF-8 nor GB18030 text", errors={"file": ["not text"]})


def _csv_lines(text: str) -> list[list]:
    try:
        lines = [[_cell(value) for value in line] for line in csv.reader(io.StringIO(text))]
    except csv.Error as error:  # a NUL byte, a field beyond the csv module's limit
        raise Invalid(f"not a readable CSV ({error})", errors={"file": ["not a readable CSV"]}) from None
    if not lines or not any(lines[0]):
        raise Invalid("the CSV has no header", errors={"file": ["no header row"]})
    return lines


def _kind_column(names: list) -> int:
    """Where the 类别 (kind) column is in the CSV's header."""
    header = [(name or "").lower() for name in names]
    kind_at = next((header.index(name) for name in KIND_COLUMN if name in header), None)
    if kind_at is None:
        raise Invalid("a CSV names each row's kind in a 类别 (kind) column",
                      errors={"file": ["no 类别/kind column: units, grids, points or people per row"]})
    return kind_at


def _by_kind(lines: list[list], kind_at: int) -> dict[str | None, list]:
    """{sheet (None for an unknown kind): [(row number, cells without the kind)]}."""
    by_sheet: dict[str | None, list] = {}
    for number, line in enumerate(lines, start=2):
        kind = line[kind_at] if kind_at < len(line) else None
        sheet = KIND_NAMES.get((kind or "").lower(), KIND_NAMES.get(kind or ""))
        cells = [value for index, value in enumerate(line) if index != kind_at]
        by_sheet.setdefault(sheet, []).append((number, cells))
    return by_sheet


def _check_csv_columns(names: list) -> None:
    known = {name for _, columns in SHEETS.values() for column in columns for name in (column.key, column.header)}
    strange = [name for name in names if name and name not in known and name.lower() not in known]
    if strange:
        raise Invalid(f"unknown columns {strange}", errors={"file[1]": [f"unknown column {name}" for name in strange]})


def _check_csv_kinds(by_sheet: dict) -> None:
    unknown = [number for number, _ in by_sheet.get(None, [])]
    if unknown:
        raise Invalid(f"rows {unknown[:10]} name no known kind",
                      errors={f"file[{number}].kind": ["units, grids, points or people"] for number in unknown[:50]})


def _rows(sheet: str, lines: list[list], numbers: list[int] | None = None, *, shared: bool = False) -> list[Row]:
    """Rows of one sheet as {column key: text}, blank lines skipped; the header names the columns."""
    if not lines:
        return []
    keys = _header_keys(sheet, lines[0], shared)
    if len(lines) - 1 > MAX_ROWS:
        raise Invalid(f"{sheet}: more than {MAX_ROWS} rows", errors={sheet: [f"at most {MAX_ROWS} rows"]})
    numbers = numbers or list(range(2, len(lines) + 1))
    return [Row(sheet, number, _values(keys, line))
            for number, line in zip(numbers, lines[1:], strict=True) if any(value is not None for value in line)]


def _values(keys: list, line: list) -> dict:
    return {key: value for key, value in zip(keys, line, strict=False) if key}


def _header_keys(sheet: str, header: list, shared: bool) -> list:
    """The column key of each header cell (None for one the sheet does not know); Invalid when a required
    column is missing or (unless the header is shared by every kind) a column is unknown."""
    columns = SHEETS[sheet][1]
    keys = _column_keys(columns, header)
    unknown = [] if shared else _unknown_names(header, keys)
    missing = _missing_headers(columns, keys)
    if unknown or missing:
        raise Invalid(f"{sheet}: unknown columns {unknown}, missing columns {missing}",
                      errors={f"{sheet}[1]": [f"unknown column {name}" for name in unknown]
                              + [f"missing column {name}" for name in missing]})
    return keys


def _unknown_names(header: list, keys: list) -> list:
    return [name for name, key in zip(header, keys, strict=True) if name and key is None]


def _missing_headers(columns: tuple[Column, ...], keys: list) -> list:
    return [column.header for column in columns if column.required and column.key not in keys]


def _column_keys(columns: tuple[Column, ...], header: list) -> list:
    by_name = {name: column.key for column in columns for name in (column.key, column.header)}
    return [by_name.get((name or "").strip().lower(), by_name.get((name or "").strip())) for name in header]


# --- checking every row ---------------------------------------------------------------------------------

class Plan:
    """Every row checked against the file and the database; what to create and what to change."""

    def __init__(self, rows: dict[str, list[Row]]):
        self.rows, self.report = rows, Report()
        self.units = _keyed(Unit, Unit.unit_code, _unit_codes(rows))
        self.grids = _keyed(Grid, Grid.code, _grid_codes(rows))
        self.points = _keyed(Point, Point.code, _column(rows, "points", "code"))
        self.file_units = _by_key(rows, "units", "unit_code")
        self.file_grids = _by_key(rows, "grids", "code")

    def check(self) -> Report:
        for sheet in ORDER:
            seen: dict[str, int] = {}
            for row in self.rows.get(sheet, []):
                self._common(row)
                getattr(self, f"_check_{sheet}")(row)
                key = _natural_key(row)
                if key and key in seen:
                    self.report.refuse(row, _key_column(row), f"repeats row {seen[key]}")
                seen.setdefault(key, row.number)
        return self.report

    def _common(self, row: Row) -> None:
        for column in SHEETS[row.sheet][1]:
            value = row.values.get(column.key)
            if value is None:
                if column.required:
                    self.report.refuse(row, column.key, "required")
                continue
            if CONTROL.search(value):
                self.report.refuse(row, column.key, "control characters are not allowed")
            elif len(value) > column.max_len:
                self.report.refuse(row, column.key, f"at most {column.max_len} characters")
            elif column.key in CODES and not KEY.match(value):
                self.report.refuse(row, column.key, "1-32 letters, digits, _ . -")

    def _unit_ok(self, row: Row, column: str, code: str | None) -> None:
        if code is not None:
            self._known_ok(row, column, code, "unit", self.file_units, self.units)

    def _grid_ok(self, row: Row, column: str, code: str) -> None:
        self._known_ok(row, column, code, "grid", self.file_grids, self.grids)

    def _known_ok(self, row: Row, column: str, code: str, what: str, in_file, existing: dict) -> None:
        """A code the file itself adds, or an active row of the database; refused otherwise."""
        if code in in_file:
            return
        found = existing.get(code)
        if found is None:
            self.report.refuse(row, column, f"unknown {what} {code}")
        elif not found.active:
            self.report.refuse(row, column, f"retired {what} {code}")

    def _check_units(self, row: Row) -> None:
        values = row.values
        if values.get("kind") and values["kind"] not in {kind.value for kind in UnitKind}:
            self.report.refuse(row, "kind", "one of " + ", ".join(kind.value for kind in UnitKind))
        if values.get("timezone"):
            try:
                check_timezone(values["timezone"])
            except DomainError:
                self.report.refuse(row, "timezone", "not an IANA timezone")
        if values.get("parent_code") == values.get("unit_code") and values.get("parent_code"):
            self.report.refuse(row, "parent_code", "a unit cannot be its own parent")
        else:
            self._unit_ok(row, "parent_code", values.get("parent_code"))

    def _check_grids(self, row: Row) -> None:
        self._unit_ok(row, "unit_code", row.values.get("unit_code"))

    def _check_points(self, row: Row) -> None:
        if row.values.get("grid_code"):
            self._grid_ok(row, "grid_code", row.values["grid_code"])
        for name, bound in (("lat", 90), ("lng", 180)):
            value = _number(row.values.get(name))
            if row.values.get(name) is not None and (value is None or abs(value) > bound):
                self.report.refuse(row, name, f"a number between -{bound} and {bound}")

    def _check_people(self, row: Row) -> None:
        values = row.values
        role = ROLE_NAMES.get(values.get("role") or "", values.get("role"))
        self._check_role(row, role)
        self._unit_ok(row, "unit_code", values.get("unit_code"))
        self._check_contact(row)
        self._check_person_grids(row, role)
        self._check_existing_person(row, role)

    def _check_role(self, row: Row, role: str | None) -> None:
        if role is not None and role not in {r.value for r in Role}:
            self.report.refuse(row, "role", "officer, handler, supervisor or admin (巡查员, 处置人员, 值班长, 管理员)")
        if role != Role.ADMIN and row.values.get("unit_code") is None and role is not None:
            self.report.refuse(row, "unit_code", "required for this role")

    def _check_contact(self, row: Row) -> None:
        values = row.values
        if values.get("phone") and not PHONE.match(values["phone"]):
            self.report.refuse(row, "phone", "a phone number: digits, spaces, -, an optional +")
        if not values.get("phone") and not values.get("employee_no"):
            self.report.refuse(row, "phone", "give a phone number or an employee number (工号)")

    def _check_person_grids(self, row: Row, role: str | None) -> None:
        codes = _codes(row.values.get("grid_codes"))
        if codes and role != Role.OFFICER:
            self.report.refuse(row, "grid_codes", "only officers patrol grids")
        for code in codes:
            self._grid_ok(row, "grid_codes", code)

    def _check_existing_person(self, row: Row, role: str | None) -> None:
        matches = _people_matching(row.values.get("phone"), row.values.get("employee_no"))
        if len(matches) > 1:
            self.report.refuse(row, "employee_no", "the phone and the employee number belong to two people")
            return
        if matches:
            person = matches[0]
            unit = self.units.get(row.values.get("unit_code"))
            if person.role != role or (unit.id if unit else None) != person.unit_id:
                self.report.refuse(row, "role", f"user {person.id} has another role or unit: change it with "
                                                f"PATCH /api/v1/users/{person.id} (their open work moves with them)")


def _column(rows: dict[str, list[Row]], sheet: str, key: str) -> list:
    return [r.values.get(key) for r in rows.get(sheet, [])]


def _unit_codes(rows: dict[str, list[Row]]) -> list:
    """Every unit code the file names: its units, their parents, the units of its grids and people."""
    return (_column(rows, "units", "unit_code") + _column(rows, "units", "parent_code")
            + [r.values.get("unit_code") for s in ("grids", "people") for r in rows.get(s, [])])


def _grid_codes(rows: dict[str, list[Row]]) -> list:
    """Every grid code the file names: its grids, its points' grids, its officers' grids."""
    return (_column(rows, "grids", "code") + _column(rows, "points", "grid_code")
            + [code for r in rows.get("people", []) for code in _codes(r.values.get("grid_codes"))])


def _by_key(rows: dict[str, list[Row]], sheet: str, key: str) -> dict:
    return {r.values[key]: r for r in rows.get(sheet, []) if r.values.get(key)}


def _codes(text: str | None) -> list[str]:
    return [code.strip() for code in re.split(r"[,;，；\s]+", text or "") if code.strip()]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _keyed(model, column, codes: list) -> dict:
    wanted = {code for code in codes if code}
    if not wanted:
        return {}
    return {getattr(row, column.key): row for row in db.session.scalars(select(model).where(column.in_(wanted)))}


def _natural_key(row: Row) -> str | None:
    values = row.values
    if row.sheet == "people":
        return values.get("phone") or values.get("employee_no")
    return values.get("unit_code" if row.sheet == "units" else "code")


def _key_column(row: Row) -> str:
    if row.sheet == "people":
        return "phone" if row.values.get("phone") else "employee_no"
    return "unit_code" if row.sheet == "units" else "code"


def _people_matching(phone: str | None, employee_no: str | None) -> list[User]:
    conds = [User.phone == phone] if phone else []
    conds += [User.employee_no == employee_no] if employee_no else []
    return list(db.session.scalars(select(User).where(or_(*conds)))) if conds else []


# --- writing ----------------------------------------------------------------------------------------

def import_roster(*, actor: User | None, now: datetime, data: bytes, filename: str = "") -> Report:
    """Check every row, then (only when all are good) create and correct, in one transaction (the caller's)."""
    rows = read_rows(data, filename)
    plan = Plan(rows)
    report = plan.check()
    if report.errors:
        bad = sorted({key.split(".")[0] for key in report.errors})
        raise Invalid(f"{len(bad)} rows refused, nothing imported: {', '.join(bad[:20])}", errors=report.errors)
    writer = _Writer(plan, actor, now)
    for row in _parents_first(rows.get("units", []), plan):
        writer.unit(row)
    writer.grids(rows.get("grids", []))
    writer.points(rows.get("points", []))
    for row in rows.get("people", []):
        writer.person(row)
    # Last: the trail's counter row is locked from here to the commit (docs/decisions/0070).
    trail.record_many(actor=actor, now=now, entries=writer.entries, reason=f"import {filename}".strip())
    return report


def _parents_first(rows: list[Row], plan: Plan) -> list[Row]:
    """Units ordered so each parent in the file comes before its children; a cycle is refused."""
    ordered, placed, pending = [], set(), list(rows)
    while pending:
        ready = [row for row in pending if row.values.get("parent_code") not in plan.file_units
                 or row.values["parent_code"] in placed]
        if not ready:
            for row in pending:
                plan.report.refuse(row, "parent_code", "the units' parents go round in a circle")
            raise Invalid("units whose parents go round in a circle", errors=plan.report.errors)
        ordered += ready
        placed |= {row.values["unit_code"] for row in ready}
        pending = [row for row in pending if row not in ready]
    return ordered


class _Writer:
    """Creates and corrects the rows of a checked file; gathers their trail entries for one batch."""

    def __init__(self, plan: Plan, actor: User | None, now: datetime):
        self.plan, self.actor, self.now = plan, actor, now
        self.entries: list[trail.Entry] = []

    def _created(self, sheet: str, kind, rows: list, secret: tuple = ()) -> None:
        for row in rows:
            changes = trail.diff({}, trail.snapshot(row, kind.fields), secret=secret)
            self.entries.append(trail.Entry(kind.resource, row.id, "create", changes))
        self.plan.report.created[sheet] += len(rows)

    def _corrected(self, sheet: str, kind, row, before: dict, secret: tuple = ()) -> None:
        """Save a known row if the file changed it (compare-and-set, as an edit), else count it unchanged."""
        changes = trail.diff(before, trail.snapshot(row, kind.fields), secret=secret)
        if not changes:
            self.plan.report.unchanged[sheet] += 1
            return
        save_versioned(row, kind.resource)
        self.entries.append(trail.Entry(kind.resource, row.id, "import", changes))
        self.plan.report.updated[sheet] += 1

    def unit(self, row: Row) -> None:
        values, units = row.values, self.plan.units
        parent = units.get(values.get("parent_code"))
        unit = units.get(values["unit_code"])
        if unit is None:
            unit = org.create_unit(actor=None, now=self.now, name=values["name"], kind=values["kind"],
                                   unit_code=values["unit_code"], parent_id=parent.id if parent else None,
                                   timezone=values.get("timezone"))
            units[unit.unit_code] = unit
            return self._created("units", UNIT, [unit])
        before = trail.snapshot(unit, UNIT.fields)
        unit.name, unit.kind = values["name"], values["kind"]
        unit.timezone = values.get("timezone") or unit.timezone
        if parent is not None and parent.id != unit.parent_id and not parent.path.startswith(unit.path):
            move_unit(unit, parent.id)
        return self._corrected("units", UNIT, unit, before)

    def grids(self, rows: list[Row]) -> None:
        new = []
        for row in rows:
            values = row.values
            unit = self.plan.units[values["unit_code"]]
            grid = self.plan.grids.get(values["code"])
            if grid is None:
                grid = Grid(name=values["name"], unit_id=unit.id, code=values["code"], created_at=self.now,
                            active=True, version=1)
                new.append(grid)
                self.plan.grids[grid.code] = grid
                continue
            before = trail.snapshot(grid, GRID.fields)
            grid.name, grid.unit_id = values["name"], unit.id
            self._corrected("grids", GRID, grid, before)
        db.session.add_all(new)
        db.session.flush(new)  # one multi-row INSERT
        self._created("grids", GRID, new)

    def points(self, rows: list[Row]) -> None:
        new = []
        for row in rows:
            values = row.values
            fields = {"name": values["name"], "lat": float(values["lat"]), "lng": float(values["lng"]),
                      "address": values.get("address"), "grid_id": self.plan.grids[values["grid_code"]].id}
            point = self.plan.points.get(values["code"])
            if point is None:
                point = Point(code=values["code"], created_at=self.now, active=True, version=1, **fields)
                new.append(point)
                self.plan.points[point.code] = point
                continue
            before = trail.snapshot(point, POINT.fields)
            for name, value in fields.items():
                setattr(point, name, value)
            self._corrected("points", POINT, point, before)
        db.session.add_all(new)
        db.session.flush(new)
        self._created("points", POINT, new)

    def person(self, row: Row) -> None:
        values = row.values
        role = ROLE_NAMES.get(values["role"], values["role"])
        unit = self.plan.units.get(values.get("unit_code"))
        grid_ids = [self.plan.grids[code].id for code in _codes(values.get("grid_codes"))]
        matches = _people_matching(values.get("phone"), values.get("employee_no"))
        if not matches:
            user, token = org.create_user(actor=None, now=self.now, name=values["name"], role=role,
                                          unit_id=unit.id if unit else None, grid_ids=grid_ids,
                                          phone=values.get("phone"), employee_no=values.get("employee_no"))
            self.plan.report.tokens.append({"user_id": user.id, "name": user.name, "phone": user.phone,
                                            "employee_no": user.employee_no, "token": token})
            return self._created("people", PERSON, [user], PERSONAL)
        user = matches[0]
        before = trail.snapshot(user, PERSON.fields)
        user.name = values["name"]
        user.phone = values.get("phone") or user.phone
        user.employee_no = values.get("employee_no") or user.employee_no
        if "grid_codes" in values and role == Role.OFFICER:
            user.grids = grids_for(None, role, grid_ids, field="grid_codes")
            dropped = set(before["grid_ids"]) - set(grid_ids)
            if dropped:
                leave_teams(self.actor, user, self.now, PatrolPlan.grid_id.in_(dropped), "import")
        return self._corrected("people", PERSON, user, before, PERSONAL)


# --- the template ---------------------------------------------------------------------------------------

NOTES = [
    ("单位 units", "单位编码唯一；上级单位编码可指向本表或系统中已有单位；类型: "
                 + ", ".join(k.value for k in UnitKind)),
    ("网格 grids", "网格编码唯一；所属单位编码指向单位表或系统中已有单位"),
    ("点位 points", "点位编码唯一；纬度、经度为 WGS-84 小数（如 35.0621, 118.3561）"),
    ("人员 people", "手机号或工号至少填一项（用于重复导入时识别同一人）；角色: 巡查员 officer, 处置人员 handler, "
                  "值班长 supervisor, 管理员 admin；负责网格编码仅巡查员填写，多个以逗号分隔"),
    ("规则 rules", "整个文件全部校验通过才会导入；有错误时整份拒绝并列出每个错误的行号和字段；同一文件可重复导入，"
                 "已有的数据按编码、手机号或工号匹配，不会重复创建"),
]


def template() -> bytes:
    """The XLSX to fill in: one sheet per kind with its headers, and a sheet of notes."""
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet in ORDER:
        zh, columns = SHEETS[sheet]
        page = book.create_sheet(zh)
        page.append([column.header for column in columns])
        for cell in page[1]:
            cell.font = bold
        for index, column in enumerate(columns):
            page.column_dimensions[chr(ord("A") + index)].width = max(12, len(column.header) * 3)
        page.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    for line in NOTES:
        notes.append(list(line))
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 14, 120
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
