"""`make smoke-prod`: the README's Production commands, run as written on a fresh PostgreSQL database, then checked.

It reads the first `sh` block of the README's "## Production" section and runs its lines in order, each in
bash with the environment file sourced as the first line says. What it changes, and only this: the environment
file is deploy/rectify.env.example with this machine's values (a scratch database, free port, temporary
directories, fresh secrets, ticks every few seconds); `sudo -u postgres` becomes the server's superuser
connection (PGHOST, PGUSER); the database `rectify` is named `rectify_smoke_<hex>`. The roles rectify_owner
and rectify_app are created when missing (they are the cluster's, and stay). gunicorn and the scheduler run
in the background, by PID, and are stopped at the end; the database is dropped whatever happens.

Then it checks: the demo district seeded, next year's calendar confirmed by an admin, a problem through its
closed loop over HTTP, a round made by the scheduler, `/healthz` ok, `/metrics` counting the loop, the
report, the rounds and the scheduler's job runs (from the scheduler's process: one multiprocess directory),
the Grafana dashboard's metric names present in that scrape, X-Request-Id kept from the trusted proxy and
found in the JSON log. It prints one line per check and exits 1 when one fails.

Environment: SMOKE_DATABASE_URL (the server; default TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres).
"""

import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SERVER = make_url(os.environ.get("SMOKE_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
                  or "postgresql://postgres@127.0.0.1:5432/postgres")
BACKGROUND = ("gunicorn", "scheduler run")
ROLES = ("rectify_owner", "rectify_app")
LOOP = [("assign", "supervisor"), ("accept", "handler"), ("submit", "handler"), ("verify", "officer"),
        ("close", "supervisor")]


class Smoke:
    def __init__(self, workdir: Path):
        self.workdir, self.database = workdir, f"rectify_smoke_{uuid.uuid4().hex[:10]}"
        self.port, self.processes, self.results = _free_port(), {}, []
        self.metrics_token, self.env_file = secrets.token_hex(16), workdir / "rectify.env"
        self.logs = {name: workdir / f"{name}.log" for name in ("gunicorn", "scheduler")}
        self.base = f"http://127.0.0.1:{self.port}"

    # --- the recipe -----------------------------------------------------------------------------

    def recipe(self) -> list[str]:
        """The lines of the README's Production block."""
        readme = (ROOT / "README.md").read_text()
        section = readme[readme.index("\n## Production\n"):]
        block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
        return [line for line in block.splitlines() if line.strip()]

    def write_env(self) -> None:
        """deploy/rectify.env.example with this machine's values."""
        values = {
            "DATABASE_URL": self._url("rectify_app"), "MIGRATION_DATABASE_URL": self._url("rectify_owner"),
            "SECRET_KEY": secrets.token_hex(32), "ATTACHMENT_DIR": str(self.workdir / "attachments"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}", "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "prometheus"),
            "METRICS_TOKEN": self.metrics_token,
        }
        lines = []
        for line in (ROOT / "deploy" / "rectify.env.example").read_text().splitlines():
            name = line.split("=", 1)[0]
            lines.append(f"{name}={shlex.quote(values.pop(name))}" if name in values and "=" in line else line)
        assert not values, f"the env template lacks {sorted(values)}"
        lines += ["SCHEDULER_TICK_SECONDS=1", "SCHEDULER_LEASE_SECONDS=5", "SCHEDULER_JOB_SECONDS=3"]
        self.env_file.write_text("\n".join(lines) + "\n")
        (self.workdir / "prometheus").mkdir()

    def _url(self, role: str) -> str:
        return SERVER.set(drivername="postgresql+psycopg", username=role, password=None,
                          database=self.database).render_as_string(hide_password=False)

    def command(self, line: str) -> str:
        """One README line as this machine runs it."""
        line = line.replace("/etc/rectify/rectify.env", str(self.env_file))
        line = line.replace("sudo -u postgres ", "")
        return re.sub(r"\brectify\b(?=\s|'|$)", self.database, line) if line.startswith(("createdb", "psql")) \
            else line

    def run_recipe(self) -> str:
        """Run every line; returns the admin token the `users create` line printed."""
        lines, token = self.recipe(), None
        assert lines[0].startswith("set -a; . /etc/rectify/rectify.env"), "the block starts by sourcing the env"
        prefix = self.command(lines[0].split("#")[0].strip())
        superuser = {"PGHOST": SERVER.host or "127.0.0.1", "PGPORT": str(SERVER.port or 5432),
                     "PGUSER": SERVER.username or "postgres"}
        for line in lines[1:]:
            command = f"{prefix}; {self.command(line)}"
            background = next((name for name in BACKGROUND if name in line), None)
            print(f"$ {line}", flush=True)
            if background:  # exec: the PID we hold is gunicorn's master, the scheduler's process
                self._start(background.split()[0], f"{prefix}; exec {self.command(line)}")
                continue
            done = subprocess.run(["bash", "-c", command], check=False, cwd=ROOT, env=os.environ | superuser,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{line!r} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
            if "users create" in line:
                token = done.stdout.strip().splitlines()[-1]
        return token

    def _start(self, name: str, command: str) -> None:
        log = self.logs["gunicorn" if name == "gunicorn" else "scheduler"].open("w")
        self.processes[name] = subprocess.Popen(["bash", "-c", command], cwd=ROOT, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    # --- around it ------------------------------------------------------------------------------

    def create_roles(self) -> None:
        with self.admin() as conn:
            existing = set(conn.execute(text("SELECT rolname FROM pg_roles")).scalars())
            for role in ROLES:
                if role not in existing:
                    conn.execute(text(f"CREATE ROLE {role} LOGIN"))

    def admin(self):
        engine = create_engine(SERVER.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        return engine.connect()

    def stop(self) -> None:
        """SIGINT the scheduler (it gives its lease up), SIGTERM gunicorn; wait, then kill what remains."""
        for name, sig in (("scheduler", signal.SIGINT), ("gunicorn", signal.SIGTERM)):
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(sig)
        for process in self.processes.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def drop(self) -> None:
        with self.admin() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))

    def sql(self, query: str) -> int:
        engine = create_engine(SERVER.set(drivername="postgresql+psycopg", database=self.database))
        with engine.connect() as conn:
            value = conn.execute(text(query)).scalar_one()
        engine.dispose()
        return value

    # --- HTTP -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, token: str | None = None, body=None, headers=None):
        request_headers = dict(headers or {})
        if token:
            request_headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            request_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, answer_headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            raw, status, answer_headers = error.read(), error.code, error.headers
        is_json = "json" in (answer_headers.get("Content-Type") or "")
        return status, (json.loads(raw) if is_json and raw else raw.decode()), answer_headers

    def wait_until(self, what: str, probe, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if result := probe():
                    return result
            except OSError:
                pass
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}): {self.logs[name].read_text()[-2000:]}")
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}")

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append(ok)
        print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the checks ----------------------------------------------------------------------------------

