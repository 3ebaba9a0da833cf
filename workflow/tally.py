"""Counts of what the current transaction did (transitions, reports, firings, rounds, deliveries), for the
metrics: kept on the session, published by whoever watches its commits (ops/metrics.py), void on rollback.

Note a count after any savepoint block that may roll back, never inside one: a savepoint rolled back does
not take its notes back with it.
"""

from collections import Counter

from models.base import db

KEY = "rectify_tally"


def count(name: str, **labels) -> None:
    """Note one `name` (with its labels) done by the current transaction."""
    pending = db.session.info.setdefault(KEY, Counter())
    pending[(name, tuple(sorted((key, str(value)) for key, value in labels.items())))] += 1


def take(session) -> Counter:
    """What `session`'s transaction noted, forgotten from it."""
    return session.info.pop(KEY, Counter())


def drop(session) -> None:
    session.info.pop(KEY, None)
