"""Properties on random small scenarios that are feasible by construction.

Each scenario is drawn around a *witness* assignment: every account's current CSM is its witness
CSM (some accounts are new and have none), and every rule is set so that the witness keeps it.
The solver must then find a plan that keeps every rule and scores no worse than the witness.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from conftest import AS_OF, EXACT_SOLVER
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer import Scenario, evaluate, solve
from optimizer.formulation import build_model
from optimizer.instance import Instance

INDUSTRIES = ("fintech", "retail", "health")
SKILLS = ("sql", "k8s")
TODAY = dt.date.fromisoformat(AS_OF)
PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass
class Drawn:
    data: dict[str, Any]
    witness: dict[str, str]


def subset(draw: st.DrawFn, items: tuple[str, ...] | list[str]) -> list[str]:
    return [item for item in items if draw(st.booleans())]


@st.composite
def feasible_scenarios(draw: st.DrawFn) -> Drawn:
    n_csms = draw(st.integers(2, 3))
    n_accounts = draw(st.integers(3, 8))
    match_region = draw(st.booleans())
    match_language = draw(st.booleans())
    csms = []
    for c in range(n_csms):
        csms.append(
            {
                "id": f"C{c + 1}",
                "capacity": draw(st.sampled_from([0.5, 1.0, 1.5])),
                "retention_rate": draw(st.sampled_from([0.8, 0.85, 0.9, 0.95])),
                "expansion_rate": draw(st.sampled_from([0.05, 0.15, 0.3])),
                "industries": subset(draw, INDUSTRIES),
                "skills": subset(draw, SKILLS),
                "region": draw(st.sampled_from(["NA", "EMEA", None])),
                "languages": subset(draw, ["en", "de"]),
            }
        )
    accounts = []
    witness: dict[str, str] = {}
    for a in range(n_accounts):
        home = csms[draw(st.integers(0, n_csms - 1))]
        is_new = draw(st.integers(0, 4)) == 0
        record: dict[str, Any] = {
            "id": f"A{a + 1}",
            "arr": draw(st.integers(1, 400)) * 1000,
            "churn_risk": draw(st.sampled_from(["low", "medium", "high", 0.3, 0.7])),
            "expansion_potential": draw(st.sampled_from(["low", "medium", "high", 0.5])),
            "industry": draw(st.sampled_from([*INDUSTRIES, None])),
            "workload": draw(st.sampled_from([None, 0, 1, 2.5, 4])),
            "complexity": draw(st.integers(1, 5)),
            "required_skills": subset(draw, home["skills"]),
            "renewal_date": (TODAY + dt.timedelta(days=draw(st.integers(-5, 60)))).isoformat(),
        }
        if match_region:
            record["region"] = home["region"]
        if match_language and home["languages"]:
            record["language"] = draw(st.sampled_from(home["languages"]))
        if not is_new:
            record["current_csm"] = home["id"]
            record["locked"] = draw(st.integers(0, 4)) == 0
        accounts.append({k: v for k, v in record.items() if v is not None})
        witness[record["id"]] = home["id"]

    # Books of the witness, per CSM.
    def book(c_id: str, value: Any) -> float:
        return sum(value(a) for a in accounts if witness[a["id"]] == c_id)

    def workload(a: dict[str, Any]) -> float:
        return a["complexity"] if a.get("workload") is None else a["workload"]

    cap = {c["id"]: c["capacity"] for c in csms}
    count = {c: book(c, lambda a: 1) for c in cap}
    arr = {c: book(c, lambda a: a["arr"]) for c in cap}
    work = {c: book(c, workload) for c in cap}
    risky = {c: book(c, lambda a: _p(a["churn_risk"]) >= 0.5) for c in cap}
    total_cap = sum(cap.values())
    total_arr = sum(arr.values())
    total_work = sum(work.values())

    constraints: dict[str, Any] = {
        "match_region": match_region,
        "match_language": match_language,
        "balance_band": draw(st.sampled_from([0.0, 0.05, 0.1])),
    }
    if draw(st.booleans()):
        constraints["max_accounts_per_csm"] = max(math.ceil(count[c] / cap[c]) for c in cap)
    if draw(st.booleans()):
        constraints["min_arr_per_csm"] = min(arr[c] / cap[c] for c in cap) * 0.99
    if draw(st.booleans()):
        constraints["max_arr_per_csm"] = max(arr[c] / cap[c] for c in cap) * 1.01
    if draw(st.booleans()):
        needed = max(abs(arr[c] / (total_arr * cap[c] / total_cap) - 1) for c in cap) + 0.01
        if needed <= 1:
            constraints["arr_tolerance"] = needed
    if total_work > 0 and draw(st.booleans()):
        needed = max(abs(work[c] / (total_work * cap[c] / total_cap) - 1) for c in cap) + 0.01
        if needed <= 1:
            constraints["workload_tolerance"] = needed
    if draw(st.booleans()):
        constraints["max_high_risk_per_csm"] = max(math.ceil(risky[c] / cap[c]) for c in cap)
    if draw(st.booleans()):
        constraints["max_moves"] = draw(st.integers(0, n_accounts))
    if draw(st.booleans()):
        constraints["max_moved_arr"] = draw(st.integers(0, 400)) * 1000
    if draw(st.booleans()):
        constraints["renewal_freeze_days"] = 30
    for c in csms:
        if draw(st.booleans()):
            c["max_accounts"] = count[c["id"]] + draw(st.integers(0, 1))
        if draw(st.booleans()):
            c["max_workload"] = work[c["id"]] + draw(st.integers(0, 2))

    objectives = {
        name: draw(st.integers(0, 5))
        for name in ("churn_risk", "balance", "expertise", "expansion", "continuity")
    }
    if not any(objectives.values()):
        objectives["churn_risk"] = 1
    data = {
        "name": "property",
        "as_of": AS_OF,
        "csms": csms,
        "accounts": accounts,
        "objectives": objectives,
        "constraints": constraints,
        "solver": dict(EXACT_SOLVER),
    }
    return Drawn(data, witness)


def _p(risk: Any) -> float:
    return {"low": 0.05, "medium": 0.2, "high": 0.5}.get(risk, risk)


@PROPERTY_SETTINGS
@given(feasible_scenarios())
def test_witness_keeps_every_rule(drawn: Drawn) -> None:
    # Sanity of the generator itself: the witness is a valid plan.
    scenario = Scenario.from_dict(drawn.data)
    assert evaluate(scenario, drawn.witness).violations == []


@PROPERTY_SETTINGS
@given(feasible_scenarios())
def test_solver_finds_a_rule_keeping_plan_no_worse_than_the_witness(drawn: Drawn) -> None:
    scenario = Scenario.from_dict(drawn.data)
    plan = solve(scenario)
    assert plan.status == "optimal", plan.message
    assignment = plan.assignment()

    # Every account exactly once, each with a known CSM.
    ids = [row.account_id for row in plan.assignments]
    assert sorted(ids) == sorted(a["id"] for a in drawn.data["accounts"])
    assert len(ids) == len(set(ids))
    csms = {c["id"]: c for c in drawn.data["csms"]}
    assert set(assignment.values()) <= set(csms)

    rules = drawn.data["constraints"]
    moves = 0
    for a in drawn.data["accounts"]:
        chosen = csms[assignment[a["id"]]]
        current = a.get("current_csm")
        days = (dt.date.fromisoformat(a["renewal_date"]) - TODAY).days
        frozen = rules.get("renewal_freeze_days") is not None and 0 <= days <= 30
        if current is not None and (a.get("locked") or frozen):
            assert chosen["id"] == current, "locked or frozen account moved"
            continue
        moves += current is not None and chosen["id"] != current
        assert set(a.get("required_skills", [])) <= set(chosen["skills"])
        if rules["match_region"] and a.get("region") and chosen.get("region"):
            assert a["region"] == chosen["region"]
        if rules["match_language"] and a.get("language") and chosen["languages"]:
            assert a["language"] in chosen["languages"]
    if rules.get("max_moves") is not None:
        assert moves <= rules["max_moves"]

    for c_id, c in csms.items():
        mine = [a for a in drawn.data["accounts"] if assignment[a["id"]] == c_id]
        if rules.get("max_accounts_per_csm") is not None:
            assert len(mine) <= math.floor(rules["max_accounts_per_csm"] * c["capacity"] + 1e-9)
        if c.get("max_accounts") is not None:
            assert len(mine) <= c["max_accounts"]
        if rules.get("max_arr_per_csm") is not None:
            assert sum(a["arr"] for a in mine) <= rules["max_arr_per_csm"] * c["capacity"] + 1e-6
        if rules.get("min_arr_per_csm") is not None:
            assert sum(a["arr"] for a in mine) >= rules["min_arr_per_csm"] * c["capacity"] - 1e-6
        if rules.get("max_high_risk_per_csm") is not None:
            risky = sum(_p(a["churn_risk"]) >= 0.5 for a in mine)
            assert risky <= math.floor(rules["max_high_risk_per_csm"] * c["capacity"] + 1e-9)

    after = evaluate(scenario, assignment)
    assert after.violations == []
    assert plan.objective is not None
    assert abs(plan.objective - after.objective) < 1e-9
    # Optimal means no worse than the witness, which keeps every rule.
    assert plan.objective <= evaluate(scenario, drawn.witness).objective + 1e-9
    for name in ("churn_risk", "expansion", "expertise", "continuity"):
        assert -1e-9 <= after.terms[name] <= 1 + 1e-9, name


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feasible_scenarios())
def test_highs_and_cbc_agree(drawn: Drawn) -> None:
    scenario = Scenario.from_dict(drawn.data)
    # An all-zero objective crashes CBC (see test_backends.py::test_cbc_handles_an_empty_objective).
    assume(build_model(Instance(scenario)).model.objective)
    highs = solve(scenario, backend="highs")
    cbc = solve(scenario, backend="cbc")
    assert highs.status == cbc.status == "optimal"
    assert highs.objective is not None and cbc.objective is not None
    assert abs(highs.objective - cbc.objective) <= 1e-6 * max(1.0, abs(highs.objective))
