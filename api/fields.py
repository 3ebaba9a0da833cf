"""Strict marshmallow fields: JSON types are not coerced, naive datetimes are refused."""

import math
import re
from datetime import UTC, datetime

from marshmallow import ValidationError, fields

# The instants the API accepts: far enough for any ledger, near enough that arithmetic never overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class StrictFloat(fields.Float):
    """A JSON number (not a string, not a boolean, never NaN or infinite)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError("Not a valid number.")
        return float(value)


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


# C0 control characters but tab, LF and CR: no text needs them, and XML (XLSX exports, reports) cannot hold them.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class StrictString(fields.String):
    """A string that carries text: surrounding blanks stripped, C0 control characters (but tab, LF, CR)
    refused, and only characters UTF-8 can store (JSON may escape half a surrogate pair, "\\ud800", which no
    database accepts)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if (found := CONTROL.search(text)) is not None:
            raise ValidationError(f"Control characters are not allowed (U+{ord(found.group()):04X}).")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationError("Not valid Unicode text (a lone surrogate).") from None
        return text.strip()


class OneLine(StrictString):
    """A name, a code, an address: one line of text, no control characters at all (C0 and DEL)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(char) < 32 or ord(char) == 127 for char in text):
            raise ValidationError("Control characters are not allowed.")
        return text


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an explicit offset; naive values are refused."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_range = EARLIEST <= parsed <= LATEST
        except OverflowError:
            in_range = False
        if not in_range:
            raise ValidationError("Must lie between 1970 and 2100.")
        return parsed.astimezone(UTC)


class CommaList(fields.Field):
    """A query parameter holding comma-separated values of `inner`."""

    def __init__(self, inner: fields.Field, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Give one or more comma-separated values.")
        return [self.inner.deserialize(part.strip()) for part in value.split(",")]

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else ",".join(str(v) for v in value)


class Computed(fields.Function):
    """A value computed from the object when dumping, documented as the field `returns` (its type, enum,
    nullability), so the published schema types it instead of leaving it `any`."""

    def __init__(self, serialize=None, *, returns: fields.Field, **kwargs):
        super().__init__(serialize, allow_none=returns.allow_none, **kwargs)
        self.returns = returns


class ComputedMethod(fields.Method):
    """Like `Computed`, from a method of the schema."""

    def __init__(self, serialize: str, *, returns: fields.Field, **kwargs):
        super().__init__(serialize, allow_none=returns.allow_none, **kwargs)
        self.returns = returns


def computed_property(converter, field, **kwargs) -> dict:
    """apispec: a Computed field is documented as what it returns (registered in api/__init__.py)."""
    returns = getattr(field, "returns", None)
    return {} if returns is None else converter.field2property(returns)
