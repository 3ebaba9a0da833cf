"""The docs stay true to the code: docs/ pages are reachable from docs/README.md, every link, path, symbol,
test and migration they (and the README) name exists, and the lists that clients rely on — error types,
the lifecycle table, statistics figures, scheduled jobs, escalation triggers — match the code both ways."""

import json
import re
from pathlib import Path

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
README = ROOT / "README.md"
TEXTS = [*PAGES, README]
REPO_DIRS = ("api", "bench", "config", "docs", "migrations", "models", "schedules", "tests", "workflow")

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(rf"^((?:{'|'.join(REPO_DIRS)})/[\w./-]*|app\.py|cli\.py)(?:::(\w+))?$")
MODULE = re.compile(r"^workflow(?:\.\w+)+$")
MIGRATION = re.compile(r"migrations?\s+`([0-9a-f]{12})`", re.IGNORECASE)
ERROR_TYPE = re.compile(r"/errors/([a-z][a-z-]*)")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _table_rows(path: Path, first_cell: str = r"`[^`]+`") -> list[list[str]]:
    """The cells of the markdown table rows whose first cell matches `first_cell`."""
    rows = []
    for line in _read(path).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows.append(cells)
    return rows


# --- reachability and references ---------------------------------------------------------------

def test_every_docs_page_is_linked_from_the_index():
    index = DOCS / "README.md"
    linked = {(DOCS / target.split("#")[0]).resolve() for target in LINK.findall(_read(index))}
    missing = [_name(page) for page in PAGES if page != index and page.resolve() not in linked]
    assert not missing, f"not linked from docs/README.md: {missing}"


def test_the_readme_links_the_docs_index():
    assert "(docs/README.md)" in _read(README)


@pytest.mark.parametrize("path", TEXTS, ids=_name)
def test_every_relative_link_resolves(path):
    broken = [target for target in LINK.findall(_read(path))
              if not re.match(r"^(https?:|mailto:|#)", target)
              and not (path.parent / target.split("#")[0]).exists()]
    assert not broken, f"{_name(path)} links to nothing: {broken}"


def _defines(source: str, symbol: str) -> bool:
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{symbol}\b|^\s*{symbol}\s*(?::[^=\n]+)?="
    return re.search(pattern, source, re.MULTILINE) is not None


def _exists(token: str) -> bool:
    """Whether a backquoted reference names something that exists (tokens that are no reference do)."""
    if (match := PATH.match(token)) is not None:
        target, symbol = ROOT / match.group(1), match.group(2)
        return target.exists() and (symbol is None or _defines(_read(target), symbol))
    if MODULE.match(token):
        module = ROOT / token.replace(".", "/")
        return module.with_suffix(".py").exists() or (module / "__init__.py").exists()
    return True


@pytest.mark.parametrize("path", TEXTS, ids=_name)
def test_every_path_symbol_and_test_named_exists(path):
    """`workflow/x.py`, `workflow/x.py::name` (a function, class or constant), `tests/x.py::test_y`,
    `workflow.x.y` (a module) and `migration abc123def456` must all exist."""
    missing = [token for token in CODE.findall(_read(path)) if not _exists(token)]
    missing += [f"migration {revision}" for revision in MIGRATION.findall(_read(path))
                if not list((ROOT / "migrations" / "versions").glob(f"{revision}_*.py"))]
    assert not missing, f"{_name(path)} names what does not exist: {missing}"


# --- lists that must match the code --------------------------------------------------------------

def _code_error_types() -> dict[str, set[int]]:
    """slug -> statuses, from the domain errors and from every status the renderer knows a slug for."""
    from api.errors import problem_response
    from workflow.errors import DomainError

    found: dict[str, set[int]] = {}

    def walk(cls):
        found.setdefault(cls.slug, set()).add(cls.status)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(DomainError)
    with Flask(__name__).test_request_context():
        for status in range(400, 600):
            slug = json.loads(problem_response(status).get_data())["type"].removeprefix("/errors/")
            if slug != "error":  # the renderer's fallback for a status with no slug of its own
                found.setdefault(slug, set()).add(status)
    return found


def test_every_error_type_in_the_code_is_documented_with_its_status():
    code = _code_error_types()
    assert all(len(statuses) == 1 for statuses in code.values()), f"a slug with two statuses: {code}"
    documented = {cells[0].strip("`").removeprefix("/errors/"): int(cells[1])
                  for cells in _table_rows(DOCS / "errors.md", r"`/errors/[a-z-]+`")}
    assert documented == {slug: statuses.pop() for slug, statuses in code.items()}


