"""Security headers on every response: a JSON API is never framed, sniffed, cached or referred from."""

import base64
import hashlib
import re

from flask import Response, current_app, request

# Nothing in a JSON answer may load, run or frame anything.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
PUBLIC_CACHEABLE = ("/docs", "/openapi.json")


def add_security_headers(response: Response) -> Response:
    """Headers every response carries; a view that set its own CSP or Cache-Control keeps it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/docs"):
        headers["Content-Security-Policy"] = _docs_policy(response)
    else:
        headers.setdefault("Content-Security-Policy", API_POLICY)
    if not request.path.startswith(PUBLIC_CACHEABLE):
        headers.setdefault("Cache-Control", "no-store")
    if (hsts := current_app.config.get("HSTS_SECONDS", 0)) > 0:
        headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"
    return response


def _docs_policy(response: Response) -> str:
    """Swagger UI: its scripts and styles from the configured CDN, our one inline script by its hash
    (so no 'unsafe-inline' for scripts), inline styles (Swagger UI sets them), the spec from us."""
    cdn = _origin(current_app.config.get("OPENAPI_SWAGGER_UI_URL") or "")
    scripts = [cdn]
    if not response.is_streamed and response.mimetype == "text/html":
        scripts += [f"'sha256-{_digest(body)}'" for body in INLINE_SCRIPT.findall(response.get_data())]
    return (f"default-src 'none'; script-src {' '.join(scripts)}; style-src {cdn} 'unsafe-inline'; "
            f"img-src 'self' data: {cdn}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")


def _digest(script: bytes) -> str:
    return base64.b64encode(hashlib.sha256(script).digest()).decode()


def _origin(url: str) -> str:
    """scheme://host of a URL, or '' for a relative one (then the assets come from us: 'self')."""
    match = re.match(r"^(https?://[^/]+)", url)
    return match.group(1) if match else "'self'"
