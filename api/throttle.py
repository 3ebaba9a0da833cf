"""Failed authentications per client address, counted in a sliding window, in this process.

Per process on purpose: a failure costs no database write. The token is looked up first (one indexed
query), so a valid token always passes however many failures its address has (docs/decisions/0021); only
the failures of an address over the limit are answered 429. With W workers an address gets at
most W × AUTH_FAILURE_LIMIT tries per window; tokens carry 256 random bits, so the limit is there to slow
and surface abuse (each failure is logged), not to make guessing infeasible.
"""

import math
import threading
from collections import deque
from datetime import datetime

from flask import current_app

# Beyond this many tracked addresses, forget the ones whose failures have all left the window.
MAX_TRACKED = 10_000


class FailureThrottle:
    def __init__(self):
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _settings() -> tuple[int, float]:
        config = current_app.config
        return config["AUTH_FAILURE_LIMIT"], float(config["AUTH_FAILURE_WINDOW_SECONDS"])

    def retry_after(self, address: str, *, now: datetime) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        limit, window = self._settings()
        moment = now.timestamp()
        with self._lock:
            failures = self._failures.get(address)
            if not failures:
                return None
            _prune(failures, moment - window)
            if len(failures) < limit:
                return None
            return max(1, math.ceil(failures[-limit] + window - moment))

    def record(self, address: str, *, now: datetime) -> int:
        """Count a failure; returns how many `address` has in the window now."""
        _, window = self._settings()
        moment = now.timestamp()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED:
                self._forget_before(moment - window)
            failures = self._failures.setdefault(address, deque())
            failures.append(moment)
            _prune(failures, moment - window)
            return len(failures)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()

    def _forget_before(self, cutoff: float) -> None:
        for address in [a for a, f in self._failures.items() if not f or f[-1] <= cutoff]:
            del self._failures[address]


def _prune(failures: deque, cutoff: float) -> None:
    while failures and failures[0] <= cutoff:
        failures.popleft()
