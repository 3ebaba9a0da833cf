"""XLSX export of 200,000 problems: rows per second and the peak memory (VmHWM) of the process that writes it.

The export runs in a child process (the same code as GET /api/v1/problems/export?format=xlsx, as the district
supervisor, every problem), which writes the workbook to a temporary file and reports its own VmHWM from
/proc/self/status; the parent takes medians over BENCH_RUNS children.

    python -m bench.export_bench
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import RUNS, libpq_url, make_app, median, migrate, report, scratch_database, verdict
from bench.data import NOW, add_problems, build_world

SIZE = int(os.environ.get("BENCH_EXPORT_SIZE", "200000"))


def child(database: str, supervisor_id: int, fmt: str) -> None:
    """Write the export to a temporary file; print rows, seconds, bytes and VmHWM as JSON."""
    from models import User
    from models.base import db
    from workflow.ledger import exports
    app = make_app(database)
    chunks = {"xlsx": exports.xlsx_chunks, "csv": exports.csv_chunks}[fmt]
    with app.app_context(), tempfile.TemporaryFile() as out:
        actor = db.session.get(User, supervisor_id)
        began, cpu = time.perf_counter(), time.process_time()
        size = 0
        for chunk in chunks(actor=actor, now=NOW, filters={}):
            data = chunk if isinstance(chunk, bytes) else chunk.encode()
            out.write(data)
            size += len(data)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    with open("/proc/self/status") as status:
        hwm_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "bytes": size, "peak_rss_mb": round(hwm_kb / 1024, 1)}))


def main() -> None:
    runs = []
    with scratch_database("export") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        add_problems(libpq_url(database), world, first=1, count=SIZE)
        for _ in range(RUNS):
            out = subprocess.run([sys.executable, "-m", "bench.export_bench", "--child", database,
                                  str(world.ids["supervisor"]), "xlsx"], check=True, capture_output=True,
                                 text=True).stdout
            run = json.loads(out.strip().splitlines()[-1])
            run["rows_per_s"] = round(SIZE / run["seconds"])
            run["rows_per_cpu_s"] = round(SIZE / run["cpu_seconds"])  # what the writer does with a core to itself
            runs.append(run)
            print(run, flush=True)
    rate, peak = median([r["rows_per_s"] for r in runs]), median([r["peak_rss_mb"] for r in runs])
    report("export", {"problems": SIZE, "xlsx_rows_per_s": f"{rate} {verdict(rate, 20000, at_least=True)}",
                      "xlsx_peak_rss_mb": f"{peak} {verdict(peak, 300, at_least=False)}",
                      "xlsx_rows_per_cpu_s": median([r["rows_per_cpu_s"] for r in runs]),
                      "xlsx_seconds": median([r["seconds"] for r in runs]), "runs": runs})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
