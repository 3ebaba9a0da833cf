"""`make bench`: every benchmark of bench/ in turn (not soak.py), each in its own process, then one summary.

BENCH_ONLY=http,scale to run some; the other knobs are in bench/common.py and each script's docstring.
Figures are printed and kept in bench/out/<name>.json; bench/RESULTS.md records a run with its date.
"""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.common import RESULTS_DIR, ROOT

BENCHMARKS = ("http", "scale", "jobs", "export", "console")


def main() -> int:
    only = [name for name in os.environ.get("BENCH_ONLY", ",".join(BENCHMARKS)).split(",") if name]
    started = time.monotonic()
    print(f"make bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores", flush=True)
    failed = []
    for name in only:
        began = time.monotonic()
        print(f"\n### {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}_bench"], check=False, cwd=ROOT).returncode != 0:
            failed.append(name)
        print(f"### {name} took {time.monotonic() - began:.0f} s", flush=True)
    print(f"\n== summary ({time.monotonic() - started:.0f} s)")
    for name in only:
        path = RESULTS_DIR / f"{name}.json"
        if name in failed or not path.exists():
            print(f"{name}: FAILED")
            continue
        figures = json.loads(path.read_text())
        for key, value in figures.items():
            if isinstance(value, str) and ("met" in value or "MISSED" in value):
                print(f"{name}.{key}: {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
