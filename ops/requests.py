"""Each request: an id (X-Request-Id, from a trusted proxy or made here) on the answer and on every log line,
one access-log line, and its count and latency in the metrics."""

import logging
import re
import time

from flask import Flask, Response, current_app, g, request

from ops import logs, metrics

log = logging.getLogger("rectify.access")
HEADER = "X-Request-Id"
# What a proxy may hand us: nginx's $request_id (32 hex digits), a UUID, or another short token. Anything
# else (too long, spaces, control characters) would let a client forge or garble log lines: we make our own.
ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <int(min=1):problem_id> -> {problem_id}
QUIET = ("/livez", "/healthz", "/metrics")  # probes and scrapes: logged at DEBUG


def incoming_id() -> str:
    """The proxy's X-Request-Id when a trusted proxy stands in front of us and the id is well-formed, else new."""
    offered = request.headers.get(HEADER, "")
    if current_app.config.get("TRUSTED_PROXIES", 0) > 0 and ACCEPTED.fullmatch(offered):
        return offered
    return logs.new_id()


def begin() -> None:
    """Before anything else of a request: give it its id and start its clock."""
    g.request_id, g.request_started = incoming_id(), time.perf_counter()
    g.request_context = [(logs.request_id, logs.request_id.set(g.request_id))]


def finish(response: Response) -> Response:
    """After everything else: the id on the answer, the access-log line, the metrics."""
    response.headers[HEADER] = g.get("request_id") or logs.new_id()
    if "request_started" not in g:
        return response
    seconds = time.perf_counter() - g.request_started
    route = route_template()
    metrics.observe_request(method=request.method, route=route, status=response.status_code, seconds=seconds)
    level = logging.DEBUG if request.path in QUIET else logging.INFO
    if log.isEnabledFor(level):  # a probe's line is usually off: do not build it
        log.log(level, "%s %s %d %.1f ms", request.method, route, response.status_code, seconds * 1000,
                extra={"method": request.method, "route": route, "path": request.path,
                       "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
                       "problem_id": _problem_id(response), "remote_addr": request.remote_addr})
    return response


def route_template() -> str:
    """The matched route as OpenAPI writes it (`/api/v1/problems/{problem_id}`): a label of few values."""
    if request.url_rule is None:
        return "unmatched"
    return CONVERTER.sub(r"{\1}", request.url_rule.rule)


def _problem_id(response: Response) -> int | None:
    """The problem a request was about: its URL's, or the one a report just created (its Location)."""
    if (problem_id := (request.view_args or {}).get("problem_id")) is not None:
        return problem_id
    match = re.fullmatch(r"/api/v1/problems/(\d+)", response.headers.get("Location", ""))
    return int(match.group(1)) if match else None


def end(_error=None) -> None:
    """Teardown: the request's id leaves the context (a worker thread serves the next request clean)."""
    for var, token in reversed(g.pop("request_context", [])):
        var.reset(token)


def init_app(app: Flask) -> None:
    """Register first, so the id exists before authentication runs and the line is written after all else."""
    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request_funcs.setdefault(None, []).insert(0, finish)  # after_request runs in reverse: last
    app.teardown_request(end)


def identify(user_id: int) -> None:
    """The caller is known: the rest of the request's log lines carry their user id."""
    g.setdefault("request_context", []).append((logs.user_id, logs.user_id.set(user_id)))
