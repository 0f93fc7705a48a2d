"""What-if scenario files (extends + changes) and the side-by-side comparison."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from cli import main
from optimizer import ScenarioError, load_scenario, solve
from optimizer.instance import Instance
from scenarios.compare import compare
from scenarios.variants import load_variant

TINY = ROOT / "examples" / "tiny" / "scenario.json"


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def variant(tmp_path: Path, name: str = "variant.json", **changes: Any) -> Path:
    return write(tmp_path / name, {"extends": str(TINY), **changes})


def test_a_plain_file_loads_like_load_scenario() -> None:
    assert load_variant(TINY) == load_scenario(TINY)


def test_constraints_objectives_and_solver_merge_key_by_key(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        name="tight",
        constraints={"arr_tolerance": 0.1, "max_moves": None},
        objectives={"continuity": 10},
        solver={"seed": 3},
    )
    base = load_scenario(TINY)
    scenario = load_variant(path)
    assert scenario.constraints.arr_tolerance == 0.1
    assert scenario.constraints.max_moves is None
    # Untouched keys come from the base.
    assert scenario.constraints.max_high_risk_per_csm == base.constraints.max_high_risk_per_csm
    assert scenario.constraints.renewal_freeze_days == base.constraints.renewal_freeze_days
    assert scenario.objectives.churn_risk == base.objectives.churn_risk
    assert scenario.objectives.continuity == 10
    assert scenario.solver.seed == 3 and scenario.solver.time_limit_s == base.solver.time_limit_s
    assert scenario.accounts == base.accounts and scenario.name == base.name


def test_removing_a_csm_frees_their_accounts(tmp_path: Path) -> None:
    # C1 leaves: A1 (locked with C1) and A2 lose their CSM and their lock; others keep theirs.
    scenario = load_variant(variant(tmp_path, remove_csms=["C1"]))
    assert [c.id for c in scenario.csms] == ["C2", "C3"]
    freed = {a.id: (a.current_csm, a.locked) for a in scenario.accounts}
    assert freed["A1"] == (None, False) and freed["A2"] == (None, False)
    assert freed["A3"] == ("C2", False) and freed["A5"] == ("C3", False)


def test_hires_capacity_locks_and_account_edits(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        add_csms=[{"id": "C4", "name": "New Hire", "industries": ["retail"]}],
        csm_changes={"C3": {"capacity": 1.0}},
        lock_accounts=["A3"],
        unlock_accounts=["A1"],
        account_changes={"A6": {"arr": 150000}},
    )
    scenario = load_variant(path)
    assert scenario.csm("C4").name == "New Hire"
    assert scenario.csm("C3").capacity == 1.0
    assert scenario.account("A3").locked and not scenario.account("A1").locked
    assert scenario.account("A6").arr == 150000
    # The base file is untouched.
    assert load_scenario(TINY).account("A1").locked


def test_variants_chain(tmp_path: Path) -> None:
    first = variant(tmp_path, name="first.json", constraints={"arr_tolerance": 0.3})
    second = write(tmp_path / "second.json", {"extends": "first.json", "lock_accounts": ["A2"]})
    scenario = load_variant(second)
    assert scenario.constraints.arr_tolerance == 0.3 and scenario.account("A2").locked
    assert first.exists()


def test_every_problem_in_a_variant_is_reported(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        remove_csms=["C9"],
        lock_accounts=["A99"],
        csm_changes={"C8": {"capacity": 2}},
        colour="blue",
    )
    with pytest.raises(ScenarioError) as info:
        load_variant(path)
    paths = {issue.path for issue in info.value.issues}
    assert paths == {
        "variant.json.remove_csms",
        "variant.json.lock_accounts",
        "variant.json.csm_changes.C8",
        "variant.json.colour",
    }
    messages = " ".join(issue.message for issue in info.value.issues)
    assert "'C9'" in messages and "'A99'" in messages


def test_changes_are_validated_like_any_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_variant(variant(tmp_path, account_changes={"A2": {"arr": -1}}))
    assert [issue.path for issue in info.value.issues] == ["accounts[A2].arr"]


def test_extends_loops_and_edits_without_a_base_are_rejected(tmp_path: Path) -> None:
    write(tmp_path / "a.json", {"extends": "b.json"})
    write(tmp_path / "b.json", {"extends": "a.json"})
    with pytest.raises(ScenarioError) as info:
        load_variant(tmp_path / "a.json")
    assert "loops" in info.value.issues[0].message
    base = json.loads(TINY.read_text())
    write(tmp_path / "plain.json", {**base, "lock_accounts": ["A2"]})
    with pytest.raises(ScenarioError) as info:
        load_variant(write(tmp_path / "x.json", {"extends": "plain.json"}))
    assert any("extends" in issue.message for issue in info.value.issues)


def test_compare_lines_up_plans_and_differences(tmp_path: Path) -> None:
    base = load_scenario(TINY)
    tight = load_variant(variant(tmp_path, constraints={"max_moves": 1}))
    result = compare([base, tight], ["base", "tight"])
    # Each column is the plan a single solve gives.
    assert result.plans[0].objective == pytest.approx(solve(base).objective)
    assert result.plans[1].objective == pytest.approx(solve(tight).objective)
    assert result.value(1, "moves") <= 1
    # Differences are exactly the accounts whose CSM differs between the two plans.
    first, second = result.plans[0].assignment(), result.plans[1].assignment()
    expected = sorted(a for a in first if first[a] != second[a])
    assert [a for a, _, _ in result.differences[1]] == expected
    assert result.value(1, "differs_from_first") == len(expected) and result.differences[0] == []
    assert result.value(0, "term.balance") == result.plans[0].after.terms["balance"]


def test_compare_cli_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A fourth CSM lowers every target; the locked $420K account then needs a wider tolerance.
    other = variant(
        tmp_path,
        name="hire.json",
        add_csms=[{"id": "C4", "industries": ["retail"]}],
        constraints={"arr_tolerance": 0.5},
    )
    assert main(["compare", str(TINY), str(other), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["scenarios"]] == ["tiny", "hire"]
    assert all(s["status"] == "optimal" for s in data["scenarios"])
    assert main(["compare", str(TINY), str(other), "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["metric", "tiny", "hire"]
    assert rows[1][0] == "status"


def test_compare_reports_a_bad_scenario_and_runs_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = variant(tmp_path, name="bad.json", lock_accounts=["A99"])
    assert main(["compare", str(TINY), str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert "bad.json" in captured.err and "A99" in captured.err
    assert [s["name"] for s in json.loads(captured.out)["scenarios"]] == ["tiny"]


def test_the_bundled_what_if_files_load_and_change_what_they_say() -> None:
    """Every what-if file of the bundled example loads; the protection one holds the accounts
    whose health score is at least 85 (read from the example's accounts.csv independently)."""
    folder = ROOT / "examples" / "seed_150x8"
    base = load_variant(folder / "scenario.json")
    variants = {p.stem: load_variant(p) for p in sorted((folder / "what-if").glob("*.json"))}
    assert {
        "keep_top_five",
        "hire_one_csm",
        "tighter_balance",
        "protect_healthy",
        "leader_rules",
    } <= set(variants)
    for scenario in variants.values():
        assert scenario != base
    with (folder / "accounts.csv").open(encoding="utf-8") as handle:
        healthy = {
            row["id"]
            for row in csv.DictReader(handle)
            if row["health_score"] and float(row["health_score"]) >= 85 and row["current_csm"]
        }
    inst = Instance(variants["protect_healthy"])
    held = {a.id for k, a in enumerate(inst.accounts) if inst.protected(k) is not None}
    assert held == healthy and len(held) > 10
    # The leader's rules file sets every judgment rule, and Finley Kowalski works 32 hours.
    leader = variants["leader_rules"]
    rules = leader.constraints
    assert rules.protect and rules.overrides and rules.utilization and rules.goals
    assert rules.renewal_load is not None and rules.max_travel_km == 1500
    assert leader.csm("C06").hours_per_week == 32
    # ... and the accounts of $150K or more are met in person, every CSM has a place.
    in_person = {a.id for a in leader.accounts if a.visits_per_quarter > 0}
    assert in_person == {a.id for a in base.accounts if a.arr >= 150_000}
    assert all(c.location in leader.travel.locations for c in leader.csms)
