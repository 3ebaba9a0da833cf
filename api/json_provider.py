"""Flask's JSON provider with orjson writing the responses: the same text as Flask's default provider, faster.

Flask's provider writes with the standard library's `json.dumps`; this one asks orjson wherever orjson writes
the same text, and the standard library otherwise:

- compact output (`jsonify`, every API response: separators "," and ":") and `indent=2` (/openapi.json) go
  to orjson; other layouts (`flask.json.dumps(x)` with the default ", " and ": ", as api/errors.py writes
  problem+json) and `ensure_ascii=True` keep the standard library's text;
- UTF-8 with Chinese text unescaped (`ensure_ascii = False`, set in app.py), keys in insertion order unless
  `sort_keys`;
- dates and datetimes as Flask writes them (HTTP dates through the provider's `default`, as Decimal and
  dataclasses), not orjson's RFC 3339: the API's own datetimes are already strings when they get here
  (marshmallow dumps them), so this only keeps Flask's behaviour for anything else;
- whatever orjson refuses (integers past 64 bits, keys that are not strings, a lone surrogate, nesting past
  254 levels, a type `default` does not know) is written, or refused, by the standard library as before.

The text differs in two corners only: a float that Python spells with an exponent below 1e-4 (1e-05) orjson
spells 0.00001 or 1e-7 (the same number), and NaN or an infinity, invalid JSON the standard library would
write, comes out as null.

Reading stays on the standard library (`loads`, and webargs parses request bodies with it): orjson refuses
NaN and escaped lone surrogates as undecodable (a bare 400) where the standard library lets the schema name
the field in a 422 (tests/api/test_bad_input.py), and reads integers past 64 bits as floats. Request bodies
are small; their parsing was never the cost.
"""

import typing as t

import orjson
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Response

COMPACT = (",", ":")
INDENTED = (",", ": ")  # json.dumps' separators when indent is set
# Datetimes, dates and dataclasses go to `default`, as with the standard library.
BASE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
KNOWN = frozenset({"indent", "separators", "sort_keys", "ensure_ascii", "default"})


class OrjsonProvider(DefaultJSONProvider):
    """DefaultJSONProvider's text, written by orjson where it writes the same."""

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        data = self._orjson(obj, kwargs)
        return super().dumps(obj, **kwargs) if data is None else data.decode()

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """As DefaultJSONProvider.response (compact, or indented in debug mode; a final newline), in bytes."""
        obj = self._prepare_response_obj(args, kwargs)
        indented = (self.compact is None and self._app.debug) or self.compact is False
        layout: dict[str, t.Any] = {"indent": 2} if indented else {"separators": COMPACT}
        data = self._orjson(obj, layout)
        body = super().dumps(obj, **layout).encode() + b"\n" if data is None else data + b"\n"
        return self._app.response_class(body, mimetype=self.mimetype)

    def _orjson(self, obj: t.Any, kwargs: dict) -> bytes | None:
        """orjson's text for json.dumps(obj, **kwargs) with this provider's defaults; None where it differs."""
        option = self._option(kwargs)
        if option is None:
            return None
        try:
            return orjson.dumps(obj, default=kwargs.get("default", self.default), option=option)
        except orjson.JSONEncodeError:  # the standard library writes it, or raises its own error, as before
            return None

    def _option(self, kwargs: dict) -> int | None:
        """orjson's options for these json.dumps arguments; None when orjson would not write the same text."""
        if not KNOWN.issuperset(kwargs) or kwargs.get("ensure_ascii", self.ensure_ascii):
            return None
        option = BASE_OPTIONS | (orjson.OPT_SORT_KEYS if kwargs.get("sort_keys", self.sort_keys) else 0)
        indent, separators = kwargs.get("indent"), kwargs.get("separators")
        if indent is None and separators == COMPACT:
            return option
        if indent == 2 and separators in (None, INDENTED):
            return option | orjson.OPT_INDENT_2
        return None
