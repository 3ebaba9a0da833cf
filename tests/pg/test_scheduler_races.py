"""Two scheduler processes racing for the lease: exactly one leads."""

import threading
from datetime import timedelta

from models import db
from schedules import lease
from tests.conftest import NOW


def test_of_twenty_schedulers_starting_together_exactly_one_leads(app):
    barrier = threading.Barrier(20)
    results = []

    def contend(index):
        with app.app_context():
            barrier.wait()
            took = lease.acquire(holder=f"host-{index}", now=NOW, ttl=timedelta(seconds=90))
            db.session.commit()
            results.append(took)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