@pytest.mark.parametrize("path", TEXTS, ids=_name)
def test_every_error_type_the_docs_mention_exists(path):
    code = _code_error_types()
    unknown = sorted(set(ERROR_TYPE.findall(_read(path))) - set(code))
    assert not unknown, f"{_name(path)} mentions error types the code does not have: {unknown}"


def _names(cell: str) -> set[str]:
    return set() if cell in ("—", "(same)") else {part.strip() for part in cell.split(",")}


def test_the_lifecycle_table_is_the_code_table():
    from workflow.problems.lifecycle import TRANSITIONS

    def name(function) -> str:
        return "—" if function.__name__ == "_nothing" else function.__name__

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    code = {action.value: (rule_.frm, rule_.to.value if rule_.to else "(same)", rule_.roles, rule_.required,
                           rule_.optional, name(rule_.guard), name(rule_.effect), yes(rule_.restarts_stage),
                           yes(rule_.changes_version))
            for action, rule_ in TRANSITIONS.items()}
    code = {action: ({s.value for s in frm}, to, {r.value for r in roles}, set(required), set(optional), *rest)
            for action, (frm, to, roles, required, optional, *rest) in code.items()}
    documented = {cells[0].strip("`"): (_names(cells[1]), cells[2], _names(cells[3]), _names(cells[4]),
                                        _names(cells[5]), *cells[6:10])
                  for cells in _table_rows(DOCS / "lifecycle.md")}
    assert documented == code


def _declared(schema) -> set[str]:
    return {field.data_key or name for name, field in schema().fields.items()}


def test_every_statistics_figure_is_defined():
    from api import reports as api_reports
    from workflow.ledger import reports, unit_reports
    from workflow.patrols import coverage

    names = {*reports.FIGURES, *reports.RATES, *reports.STAGES, *reports.GROUPS, *reports.DRILLABLE,
             *coverage.FIGURES, *coverage.RATES, *coverage.GROUPS, *unit_reports.LABELS, *unit_reports.KINDS}
    for schema in (api_reports.Figures, api_reports.StageTime, api_reports.PatrolFigures,
                   api_reports.UnitReportFigures, api_reports.TopPoint, api_reports.UnitScore, api_reports.Indicator):
        names |= _declared(schema)
    page = _read(DOCS / "statistics.md")
    undefined = sorted(name for name in names if f"`{name}`" not in page)
    assert not undefined, f"docs/statistics.md does not define: {undefined}"


def test_every_scheduled_job_is_documented_with_its_interval():
    from schedules.jobs import JOBS

    documented = {cells[0].strip("`"): cells[1] for cells in _table_rows(DOCS / "scheduler.md")}
    assert documented == {job: f"{interval} s" for job, (_, interval) in JOBS.items()}


def test_every_escalation_trigger_is_documented():
    from workflow.escalation.firing import TRIGGERS

    documented = [cells[0].strip("`") for cells in _table_rows(DOCS / "escalation.md")]
    assert sorted(documented) == sorted(TRIGGERS)


def test_decision_records_have_a_number_a_title_and_their_three_parts():
    records = sorted((DOCS / "decisions").glob("*.md"))
    assert records
    numbers = []
    for record in records:
        assert re.fullmatch(r"\d{4}-[a-z0-9-]+\.md", record.name), record.name
        number = record.name[:4]
        text = _read(record)
        assert text.startswith(f"# {number} "), f"{record.name} starts with its number and title"
        for part in ("## Context", "## Decision", "## Consequences"):
            assert f"\n{part}\n" in text, f"{record.name} lacks {part}"
        numbers.append(number)
    assert len(numbers) == len(set(numbers))


def test_the_readme_layout_names_every_workflow_package_and_module():
    text = _read(README)
    layout = text[text.index("## Layout"):]
    layout = layout[:layout.find("\n## ", 1)] if "\n## " in layout[1:] else layout
    workflow = ROOT / "workflow"
    packages = [p.name for p in workflow.iterdir() if (p / "__init__.py").exists()]
    modules = [m.stem for m in workflow.rglob("*.py") if m.stem != "__init__"]
    missing = [f"{p}/" for p in packages if f"{p}/" not in layout]
    missing += [m for m in modules if not re.search(rf"\b{m}\b", layout)]
    assert not missing, f"README's layout does not name: {missing}"
