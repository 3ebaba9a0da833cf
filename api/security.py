"""Security headers on every response: a JSON API is never framed, sniffed, cached or referred from."""

from flask import Response, current_app, request

# Nothing in a JSON answer may load, run or frame anything.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs loads Swagger UI from our own files (api/docs.py): nothing from elsewhere, no inline script;
# `data:` images are the icons Swagger UI's stylesheet embeds.
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
PUBLIC_CACHEABLE = ("/docs", "/openapi.json")


def add_security_headers(response: Response) -> Response:
    """Headers every response carries; a view that set its own CSP or Cache-Control keeps it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/docs"):
        headers["Content-Security-Policy"] = DOCS_POLICY
    else:
        headers.setdefault("Content-Security-Policy", API_POLICY)
    if not request.path.startswith(PUBLIC_CACHEABLE):
        headers.setdefault("Cache-Control", "no-store")
    if (hsts := current_app.config.get("HSTS_SECONDS", 0)) > 0:
        headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"
    return response
