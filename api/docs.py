"""/docs: Swagger UI served from the pinned flask-swagger-ui wheel's assets, so it works without internet.

The page loads only our own files (no CDN, no inline script): api/security.py gives it a `'self'` policy.
"""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, abort, send_from_directory

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
SERVED = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png",
          "favicon-16x16.png"}
OWN = Path(__file__).parent / "static" / "docs"

blp = Blueprint("docs", __name__)


@blp.get("/docs")
def page():
    """The Swagger UI page."""
    return send_from_directory(OWN, "index.html", mimetype="text/html")


@blp.get("/docs/<name>")
def asset(name: str):
    """Swagger UI's files (from the wheel) and our initializer."""
    if name == "initializer.js":
        return send_from_directory(OWN, name, mimetype="text/javascript")
    if name not in SERVED:
        abort(404)
    return send_from_directory(ASSETS, name)
