"""The evaluator: it scores solver plans exactly as the solver does, and books/KPIs by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import BACKEND_NAMES, SCENARIOS, account, csm, make, rules_of, solve_ok, weights

from optimizer import ScenarioError, evaluate, load_assignment, solve
from optimizer.backends import get_backend
from optimizer.formulation import build_model
from optimizer.instance import TERMS, Instance

#: How close a backend's own objective value comes to the evaluator's score of its plan.
#: CP-SAT minimizes an integer-rounded objective (balance in $10 steps, coefficients rounded
#: to 1e7 steps of the largest), so its raw value is only close, not equal.
RAW_TOLERANCE = {"highs": 1e-9, "cbc": 1e-6, "cpsat": 1e-3}


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plan_objective_is_the_evaluators_score(name: str, backend: str) -> None:
    scenario = SCENARIOS[name]()
    plan = solve(scenario, backend=backend)
    assert plan.has_plan and plan.objective is not None
    assert abs(plan.objective - evaluate(scenario, plan.assignment()).objective) < 1e-9


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_solver_raw_objective_matches_the_evaluator(name: str, backend: str) -> None:
    scenario = SCENARIOS[name]()
    built = build_model(Instance(scenario))
    raw = get_backend(backend).solve(built.model, scenario.solver)
    assert raw.status == "optimal" and raw.values is not None and raw.objective is not None
    score = evaluate(scenario, built.assignment(raw.values)).objective
    assert raw.objective == pytest.approx(score, rel=RAW_TOLERANCE[backend], abs=1e-12)
    # The model's objective function at the solution agrees with the evaluator too.
    assert built.model.value(raw.values) == pytest.approx(score, rel=RAW_TOLERANCE[backend])


# ------------------------------------------------------------------ a case checked by hand


def three_accounts():
    """C1 (retention 0.9, expansion 0.2, fintech), C2 (0.8, 0.1, retail), three accounts.

    Today: A1 (600, high, fintech, workload 2, potential high) and A2 (300, low, retail,
    workload 1, potential low) with C1; A3 (100, medium, fintech, workload 3, potential
    medium) with C2.
    """
    return make(
        [
            csm("C1", name="Ada", retention_rate=0.9, expansion_rate=0.2, industries=["fintech"]),
            csm("C2", name="Bo", retention_rate=0.8, expansion_rate=0.1, industries=["retail"]),
        ],
        [
            account("A1", 600, churn_risk="high", industry="fintech", workload=2,
                    expansion_potential="high", current_csm="C1"),
            account("A2", 300, churn_risk="low", industry="retail", workload=1,
                    expansion_potential="low", current_csm="C1"),
            account("A3", 100, churn_risk="medium", industry="fintech", workload=3,
                    expansion_potential="medium", current_csm="C2"),
        ],
        objectives={"churn_risk": 40, "balance": 30, "expertise": 20, "expansion": 10, "continuity": 0},
    )  # fmt: skip


def test_terms_books_and_kpis_of_the_current_assignment_by_hand() -> None:
    ev = evaluate(three_accounts())
    # churn: normalizer 600*.5*.1 + 300*.05*.1 + 100*.2*.1 = 30 + 1.5 + 2 = 33.5; A3 with C2: 2.
    # expansion: normalizer 600*.8*.1 + 300*.1*.1 + 100*.4*.1 = 48 + 3 + 4 = 55; A3 with C2: 4.
    # expertise: every industry is covered (1000); A2 (300) and A3 (100) mismatched.
    # balance: ARR 900 | 100 vs 500, band 25: 2 * 375 / 1000 / 0.25 = 3.0; workload 3 | 3 = 0;
    # mean 1.5.
    assert ev.terms == pytest.approx(
        {
            "churn_risk": 2 / 33.5,
            "balance": 1.5,
            "expertise": 0.4,
            "expansion": 4 / 55,
            "continuity": 0,
            "preference": 0,
            "travel": 0,
            "soft_rules": 0,
        }
    )
    assert ev.weights == pytest.approx(
        {
            "churn_risk": 0.4,
            "balance": 0.3,
            "expertise": 0.2,
            "expansion": 0.1,
            "continuity": 0,
            "preference": 0,
            "travel": 0,
            "soft_rules": 0,
        }
    )
    assert ev.tie_break == 0.0
    assert ev.objective == pytest.approx(0.4 * 2 / 33.5 + 0.3 * 1.5 + 0.2 * 0.4 + 0.1 * 4 / 55)
    assert ev.feasible and ev.violations == []

    c1, c2 = ev.books
    assert (c1.csm_id, c1.name, c1.accounts, c1.arr, c1.arr_target) == (
        "C1",
        "Ada",
        2,
        600 + 300,
        500,
    )
    assert c1.arr_vs_target == pytest.approx(1.8)
    assert (c1.workload, c1.workload_target, c1.workload_vs_target) == (3, 3, 1)
    assert c1.high_risk == 1  # A1 (0.5 >= 0.5)
    # Team retention 0.85: A1 600 * 0.5 * 0.1/0.15 = 200; A2 300 * 0.05 * 0.1/0.15 = 10.
    assert c1.arr_at_risk == pytest.approx(210)
    assert c1.expertise_match_rate == 0.5
    assert (c1.moves_in, c1.moves_out) == (0, 0)
    assert (c2.accounts, c2.arr, c2.high_risk) == (1, 100, 0)
    assert c2.arr_vs_target == pytest.approx(0.2)
    assert c2.arr_at_risk == pytest.approx(100 * 0.2 * 0.2 / 0.15)  # 26.67
    assert c2.expertise_match_rate == 0.0

    k = ev.kpis
    assert (k["accounts"], k["total_arr"]) == (3, 1000)
    assert k["arr_spread"] == pytest.approx(1.6)
    assert k["arr_max_deviation"] == pytest.approx(0.8)
    assert (k["workload_variance"], k["workload_cv"]) == (0, 0)
    assert k["expertise_match"] == pytest.approx(1 / 3)
    assert k["arr_at_risk"] == pytest.approx(210 + 80 / 3)
    assert k["arr_at_risk_share"] == pytest.approx((210 + 80 / 3) / 1000)
    # 600*.8*.2 + 300*.1*.2 + 100*.4*.1 = 96 + 6 + 4
    assert k["expected_expansion_arr"] == pytest.approx(106)
    assert (k["max_high_risk_per_csm"], k["moves"], k["moved_arr"]) == (1, 0, 0)


def test_terms_books_and_kpis_of_a_swap_by_hand() -> None:
    ev = evaluate(three_accounts(), {"A1": "C1", "A2": "C2", "A3": "C1"})
    # churn: A2 with C2 costs 1.5 / 33.5. expansion: A2 with C2 costs 3 / 55. expertise 0.
    # balance: ARR 700 | 300 -> 2 * 175 / 1000 / 0.25 = 1.4; workload 5 | 1 vs 3, band 0.15 ->
    # 2 * 1.85 / 6 / 0.25 = 2.4667; mean 1.9333. continuity 2/3, tie-break 0.001 * 2/3.
    assert ev.terms == pytest.approx(
        {
            "churn_risk": 1.5 / 33.5,
            "balance": (1.4 + 3.7 / 6 / 0.25) / 2,
            "expertise": 0.0,
            "expansion": 3 / 55,
            "continuity": 2 / 3,
            "preference": 0,
            "travel": 0,
            "soft_rules": 0,
        }
    )
    assert ev.tie_break == pytest.approx(0.001 * 2 / 3)
    assert ev.objective == pytest.approx(
        0.4 * 1.5 / 33.5 + 0.3 * (1.4 + 3.7 / 6 / 0.25) / 2 + 0.1 * 3 / 55 + 0.001 * 2 / 3
    )
    c1, c2 = ev.books
    assert (c1.moves_in, c1.moves_out, c2.moves_in, c2.moves_out) == (1, 1, 1, 1)
    assert (c1.workload, c2.workload) == (5, 1)
    assert ev.kpis["moves"] == 2 and ev.kpis["moved_arr"] == 400
    # workload per FTE 5 and 1: mean 3, variance 4, cv 2/3.
    assert ev.kpis["workload_variance"] == pytest.approx(4)
    assert ev.kpis["workload_cv"] == pytest.approx(2 / 3)
    assert ev.kpis["expertise_match"] == 1.0


def test_to_dict_reports_contributions_that_add_up() -> None:
    ev = evaluate(three_accounts(), {"A1": "C2", "A2": "C2", "A3": "C2"})
    data = json.loads(json.dumps(ev.to_dict()))
    total = sum(t["contribution"] for t in data["objective"]["terms"].values())
    assert data["objective"]["total"] == pytest.approx(total + data["objective"]["tie_break"])
    assert list(data["objective"]["terms"]) == list(TERMS)
    assert [c["csm_id"] for c in data["csms"]] == ["C1", "C2"]
    assert data["feasible"] is True and data["violations"] == []


def test_accounts_without_a_csm_are_unassigned_in_the_current_books() -> None:
    scenario = make(
        [csm("C1"), csm("C2")], [account("A1", 100, current_csm="C1"), account("A2", 50)]
    )
    ev = evaluate(scenario)
    assert rules_of(ev.violations) == {("assign", "A2")}
    assert ev.violations[0].amount == 0
    assert ev.kpis["moves"] == 0  # a new account never counts as a move
    assert sum(b.arr for b in ev.books) == 100


def test_evaluate_accepts_an_instance() -> None:
    scenario = three_accounts()
    plan = {"A1": "C2", "A2": "C1", "A3": "C1"}
    assert evaluate(Instance(scenario), plan).objective == evaluate(scenario, plan).objective


def test_unknown_ids_in_a_plan_are_named() -> None:
    with pytest.raises(ScenarioError) as info:
        evaluate(three_accounts(), {"A1": "C1", "A9": "C1", "A2": "C7"})
    paths = {i.path: i.message for i in info.value.issues}
    assert set(paths) == {"plan.assignments[A9]", "plan.assignments[A2].csm_id"}
    assert "unknown account" in paths["plan.assignments[A9]"]
    assert "'C7'" in paths["plan.assignments[A2].csm_id"]


# ------------------------------------------------------------------ plan files


def test_a_plan_json_written_by_solve_loads_and_scores_the_same(tmp_path: Path) -> None:
    scenario = three_accounts()
    plan = solve_ok(scenario)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_dict(), default=str), encoding="utf-8")
    assignment = load_assignment(path)
    assert assignment == plan.assignment()
    assert evaluate(scenario, assignment).objective == pytest.approx(plan.objective, abs=1e-12)


def test_a_plan_csv_loads(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "csm_id", "note"])
        writer.writerows([["A1", "C1", "x"], ["A2", "C2", ""], ["A3", "", "unassigned"]])
    assignment = load_assignment(path)
    assert assignment == {"A1": "C1", "A2": "C2", "A3": None}
    assert rules_of(evaluate(three_accounts(), assignment).violations) == {("assign", "A3")}


def test_a_csv_plan_with_an_unknown_account_is_rejected_on_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text("account_id,csm_id\nA1,C1\nZZ,C2\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        evaluate(three_accounts(), load_assignment(path))
    assert [i.path for i in info.value.issues] == ["plan.assignments[ZZ]"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("plan.csv", "account,csm\nA1,C1\n", "missing column(s): account_id, csm_id"),
        ("plan.csv", "account_id,csm_id\nA1,C1\nA1,C2\n", "account listed twice"),
        ("plan.json", '{"assignments": [{"account_id": "A1", "csm_id": "C1"}, {"csm_id": "C2"}]}',
         "needs account_id and csm_id"),
        ("plan.json", '{"rows": []}', "expected an 'assignments' list"),
        ("plan.json", "[1, 2]", "expected an 'assignments' list"),
        ("plan.json", "{not json", "not valid JSON"),
    ],
)  # fmt: skip
def test_broken_plan_files_raise_scenario_error(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_assignment(path)
    assert any(expected in issue.message for issue in info.value.issues), info.value.issues


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="plan file not found"):
        load_assignment(tmp_path / "nope.json")


def test_the_plan_document_has_every_section() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.8)],
        [account("A1", 1000, current_csm="C2"), account("A2", 500)],
        objectives=weights(churn_risk=1),
    )
    data = json.loads(json.dumps(solve_ok(scenario).to_dict(), default=str))
    assert data["status"] == "optimal"
    assert data["objective"]["before"] == pytest.approx(evaluate(scenario).objective)
    assert data["objective"]["total"] == pytest.approx(0.001 * 1.0)  # A1 moves to C1
    rows = {r["account_id"]: r for r in data["assignments"]}
    assert rows["A1"]["moved"] is True and rows["A1"]["previous_csm_id"] == "C2"
    assert rows["A2"]["moved"] is False and rows["A2"]["previous_csm_id"] is None
    assert [c["csm_id"] for c in data["csms"]] == ["C1", "C2"]
    assert data["csms"][0]["after"]["accounts"] == 2
    assert data["kpis"]["after"]["moves"] == 1
    assert data["violations"] == [] and data["diagnosis"] is None and data["issues"] == []
