"""Shared helpers: tiny scenario builders used by every test module.

Test modules import the helpers with ``from conftest import ...`` (pytest puts this folder on
``sys.path``). Every builder returns plain dicts so a test can tweak one field before
``Scenario.from_dict``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generator import generate
from optimizer import Plan, Scenario, evaluate, solve

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = ROOT / "examples" / "seed_150x8" / "scenario.json"

#: A fixed "today" so renewal freezes do not depend on the day the suite runs.
AS_OF = "2026-01-01"
#: Exact, single-threaded, short: hand-computed optima must be proven optimal.
EXACT_SOLVER: dict[str, Any] = {
    "backend": "highs",
    "time_limit_s": 20,
    "gap": 0.0,
    "seed": 0,
    "threads": 1,
}
BACKEND_NAMES = ("highs", "cpsat", "cbc")
#: The tie-breaker weight documented in optimizer/instance.py (fewer moves win among equals).
TIE = 1e-3


def weights(**given: float) -> dict[str, float]:
    """All six objective weights, zero unless given (so no default weight sneaks in)."""
    out = dict.fromkeys(
        ("churn_risk", "balance", "expertise", "expansion", "continuity", "preference"), 0.0
    )
    out.update(given)
    return out


def csm(csm_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": csm_id, **fields}


def account(account_id: str, arr: float, **fields: Any) -> dict[str, Any]:
    return {"id": account_id, "arr": arr, **fields}


def retention_team(
    retentions: list[float], constraints: dict[str, Any], fields: dict[str, dict[str, Any]]
) -> Scenario:
    """CSMs C1, C2, ... retaining ``retentions`` (best first) and four high-risk accounts A1-A4
    (ARR 100K x k), every one with the last CSM today, with ``fields`` per account id; churn
    weight only, so that without rules every account moves to C1."""
    csms = [csm(f"C{k + 1}", retention_rate=r) for k, r in enumerate(retentions)]
    accounts = [
        {
            "id": f"A{k}",
            "arr": 100_000 * k,
            "churn_risk": "high",
            "current_csm": csms[-1]["id"],
            **fields.get(f"A{k}", {}),
        }
        for k in range(1, 5)
    ]
    return make(csms, accounts, objectives=weights(churn_risk=1), constraints=constraints)


def scenario_dict(
    csms: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    *,
    objectives: dict[str, float] | None = None,
    constraints: dict[str, Any] | None = None,
    solver: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": extra.pop("name", "test"),
        "as_of": extra.pop("as_of", AS_OF),
        "csms": copy.deepcopy(csms),
        "accounts": copy.deepcopy(accounts),
        "objectives": objectives if objectives is not None else weights(churn_risk=1),
        "constraints": constraints or {},
        "solver": {**EXACT_SOLVER, **(solver or {})},
    }
    data.update(extra)
    return data


def make(csms: list[dict[str, Any]], accounts: list[dict[str, Any]], **kw: Any) -> Scenario:
    return Scenario.from_dict(scenario_dict(csms, accounts, **kw))


def solve_ok(scenario: Scenario, backend: str | None = None) -> Plan:
    """Solve and insist on a proven optimum whose plan breaks no rule."""
    plan = solve(scenario, backend=backend)
    assert plan.status == "optimal", (plan.status, plan.message)
    assert plan.after is not None
    assert plan.after.violations == [], plan.after.violations
    # The plan's objective is, by contract, the evaluator's score of its assignment.
    assert abs(plan.objective - evaluate(scenario, plan.assignment()).objective) < 1e-9
    return plan


def rules_of(violations: Any) -> set[tuple[str, str]]:
    return {(v.rule, v.subject) for v in violations}


# ------------------------------------------------------------------ the standard 4x2 team
#
# C1 keeps customers (retention 0.95), C2 less so (0.80); every account is medium risk
# (p = 0.2) so with the churn weight alone every account would rather be with C1. A1, A2 sit
# with C1 and A3, A4 with C2. The churn normalizer is sum(arr * 0.2 * (0.95 - 0.80)) = 0.03 *
# total ARR = 30,000, so an account of ARR `x` left with C2 costs x / 1,000,000 of the term.


def team_csms() -> list[dict[str, Any]]:
    return [
        csm(
            "C1",
            retention_rate=0.95,
            expansion_rate=0.2,
            region="NA",
            languages=["en"],
            skills=[],
        ),
        csm(
            "C2",
            retention_rate=0.80,
            expansion_rate=0.2,
            region="EMEA",
            languages=["en", "de"],
            skills=["sql"],
        ),
    ]


def team_accounts() -> list[dict[str, Any]]:
    return [
        account("A1", 100_000, churn_risk="medium", workload=1, current_csm="C1"),
        account("A2", 200_000, churn_risk="medium", workload=1, current_csm="C1"),
        account("A3", 300_000, churn_risk="medium", workload=1, current_csm="C2"),
        account("A4", 400_000, churn_risk="medium", workload=1, current_csm="C2"),
    ]


@pytest.fixture
def team() -> dict[str, Any]:
    """The standard 4x2 team as a scenario dict (churn weight only, no rules)."""
    return scenario_dict(team_csms(), team_accounts())


def pytest_configure(config: pytest.Config) -> None:
    # PuLP 3.x warns that its CBC command class goes away in PuLP 4; not the engine's doing here.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulp.*")
    # Starlette's TestClient asks for a client package newer than FastAPI's own TestClient uses.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


# ---------------------------------------------------------------- cross-backend scenarios


def generated(n_accounts: int, n_csms: int, seed: int) -> Scenario:
    data = generate(n_accounts, n_csms, seed=seed)
    data["solver"] = {"time_limit_s": 30, "gap": 0.0, "seed": 0, "threads": 1}
    return Scenario.from_dict(data)


def mixed_team() -> Scenario:
    """Every term and most rules on a 6x3 team (default 40/30/20/10 weights plus continuity)."""
    return make(
        [
            csm("C1", retention_rate=0.93, expansion_rate=0.12, industries=["fintech"]),
            csm(
                "C2",
                retention_rate=0.85,
                expansion_rate=0.25,
                industries=["retail"],
                skills=["sql"],
            ),
            csm("C3", retention_rate=0.89, expansion_rate=0.18, capacity=0.5, region="EMEA"),
        ],
        [
            account("A1", 420_000, churn_risk="high", industry="fintech", current_csm="C2"),
            account("A2", 150_000, expansion_potential="high", industry="retail", current_csm="C1"),
            account("A3", 310_000, churn_risk=0.35, required_skills=["sql"], current_csm="C2"),
            account("A4", 90_000, industry="retail", region="EMEA", current_csm="C3"),
            account("A5", 260_000, churn_risk="medium", industry="fintech", current_csm="C3"),
            account("A6", 180_000, expansion_potential=0.6, current_csm="C1", locked=True),
        ],
        objectives={
            "churn_risk": 40,
            "balance": 30,
            "expertise": 20,
            "expansion": 10,
            "continuity": 5,
        },
        constraints={"arr_tolerance": 0.5, "max_accounts_per_csm": 3, "max_moves": 3},
    )


#: Scenarios every backend solves to the same optimum (tests/optimizer/backends) and the
#: evaluator scores as the solvers do (tests/optimizer/test_evaluate.py).
SCENARIOS = {
    "mixed_6x3": mixed_team,
    "generated_20x3": lambda: generated(20, 3, seed=3),
    "generated_24x4": lambda: generated(24, 4, seed=7),
}


# ------------------------------------------------------------------ transitions and briefs


def transition_team(accounts: list[dict[str, Any]], **transition: Any) -> Scenario:
    """Two CSMs (B retains and expands better), churn weight only, dated so that wave 1 starts
    on Monday 2026-01-12; ``transition`` sets the scenario's transition block."""
    return Scenario.from_dict(
        {
            "as_of": "2026-01-07",  # a Wednesday: wave 1 starts Monday 2026-01-12
            "csms": [
                {"id": "A", "retention_rate": 0.8, "expansion_rate": 0.1},
                {"id": "B", "retention_rate": 0.95, "expansion_rate": 0.3},
            ],
            "accounts": accounts,
            "objectives": {"churn_risk": 1, "balance": 0, "expertise": 0, "expansion": 0},
            "transition": transition,
        }
    )
