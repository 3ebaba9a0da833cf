"""How long the first day's roster import takes: the template filled with a district of 200 points and 50 people.

    .venv/bin/python -m bench.roster_import                    # SQLite, in a temporary file
    .venv/bin/python -m bench.roster_import --postgresql       # a scratch database on BENCH_DATABASE_URL

Each run imports the file into an empty district (4 units, 2 grids, POINTS points, PEOPLE people, each on the
admin trail, each person with a token), commits, then imports the same file again (nothing changes). Prints the
median of RUNS runs of both, and the time to check a file with three bad rows (refused whole).
"""

import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager

from bench import common


@contextmanager
def scratch_database(postgresql: bool):
    if not postgresql:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/roster_bench.db"
        return
    with common.scratch_database("roster", production=False) as name:
        yield common.server_url(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from config.settings import Testing
    from models import db
    from tests.conftest import NOW
    from tests.workflow.roster.test_imports import district
    from workflow.errors import Invalid
    from workflow.roster import imports

    data = district(points=args.points, people=args.people)
    first, again, refused = [], [], []
    for _ in range(args.runs):
        with scratch_database(args.postgresql) as url, tempfile.TemporaryDirectory() as files:
            app = create_app(type("Bench", (Testing,), {"SQLALCHEMY_DATABASE_URI": url, "ATTACHMENT_DIR": files}))
            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
                for seconds, payload in ((first, data), (again, data)):
                    began = time.perf_counter()
                    imports.import_roster(actor=None, now=NOW, data=payload, filename="roster.xlsx")
                    db.session.commit()
                    seconds.append(time.perf_counter() - began)
                began = time.perf_counter()
                try:
                    imports.import_roster(actor=None, now=NOW, data=_three_bad_rows(data), filename="bad.xlsx")
                except Invalid as error:
                    assert len({key.split(".")[0] for key in error.errors}) == 3, error.errors
                refused.append(time.perf_counter() - began)
                db.session.rollback()
                db.engine.dispose()
    engine = "postgresql" if args.postgresql else "sqlite"
    print(f"{engine}: import of {args.points} points and {args.people} people "
          f"{statistics.median(first):.2f} s (median of {args.runs}); the same file again "
          f"{statistics.median(again):.2f} s (nothing written); a file with three bad rows refused in "
          f"{statistics.median(refused):.2f} s")


def _three_bad_rows(data: bytes) -> bytes:
    import io

    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(data))
    book["点位"]["D4"], book["点位"]["C6"], book["人员"]["B3"] = "北纬35度", "G-NOWHERE", "队长"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


if __name__ == "__main__":
    main()
