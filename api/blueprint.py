"""A flask-smorest Blueprint whose query parameters are as strict as its bodies."""

import json

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser, abort

from workflow.paging import MAX_ID

# Path ids: a URL with an id outside the database's integer range is simply not found.
ID = f"int(min=1, max={MAX_ID})"


class StrictParser(FlaskParser):
    # webargs ignores unknown query parameters by default; ours follow the schema (RAISE), so
    # a mistyped filter is a 422 instead of silently returning everything.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None,
                                   "querystring": None}

    def _raw_load_json(self, req):
        # json.loads raises ValueError past 4,300 digits and RecursionError on deep nesting.
        try:
            return super()._raw_load_json(req)
        except (ValueError, RecursionError) as error:
            if isinstance(error, json.JSONDecodeError):
                raise
            abort(400, messages={"json": ["The JSON body is too deeply nested or has too long a number."]})


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()
