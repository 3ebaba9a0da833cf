"""Where the API ledger page's time goes, in process: CPU per page and a cProfile of N pages.

The two requests of bench.console_bench (first page with 3 filters, and page 500 by cursor) as the district
supervisor, through Flask's test client on an existing bench database (read only):

    BENCH_DATABASE=name python -m bench.profile_ledger [N]   # PROFILE_SORT=cumulative, PROFILE_LINES=70,
                                                              # PROFILE_PAGE=api_ledger_page_500
"""

import cProfile
import logging
import os
import pstats
import sys
import time

from bench.common import make_app


def _requests(app, database: str) -> dict[str, tuple[str, dict]]:
    from bench.console_bench import _api_requests, _district_supervisor
    raw = _api_requests(app, database, _district_supervisor(app))
    requests = {}
    for name, request in raw.items():
        head = request.decode().split("\r\n")
        path = head[0].split(" ")[1]
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        requests[name] = (path, {"Authorization": headers["Authorization"]})
    return requests


def _cpu_ms(client, path: str, headers: dict, n: int) -> float:
    cpu = time.process_time()
    for _ in range(n):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(response.get_data(as_text=True)[:300])
    return (time.process_time() - cpu) * 1000 / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    database = os.environ["BENCH_DATABASE"]
    app = make_app(database)
    logging.getLogger("rectify.access").disabled = True  # a line per request otherwise
    client = app.test_client()
    requests = _requests(app, database)
    for name, (path, headers) in requests.items():
        _cpu_ms(client, path, headers, 5)  # warm up
        runs = sorted(_cpu_ms(client, path, headers, n) for _ in range(3))
        print(f"{name}: {runs[1]:.2f} ms of this process's CPU per page (median of 3 x {n}; "
              f"PostgreSQL not included; runs {', '.join(f'{r:.2f}' for r in runs)})")
    profiler = cProfile.Profile(time.process_time)
    path, headers = requests[os.environ.get("PROFILE_PAGE", "api_ledger_first_page")]
    profiler.enable()
    _cpu_ms(client, path, headers, n)
    profiler.disable()
    order, lines = os.environ.get("PROFILE_SORT", "tottime"), int(os.environ.get("PROFILE_LINES", "35"))
    pstats.Stats(profiler).sort_stats(order).print_stats(lines)


if __name__ == "__main__":
    main()
