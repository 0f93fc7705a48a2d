"""Compare scores every variant on the first scenario's scale (its normalizers and balance
reference), as sensitivity does: a variant's objective in ``compare`` is what ``evaluate`` of
its plan against the first scenario says, when the variant keeps the first's weights."""

from __future__ import annotations

import pytest

from benchmarks.generator import generate
from optimizer import Scenario, evaluate
from optimizer.instance import Instance
from scenarios.compare import compare


def _base() -> Scenario:
    data = generate(40, 4, seed=11)
    data["solver"].update({"time_limit_s": 30, "gap": 0.0, "threads": 1})
    return Scenario.from_dict(data)


def test_a_variant_with_locks_is_scored_on_the_first_scenarios_scale() -> None:
    base = _base()
    inst = Instance(base)
    # Lock the five free accounts whose current CSM is furthest from their best retention: on
    # its own scale, each locked account's ideal becomes its current CSM.
    free = [a for a, acc in enumerate(base.accounts) if not acc.locked and acc.current_csm]
    gaps = {a: inst.churn_cost(a, inst.csm_index[str(base.accounts[a].current_csm)]) for a in free}
    chosen = {base.accounts[a].id for a in sorted(free, key=lambda a: -gaps[a])[:5]}
    assert all(gaps[inst.account_index[i]] > 0 for i in chosen)
    locked = base.replace(
        name="locked",
        accounts=tuple(
            a.model_copy(update={"locked": True}) if a.id in chosen else a for a in base.accounts
        ),
    )
    weights = base.objectives.model_dump()
    weights["churn_risk"] *= 2
    heavier = base.replace(name="churn x2", objectives=base.objectives.model_validate(weights))
    fewer = base.replace(name="fewer accounts", accounts=base.accounts[:-3])
    result = compare([base, locked, heavier, fewer], workers=1)
    plans = result.plans
    assert all(p.has_plan for p in plans)
    assert result.on_first_scale == [True, True, True, False]
    # The locked variant: its objective is the first scenario's score of its plan ...
    plan = plans[1].assignment()
    by_first = evaluate(base, plan).objective
    assert plans[1].objective == pytest.approx(by_first, rel=1e-6, abs=1e-9)
    assert result.first_scores[1] == pytest.approx(by_first, rel=1e-9)
    # ... which its own scale would understate (the bug this guards against) ...
    assert evaluate(locked, plan).objective < by_first - 1e-6
    # ... and a restriction never beats the first's optimum (both proven, gap 0).
    assert plans[0].status == "optimal" and plans[1].status == "optimal"
    assert plans[1].objective >= plans[0].objective - 1e-9
    diff = result.objective_vs_first(1)
    assert diff is not None and diff.value == pytest.approx(by_first - plans[0].objective)
    # A weight change: its own objective differs, its score by the first's objective is the
    # first scenario's evaluation of its plan, and no better than the first's optimum.
    other = plans[2].assignment()
    assert result.first_scores[2] == pytest.approx(evaluate(base, other).objective, rel=1e-9)
    assert result.first_scores[2] >= plans[0].objective - 1e-9
    # Different accounts: no common scale, no score by the first's objective.
    assert result.first_scores[3] is None
    rows = {s["name"]: s for s in result.to_dict()["scenarios"]}
    assert rows["locked"]["on_first_scale"] is True
    assert rows["fewer accounts"]["on_first_scale"] is False
    assert rows["locked"]["first_score"] == pytest.approx(by_first, rel=1e-9)


def test_compare_carries_each_plans_outcome_projection() -> None:
    base = _base()
    months = base.transition.model_copy(update={"projection_months": (12,)})
    short = base.replace(name="12 months only", transition=months)
    result = compare([base, short], workers=1)
    data = result.to_dict()["scenarios"]
    for i, plan in enumerate(result.plans):
        (year,) = [h for h in plan.projection["horizons"] if h["months"] == 12]
        assert data[i]["projection.12.retained_arr"] == pytest.approx(year["after"]["retained_arr"])
        # Retained and churned ARR add up to the book.
        total = sum(a.arr for a in base.accounts)
        retained = data[i]["projection.12.retained_arr"] + data[i]["projection.12.churned_arr"]
        assert retained == pytest.approx(total)
    assert data[0]["projection.6.retained_arr"] is not None
    assert data[1]["projection.6.retained_arr"] is None  # not a horizon of that scenario
