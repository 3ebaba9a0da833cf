"""A flask-smorest Blueprint whose query parameters are as strict as its bodies."""

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

# Path ids: a URL with an id outside the database's integer range is simply not found.
ID = "int(min=1, max=2147483647)"


class StrictParser(FlaskParser):
    # webargs ignores unknown query parameters by default; ours follow the schema (RAISE), so
    # a mistyped filter is a 422 instead of silently returning everything.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None,
                                   "querystring": None}


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()
