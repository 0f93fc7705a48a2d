"""Which inputs matter: each objective term and each account attribute the engine uses, left
out one at a time, and how much each outcome KPI moves.

``influence(scenario)`` solves the base scenario, then (in parallel, warm-started from the
base plan) one variant per input:

- **a term** left out: its weight set to 0, the other weights as they are (terms with a
  positive weight only);
- **an attribute** left out: every account given the same value, so that it tells the engine
  nothing: ``industry`` none (no expertise to match), ``churn_risk`` the team's mean churn
  probability, ``expansion_potential`` the mean potential, ``workload`` the mean workload (and
  no per-CSM workloads), ``visits_per_quarter`` none (every account served remotely). Only
  attributes that vary across the accounts are tried.

Each variant's plan is scored by the base scenario (its real data, its objective): the change
of each KPI against the base plan is what leaving the input out costs or gains, in the KPI's
own units. Its effect on the base objective carries the gaps of both solves: a row whose effect
is within them (:mod:`scenarios.gaps`) says so, because the base could have returned that plan
too, and its KPI changes are not shown to come from the input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer import Plan, Scenario, evaluate, solve
from optimizer.instance import TERMS, Instance

from .executors import Outcome, run_scenarios
from .gaps import Bounded, Difference, difference, plan_gap

#: The KPIs whose changes are reported (plan-level numbers of the evaluator).
INFLUENCE_KPIS = (
    "arr_at_risk",
    "expertise_match",
    "expected_expansion_arr",
    "arr_spread",
    "moves",
    "travel_hours",
)


@dataclass
class InfluenceRow:
    """One input left out: what was done, the plan, its KPI changes and its objective effect."""

    input: str  # "term.expertise", "attribute.industry"
    change: str  # in words: "weight 20% -> 0", "no industry"
    plan: Plan
    kpis: dict[str, float | None] = field(default_factory=dict)
    effect: Difference | None = None
    changed_accounts: int = 0

    @property
    def within_gap(self) -> bool:
        return self.effect is None or self.effect.within_gap

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "change": self.change,
            "status": str(self.plan.status),
            "gap": self.plan.gap,
            "kpi_changes": self.kpis,
            "objective_effect": None if self.effect is None else self.effect.to_dict(),
            "within_gap": self.within_gap,
            "changed_accounts": self.changed_accounts,
        }


@dataclass
class Influence:
    """The base plan and one row per input left out, real effects first (largest first)."""

    base: Plan
    rows: list[InfluenceRow] = field(default_factory=list)

    def ordered(self, kpi: str) -> list[InfluenceRow]:
        """The rows by the size of their change of ``kpi``, those within the gap last."""

        def size(row: InfluenceRow) -> float:
            value = row.kpis.get(kpi)
            return 0.0 if value is None else abs(value)

        return sorted(self.rows, key=lambda r: (r.within_gap, -size(r)))

    def to_dict(self) -> dict[str, Any]:
        after = self.base.after.kpis if self.base.after is not None else {}
        return {
            "base": {
                "status": str(self.base.status),
                "objective": self.base.objective,
                "gap": self.base.gap,
                "kpis": {k: after.get(k) for k in INFLUENCE_KPIS if k in after},
            },
            "kpis": [k for k in INFLUENCE_KPIS if k in after],
            "rows": [row.to_dict() for row in self.rows],
        }


def _mean(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    if not values:
        return 0.0
    if weights is None or not sum(weights):
        return sum(values) / len(values)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)


def _accounts_with(scenario: Scenario, name: str, **fields: Any) -> Scenario:
    """``scenario`` with ``fields`` set on every account, named ``name`` (progress lines)."""
    data = scenario.model_dump(mode="json")
    data["name"] = name
    for account in data["accounts"]:
        account.update(fields)
    return Scenario.from_dict(data)


def _neutral_attributes(scenario: Scenario) -> list[tuple[str, str, dict[str, Any]]]:
    """(attribute, words, the fields that make it tell nothing) for each attribute that varies
    across the accounts: probabilities at their ARR-weighted mean, workload at its mean."""
    accounts = scenario.accounts
    arr = [a.arr for a in accounts]
    churn = _mean([a.churn_probability for a in accounts], arr)
    potential = _mean([a.expansion_score for a in accounts], arr)
    workload = _mean([a.workload_units for a in accounts])
    specs: list[tuple[str, bool, str, dict[str, Any]]] = [
        ("industry", len({a.industry for a in accounts}) > 1, "no industry", {"industry": None}),
        (
            "churn_risk",
            len({a.churn_probability for a in accounts}) > 1,
            f"churn probability {churn:.3f} (mean)",
            {"churn_risk": round(churn, 6)},
        ),
        (
            "expansion_potential",
            len({a.expansion_score for a in accounts}) > 1,
            f"expansion potential {potential:.3f} (mean)",
            {"expansion_potential": round(potential, 6)},
        ),
        (
            "workload",
            len({a.workload_units for a in accounts}) > 1
            or any(a.workload_by_csm for a in accounts),
            f"workload {workload:.2f} (mean)",
            {"workload": round(workload, 6), "workload_by_csm": {}},
        ),
        (
            "visits_per_quarter",
            any(a.visits_per_quarter for a in accounts),
            "all remote",
            {"visits_per_quarter": 0.0},
        ),
    ]
    return [(name, words, fields) for name, varies, words, fields in specs if varies]


def influence_variants(scenario: Scenario) -> list[tuple[str, str, Scenario]]:
    """(input, change in words, scenario) for every input that can be left out, terms first."""
    out: list[tuple[str, str, Scenario]] = []
    weights = scenario.objectives.model_dump()
    total = sum(weights.values())
    for term in TERMS:
        if weights[term] > 0:
            data = scenario.model_dump(mode="json")
            data["objectives"][term] = 0.0
            data["name"] = f"term.{term}"
            if sum(w for k, w in weights.items() if k != term) <= 0:
                continue  # the only weighed term: nothing left to optimize
            share = weights[term] / total
            out.append((f"term.{term}", f"weight {share:.0%} -> 0", Scenario.from_dict(data)))
    for name, words, fields in _neutral_attributes(scenario):
        out.append(
            (f"attribute.{name}", words, _accounts_with(scenario, f"attribute.{name}", **fields))
        )
    return out


def influence(
    scenario: Scenario,
    *,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    **solve_options: Any,
) -> Influence:
    """Solve ``scenario`` and each variant of :func:`influence_variants`; ``solve_options`` go
    to :func:`optimizer.solve` for every run. ``on_done(index, outcome)``: 0 is the base."""
    base = solve(scenario, **solve_options)
    if on_done:
        on_done(0, Outcome("base", base))
    variants = influence_variants(scenario)
    base_assignment = base.assignment()
    outcomes = run_scenarios(
        [v[2] for v in variants],
        scheduler=scheduler,
        workers=workers,
        on_done=None if on_done is None else (lambda k, outcome: on_done(k + 1, outcome)),
        warm_start=base_assignment or None,
        **solve_options,
    )
    result = Influence(base=base)
    scorer = Instance(scenario)
    before = base.after.kpis if base.after is not None else {}
    mine = Bounded.of_plan(base)
    for (name, change, _variant), outcome in zip(variants, outcomes, strict=True):
        plan = outcome.as_plan()
        row = InfluenceRow(name, change, plan)
        if plan.has_plan and base.has_plan:
            assignment = plan.assignment()
            scored = evaluate(scorer, assignment)
            for kpi in INFLUENCE_KPIS:
                old, new = before.get(kpi), scored.kpis.get(kpi)
                if kpi in before or kpi in scored.kpis:
                    row.kpis[kpi] = None if old is None or new is None else float(new) - float(old)
            if mine is not None:
                row.effect = difference(mine, Bounded(scored.objective, plan_gap(plan)))
            row.changed_accounts = sum(
                1 for a, c in assignment.items() if base_assignment.get(a) != c
            )
        result.rows.append(row)
    return result
