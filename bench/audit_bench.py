"""What the hash chain costs: per appended event, and `flask audit verify`'s speed and memory.

    .venv/bin/python -m bench.audit_bench                      # SQLite, in a temporary file
    .venv/bin/python -m bench.audit_bench --postgresql         # a scratch database on BENCH_DATABASE_URL

It builds a district, then PROBLEMS problems with EVENTS events each through the workflow (report, then
comments), timing seal_event (the indexed SELECT of the previous hash and the sha256) inside each append;
the canonical JSON and sha256 are also timed alone. Then it times verify_chains over everything and
reports its peak Python memory (tracemalloc) at two sizes, to show that it streams.
"""

import argparse
import statistics
import tempfile
import time
import timeit
import tracemalloc
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import func, select

from bench import common
from workflow.audit import seal_event as APPLICATION_SEAL


@contextmanager
def scratch_database(postgresql: bool):
    """A database URL of our own: a temporary SQLite file, or a scratch PostgreSQL database (dropped after)."""
    if not postgresql:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/audit_bench.db"
        return
    with common.scratch_database("audit", production=False) as name:
        yield common.server_url(name)


SEAL_SECONDS: list[float] = []


def timed_seal(event) -> None:
    """The application's seal (its SELECT of the previous hash, then the sha256), timed."""
    began = time.perf_counter()
    APPLICATION_SEAL(event)
    if event.seq > 1:  # the first event of a trail needs no SELECT
        SEAL_SECONDS.append(time.perf_counter() - began)


def append(world, problems_, events, now, seal):
    """Report `problems_` problems with `events` - 1 comments each; return seconds per event."""
    from models import db
    from workflow import audit
    from workflow.problems import actions
    audit_seal, audit.seal_event = audit.seal_event, seal
    try:
        began = time.perf_counter()
        for _ in range(problems_):
            problem = world.report(at=now)
            for index in range(events - 1):
                actions.apply_action(actor=world.users["officer"], now=now + timedelta(seconds=index),
                                      problem_id=problem.id, action="comment", expected_version=None,
                                      text=f"第 {index} 次巡查：仍有摊位")
                db.session.commit()
        return (time.perf_counter() - began) / (problems_ * events)
    finally:
        audit.seal_event = audit_seal


def verify():
    """verify_chains timed, then run again under tracemalloc for its peak memory (which slows it)."""
    from models import db
    from workflow import audit
    db.session.expire_all()
    began = time.perf_counter()
    verdict = audit.verify_chains()
    seconds = time.perf_counter() - began
    db.session.rollback()
    tracemalloc.start()
    audit.verify_chains()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    db.session.rollback()
    return verdict, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from config.settings import Testing
    from models import Problem, ProblemEvent, db
    from tests.conftest import NOW
    from tests.factories import World
    from workflow import audit

    with scratch_database(args.postgresql) as url, tempfile.TemporaryDirectory() as files:
        app = create_app(type("Bench", (Testing,), {"SQLALCHEMY_DATABASE_URI": url, "ATTACHMENT_DIR": files}))
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            world = World.build(now=NOW)
            db.session.commit()
            per_comment = [append(world, max(args.problems // 10, 1), args.events, NOW, timed_seal)
                           for _ in range(args.runs)]
            sample = db.session.scalars(select(ProblemEvent).order_by(ProblemEvent.id.desc()).limit(1)).one()
            content = audit._content(sample)
            sha = timeit.timeit(lambda: audit.chain_hash(sample.prev_hash, content), number=10_000) / 10
            comment_ms = statistics.median(per_comment) * 1000
            print(f"{db.engine.dialect.name}: one comment (apply_action + commit) {comment_ms:.2f} ms, "
                  f"of which seal_event {statistics.median(SEAL_SECONDS) * 1000:.3f} ms median "
                  f"(p90 {statistics.quantiles(SEAL_SECONDS, n=10)[-1] * 1000:.3f} ms): the SELECT of the previous hash"
                  f" and {sha:.3f} ms of canonical JSON + sha256")
            for size in (args.problems // 2, args.problems):
                while db.session.scalar(select(func.count()).select_from(Problem)) < size:
                    append(world, 10, args.events, NOW, APPLICATION_SEAL)
                verdict, seconds, peak = verify()
                print(f"verify: {verdict.problems} problems, {verdict.events} events in {seconds:.2f} s "
                      f"({verdict.events / seconds:,.0f} events/s), peak Python memory {peak / 1e6:.2f} MB, "
                      f"intact: {verdict.intact}")
            db.engine.dispose()


if __name__ == "__main__":
    main()
