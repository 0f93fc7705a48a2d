"""The engine is a library: it imports none of the CLI, the API or their dependencies."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_public_api_is_importable() -> None:
    import optimizer
    from optimizer import Scenario, evaluate, solve

    assert callable(solve) and callable(evaluate)
    assert Scenario.from_dict is not None
    assert set(optimizer.__all__) >= {"Scenario", "solve", "evaluate", "load_scenario", "Plan"}


def test_optimizer_imports_no_cli_api_or_ui_module() -> None:
    code = (
        "import optimizer, sys; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'scenarios', 'api', 'fastapi', 'rich'}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert run.stdout.strip() == "[]"


def test_solving_imports_no_cli_api_or_ui_module() -> None:
    code = (
        "import sys\n"
        "from optimizer import Scenario, solve\n"
        "s = Scenario.from_dict({'as_of': '2026-01-01', 'csms': [{'id': 'C1'}, {'id': 'C2'}],"
        " 'accounts': [{'id': 'A1', 'arr': 10, 'current_csm': 'C1'}]})\n"
        "for backend in ('highs', 'cpsat', 'cbc'):\n"
        "    assert solve(s, backend=backend).status == 'optimal'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " {'scenarios', 'api', 'fastapi', 'rich'}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert run.stdout.strip() == "[]"
