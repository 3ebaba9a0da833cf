"""An Open311 scene: public categories (one with attributes), an API key, the counters cleared."""

import pytest

from models.base import db
from tests.conftest import NOW
from workflow import org
from workflow.intake import keys
from workflow.roster import edits

ATTRIBUTES = [
    {"code": "stall_count", "datatype": "number", "required": False, "description": "how many stalls"},
    {"code": "when", "datatype": "singlevaluelist", "required": True, "description": "when it happens",
     "values": [{"key": "morning", "name": "早上"}, {"key": "evening", "name": "晚上"}]},
]


@pytest.fixture
def scene(world, app):
    for name in ("rectify_open311_reads", "rectify_open311_posts"):
        app.extensions[name].clear()
    app.extensions["rectify_auth_throttle"].clear()
    hawker = world.categories["hawker"]
    edits.publish_category(actor=None, now=NOW, category_id=hawker.id, expected_version=hawker.version, public=True,
                           public_description="街头流动摊贩占道经营", attributes=ATTRIBUTES)
    world.categories["graffiti"] = org.create_category(actor=None, now=NOW, code="graffiti", name="乱涂乱画",
                                                       name_en="Graffiti", limits={}, public=True)
    row, key = keys.create_key(actor=None, now=NOW, name="city app")
    revoked, revoked_key = keys.create_key(actor=None, now=NOW, name="old app")
    keys.revoke_key(actor=None, now=NOW, key_id=revoked.id)
    db.session.commit()
    world.open311_key, world.revoked_key, world.open311_row = key, revoked_key, row
    return world
