"""The operational warnings /healthz shows: each check on its own, at its threshold."""

from datetime import timedelta

from models import JobRun, OutboxMessage, WebhookDelivery
from models.base import db
from schedules.jobs import JOBS, run_all
from tests.conftest import NOW
from workflow import health
from workflow.notifications import webhooks

INTERVALS = {job_id: float(every) for job_id, (_, every) in JOBS.items()}


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_a_scheduler_that_never_ran_is_one_warning(ctx):
    assert health.scheduler_lag_warnings(now=NOW, intervals=INTERVALS) == [
        "the scheduler has never run a job: start `flask scheduler run`"]


def test_a_job_lags_only_past_two_of_its_intervals(world):
    run_all(now=NOW)
    every = INTERVALS["deliver_outbox"]
    assert health.scheduler_lag_warnings(now=NOW + seconds(2 * every), intervals={"deliver_outbox": every}) == []
    assert health.scheduler_lag_warnings(now=NOW + seconds(2 * every + 1), intervals={"deliver_outbox": every}) == [
        "scheduled job deliver_outbox last ran 31 s ago; it runs every 15 s"]


def test_lag_is_measured_from_when_a_job_ran_not_the_instant_it_ran_as_of(world):
    run_all(now=NOW + timedelta(days=3), ran_at=NOW)  # `flask scheduler tick --at` three days ahead, run now
    assert health.scheduler_lag_warnings(now=NOW + seconds(10), intervals=INTERVALS) == []


def test_a_job_that_never_ran_beside_others_that_did_is_named(world):
    db.session.add(JobRun(job_id="advance_rounds", last_tick_at=NOW, ran_at=NOW, summary=""))
    db.session.commit()
    assert health.scheduler_lag_warnings(now=NOW, intervals={"advance_rounds": 60, "anchor_audit": 3600}) == [
        "scheduled job anchor_audit has never run"]


def test_the_outbox_warns_when_its_oldest_message_waits_over_ten_minutes(world):
    db.session.add(OutboxMessage(topic="problem.created", payload={}, created_at=NOW))
    db.session.add(OutboxMessage(topic="problem.created", payload={}, created_at=NOW - timedelta(hours=1),
                                 delivered_at=NOW))
    db.session.commit()
    assert health.outbox_warnings(now=NOW + timedelta(minutes=10)) == []
    assert health.outbox_warnings(now=NOW + timedelta(minutes=10, seconds=1)) == [
        "the outbox holds 1 undelivered messages, the oldest 601 s old"]
    assert health.outbox_backlog(now=NOW + timedelta(minutes=1)) == (1, 60.0)


def dead_letter(hook_id: int, died_at) -> None:
    message = OutboxMessage(topic="x", payload={}, created_at=died_at, delivered_at=died_at)
    db.session.add(message)
    db.session.flush()
    db.session.add(WebhookDelivery(webhook_id=hook_id, event_id=message.id, event_type="x", body="{}",
                                   status="dead", attempts=8, next_attempt_at=died_at))
    db.session.commit()


def test_dead_letters_warn_for_a_day_after_they_died(world):
    hook = webhooks.create_webhook(now=NOW, url="https://example.test/h", secret="s" * 16, events=["x"])
    dead_letter(hook.id, NOW - timedelta(days=2))
    assert health.dead_letter_warnings(now=NOW) == []
    dead_letter(hook.id, NOW)
    assert health.dead_letter_warnings(now=NOW + timedelta(hours=23)) == [
        "1 webhook deliveries were dead-lettered in the last day: see /api/v1/webhooks/{id}/deliveries?status=dead "
        "and redrive them"]
    assert health.deliveries_waiting(now=NOW) == {"deliveries_pending": 0, "dead_letters": 2,
                                                  "dead_letters_last_day": 1}


def test_a_delivery_that_dies_records_when(world):
    from workflow.notifications import delivery
    webhooks.create_webhook(now=NOW, url="https://example.test/h", secret="s" * 16, events=["problem.created"])
    db.session.commit()
    world.report()
    at = NOW
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.fan_out(now=at)
        delivery.deliver(now=at, send=lambda *_: 500)
        db.session.commit()
        (item,) = db.session.query(WebhookDelivery).all()
        at = item.next_attempt_at if item.status == "pending" else at
    assert (item.status, item.next_attempt_at) == ("dead", at)


def test_migrations_behind_or_ahead_of_the_code_are_a_warning(ctx):
    current = health.database_revisions()
    assert len(current) == 1 and health.migration_warnings(heads=current) == []
    (at,) = current
    assert health.migration_warnings(heads={"abcdef012345"}) == [
        f"the database is at migration {at} but the code expects abcdef012345: run `flask db upgrade`"]
