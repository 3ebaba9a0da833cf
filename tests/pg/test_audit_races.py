"""Writers racing on one problem still leave one unbroken hash chain."""

from sqlalchemy import func, select

from models import Problem, ProblemEvent, db
from tests.pg.test_races import THREADS, race
from workflow import audit


def test_twenty_threads_commenting_and_transitioning_one_problem_leave_an_intact_chain(app, world):
    problem = world.to_state("rectifying")
    url = f"/api/v1/problems/{problem.id}/actions"
    # Two rounds: a transition by a handler (the others of its kind lose with 412) amid comments.
    rounds = [("handler", {"action": "submit", "note": "摊位已清理"}),
              ("officer2", {"action": "reject", "reason": "仍有摊位"})]

    for version, (by, transition) in enumerate(rounds, start=problem.version):
        headers = world.auth(by, **{"If-Match": f'"{version}"'})

        def one(client, index, headers=headers, transition=transition):
            if index % 4 == 0:
                return client.post(url, json=transition, headers=headers)
            return client.post(url, json={"action": "comment", "text": f"第 {index} 条"},
                               headers=world.auth("officer"))

        codes = [r.status_code for r in race(app, one)]
        assert codes.count(200) == THREADS - THREADS // 4 + 1
        assert set(codes) <= {200, 412}

    db.session.expire_all()
    last_seq = db.session.scalar(select(Problem.last_seq).where(Problem.id == problem.id))
    count = db.session.scalar(select(func.count()).where(ProblemEvent.problem_id == problem.id))
    verdict = audit.verify_chains()
    assert verdict.intact, verdict.broken
    assert verdict.events == count == last_seq == 3 + 2 * (THREADS - THREADS // 4 + 1)
