"""Development's stand-in for a WeCom robot: the demo's chat messages show in the dev server's log."""

import logging

from app import create_app
from config.settings import Development, Testing


def test_the_echo_endpoint_exists_only_where_the_config_says_and_answers_like_wecom(app, caplog):
    assert "devecho.robot_echo" not in app.view_functions  # the test (and production) config: absent
    dev = create_app(type("Dev", (Development,), {"SQLALCHEMY_DATABASE_URI": "sqlite://", "LOG_CONFIGURE": False}))
    client = dev.test_client()
    with caplog.at_level(logging.INFO, logger="api.devecho"):
        answer = client.post("/dev/robot-echo?key=demo", json={"msgtype": "markdown",
                                                               "markdown": {"content": "**新问题上报** LY-1"}})
    assert answer.json == {"errcode": 0, "errmsg": "ok"} and "LY-1" in caplog.text
    assert client.post("/dev/robot-echo", json={"msgtype": "image"}).json["errcode"] == 40008
    assert not Testing.DEV_ROBOT_ECHO and not Development.WEBHOOK_ALLOW_PRIVATE


def test_the_demo_seeds_one_wecom_robot_at_the_echo_endpoint(ctx):
    from models import Webhook
    from models.base import db
    from tests.conftest import NOW
    from workflow import seed
    seed.seed_demo(now=NOW, timezone="Asia/Shanghai", robot_url="http://127.0.0.1:5000/dev/robot-echo?key=demo")
    (hook,) = db.session.query(Webhook).all()
    assert (hook.format, hook.url) == ("wecom", "http://127.0.0.1:5000/dev/robot-echo?key=demo")
    db.session.rollback()
