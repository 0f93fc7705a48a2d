"""Ctrl-C during a long solve returns the best plan found so far (CLI and Python API)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import EXAMPLE, ROOT

from optimizer import Progress, Termination, load_scenario, solve


def test_ctrl_c_in_the_cli_writes_the_best_plan_so_far(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    command = [sys.executable, "-m", "cli", "solve", str(EXAMPLE), "--quiet"]
    command += ["--time-limit", "120", "--out", str(out)]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(6)  # imports, model build and the first plans of HiGHS
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 60  # nowhere near the 120 s limit
    assert proc.returncode == 0, stderr
    plan = json.loads(out.read_text())
    assert plan["status"] == "feasible" and plan["termination"] == "interrupted"
    assert plan["message"].startswith("Interrupted: the best plan found so far")
    assert plan["violations"] == []
    assert plan["objective"]["total"] < plan["objective"]["before"]
    assert plan["bound"] is not None and plan["gap"] is not None


def test_ctrl_c_in_python_returns_a_plan_instead_of_raising() -> None:
    scenario = load_scenario(EXAMPLE)
    scenario = scenario.replace(solver={**scenario.solver.model_dump(), "threads": 1})
    seen: list[float] = []

    def interrupt_after_two_reports(progress: object) -> None:
        seen.append(time.monotonic())
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    plan = solve(scenario, time_limit_s=6, progress=interrupt_after_two_reports)
    assert plan.status == "feasible" and plan.termination is Termination.INTERRUPTED
    assert plan.message.startswith("Interrupted")
    assert plan.after is not None and plan.after.violations == []
    assert len(seen) >= 2


def test_a_cpsat_solve_leaves_ctrl_c_to_python() -> None:
    # CP-SAT installs its own SIGINT handler unless told not to; a later Ctrl-C then killed the
    # whole process instead of reaching Python (and the best-plan recovery).
    solve(load_scenario(ROOT / "examples" / "tiny" / "scenario.json"), backend="cpsat")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    caught = False
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    except KeyboardInterrupt:
        caught = True
    assert caught


def test_ctrl_c_during_a_decomposed_solve_returns_its_best_plan() -> None:
    scenario = load_scenario(EXAMPLE)
    scenario = scenario.replace(
        solver={**scenario.solver.model_dump(), "threads": 1, "strategy": "lagrangian"}
    )

    sent: list[Progress] = []

    def interrupt_at_the_first_plan(progress: Progress) -> None:
        # The first plan is today's books repaired; later reports (better bounds while the
        # search winds down) must not press Ctrl-C a second time.
        if progress.incumbent is not None and not sent:
            sent.append(progress)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    started = time.monotonic()
    plan = solve(scenario, time_limit_s=30, progress=interrupt_at_the_first_plan)
    assert time.monotonic() - started < 20  # well before the 30 s limit
    assert plan.status == "feasible" and plan.termination is Termination.INTERRUPTED
    assert plan.message.startswith("Interrupted: the best plan found so far")
    assert plan.after is not None and plan.after.violations == []
    assert plan.bound is not None and plan.objective is not None
    assert plan.bound <= plan.objective
