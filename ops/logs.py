"""Logs: one JSON object a line in production, readable text in development, and on every line the request
or scheduler tick it belongs to (so one grep finds everything a request or a tick did).

What never goes into a log: request bodies, query strings, headers, tokens, passwords, webhook secrets and
URLs, reporters' contacts. Log lines name rows by id; SQL errors hide their parameters (hide_parameters).
"""

import contextlib
import contextvars
import json
import logging
import sys
import uuid
from datetime import UTC, datetime

request_id = contextvars.ContextVar("rectify_request_id", default=None)
tick_id = contextvars.ContextVar("rectify_tick_id", default=None)
user_id = contextvars.ContextVar("rectify_user_id", default=None)
CONTEXT = {"request_id": request_id, "tick_id": tick_id, "user_id": user_id}

# Attributes every LogRecord has: the rest of a record's attributes are the `extra` fields of its call.
STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def new_id() -> str:
    """A fresh id for a request or a tick: 32 hex digits, as nginx's $request_id."""
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(**values):
    """Within: log lines carry these context values (request_id, tick_id, user_id)."""
    tokens = [(CONTEXT[name], CONTEXT[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Stamp each record with the request id, tick id and user id of the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in CONTEXT.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


def fields(record: logging.LogRecord) -> dict:
    """A record's own fields, the context first, then its `extra`; the empty ones left out."""
    own = {name: value for name, value in vars(record).items()
           if name not in STANDARD and not name.startswith("_") and value is not None}
    return {name: own.pop(name) for name in CONTEXT if name in own} | own


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...fields, "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry |= fields(record)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message  key=value ...` for a person at a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{name}={value}" for name, value in fields(record).items())
        head, newline, rest = line.partition("\n")  # a traceback stays below the line
        return f"{head}  {extra}{newline}{rest}" if extra else line


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def handler(fmt: str, stream=None) -> logging.Handler:
    """A stream handler (stderr by default) writing `fmt` ("json" or "text") with the context on each line."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(FORMATTERS[fmt]())
    out.addFilter(ContextFilter())
    return out


def configure(*, fmt: str, level: str) -> None:
    """Send every log line to stderr in `fmt`, at `level` and above (replacing the root's handlers)."""
    if fmt not in FORMATTERS:
        raise ValueError(f"LOG_FORMAT must be one of {sorted(FORMATTERS)}, not {fmt!r}")
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)
