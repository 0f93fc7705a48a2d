"""The `territory` command: exit codes, plan files, JSON output, validation, model export."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DATA,
    ROOT,
    SCENARIOS,
    account,
    csm,
    scenario_dict,
    team_accounts,
    team_csms,
)

from cli import main
from optimizer import evaluate, load_scenario


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """The standard team: every account would rather be with C1 (optimum: A3, A4 move)."""
    return write(tmp_path / "team.json", scenario_dict(team_csms(), team_accounts()))


@pytest.fixture
def infeasible_file(tmp_path: Path) -> Path:
    data = scenario_dict(team_csms(), team_accounts(), constraints={"max_accounts_per_csm": 1})
    return write(tmp_path / "infeasible.json", data)


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    data = scenario_dict(
        [csm("C1"), csm("C1")],
        [account("A1", -5, current_csm="C9"), account("A2", 10, churn_risk="huge")],
        constraints={"arr_tolerance": 1.5},
    )
    return write(tmp_path / "invalid.json", data)


def test_solve_writes_the_plan_and_exits_0(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "plan.json"
    assert main(["solve", str(scenario_file), "--out", str(out)]) == 0
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["status"] == "optimal"
    assert {r["account_id"]: r["csm_id"] for r in plan["assignments"]} == dict.fromkeys(
        ["A1", "A2", "A3", "A4"], "C1"
    )
    assert plan["objective"]["total"] == pytest.approx(0.0005)  # 2 moves of 4, tie-breaker only
    printed = capsys.readouterr().out
    assert "OPTIMAL" in printed and "Plan written to" in printed
    assert "Moves" in printed


def test_solve_json_output_parses(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(scenario_file), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["status"] == "optimal"
    assert plan["kpis"]["after"]["moves"] == 2
    assert plan["solver"]["backend"] == "highs"


def test_solve_quiet_prints_nothing(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(scenario_file), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_command_line_overrides_the_solver_settings(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    args = ["--backend", "cbc", "--time-limit", "5", "--gap", "0", "--seed", "3", "--threads", "1"]
    args += ["--strategy", "full"]
    assert main(["solve", str(scenario_file), "--quiet", "--out", str(out), *args]) == 0
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["backend"] == "cbc"
    assert plan["solver"] == {
        "backend": "cbc",
        "time_limit_s": 5.0,
        "gap": 0.0,
        "seed": 3,
        "threads": 1,
        "lns": True,
        "strategy": "full",
    }


@pytest.mark.parametrize("override", [["--gap", "-1"], ["--time-limit", "0"], ["--threads", "0"]])
def test_invalid_overrides_are_input_errors(
    scenario_file: Path, override: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(scenario_file), "--quiet", *override]) == 2
    assert "solver." in capsys.readouterr().err


def test_infeasible_exits_1_with_a_diagnosis(
    infeasible_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    assert main(["solve", str(infeasible_file), "--out", str(out)]) == 1
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["status"] == "infeasible"
    assert plan["diagnosis"]["conflicts"][0]["rule"] == "max_accounts"
    assert plan["assignments"] == []
    assert "INFEASIBLE" in capsys.readouterr().out


def test_invalid_input_exits_2_and_still_writes_the_plan(
    invalid_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    assert main(["solve", str(invalid_file), "--out", str(out)]) == 2
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["status"] == "invalid"
    assert {i["path"] for i in plan["issues"]} >= {"accounts[A1].arr", "csms[C1].id"}
    assert "Invalid input" in capsys.readouterr().err


def test_validate_lists_every_problem_at_once(
    invalid_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(invalid_file)]) == 2
    err = capsys.readouterr().err
    assert "5 problem(s)" in err
    for path in (
        "csms[C1].id",
        "accounts[A1].arr",
        "accounts[A1].current_csm",
        "accounts[A2].churn_risk",
        "constraints.arr_tolerance",
    ):
        assert path in err


def test_validate_a_good_scenario(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(scenario_file)]) == 0
    assert "Valid" in capsys.readouterr().out


def test_validate_reports_csv_problems(capsys: pytest.CaptureFixture[str]) -> None:
    bad = DATA / "bad_cells_csv" / "scenario.json"
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "accounts[A1].locked" in err and "accounts.csv:4" in err and "accounts[A2].arr" in err


def test_evaluate_a_csv_plan(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_csv = tmp_path / "plan.csv"
    with plan_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "csm_id"])
        writer.writerows([["A1", "C2"], ["A2", "C2"], ["A3", "C1"], ["A4", "C1"]])
    assert main(["evaluate", str(scenario_file), "--plan", str(plan_csv), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    scenario = load_scenario(scenario_file)
    swap = {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"}
    assert result["objective"]["total"] == pytest.approx(evaluate(scenario, swap).objective)
    # A1 + A2 (300K) with C2: churn 0.3; all four moved: tie-breaker 0.001.
    assert result["objective"]["total"] == pytest.approx(0.301)
    assert result["kpis"]["moves"] == 4 and result["feasible"] is True


def test_evaluate_the_current_assignment_in_words(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(scenario_file)]) == 0
    out = capsys.readouterr().out
    assert "the current assignment" in out and "No hard-rule violations" in out


def test_evaluate_shows_violations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = scenario_dict(team_csms(), team_accounts(), constraints={"max_accounts_per_csm": 1})
    assert main(["evaluate", str(write(tmp_path / "s.json", data))]) == 0
    out = capsys.readouterr().out
    assert "hard-rule violation" in out and "max_accounts" in out


def test_evaluate_rejects_unknown_ids_in_the_plan(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_csv = tmp_path / "plan.csv"
    plan_csv.write_text("account_id,csm_id\nA1,C1\nA99,C2\nA2,C42\n", encoding="utf-8")
    assert main(["evaluate", str(scenario_file), "--plan", str(plan_csv)]) == 2
    err = capsys.readouterr().err
    assert "plan.assignments[A99]" in err and "C42" in err


@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_export_model(
    scenario_file: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / f"model{suffix}"
    assert main(["solve", str(scenario_file), "--quiet", "--export-model", str(model)]) == 0
    text = model.read_text(encoding="utf-8")
    # Variables keep readable names (brackets and commas become underscores).
    for name in ("x_A1_C1_", "x_A4_C2_"):
        assert name in text
    assert "assign_A1_" in text


def test_export_model_with_an_unknown_suffix_is_an_input_error(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.txt"
    assert main(["solve", str(scenario_file), "--quiet", "--export-model", str(model)]) == 2
    assert not model.exists()


def test_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Territory scenario"
    out = tmp_path / "schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema


def test_missing_scenario_file_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(tmp_path / "nope.json")]) == 2
    assert "file not found" in capsys.readouterr().err


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """This Python with ``args`` in a subprocess, from the repository root."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


