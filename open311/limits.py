"""Requests per caller in a sliding minute, in this process (like api/throttle.py: no database write per
request, and a flood is answered before any query). With W workers a caller gets at most W times the limit."""

import math
import threading
from collections import deque
from datetime import datetime

MAX_TRACKED = 10_000
WINDOW_S = 60.0


class RateLimit:
    def __init__(self):
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, caller: str, *, limit: int, now: datetime) -> int | None:
        """Count a request; None when it is within `limit`, else the seconds until the caller may retry."""
        moment = now.timestamp()
        with self._lock:
            if len(self._hits) >= MAX_TRACKED:
                self._forget(moment - WINDOW_S)
            hits = self._hits.setdefault(caller, deque())
            while hits and hits[0] <= moment - WINDOW_S:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[-limit] + WINDOW_S - moment))
            hits.append(moment)
            return None

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def _forget(self, cutoff: float) -> None:
        for caller in [c for c, h in self._hits.items() if not h or h[-1] <= cutoff]:
            del self._hits[caller]
