"""The command line: users create, seed demo, scheduler tick."""

from schedules.jobs import JOBS

DEMO_USERS = 8


def me(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def tokens_of(output: str) -> list[str]:
    """The demo tokens: each sits alone, indented, on the line under its user."""
    return [line.strip() for line in output.splitlines() if line.startswith("    ") and " " not in line.strip()]


def test_users_create_prints_the_token_alone_on_the_last_line_and_it_authenticates(runner, client):
    result = runner.invoke(args=["users", "create", "--name", "第一管理员", "--role", "admin"])
    assert result.exit_code == 0, result.output
    token = result.output.rstrip("\n").splitlines()[-1]
    assert token == token.strip() and " " not in token and len(token) >= 32
    response = me(client, token)
    assert response.status_code == 200
    assert response.json["name"] == "第一管理员" and response.json["role"] == "admin"


def test_users_create_refuses_a_non_admin_without_a_unit(runner):
    result = runner.invoke(args=["users", "create", "--name", "巡查员", "--role", "officer"])
    assert result.exit_code != 0
    assert "unit" in result.output
    assert "Traceback" not in result.output


def test_users_create_refuses_an_unknown_unit(runner):
    result = runner.invoke(args=["users", "create", "--name", "队员", "--role", "handler", "--unit", "999999"])
    assert result.exit_code != 0
    assert "unit" in result.output


def test_seed_demo_on_an_empty_database_prints_a_working_token_per_demo_user(runner, client):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    tokens = tokens_of(result.output)
    assert len(tokens) == len(set(tokens)) == DEMO_USERS
    roles = [me(client, token).json["role"] for token in tokens]
    assert sorted(roles) == ["admin", "handler", "handler", "handler", "officer", "officer", "officer", "supervisor"]


def test_seed_demo_refuses_a_second_plain_run_but_if_empty_succeeds_quietly(runner):
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code != 0
    assert "already" in again.output
    quiet = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert quiet.exit_code == 0, quiet.output
    assert tokens_of(quiet.output) == []


def test_scheduler_tick_at_an_instant_prints_a_line_per_job(runner):
    result = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-26T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(JOBS)


def test_scheduler_tick_refuses_an_instant_without_an_offset(runner):
    result = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-26T08:00:00"])
    assert result.exit_code != 0
    assert "offset" in result.output


def test_scheduler_tick_never_moves_back_in_time(runner):
    assert runner.invoke(args=["scheduler", "tick", "--at", "2026-11-26T08:00:00+08:00"]).exit_code == 0
    earlier = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-26T07:00:00+08:00"])
    assert earlier.exit_code == 0
    assert all("skipped" in line for line in earlier.output.strip().splitlines())