def test_console_script_in_a_subprocess(scenario_file: Path, invalid_file: Path) -> None:
    run = _python("-m", "cli", "solve", str(scenario_file), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "optimal"
    bad = _python("-m", "cli", "validate", str(invalid_file))
    assert bad.returncode == 2
    assert "accounts[A1].arr" in bad.stderr


def test_an_infinite_time_limit_is_an_input_error(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(scenario_file), "--quiet", "--time-limit", "inf"]) == 2


def test_issue_paths_keep_lowercase_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "[acme]" would be read as terminal markup and vanish from the message.
    path = tmp_path / "bad.json"
    path.write_text('{"csms": [{"id": "C1"}], "accounts": [{"id": "acme", "arr": -5}]}')
    assert main(["validate", str(path)]) == 2
    assert "accounts[acme].arr" in capsys.readouterr().err


PROGRESS = re.compile(
    r"^(\d+)/(\d+) (.+): (optimal|feasible|infeasible|no_solution), gap (\S+), "
    r"(\d+\.\d s|from the base plan)$"
)


def test_sensitivity_prints_each_run_as_it_ends_and_each_row_s_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "mixed.json", SCENARIOS["mixed_6x3"]().model_dump(mode="json"))
    grid = ["--budgets", "1,3,none", "--weight-factors", "2", "--tolerance-steps", "-0.1"]
    args = ["sensitivity", str(path), *grid, "--workers", "1", "--time-limit", "5"]
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    matches = [PROGRESS.match(line) for line in lines]
    assert lines and all(matches), lines
    counts = [(int(m[1]), int(m[2])) for m in matches if m]
    total = counts[0][1]
    # One line per run, counted in order, the base first.
    assert counts == [(i, total) for i in range(1, total + 1)]
    assert matches[0] is not None and matches[0][3] == "base"
    names = {m[3] for m in matches if m}
    assert {"max_moves 1", "max_moves unlimited", "weight.churn_risk x2"} <= names
    # The base plan uses its 3 moves: the budget of 3 is the base plan, without a solve.
    reused = [m[3] for m in matches if m and m[6] == "from the base plan"]
    assert "max_moves 3" in reused
    out = captured.out
    for title in ("Disruption frontier", "Price of each hard rule", "Tornado: objective"):
        header = out[out.index(title) :].splitlines()[2]
        assert "gap" in header, title
    # Quiet, and with --json, the progress lines are left out.
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    data = json.loads(captured.out)
    for group in ("weights", "tolerances", "frontier", "prices", "stability"):
        for row in data[group]:
            assert "gap" in row and "absolute_gap" in row and "from_base_plan" in row
            if row["status"] in ("optimal", "feasible"):
                assert row["gap"] is not None and row["absolute_gap"] is not None


def test_native_writes_to_descriptor_1_do_not_corrupt_json_output(scenario_file: Path) -> None:
    """A native library writing straight to file descriptor 1 during a command (the HiGHS inside
    OR-Tools sometimes prints a debug line there) lands on stderr; stdout stays the plan JSON."""
    script = (
        "import os, sys\n"
        "from cli import app\n"
        "solve = app.COMMANDS['solve']\n"
        "def noisy(args, console, err):\n"
        "    os.write(1, b'HighsMipSolverData::debug line\\n')\n"
        "    return solve(args, console, err)\n"
        "app.COMMANDS['solve'] = noisy\n"
        f"sys.exit(app.main(['solve', {str(scenario_file)!r}, '--json']))\n"
    )
    run = _python("-c", script)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "optimal"
    assert "HighsMipSolverData::debug line" in run.stderr