def seed_demo(smoke: Smoke) -> dict[str, str]:
    """The demo district (as test data), through the CLI with the production environment; tokens by role."""
    done = subprocess.run(["bash", "-c", f"set -a; . {smoke.env_file}; set +a; .venv/bin/flask --app app seed demo"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    users = re.findall(r"^\s+(\w+)\s+(\S+).*\(id (\d+)\)\n\s+(\S+)$", done.stdout, re.MULTILINE)
    tokens = {}
    for role, _name, _id, token in users:
        tokens.setdefault(role, token)
    return tokens


def confirm_next_year(smoke: Smoke, admin: str) -> None:
    """An admin confirms next year's statutory days (the library's estimate, checked against the notice)."""
    year = time.gmtime().tm_year + 1
    status, view, _ = smoke.call("GET", f"/api/v1/calendar?year={year}", admin)
    days = [{"day": d["day"], "workday": d["workday"], "name": d["name"]} for d in view["days"]]
    status, _, _ = smoke.call("POST", "/api/v1/calendar/days", admin, {"days": days})
    smoke.check(f"an admin confirms {year}'s {len(days)} statutory days", status == 200, f"HTTP {status}")


def closed_loop(smoke: Smoke, tokens: dict[str, str]) -> int:
    status, points, _ = smoke.call("GET", "/api/v1/points?limit=200", tokens["officer"])
    mine = smoke.call("GET", "/api/v1/me", tokens["officer"])[1]
    point = next(p for p in points["items"] if p["grid_id"] in mine.get("grid_ids", [p["grid_id"]]))
    status, problem, headers = smoke.call("POST", "/api/v1/problems", tokens["officer"], {
        "category_code": "road_occupation", "point_id": point["id"], "title": "早市占道经营"},
        {"Idempotency-Key": "smoke-report-1"})
    smoke.check("the officer reports a problem", status == 201, f"HTTP {status}")
    etag, handler_unit = headers["ETag"], _handler_unit(smoke, tokens)
    for action, role in LOOP:
        body = {"action": action} | {"assign": {"unit_id": handler_unit}, "submit": {"note": "已整改"},
                                     "verify": {"note": "现场核查"}}.get(action, {})
        status, answer, headers = smoke.call("POST", f"/api/v1/problems/{problem['id']}/actions", tokens[role],
                                             body, {"If-Match": etag})
        if status != 200:
            smoke.check(f"{role} {action}s", False, f"HTTP {status}: {answer}")
            return problem["id"]
        etag = headers["ETag"]
    smoke.check("the problem goes round its closed loop to closed", answer["state"] == "closed", answer["state"])
    return problem["id"]


def _handler_unit(smoke: Smoke, tokens: dict[str, str]) -> int:
    return smoke.call("GET", "/api/v1/me", tokens["handler"])[1]["unit_id"]


def scheduler_made_rounds(smoke: Smoke, admin: str) -> None:
    page = smoke.wait_until("a round made by the scheduler",
                            lambda: smoke.call("GET", "/api/v1/patrol-rounds?limit=5", admin)[1].get("items"))
    smoke.check("the scheduler made patrol rounds", bool(page), f"first: {page[0]['label']} {page[0]['state']}")


def health_ok(smoke: Smoke) -> None:
    def ok():
        status, body, _ = smoke.call("GET", "/healthz")
        return body if status == 200 and body["status"] == "ok" else None
    try:
        body = smoke.wait_until("/healthz ok", ok, timeout=60)
        smoke.check("/healthz is ok", True, f"leader {body['scheduler']['leader']}")
    except RuntimeError:
        smoke.check("/healthz is ok", False, str(smoke.call("GET", "/healthz")[1]))


def _scrape(smoke: Smoke) -> list[tuple[str, dict, float]]:
    status, body, _ = smoke.call("GET", "/metrics", smoke.metrics_token)
    return _samples(body)


def _total(samples, name: str, **labels) -> float:
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items()))


