"""The rules registry: a rule defined once is the model's, the evaluator's, the counterfactuals',
the diagnosis's and the searches' (optimizer/rules.py)."""

from __future__ import annotations

import math

import pytest
from conftest import TIE, account, csm, make, rules_of, solve_ok, team_accounts, team_csms

from optimizer import Scenario, evaluate, solve
from optimizer.diagnose import precheck
from optimizer.explain.counterfactual import MoveScorer
from optimizer.formulation import build_model
from optimizer.instance import Instance
from optimizer.rules import (
    ACCOUNTS,
    BOOK_RULE_FAMILIES,
    BOOK_RULES,
    PAIR_RULES,
    RULES,
    TEAM_RULES,
    BookRule,
    Quantity,
    Registry,
)
from optimizer.strategies import use_lagrangian
from optimizer.strategies.lagrangian import supports

#: A toy rule on a quantity the engine already has: every CSM holds at least two accounts.
MIN_ACCOUNTS = BookRule(
    "min_accounts",
    ACCOUNTS,
    "min",
    "minimum accounts",
    "(a test rule)",
    "every CSM keeps a book to work on",
    lambda inst, c: (2, None),
)
#: A toy rule on a quantity of its own: at most one account of $250K or more per CSM.
LARGE = Quantity(
    "large_accounts",
    "large accounts",
    "large-account",
    ("has", "hold"),
    per_account=lambda inst: [1.0 if arr >= 250_000 else 0.0 for arr in inst.arr],
    counted=True,
)
MAX_LARGE = BookRule(
    "max_large_accounts",
    LARGE,
    "max",
    "maximum large accounts",
    "(a test rule)",
    "no CSM carries two of the largest accounts",
    lambda inst, c: (None, 1),
)


def standard_team() -> Scenario:
    """C1 retains 0.95, C2 0.80; churn weight only: every account would rather be with C1.
    An account of ARR x left with C2 costs x / 1,000,000 (tests/conftest.py)."""
    return make(team_csms(), team_accounts())


