"""Log lines: JSON in production, text in development, each with the request or tick it belongs to."""

import io
import json
import logging

import pytest

from ops import logs
from schedules.jobs import JOBS, run_all
from tests.conftest import NOW


def test_an_access_line_has_time_level_request_user_route_status_duration_and_problem(client, world, captured_logs):
    problem = world.report()
    response = client.get(f"/api/v1/problems/{problem.id}", headers=world.auth("supervisor"))
    (line,) = [line for line in captured_logs.access() if line["request_id"] == response.headers["X-Request-Id"]]
    assert line["time"].endswith("+00:00") and line["level"] == "info"
    assert line["user_id"] == world.users["supervisor"].id and line["problem_id"] == problem.id
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/v1/problems/{problem_id}", 200)
    assert line["duration_ms"] >= 0 and line["path"] == f"/api/v1/problems/{problem.id}"


def test_a_report_logs_the_problem_it_created(client, world, captured_logs):
    response = client.post("/api/v1/problems", headers=world.auth("officer"), json={
        "category_code": "hawker", "point_id": world.points["market"].id, "title": "占道"})
    assert response.status_code == 201
    (line,) = [line for line in captured_logs.access() if line["request_id"] == response.headers["X-Request-Id"]]
    assert (line["status"], line["problem_id"]) == (201, response.json["id"])


def test_an_access_line_never_holds_the_query_string(client, world, captured_logs):
    client.get("/api/v1/problems?q=secret-search-words", headers=world.auth("supervisor"))
    assert "secret-search-words" not in captured_logs.text


def test_each_scheduled_job_logs_under_a_tick_id_of_its_own(world, captured_logs):
    run_all(now=NOW)
    jobs = [line for line in captured_logs.lines() if line["logger"] == "schedules.jobs"]
    assert {line["job"] for line in jobs} == set(JOBS)
    assert len({line["tick_id"] for line in jobs}) == len(jobs) and all(line["tick_id"] for line in jobs)


def test_the_json_format_keeps_a_traceback_inside_its_one_line():
    stream = io.StringIO()
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(logs.handler("json", stream))
    try:
        with logs.bound(request_id="r1"):
            try:
                raise ValueError("boom")
            except ValueError:
                logger.error("it failed: %s", "badly", exc_info=True, extra={"problem_id": 7})
    finally:
        logger.handlers.clear()
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["message"], entry["level"], entry["request_id"], entry["problem_id"]) == \
        ("it failed: badly", "error", "r1", 7)
    assert "ValueError: boom" in entry["exception"]


def test_the_text_format_reads_as_a_sentence_with_its_context_after_it():
    stream = io.StringIO()
    logger = logging.getLogger("tests.ops.text")
    logger.addHandler(logs.handler("text", stream))
    try:
        with logs.bound(tick_id="t1"):
            logger.warning("job %s late", "x", extra={"job": "x"})
    finally:
        logger.handlers.clear()
    assert stream.getvalue().rstrip().endswith("WARNING tests.ops.text: job x late  tick_id=t1 job=x")


def test_an_unknown_log_format_is_refused_at_start():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.configure(fmt="xml", level="INFO")


def test_production_logs_json_and_development_text():
    from config.settings import Development, Production
    assert (Production.LOG_FORMAT, Development.LOG_FORMAT) == ("json", "text")
