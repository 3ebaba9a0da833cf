"""Group-chat robots: a local receiver per vendor checks each request the way the vendor documents it
(signatures recomputed from the secret, timestamps within the vendor's window, body shape) and answers
vendor-style error codes; retries, rate limits, dead letters, quiet hours, scopes and refused addresses.

The receivers listen on 127.0.0.1: these tests allow private addresses deliberately (allow_private=True)."""

import base64
import hashlib
import hmac
import json
import logging
import threading
import urllib.parse
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from models import WebhookDelivery
from models.base import db
from tests.conftest import NOW
from workflow.errors import Invalid
from workflow.notifications import delivery, quiet, targets, webhooks

SECRET = "SECa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"
PHONE = "13800138000"
WINDOW_S = 3600  # DingTalk and Feishu refuse a timestamp more than an hour from their clock


class Robot:
    """What a vendor's server does with a request: check it, then answer the next scripted error code."""

    def __init__(self, vendor: str, *codes: int):
        self.vendor, self.codes, self.seen, self.problems = vendor, list(codes or (0,)), [], []
        self.release: threading.Event | None = None

    def handle(self, path: str, body: bytes) -> dict:
        if self.release is not None:
            self.released = self.release.wait(4)  # hang until told (a slow receiver), at most 4 s
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        payload = json.loads(body)
        self.problems += getattr(self, f"check_{self.vendor}")(query, payload)
        self.seen.append(payload)
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        if self.vendor == "feishu":
            return {"code": code, "msg": "ok" if code == 0 else "sign match fail or timestamp is not within one hour"}
        return {"errcode": code, "errmsg": "ok" if code == 0 else "send too fast"}

    def check_wecom(self, query, payload) -> list[str]:
        ok = query.get("key") == "robot-key" and payload.get("msgtype") == "markdown" and \
            isinstance(payload.get("markdown", {}).get("content"), str)
        return [] if ok else [f"wecom shape: {payload}"]

    def check_dingtalk(self, query, payload) -> list[str]:
        stamp = int(query.get("timestamp", "0"))
        mac = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
        problems = [] if query.get("sign") == base64.b64encode(mac).decode() else ["dingtalk sign"]
        problems += [] if abs(stamp / 1000 - NOW.timestamp()) <= WINDOW_S else ["dingtalk timestamp"]
        markdown = payload.get("markdown", {})
        if payload.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
            problems.append(f"dingtalk shape: {payload}")
        return problems

    def check_feishu(self, query, payload) -> list[str]:
        stamp = int(payload.get("timestamp", "0"))
        mac = hmac.new(f"{stamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
        problems = [] if payload.get("sign") == base64.b64encode(mac).decode() else ["feishu sign"]
        problems += [] if abs(stamp - NOW.timestamp()) <= WINDOW_S else ["feishu timestamp"]
        if payload.get("msg_type") != "interactive" or not payload.get("card", {}).get("elements"):
            problems.append(f"feishu shape: {payload}")
        return problems


@contextmanager
def serving(robot: Robot):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            answer = json.dumps(robot.handle(self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)  # robots answer 200 and put the outcome in the body
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def robot_hook(base: str, fmt: str, **fields):
    url = f"{base}/cgi-bin/webhook/send?key=robot-key" if fmt == "wecom" else f"{base}/robot/send?access_token=t"
    hook = webhooks.create_webhook(now=NOW, url=url, format=fmt, secret=None if fmt == "wecom" else SECRET,
                                   events=["problem.transitioned"], allow_private=True, **fields)
    db.session.commit()
    return hook


def tick(at):
    delivery.fan_out(now=at, base_url="https://rectify.example.gov.cn")
    db.session.commit()
    return delivery.deliver(now=at, allow_private=True)


def assigned(world, severity="normal"):
    world.users["handler"].phone = PHONE
    problem = world.report(severity=severity)
    return world.act(problem, "assign", by="supervisor", unit_id=world.units["squad"].id,
                     handler_id=world.users["handler"].id)


def rows():
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# --- each vendor, as documented ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["wecom", "dingtalk", "feishu"])
def test_each_robot_gets_a_short_chinese_message_signed_as_its_vendor_checks_it(world, fmt):
    robot = Robot(fmt)
    with serving(robot) as base:
        robot_hook(base, fmt)
        problem = assigned(world)
        assert tick(NOW) == {"delivered": 1, "failed": 0, "dead": 0}
    assert robot.problems == []
    text = json.dumps(robot.seen[0], ensure_ascii=False)
    for part in (problem.code, "占道经营", "东关早市", "期限", f"https://rectify.example.gov.cn/api/v1/problems/{problem.id}",
                 "派遣"):
        assert part in text, (part, text)
    if fmt == "dingtalk":  # the only one of the three that @-mentions by phone
        assert robot.seen[0]["at"] == {"atMobiles": [PHONE], "isAtAll": False} and f"@{PHONE}" in text
    else:
        assert PHONE not in text


@pytest.mark.parametrize("fmt, refusal", [("wecom", 45009), ("dingtalk", 130101), ("feishu", 19021)])
def test_a_non_zero_error_code_is_a_failed_attempt_retried_like_an_http_error(world, fmt, refusal):
    robot = Robot(fmt, refusal, 0)
    with serving(robot) as base:
        robot_hook(base, fmt)
        assigned(world)
        assert tick(NOW) == {"delivered": 0, "failed": 1, "dead": 0}
        (row,) = rows()
        assert str(refusal) in row.last_error and row.next_attempt_at == NOW + timedelta(minutes=1)
        assert tick(NOW + timedelta(seconds=30))["delivered"] == 0  # not due yet
        assert tick(NOW + timedelta(minutes=1)) == {"delivered": 1, "failed": 0, "dead": 0}
    assert len(robot.seen) == 2 and robot.problems == []


def test_a_robot_that_always_refuses_is_dead_lettered_after_eight_attempts(world):
    robot = Robot("dingtalk", 310000)
    with serving(robot) as base:
        robot_hook(base, "dingtalk")
        assigned(world)
        for hours in range(10):
            tick(NOW + timedelta(hours=hours, minutes=1))
    (row,) = rows()
    assert (row.status, row.attempts, len(robot.seen)) == ("dead", 8, 8)


def test_a_wrong_secret_fails_the_vendors_check(world):
    robot = Robot("feishu")
    with serving(robot) as base:
        hook = robot_hook(base, "feishu")
        hook.secret = "not-the-robots-secret"
        db.session.commit()
        assigned(world)
        tick(NOW)
    assert robot.problems == ["feishu sign"]


# --- rate, quiet hours, scope ----------------------------------------------------------------------------

def test_the_sender_keeps_to_twenty_messages_a_minute_per_robot(world):
    robot = Robot("wecom")
    with serving(robot) as base:
        robot_hook(base, "wecom")
        for _ in range(25):
            assigned(world)
        assert tick(NOW)["delivered"] == 20
        assert tick(NOW + timedelta(seconds=30))["delivered"] == 0  # the same minute
        assert tick(NOW + timedelta(seconds=61))["delivered"] == 5
    assert len(robot.seen) == 25 and all(row.status == "delivered" for row in rows())


def test_quiet_hours_hold_ordinary_chat_messages_until_the_morning_but_not_urgent_ones(world):
    night = NOW.replace(hour=15)  # 23:00 in Shanghai
    robot = Robot("wecom")
    with serving(robot) as base:
        robot_hook(base, "wecom")
        assigned(world)
        assigned(world, severity="urgent")
        db.session.execute(db.text("UPDATE outbox SET created_at = :at"), {"at": night})
        assert tick(night)["delivered"] == 1
        waiting = [row for row in rows() if row.status == "pending"]
        assert [row.next_attempt_at for row in waiting] == [NOW.replace(hour=23)]  # 07:00 the next morning
        assert tick(NOW.replace(hour=23))["delivered"] == 1


def test_quiet_hours_cross_midnight_and_an_equal_start_and_end_means_none():
    from zoneinfo import ZoneInfo
    zone = ZoneInfo("Asia/Shanghai")
    morning = NOW.replace(hour=23)  # 07:00 on the 26th in Shanghai
    assert quiet.quiet_until(NOW.replace(hour=15), ("22:00", "07:00"), zone) == morning  # 23:00
    assert quiet.quiet_until(NOW.replace(hour=20), ("22:00", "07:00"), zone) == morning  # 04:00
    assert quiet.quiet_until(NOW.replace(hour=12), ("22:00", "07:00"), zone) is None  # 20:00
    assert quiet.quiet_until(NOW, ("22:00", "07:00"), zone) is None  # 10:00
    assert quiet.quiet_until(NOW, ("09:00", "12:00"), zone) == NOW.replace(hour=4)  # a daytime quiet period
    assert quiet.quiet_until(NOW, ("00:00", "00:00"), zone) is None


def test_a_hook_scoped_to_a_unit_hears_only_that_subtrees_events(world):
    east, west = Robot("wecom"), Robot("wecom")
    with serving(east) as east_base, serving(west) as west_base:
        robot_hook(east_base, "wecom", unit_id=world.units["east"].id)
        robot_hook(west_base, "wecom", unit_id=world.units["west"].id)
        assigned(world)  # at the east market, assigned to the squad under east
        tick(NOW)
    assert len(east.seen) == 1 and west.seen == []


# --- private addresses, leases, a hanging receiver ----------------------------------------------------------

@pytest.mark.parametrize("url", ["http://10.0.0.5/hook", "http://127.0.0.1:8080/x", "http://[::1]/x",
                                 "http://169.254.169.254/latest/meta-data", "http://localhost/x",
                                 "http://192.168.1.1/x", "file:///etc/passwd"])
def test_a_robot_toward_a_private_or_hostless_destination_is_refused_without_any_network(url, monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda *a: pytest.fail("no lookup for a literal address"))
    with pytest.raises(Invalid):
        webhooks.create_webhook(now=NOW, url=url, format="wecom", events=["problem.created"])


def test_a_name_that_resolves_to_a_private_address_is_refused_when_sending(world, monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["93.184.216.34"])  # public when registered
    hook = webhooks.create_webhook(now=NOW, url="https://robot.example.com/send", format="wecom",
                                   events=["problem.transitioned"])
    db.session.commit()
    assigned(world)
    delivery.fan_out(now=NOW)
    db.session.commit()
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["10.1.2.3"])
    assert delivery.deliver(now=NOW) == {"delivered": 0, "failed": 1, "dead": 0}
    (row,) = rows()
    assert row.webhook_id == hook.id and row.last_error == delivery.REFUSED


def test_nothing_is_sent_twice_while_a_lease_is_held(world):
    robot_hook("http://127.0.0.1:9", "wecom")
    assigned(world)
    delivery.fan_out(now=NOW)
    db.session.commit()
    first = delivery.claim(now=NOW)
    assert len(first) == 1 and delivery.claim(now=NOW + delivery.LEASE - timedelta(seconds=1)) == []
    assert [job.id for job in delivery.claim(now=NOW + delivery.LEASE)] == [first[0].id]  # the lease ran out
    assert delivery.record(first[0], now=NOW) is None  # the first sender lost it: its late record is dropped


def test_a_hanging_receiver_delays_nobody_else(world):
    slow, fast = Robot("wecom"), Robot("wecom")
    slow.release = threading.Event()
    recorded = []

    class Watch(logging.Handler):  # the fast hook's outcome is recorded while the slow one still hangs
        def emit(self, record):
            if getattr(record, "webhook_id", None) == fast_hook.id and record.outcome == "delivered":
                recorded.append(True)
                slow.release.set()

    watch, logger = Watch(), logging.getLogger("workflow.notifications.delivery")
    level = logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.INFO)
    try:
        with serving(slow) as slow_base, serving(fast) as fast_base:
            robot_hook(slow_base, "wecom")
            fast_hook = robot_hook(fast_base, "wecom")
            assigned(world)
            assert tick(NOW) == {"delivered": 2, "failed": 0, "dead": 0}
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)
    assert recorded == [True] and slow.released is True