def test_a_rule_registered_alone_reaches_the_model_the_evaluator_and_the_counterfactuals() -> None:
    scenario = standard_team()
    with RULES.added(MIN_ACCOUNTS):
        inst = Instance(scenario)
        # The model: one row per CSM, at least 2 of its assignment variables.
        built = build_model(inst)
        rows = {
            row.group: row
            for row in built.model.rows
            if row.group and row.group[0] == "min_accounts"
        }
        assert set(rows) == {("min_accounts", "C1"), ("min_accounts", "C2")}
        for (_, csm_id), row in rows.items():
            c = inst.csm_index[csm_id]
            assert (row.lb, row.ub) == (2.0, math.inf)
            assert sorted(row.index) == sorted(v for (a, k), v in built.x.items() if k == c)
            assert set(row.coef) == {1.0}
        # The evaluator: everyone with C1 leaves C2 two accounts short.
        everyone_c1 = {a: "C1" for a in ("A1", "A2", "A3", "A4")}
        (violation,) = [v for v in evaluate(inst, everyone_c1).violations]
        assert (violation.rule, violation.subject, violation.amount) == ("min_accounts", "C2", 2)
        assert violation.message == "CSM C2 has 0 accounts but must hold at least 2"
        # The counterfactuals: from a plan with exactly two accounts each, taking one from C2
        # would break it; moving one between two full books would not.
        plan = {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"}
        chosen = [inst.csm_index[plan[a.id]] for a in inst.accounts]
        scorer = MoveScorer(inst, chosen)
        away = scorer.alternative(inst.account_index["A1"], inst.csm_index["C1"])
        assert away.rules == ("min_accounts",)
        assert away.broken == ("C2 would drop to 1 account (at least 2)",)
        # The solvers: C2 keeps the two smallest accounts (0.1 + 0.2 of the churn term), all
        # four move (continuity 1.0, the tie-breaker): 0.3 + TIE.
        for backend in ("highs", "cpsat", "cbc"):
            solved = solve_ok(scenario, backend)
            assert solved.assignment() == plan
            assert solved.objective == pytest.approx(0.3 + TIE, rel=1e-6)
    # Outside the block the rule is gone: everyone with C1 is the optimum again.
    assert "min_accounts" not in {r.name for r in Instance(scenario).book_rules}
    assert set(solve_ok(scenario).assignment().values()) == {"C1"}


def test_the_decomposition_search_keeps_a_registered_rule() -> None:
    scenario = standard_team()
    scenario = scenario.replace(solver={**scenario.solver.model_dump(), "strategy": "lagrangian"})
    with RULES.added(MIN_ACCOUNTS):
        assert use_lagrangian(Instance(scenario), scenario.solver)
        plan = solve(scenario, time_limit_s=5)
        assert plan.status in ("optimal", "feasible") and plan.after is not None
        assert plan.after.violations == []
        assert plan.bound is not None and plan.bound <= 0.3 + TIE + 1e-9 <= plan.objective + 1e-9
        held = [row.csm_id for row in plan.assignments]
        assert held.count("C1") >= 2 and held.count("C2") >= 2
        assert "Lagrangian decomposition" in plan.message


def test_a_rule_on_a_quantity_of_its_own() -> None:
    scenario = standard_team()
    with RULES.added(MAX_LARGE):
        inst = Instance(scenario)
        built = build_model(inst)
        row = next(r for r in built.model.rows if r.group == ("max_large_accounts", "C1"))
        large = {inst.account_index["A3"], inst.account_index["A4"]}
        c1 = inst.csm_index["C1"]
        assert sorted(row.index) == sorted(built.x[a, c1] for a in large)
        assert row.ub == 1.0
        everyone_c1 = {a: "C1" for a in ("A1", "A2", "A3", "A4")}
        assert rules_of(evaluate(inst, everyone_c1).violations) == {("max_large_accounts", "C1")}
        # The optimum leaves the smaller large account (A3, 0.3) with C2, where it is today:
        # A1 stays, A4 moves (one move of four: continuity 0.25).
        plan = solve_ok(scenario)
        assert plan.assignment() == {"A1": "C1", "A2": "C1", "A3": "C2", "A4": "C1"}
        assert plan.objective == pytest.approx(0.3 + TIE * 0.25, rel=1e-6)
        chosen = [inst.csm_index[c] for c in plan.assignment().values()]
        back = MoveScorer(inst, chosen).alternative(inst.account_index["A3"], c1)
        assert back.rules == ("max_large_accounts",)
        assert back.broken == ("C1 would hold 2 large accounts (at most 1)",)
        # The decomposition prices only the engine's own quantities: it declines.
        assert not supports(inst)
        settings = scenario.solver.model_copy(update={"strategy": "lagrangian"})
        assert not use_lagrangian(inst, settings)
        assert solve(scenario, time_limit_s=5).after.violations == []  # type: ignore[union-attr]


def test_the_precheck_reads_a_registered_rule() -> None:
    # Two of three accounts need sql, which only C2 has: C1 can reach one account, not two.
    scenario = make(
        [csm("C1"), csm("C2", skills=["sql"])],
        [
            account("A1", 100),
            account("A2", 100, required_skills=["sql"]),
            account("A3", 100, required_skills=["sql"]),
        ],
    )
    assert precheck(Instance(scenario)) == []
    with RULES.added(MIN_ACCOUNTS):
        (conflict,) = precheck(Instance(scenario))
        assert (conflict.rule, conflict.subject) == ("min_accounts", "C1")
        assert "at least 2 (min_accounts)" in conflict.message
        assert "add up to only 1" in conflict.message
        assert solve(scenario).status == "infeasible"


def test_the_registry_lists_every_rule_once_with_its_words() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert names == [r.name for r in (*PAIR_RULES, *BOOK_RULES, *BOOK_RULE_FAMILIES, *TEAM_RULES)]
    for rule in RULES:
        assert rule.hard and rule.words and rule.protects
    registry = Registry([MIN_ACCOUNTS])
    with pytest.raises(ValueError, match="already registered"):
        registry.add(MIN_ACCOUNTS)
    # Every group of the model's rows is a rule of the registry (or the assignment itself).
    inst = Instance(
        Scenario.from_dict(
            {
                "as_of": "2026-01-01",
                "csms": [{"id": "C1", "max_accounts": 3, "min_arr": 1}, {"id": "C2"}],
                "accounts": [{"id": "A1", "arr": 10, "current_csm": "C1", "churn_risk": "high"}],
                "constraints": {
                    "arr_tolerance": 0.5,
                    "workload_tolerance": 0.5,
                    "max_high_risk_per_csm": 1,
                    "max_moves": 1,
                    "max_moved_arr": 5,
                },
            }
        )
    )
    groups = {row.group[0] for row in build_model(inst).model.rows if row.group is not None}
    assert groups - {"assign"} <= set(names)
    assert groups == {
        "assign",
        "max_accounts",
        "min_arr",
        "arr_tolerance",
        "workload_tolerance",
    } | {
        "max_high_risk",
        "max_moves",
        "max_moved_arr",
    }
