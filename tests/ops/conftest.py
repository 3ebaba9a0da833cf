"""Capturing what the app logs, as the production handler writes it (JSON lines with the context)."""

import io
import json
import logging

import pytest

from ops import logs


class Captured:
    def __init__(self, stream: io.StringIO):
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def access(self) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == "rectify.access"]


@pytest.fixture
def captured_logs():
    """Every log line of every logger at DEBUG and above, formatted as in production."""
    stream = io.StringIO()
    handler, root = logs.handler("json", stream), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
