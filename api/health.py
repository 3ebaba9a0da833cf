"""/livez: is the process serving? /healthz: can it serve, and what should an operator fix? /metrics: Prometheus."""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from api.context import request_now
from api.errors import problem_response
from models.base import db
from ops import metrics
from workflow import health

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """`{status: ok|degraded, warnings, database, scheduler}`: 200 while it can serve, however degraded (a load
    balancer keeps a degraded instance); 503 only when the database does not answer."""
    if not health.database_answers():
        return jsonify(status="unavailable", warnings=["the database does not answer"], database="down",
                       scheduler=None), 503
    now = request_now()
    warnings = health.warnings(now=now) + health.operational_warnings(
        now=now, intervals=current_app.extensions["rectify_job_intervals"],
        heads=current_app.extensions["rectify_migration_heads"]())
    body = {"status": "degraded" if warnings else "ok", "warnings": warnings, "database": "ok",
            "scheduler": health.scheduler_status(now=now)}
    db.session.rollback()  # only reads: end the transaction
    return jsonify(body)


@blp.get("/livez")
def livez():
    """Liveness, public and without touching the database: `{"status": "ok"}` while the process serves.

    For a load balancer's liveness probe (restart a process that stops answering), and the floor that
    `make bench` measures transitions against; readiness (the database answers) is /healthz.
    """
    return jsonify(status="ok")


@blp.get("/metrics")
def scrape():
    """Prometheus exposition: with METRICS_TOKEN set it needs that bearer token, otherwise a loopback caller."""
    config = current_app.config
    if not config["METRICS_ENABLED"]:
        return problem_response(404, detail="Metrics are switched off (METRICS_ENABLED).")
    if config["METRICS_TOKEN"] and not _has_token(config["METRICS_TOKEN"]):
        return problem_response(401, detail="Send Authorization: Bearer <METRICS_TOKEN>.",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if not config["METRICS_TOKEN"] and not _loopback(request.remote_addr):
        return problem_response(404, detail="Metrics answer loopback callers only unless METRICS_TOKEN is set.")
    body = metrics.exposition(now=request_now(), intervals=current_app.extensions["rectify_job_intervals"],
                              heads=current_app.extensions["rectify_migration_heads"](),
                              multiproc_dir=config["PROMETHEUS_MULTIPROC_DIR"])
    db.session.rollback()
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _has_token(expected: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
