"""Development only: a stand-in for a WeCom group robot, so a newcomer sees the chat messages in the log.

`make run` seeds one `wecom` webhook pointing here; the dev server logs each message and answers as the
robot does (`{"errcode": 0}`). Registered only when DEV_ROBOT_ECHO is set (the development config), never in
production."""

import logging

from flask import Blueprint, jsonify, request

from workflow.notifications.targets import DEV_ECHO_PATH

log = logging.getLogger(__name__)
blp = Blueprint("devecho", __name__)


@blp.post(DEV_ECHO_PATH)
def robot_echo():
    """Log a robot message and answer like WeCom does."""
    message = request.get_json(silent=True) or {}
    content = (message.get("markdown") or {}).get("content") or (message.get("text") or {}).get("content")
    if not isinstance(content, str):
        return jsonify(errcode=40008, errmsg="invalid message type"), 200
    log.info("群机器人 (dev echo) 收到:\n%s", content)
    return jsonify(errcode=0, errmsg="ok")
