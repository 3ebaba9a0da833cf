"""The supervisors' console: server-rendered pages under /console/ over the same workflow functions as the API.

Pages work without JavaScript (forms, POST → redirect → GET); sign-in is a login and a password, the session a
signed cookie with an idle timeout; every form carries a CSRF token. Nothing here decides a rule: the actions,
scopes and figures are the workflow's.
"""

from flask import Flask

from console import admin, admin_import, pages, reports, session  # noqa: F401  (the routes register on the blueprint)
from console.blueprint import bp


def init_app(app: Flask) -> None:
    """Register the pages (the session cookie's settings are in config/settings.py)."""
    app.register_blueprint(bp)
