"""Sensitivity analysis: which inputs matter, what disruption buys, what each rule costs.

``sensitivity(scenario)`` solves the base scenario, then (in parallel, warm-started from the
base plan) a set of variants:

- **weights**: each objective weight scaled by each of ``weight_factors`` (a zero weight is
  tried at 10% of the total instead);
- **tolerances**: ``arr_tolerance`` (and ``workload_tolerance`` when set) moved by
  ``tolerance_steps``;
- **disruption frontier**: the best objective for each move budget in ``move_budgets``
  (``None`` = unconstrained), with the share of the full gain each budget captures;
- **price of rules**: the objective gain when one hard rule, all locks, or one account's lock
  is switched off;
- **stability**: how many accounts change CSM when a weight moves by ±5%.

Weight, tolerance and move-budget variants are solved on the base scenario's scale
(``score_like``: the same normalizers and balance reference) and re-scored with the base's weights
for the tornado table, which ranks the inputs by their largest effect on each KPI. A rule's price
is measured on the scale of the scenario without it: its score of the base plan minus its optimum.
Every variant is a full
solve within ``time_limit_s``; its status and gap are reported, so a difference smaller than the
gaps is noise, not signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer import Plan, Scenario, Status, Termination, evaluate, solve
from optimizer.instance import TERMS, Instance
from optimizer.rules import RULES

from .executors import Outcome, run_scenarios

#: KPIs the tornado ranks inputs on (plan-level numbers from the evaluator).
TORNADO_KPIS = ("objective", "arr_at_risk", "arr_spread", "expertise_match", "moves", "moved_arr")
DEFAULT_MOVE_BUDGETS: tuple[int | None, ...] = (0, 5, 10, 15, 20, 30, 40, 60, None)


def rule_switches() -> dict[str, dict[str, Any]]:
    """The hard rules whose price is measured, each named by its setting in ``constraints``,
    with the change that switches it off: every rule of the registry (optimizer/rules.py) that
    a team-wide setting turns on (locks are priced per account apart)."""
    out: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        if rule.off:
            out[next(iter(rule.off))] = dict(rule.off)
    return out


@dataclass
class Run:
    """One solved variant: what was changed, and what came out."""

    input: str  # e.g. "weight.churn_risk", "arr_tolerance", "max_moves", "rule.min_arr_per_csm"
    value: Any
    plan: Plan
    changed_accounts: int  # accounts whose CSM differs from the base plan
    #: The variant's plan scored with the base scenario's objective (weights and normalizers):
    #: the only objective value comparable across variants.
    base_score: float | None = None
    #: For a switched-off rule: the variant's score of the base plan minus its optimum (>= 0 up
    #: to the solver gaps), both on the variant's scale.
    price: float | None = None

    def kpi(self, name: str) -> float | None:
        if name == "objective":
            return self.base_score
        if self.plan.after is None:
            return None
        value = self.plan.after.kpis.get(name)
        return None if value is None else float(value)


@dataclass
class Sensitivity:
    base: Plan
    weights: list[Run] = field(default_factory=list)
    tolerances: list[Run] = field(default_factory=list)
    frontier: list[Run] = field(default_factory=list)
    prices: list[Run] = field(default_factory=list)
    stability: list[Run] = field(default_factory=list)

    def base_kpi(self, name: str) -> float | None:
        if name == "objective":
            return self.base.objective
        if self.base.after is None:
            return None
        value = self.base.after.kpis.get(name)
        return None if value is None else float(value)

    def tornado(self, kpi: str) -> list[tuple[str, float, float]]:
        """(input, smallest change, largest change) of ``kpi`` vs the base, largest swing first."""
        base = self.base_kpi(kpi)
        if base is None:
            return []
        spans: dict[str, list[float]] = {}
        for run in [*self.weights, *self.tolerances]:
            value = run.kpi(kpi)
            if value is not None and run.plan.has_plan:
                spans.setdefault(run.input, []).append(value - base)
        rows = [(name, min(d), max(d)) for name, d in spans.items()]
        return sorted(rows, key=lambda r: -max(abs(r[1]), abs(r[2])))

    def frontier_gain_shares(self) -> list[tuple[int | None, float | None]]:
        """For each move budget, the share of the improvement over today's assignment that the
        best budget reaches (1.0 = all of it)."""
        points = [(run.value, run.plan.objective) for run in self.frontier]
        values = [v for _, v in points if v is not None]
        if not values:
            return [(budget, None) for budget, _ in points]
        today = None if self.base.before is None else self.base.before.objective
        worst, best = (today if today is not None else max(values)), min(values)
        span = worst - best
        return [
            (budget, None if v is None else (1.0 if span <= 0 else (worst - v) / span))
            for budget, v in points
        ]

    def to_dict(self) -> dict[str, Any]:
        def runs(items: list[Run]) -> list[dict[str, Any]]:
            return [
                {
                    "input": r.input,
                    "value": r.value,
                    "status": r.plan.status,
                    "gap": r.plan.gap,
                    "objective": r.plan.objective,
                    "base_score": r.base_score,
                    "changed_accounts": r.changed_accounts,
                    "kpis": None if r.plan.after is None else r.plan.after.kpis,
                }
                for r in items
            ]

        return {
            "base": {
                "status": self.base.status,
                "objective": self.base.objective,
                "gap": self.base.gap,
                "kpis": None if self.base.after is None else self.base.after.kpis,
            },
            "weights": runs(self.weights),
            "tolerances": runs(self.tolerances),
            "frontier": [
                {**run, "gain_share": share}
                for run, (_, share) in zip(
                    runs(self.frontier), self.frontier_gain_shares(), strict=True
                )
            ],
            "prices": [
                {**run, "price": p.price}
                for run, p in zip(runs(self.prices), self.prices, strict=True)
            ],
            "stability": runs(self.stability),
            "tornado": {
                kpi: [{"input": n, "low": lo, "high": hi} for n, lo, hi in self.tornado(kpi)]
                for kpi in TORNADO_KPIS
            },
        }


def _with(scenario: Scenario, section: str, changes: dict[str, Any], name: str) -> Scenario:
    data = getattr(scenario, section).model_dump()
    data.update(changes)
    return scenario.replace(**{section: data, "name": name})


def sensitivity_variants(
    scenario: Scenario,
    weight_factors: Sequence[float],
    tolerance_steps: Sequence[float],
    move_budgets: Sequence[int | None],
    prices: bool,
) -> list[tuple[str, str, Any, Scenario]]:
    """(group, input, value, scenario) for every variant to solve."""
    out: list[tuple[str, str, Any, Scenario]] = []
    weights = scenario.objectives.model_dump()
    total = sum(weights.values())
    for term in TERMS:
        for factor in weight_factors:
            value = weights[term] * factor if weights[term] > 0 else 0.1 * total
            if weights[term] == 0 and factor < 1:
                continue  # a zero weight cannot go lower
            out.append(
                (
                    "weights",
                    f"weight.{term}",
                    value,
                    _with(scenario, "objectives", {term: value}, f"{term} x{factor:g}"),
                )
            )
        for factor in (0.95, 1.05):
            if weights[term] > 0:
                value = weights[term] * factor
                out.append(
                    (
                        "stability",
                        f"weight.{term}",
                        value,
                        _with(scenario, "objectives", {term: value}, f"{term} x{factor:g}"),
                    )
                )
    rule = scenario.constraints
    for key in ("arr_tolerance", "workload_tolerance"):
        current = getattr(rule, key)
        if current is None:
            continue
        for step in tolerance_steps:
            value = round(current + step, 6)
            if rule.balance_band < value <= 1.0:
                out.append(
                    (
                        "tolerances",
                        key,
                        value,
                        _with(scenario, "constraints", {key: value}, f"{key} {value:g}"),
                    )
                )
    for budget in move_budgets:
        out.append(
            (
                "frontier",
                "max_moves",
                budget,
                _with(scenario, "constraints", {"max_moves": budget}, f"max_moves {budget}"),
            )
        )
    if prices:
        for name, switch in rule_switches().items():
            # Only a rule that is on has a price: its setting is not the one switching it off.
            if any(getattr(rule, field) != value for field, value in switch.items()):
                out.append(
                    (
                        "prices",
                        f"rule.{name}",
                        None,
                        _with(scenario, "constraints", switch, f"without {name}"),
                    )
                )
        if any(a.locked for a in scenario.accounts):
            unlocked = [a.model_dump(mode="json") | {"locked": False} for a in scenario.accounts]
            out.append(
                (
                    "prices",
                    "rule.locked",
                    None,
                    scenario.replace(accounts=unlocked, name="without locks"),
                )
            )
            # And each lock on its own: what keeping this one account in place costs.
            for i, account in enumerate(scenario.accounts):
                if account.locked:
                    records = [a.model_dump(mode="json") for a in scenario.accounts]
                    records[i]["locked"] = False
                    out.append(
                        (
                            "prices",
                            f"lock.{account.id}",
                            account.current_csm,
                            scenario.replace(
                                accounts=records, name=f"without the lock on {account.id}"
                            ),
                        )
                    )
    return out


def sensitivity(
    scenario: Scenario,
    *,
    weight_factors: Sequence[float] = (0.5, 1.5),
    tolerance_steps: Sequence[float] = (-0.05, 0.05),
    move_budgets: Sequence[int | None] = DEFAULT_MOVE_BUDGETS,
    prices: bool = True,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    **solve_options: Any,
) -> Sensitivity:
    """Solve ``scenario`` and its variants (see the module docstring); ``solve_options`` go to
    :func:`optimizer.solve` for every run (``time_limit_s``, ``backend``)."""
    base = solve(scenario, **solve_options)
    base_assignment = base.assignment()
    variants = sensitivity_variants(scenario, weight_factors, tolerance_steps, move_budgets, prices)
    # Rule prices are measured on the relaxed scenario's own scale (its ideal for a freed account
    # is what that account can now reach); every other variant on the base's scale, so that a
    # tolerance change moves the hard window, not the balance preference.
    priced = [v for v in variants if v[0] == "prices"]
    others = [v for v in variants if v[0] != "prices"]
    common = {"scheduler": scheduler, "workers": workers, "on_done": on_done, **solve_options}
    start = base_assignment or None
    outcomes = dict(
        zip(
            [id(v) for v in others],
            run_scenarios([v[3] for v in others], warm_start=start, score_like=scenario, **common),
            strict=True,
        )
    )
    outcomes.update(
        zip(
            [id(v) for v in priced],
            run_scenarios([v[3] for v in priced], warm_start=start, **common),
            strict=True,
        )
    )
    result = Sensitivity(base=base)
    scorer = Instance(scenario)
    for variant in variants:
        group, name, value, variant_scenario = variant
        outcome = outcomes[id(variant)]
        plan = outcome.plan or Plan(
            status=Status.NO_SOLUTION,
            message=outcome.error or "",
            scenario=outcome.name,
            termination=Termination.ERROR,
        )
        mine = plan.assignment()
        changed = sum(1 for a, c in mine.items() if base_assignment.get(a) != c)
        score = evaluate(scorer, mine).objective if plan.has_plan else None
        run = Run(name, value, plan, changed, score)
        if group == "prices" and plan.has_plan and base.has_plan:
            run.price = evaluate(variant_scenario, base_assignment).objective - plan.objective  # type: ignore[operator]
        getattr(result, group).append(run)
    return result
