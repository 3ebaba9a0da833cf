"""/healthz: is the database answering, and is the scheduler ticking?"""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.context import request_now
from models.base import db
from schedules.health import scheduler_health
from workflow.calendar import estimated_years

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """Database and scheduler heartbeat; 503 when the database does not answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except DBAPIError:
        db.session.rollback()
        return jsonify(status="unavailable", database="down", scheduler=None), 503
    body = {"status": "ok", "database": "ok", "scheduler": scheduler_health(now=request_now())}
    estimated = [y for y in estimated_years(db.session) if y <= request_now().year + 1]
    if estimated:
        body["warnings"] = [f"the working calendar for {y} is the holiday library's estimate; "
                            "import the official schedule through /api/v1/calendar" for y in estimated]
    return jsonify(body)