def loop_counts(smoke: Smoke) -> dict[str, float]:
    """The loop's actions and reports counted so far (the scrape before the loop)."""
    samples = _scrape(smoke)
    return {action: _total(samples, "rectify_transitions_total", action=action) for action, _ in LOOP} | {
        "report": _total(samples, "rectify_reports_total")}


def metrics_count(smoke: Smoke, before: dict[str, float]) -> None:
    status, _, _ = smoke.call("GET", "/metrics")
    smoke.check("/metrics refuses a scrape without its token", status == 401, f"HTTP {status}")
    samples = _scrape(smoke)

    def total(name: str, **labels) -> float:
        return _total(samples, name, **labels)

    loop = {action: total("rectify_transitions_total", action=action) - before[action] for action, _ in LOOP}
    smoke.check("/metrics counts each step of the loop once", set(loop.values()) == {1.0}, str(loop))
    smoke.check("/metrics counts the report", total("rectify_reports_total") - before["report"] == 1)
    rounds = smoke.sql("SELECT count(*) FROM patrol_rounds")
    smoke.check("/metrics counts the rounds the database holds", total("rectify_rounds_made_total") == rounds,
                f"{total('rectify_rounds_made_total'):g} counted, {rounds} in the database")
    runs = total("rectify_scheduler_job_runs_total", result="ok")
    smoke.check("/metrics sums the scheduler process's job runs with the workers'", runs > 0, f"{runs:g} runs")
    smoke.check("/metrics counts the requests", total("rectify_http_requests_total") > 10)
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rectify-dashboard.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\brectify_\w+", target["expr"])}
    missing = sorted(asked - {name for name, _, _ in samples})
    smoke.check("every metric the Grafana dashboard asks for is in the scrape", not missing, str(missing or ""))


def _samples(exposition: str) -> list[tuple[str, dict, float]]:
    from prometheus_client.parser import text_string_to_metric_families
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(exposition)
            for s in family.samples]


def request_ids(smoke: Smoke, tokens: dict[str, str]) -> None:
    offered = uuid.uuid4().hex
    _, _, headers = smoke.call("GET", "/api/v1/me", tokens["officer"], headers={"X-Request-Id": offered})
    smoke.check("the proxy's X-Request-Id comes back", headers.get("X-Request-Id") == offered)
    time.sleep(0.5)  # the worker writes its access line after answering
    lines = [json.loads(line) for line in smoke.logs["gunicorn"].read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == offered]
    smoke.check("its access line is JSON with the request id, route and user",
                bool(mine) and mine[0].get("route") == "/api/v1/me" and mine[0].get("user_id") is not None)


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rectify-smoke-") as workdir:
        smoke = Smoke(Path(workdir))
        smoke.create_roles()
        smoke.write_env()
        try:
            admin = smoke.run_recipe()
            smoke.wait_until("gunicorn", lambda: smoke.call("GET", "/livez")[0] == 200)
            tokens = seed_demo(smoke)
            confirm_next_year(smoke, admin)
            before = loop_counts(smoke)  # the demo's campaigns walk problems too (through the CLI's process)
            closed_loop(smoke, tokens)
            scheduler_made_rounds(smoke, admin)
            health_ok(smoke)
            metrics_count(smoke, before)
            request_ids(smoke, tokens)
        except Exception as error:  # a step that could not run is a failure, reported, then cleaned up
            smoke.check("the recipe runs", False, f"{type(error).__name__}: {error}")
        finally:
            smoke.stop()
            smoke.drop()
    failed = smoke.results.count(False)
    print(f"took {time.monotonic() - started:.0f} s")
    print(f"smoke-prod: {len(smoke.results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
