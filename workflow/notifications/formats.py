"""How a message looks on each channel: Rectify's own signed JSON, or the group-chat robots offices already use.

- `rectify`: `{event_id, type, occurred_at, data}`, signed in `X-Rectify-Signature` (docs/notifications.md).
- `wecom` (企业微信群机器人): POST `{"msgtype": "markdown", "markdown": {"content": …}}` to the robot URL; success
  is `errcode: 0`. Its markdown cannot @-mention by phone, so it does not.
- `dingtalk` (钉钉自定义机器人, 加签): `timestamp` (ms) and `sign` = URL-encoded base64 HMAC-SHA256 of
  "{timestamp}\\n{secret}" keyed by the secret, added to the query; `{"msgtype": "markdown", "markdown":
  {"title", "text"}, "at": {"atMobiles": […]}}`, the mentioned phones also written in the text; `errcode: 0`.
- `feishu` (飞书/Lark 自定义机器人, 签名校验): `timestamp` (seconds) and `sign` = base64 HMAC-SHA256 keyed by
  "{timestamp}\\n{secret}" over an empty message, in the body beside `msg_type: "interactive"` and a card;
  success is `code: 0`.

The stored body (`WebhookDelivery.body`) is the same on every retry; what a vendor wants fresh on each
attempt (timestamps, signatures) is added by `build_request` when it is sent.
"""

import base64
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

from models.enums import WebhookFormat, label

FORMATS = tuple(WebhookFormat)
RECTIFY, WECOM, DINGTALK, FEISHU, EMAIL = FORMATS
CHATS = frozenset({WECOM, DINGTALK, FEISHU})
NEEDS_SECRET = frozenset({RECTIFY, DINGTALK, FEISHU})
MAX_TEXT = 1500  # the robots cut long messages; ours stay short

HEADLINES = {"problem.created": "新问题上报", "escalation.fired": "督办提醒", "round.missed": "漏巡提醒",
             "audit.anchor": "审计锚点", "digest.daily": "每日待办摘要"}


@dataclass(frozen=True)
class Text:
    """A chat message: a title, markdown lines and the phones to @-mention."""

    title: str
    lines: list[str]
    mobiles: list[str]


def signature(secret: str, body: str, timestamp: int) -> str:
    """X-Rectify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the secret>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: URL-encoded base64 of HMAC-SHA256("{timestamp}\\n{secret}") keyed by the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu 签名校验: base64 of HMAC-SHA256 keyed by "{timestamp}\\n{secret}" over an empty message."""
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


# --- the message -------------------------------------------------------------------------------------

def text_of(topic: str, data: dict, *, place: str, deadline: str | None, link: str | None,
            mobiles: list[str]) -> Text:
    """A short Chinese message: what happened, code and title, place, deadline, link."""
    if topic == "digest.daily":
        return Text(data.get("title", HEADLINES[topic]), list(data.get("lines", [])), mobiles)
    if topic == "round.missed":
        return Text(HEADLINES[topic], [f"**{HEADLINES[topic]}** {data.get('label', '')} 巡查未按时开展",
                                       f"时间：{deadline or ''}"], mobiles)
    if topic == "audit.anchor":
        return Text(HEADLINES[topic], [f"**{HEADLINES[topic]}** {data.get('digest', '')}"], mobiles)
    headline = _headline(topic, data)
    lines = [f"**{headline}** {data.get('code', '')} {data.get('title', '')}", f"地点：{place or '—'}"]
    if deadline:
        lines.append(f"期限：{deadline}")
    if link:
        lines.append(f"[查看详情]({link})")
    return Text(f"{headline} {data.get('code', '')}", lines, mobiles)


def _headline(topic: str, data: dict) -> str:
    if topic == "problem.transitioned":
        return f"{label(data.get('action', ''))} → {label(data.get('state', ''))}"
    if topic == "escalation.fired":
        return f"督办 {data.get('rule', '')}（{data.get('level', '')}级）"
    return HEADLINES.get(topic, topic)


def chat_body(fmt: str, text: Text) -> str:
    """The stored JSON for a robot (without the per-attempt timestamp and signature), or an e-mail's subject
    and plain text."""
    content = "\n\n".join(text.lines)[:MAX_TEXT]
    if fmt == EMAIL:
        plain = "\n".join(line.replace("**", "") for line in text.lines)
        payload = {"subject": text.title, "text": plain}
    elif fmt == WECOM:
        payload = {"msgtype": "markdown", "markdown": {"content": content}}
    elif fmt == DINGTALK:
        mention = " ".join(f"@{mobile}" for mobile in text.mobiles)
        payload = {"msgtype": "markdown", "markdown": {"title": text.title, "text": f"{content}\n\n{mention}".strip()},
                   "at": {"atMobiles": text.mobiles, "isAtAll": False}}
    else:
        payload = {"msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": text.title}},
            "elements": [{"tag": "markdown", "content": content}]}}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


# --- one attempt ---------------------------------------------------------------------------------------

def build_request(fmt: str, *, url: str, secret: str | None, body: str, event_type: str, event_id: int,
                  now: datetime) -> tuple[str, bytes, dict]:
    """The URL, bytes and headers of one attempt, signed as of `now`."""
    headers = {"Content-Type": "application/json"}
    if fmt == RECTIFY:
        headers |= {"X-Rectify-Event": event_type, "X-Rectify-Event-Id": str(event_id),
                    "X-Rectify-Signature": signature(secret or "", body, int(now.timestamp()))}
        return url, body.encode(), headers
    if fmt == DINGTALK and secret:
        stamp = int(now.timestamp() * 1000)
        joiner = "&" if urllib.parse.urlsplit(url).query else "?"
        return f"{url}{joiner}timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}", body.encode(), headers
    if fmt == FEISHU and secret:
        stamp = int(now.timestamp())
        signed = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp)} | json.loads(body)
        return url, json.dumps(signed, ensure_ascii=False).encode(), headers
    return url, body.encode(), headers


def outcome(fmt: str, status: int, answer: bytes) -> str | None:
    """None when the attempt succeeded, else why not: a non-2xx status, or a robot's non-zero error code."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if fmt == RECTIFY:
        return None
    try:
        reply = json.loads(answer or b"{}")
    except ValueError:
        return "the robot's answer is not JSON"
    if not isinstance(reply, dict):
        return "the robot's answer is not a JSON object"
    field = _code_field(fmt, reply)
    if reply.get(field) == 0:
        return None
    why = reply.get("msg") or reply.get("errmsg") or reply.get("StatusMessage") or ""
    return f"{field} {reply.get(field)}: {str(why)[:200]}"


def _code_field(fmt: str, reply: dict) -> str:
    """Where a vendor puts its error code: Feishu `code` (else `errcode`, older bots `StatusCode`), the
    others `errcode`."""
    if fmt != FEISHU:
        return "errcode"
    return next((field for field in ("code", "errcode") if field in reply), "StatusCode")
