"""The layers hold: import-linter's contracts in pyproject.toml (console -> api, ops, schedules -> workflow ->
models)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(command), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(ROOT)}, check=False)


def test_every_import_contract_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_the_contracts_name_the_layers_of_the_design():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'layers = ["console", "api", "ops : schedules", "workflow", "models"]' in text
    assert 'forbidden_modules = ["flask", "werkzeug"]' in text
