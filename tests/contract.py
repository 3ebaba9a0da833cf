"""Every response a test receives is checked against the document the app serves at /openapi.json.

The test client of the suite is a `ContractClient`: after each request it finds the documented operation and
validates the status, the declared headers, the content type and the body with openapi-core. A mismatch
raises `ContractViolation` in the test that made the request, so the document cannot drift from the code.
"""

import json

from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.exceptions import MethodNotAllowed, NotFound

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}


class _AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request as openapi-core needs it to find the operation; its body was read by the app already."""

    @property
    def body(self) -> bytes:
        return b""


class ContractViolation(AssertionError):
    """A response differs from what /openapi.json promises for it."""


class Contract:
    """The served document, loaded once per app, and the check of one response against it."""

    def __init__(self, app):
        document = FlaskClient(app, app.response_class).get("/openapi.json").get_json()
        # openapi-core reads only application/json as JSON; errors and GeoJSON are JSON too
        json_types = dict.fromkeys(("application/problem+json", "application/geo+json"), json.loads)
        self.openapi = OpenAPI.from_dict(document, config=Config(extra_media_type_deserializers=json_types))
        self.app = app

    @classmethod
    def of(cls, app) -> "Contract":
        if "test_contract" not in app.extensions:
            app.extensions["test_contract"] = cls(app)
        return app.extensions["test_contract"]

    def check(self, response) -> None:
        request = response.request
        if request.method in ("HEAD", "OPTIONS"):
            return  # Flask answers these itself for every GET route
        openapi_request = _AnsweredRequest(request)
        try:
            self.openapi.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))
        except (PathNotFound, OperationNotFound):
            self._check_unrouted(request, response)
        except Exception as error:
            raise ContractViolation(_explain(request, response, error)) from None

    def _check_unrouted(self, request, response) -> None:
        """Not in the document: fine for the pages that are not API operations (/docs, /metrics, the console);
        under /api a URL no route serves must still answer problem+json, and a route is a violation."""
        if not request.path.startswith("/api/"):
            return
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _ = adapter.match(request.path, method=request.method)
        except (NotFound, MethodNotAllowed):
            _assert_problem(request, response)
            return
        raise ContractViolation(f"{request.method} {request.path} ({endpoint}) is not in /openapi.json")


def _assert_problem(request, response) -> None:
    body = response.get_json(silent=True) or {}
    if response.mimetype != "application/problem+json" or not set(body) >= PROBLEM_KEYS:
        raise ContractViolation(f"{request.method} {request.path} -> {response.status_code} is not problem+json")


def _explain(request, response, error) -> str:
    reasons, cause = [], error
    while cause is not None:  # openapi-core chains: the response error, the value error, the schema errors
        reasons.append(f"{cause.__class__.__name__}: {cause}"[:300])
        reasons += [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}"[:500]
                    for e in getattr(cause, "schema_errors", None) or ()]
        cause = cause.__cause__
    body = response.get_data(as_text=True)[:600] if response.mimetype.endswith("json") else response.mimetype
    return (f"{request.method} {request.full_path.rstrip('?')} -> {response.status_code} does not match "
            "/openapi.json:\n  " + "\n  ".join(reasons) + f"\n  body: {body}")


class ContractClient(FlaskClient):
    """A test client whose every response must match the served document. (`checked = False` on one client
    is for a test that stores synthetic answers to prove a mechanism, never for a real answer.)"""

    checked = True

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if self.checked:
            Contract.of(self.application).check(response)
        return response
