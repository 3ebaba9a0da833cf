"""/livez: is the process serving? /healthz: is the database answering, and is the scheduler ticking?"""

from flask import Blueprint, jsonify

from api.context import request_now
from workflow import health

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """Database and scheduler heartbeat; 503 when the database does not answer."""
    if not health.database_answers():
        return jsonify(status="unavailable", database="down", scheduler=None), 503
    body = {"status": "ok", "database": "ok", "scheduler": health.scheduler_status(now=request_now())}
    if warnings := health.warnings(now=request_now()):
        body["warnings"] = warnings
    return jsonify(body)


@blp.get("/livez")
def livez():
    """Liveness, public and without touching the database: `{"status": "ok"}` while the process serves.

    For a load balancer's liveness probe (restart a process that stops answering), and the floor that
    `make bench` measures transitions against; readiness (the database answers) is /healthz.
    """
    return jsonify(status="ok")
