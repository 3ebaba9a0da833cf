"""The README's curl walkthrough runs, step by step, against the demo district `make run` seeds: every curl
of the section is sent as written (tokens filled in) and what the README says it answers is checked, so the
walkthrough cannot drift from the code again (issue 13, item 14)."""

import json
import re
import shlex
from pathlib import Path

from models.base import db
from tests.conftest import NOW
from workflow.seed import seed_demo

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = ("## A problem through its closed loop, with curl", "**What a refusal looks like**")
TOKENS = {"SUP": "王督办", "OFF": "李巡查", "HAN": "张队员"}
CHECKED = ("state", "version", "stage", "allowed_actions")  # times differ from the README's run


def walkthrough() -> list[tuple[str, str]]:
    """Each curl of the section (continuation lines joined) with the text that follows it up to the next."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION[0]):text.index(SECTION[1])]
    joined = re.sub(r"\\\n\s*", " ", section)
    parts = re.split(r"^(curl .*)$", joined, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def request_of(command: str) -> dict:
    words = shlex.split(command.split("  #", maxsplit=1)[0])
    request = {"method": "GET", "headers": {}, "body": None, "path": None}
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-X":
            request["method"], i = words[i + 1], i + 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            if name.startswith("$"):
                name, value = "Content-Type", "application/json"  # "$JSON"
            request["headers"][name.strip()] = value.strip()
            i += 2
        elif word == "-d":
            request["body"], i = json.loads(words[i + 1]), i + 2
        elif word.startswith("-"):
            i += 1
        else:
            request["path"], i = word.replace("$API", "/api/v1"), i + 1
    return request


def expectations(command: str, after: str) -> dict:
    """What the README says the answer is: `# → state, version N` or `# → "key":value,...` or an HTTP block."""
    said = command.split("#", 1)[1] if "#" in command else after.split("```sh", 1)[0]
    found = {}
    if match := re.search(r"→ (\w+), version (\d+)", said):
        found = {"state": match[1], "version": int(match[2])}
    for key, value in re.findall(r'"(\w+)":("[^"]*"|\d+|\[[^\]]*\])', said):
        if key in CHECKED:
            found[key] = json.loads(value)
    if match := re.search(r"HTTP/1\.1 (\d+)", said):
        found["status"] = int(match[1])
    return found


def test_the_readme_walkthrough_runs_as_written_on_the_demo_district(app, client):
    with app.app_context():
        issued = seed_demo(now=NOW, timezone="Asia/Shanghai")
        db.session.commit()
        tokens = {var: next(token for user, token in issued if user.name == name) for var, name in TOKENS.items()}
    steps = walkthrough()
    assert len(steps) >= 7
    for command, after in steps:
        request = request_of(command)
        headers = {name: re.sub(r"\$(\w+)", lambda m: tokens[m[1]], value)
                   for name, value in request["headers"].items()}
        response = client.open(request["path"], method=request["method"], headers=headers, json=request["body"])
        expected = expectations(command, after)
        assert response.status_code == expected.pop("status", 200), (command, response.get_json())
        body = response.get_json()
        if "items" in body:
            continue  # the trail: checked below
        assert {key: body[key] for key in expected} == expected, command
    trail = client.get("/api/v1/problems/1/events", headers={"Authorization": f"Bearer {tokens['SUP']}"}).json
    assert [e["action"] for e in trail["items"]] == ["report", "assign", "accept", "submit", "verify", "close"]
