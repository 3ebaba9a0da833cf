"""The orjson provider writes the text Flask's default provider writes (api/json_provider.py)."""

import dataclasses
import decimal
import enum
import json
import uuid
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from api.json_provider import COMPACT, OrjsonProvider


@pytest.fixture(scope="module")
def providers():
    app = Flask(__name__)  # the providers hold their app by a weak reference
    ours, flasks = OrjsonProvider(app), DefaultJSONProvider(app)
    for provider in (ours, flasks):
        provider.sort_keys, provider.ensure_ascii = False, False  # as app.py sets them
    yield ours, flasks


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Pair:
    left: int
    right: str


AT = datetime(2026, 11, 25, 2, 0, 30, 123456, tzinfo=UTC)
VALUES = [
    {"title": "占道经营 🚲", "n": 3, "ok": True, "none": None, "ratio": 35.0621, "list": [1, [], {}]},
    {"zeta": 1, "alpha": 2, "中": 3},  # insertion order kept
    "line\u2028separator and \x7f and \t\n\"quotes\" \\ backslash </script>",
    [AT, date(2026, 1, 2), decimal.Decimal("1.10"), uuid.UUID(int=7), Pair(1, "x"), Markup("<b>x</b>")],
    {"state": Colour.RED, "level": Level.HIGH, "tuple": (1, 2)},
    [2**63, -(2**63), 2**64 - 1, 2**64, -(2**70), 10**100],  # past 64 bits: the standard library writes them
    {1: "int key", "s": {None: 1, True: 2}},  # non-string keys: the standard library converts them
    [1e16, 1e22, 0.1, -0.0, 1.7976931348623157e308],
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("layout", [{"separators": COMPACT}, {"indent": 2}, {"indent": 2, "sort_keys": False},
                                    {}, {"ensure_ascii": True}])
def test_the_text_is_flasks(providers, value, layout):
    ours, flasks = providers
    assert ours.dumps(value, **layout) == flasks.dumps(value, **layout)


@pytest.mark.parametrize("value", VALUES)
def test_responses_are_flasks_byte_for_byte(providers, value):
    ours, flasks = providers
    with ours._app.test_request_context():
        mine, theirs = ours.response(value), flasks.response(value)
        assert mine.get_data() == theirs.get_data()
        assert mine.mimetype == theirs.mimetype == "application/json"
        assert ours.response(items=[1], next_cursor=None).get_data() == b'{"items":[1],"next_cursor":null}\n'


def test_sorted_keys_when_asked(providers):
    ours, flasks = providers
    value = {"b": 1, "a": {"d": 1, "c": 2}, "中": 0}
    assert ours.dumps(value, separators=COMPACT, sort_keys=True) == flasks.dumps(value, separators=COMPACT,
                                                                                 sort_keys=True)


def test_what_neither_can_write_raises_the_standard_librarys_error(providers):
    ours, flasks = providers
    for value in (object(), {"set": {1}}, b"bytes"):
        with pytest.raises(TypeError) as theirs:
            flasks.dumps(value, separators=COMPACT)
        with pytest.raises(TypeError) as mine:
            ours.dumps(value, separators=COMPACT)
        assert str(mine.value) == str(theirs.value)


def test_a_lone_surrogate_is_written_as_the_standard_library_writes_it(providers):
    """api/errors.py quotes a client's key "\\ud800" back: it relies on the standard library's text."""
    ours, flasks = providers
    value = {"errors": {"\ud800x": ["unknown field"]}}
    assert ours.dumps(value, separators=COMPACT) == flasks.dumps(value, separators=COMPACT)


def test_the_two_corners_where_the_text_differs_keep_the_meaning(providers):
    ours, flasks = providers
    for value in ([1e-05], [1e-07]):
        assert json.loads(ours.dumps(value, separators=COMPACT)) == value
    assert ours.dumps([float("nan")], separators=COMPACT) == "[null]"  # the standard library writes NaN


def test_reading_is_the_standard_librarys(providers):
    ours, _ = providers
    assert ours.loads('{"lat": NaN, "big": 123456789012345678901234567890, "s": "\\ud800"}')["big"] == 10**29 + \
        23456789012345678901234567890
    assert ours.loads("[NaN]")[0] != ours.loads("[NaN]")[0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300).filter(
        lambda f: f == 0 or abs(f) >= 1e-4),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=30)


@given(JSON)
def test_any_json_value_is_written_as_flask_writes_it(value):
    app = Flask(__name__)
    ours, flasks = OrjsonProvider(app), DefaultJSONProvider(app)
    ours.ensure_ascii = flasks.ensure_ascii = False
    ours.sort_keys = flasks.sort_keys = False
    assert ours.dumps(value, separators=COMPACT) == flasks.dumps(value, separators=COMPACT)
    assert ours.dumps(value, indent=2) == flasks.dumps(value, indent=2)
