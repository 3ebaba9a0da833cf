"""The console's blueprint and the page policy every console response carries."""

from flask import Blueprint, Response

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

# Pages load only our own stylesheet, script and images (photos come from the API's signed URLs, same origin);
# forms post only to us; nothing frames the console.
PAGE_POLICY = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@bp.after_request
def page_policy(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    return response
