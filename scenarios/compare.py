"""Side-by-side comparison of solved scenarios: one row per KPI, one column per scenario.

Every scenario with the first's accounts is solved and scored **on the first's scale** (its
normalizers and balance reference, as ``territory sensitivity`` does: ``solve(...,
score_like=first)``), with its own weights. Scored on its own scale, a variant that locks
accounts would measure each locked account from its locked CSM as the ideal, and look cheaper
than its plan is. A scenario whose accounts differ from the first's (accounts added or removed)
has no common scale with it and is scored on its own (``on_first_scale`` says which).

Each scenario's objective is compared with the first's as a difference of solved values
(:mod:`scenarios.gaps`): ``objective_vs_first`` is that difference with the sum of the two
absolute gaps, and says ``within_gap`` when it is no larger than they are. For variants with the
first's weights (a rule, a team change) it is what the variant's plan costs by the first's
goals; ``first_score`` is each plan scored by the first scenario's objective itself (its weights
too), which is the same number for them and the comparable one for a weight change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optimizer import Plan, Scenario, ScenarioError, evaluate
from optimizer.instance import TERMS, Instance

from .executors import Outcome, run_scenarios
from .gaps import Bounded, Difference, difference, plan_gap

#: The rows of a comparison, in order: (key, label).
ROWS: tuple[tuple[str, str], ...] = (
    ("status", "status"),
    ("gap", "gap"),
    ("objective", "objective"),
    ("objective_vs_first", "objective vs the first (± the gaps)"),
    ("first_score", "scored by the first's objective"),
    *((f"term.{t}", f"term: {t}") for t in TERMS),
    ("arr_spread", "ARR spread"),
    ("workload_variance", "workload variance"),
    ("arr_at_risk", "ARR at risk"),
    ("expertise_match", "expertise match"),
    ("moves", "moves"),
    ("moved_arr", "moved ARR"),
    # The plan's outcome projection (optimizer/explain/projection.py), after the plan.
    ("projection.6.retained_arr", "retained ARR in 6 months"),
    ("projection.12.retained_arr", "retained ARR in 12 months"),
    ("projection.12.churned_arr", "churned ARR in 12 months"),
    ("projection.12.expected_expansion_arr", "expected expansion in 12 months"),
    ("differs_from_first", "accounts placed differently than in the first"),
)


@dataclass
class Comparison:
    """Solved scenarios and their KPIs; ``differences[i]`` lists the accounts whose CSM in
    scenario ``i`` differs from scenario 0 (account id, CSM in scenario 0, CSM in scenario i)."""

    names: list[str]
    plans: list[Plan]
    differences: list[list[tuple[str, str | None, str | None]]]
    #: Each plan scored by the first scenario's objective (``None``: no plan, or its accounts
    #: or CSMs are not the first's), and whether it was solved on the first's scale (it has
    #: the first's accounts, in the same order).
    first_scores: list[float | None] = field(default_factory=list)
    on_first_scale: list[bool] = field(default_factory=list)

    def value(self, index: int, key: str) -> Any:
        plan = self.plans[index]
        after = plan.after
        if key == "status":
            return plan.status
        if key == "gap":
            return plan.gap
        if key == "objective":
            return plan.objective
        if key == "objective_vs_first":
            return self.objective_vs_first(index)
        if key == "first_score":
            return self.first_scores[index] if index < len(self.first_scores) else None
        if key == "differs_from_first":
            return len(self.differences[index])
        if after is None:
            return None
        if key.startswith("term."):
            return after.terms[key.removeprefix("term.")]
        if key.startswith("projection."):
            return projected(plan, key)
        return after.kpis.get(key)

    def objective_vs_first(self, index: int) -> Difference | None:
        """This scenario's objective minus the first's, known to within the sum of their
        absolute gaps; ``None`` for the first, or without both plans."""
        first, mine = Bounded.of_plan(self.plans[0]), Bounded.of_plan(self.plans[index])
        if index == 0 or first is None or mine is None:
            return None
        return difference(first, mine)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return value.to_dict() if isinstance(value, Difference) else value

        return {
            "scenarios": [
                {
                    "name": name,
                    **{key: plain(self.value(i, key)) for key, _ in ROWS},
                    "bound": self.plans[i].bound,
                    "absolute_gap": plan_gap(self.plans[i]),
                    "on_first_scale": (
                        self.on_first_scale[i] if i < len(self.on_first_scale) else None
                    ),
                    "differences": [
                        {"account_id": a, "first": first, "this": this}
                        for a, first, this in self.differences[i]
                    ],
                }
                for i, name in enumerate(self.names)
            ]
        }


def projected(plan: Plan, key: str) -> float | None:
    """``projection.<months>.<figure>`` of the plan (after it), ``None`` when the plan's
    scenario does not project that horizon."""
    _, months, figure = key.split(".", 2)
    for horizon in (plan.projection or {}).get("horizons") or []:
        if str(horizon.get("months")) == months:
            value = (horizon.get("after") or {}).get(figure)
            return None if value is None else float(value)
    return None


def compare(
    scenarios: list[Scenario],
    names: list[str] | None = None,
    *,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    **solve_options: Any,
) -> Comparison:
    """Solve every scenario (in parallel, see :func:`scenarios.executors.run_scenarios`) and line
    up their KPIs. ``solve_options`` go to :func:`optimizer.solve` (``backend``, ``time_limit_s``).
    """
    names = names or [s.name for s in scenarios]
    base = scenarios[0]
    base_ids = [a.id for a in base.accounts]
    on_scale = [i == 0 or [a.id for a in s.accounts] == base_ids for i, s in enumerate(scenarios)]
    outcomes = run_scenarios(
        scenarios,
        scheduler=scheduler,
        workers=workers,
        on_done=on_done,
        task_options=[
            {"score_like": base} if i > 0 and same else {} for i, same in enumerate(on_scale)
        ],
        **solve_options,
    )
    plans = [o.as_plan() for o in outcomes]
    first = plans[0].assignment()
    differences = []
    for plan in plans:
        mine = plan.assignment()
        accounts = sorted(set(first) | set(mine))
        differences.append(
            [(a, first.get(a), mine.get(a)) for a in accounts if first.get(a) != mine.get(a)]
        )
    scorer = Instance(base)
    scores: list[float | None] = []
    for plan, same in zip(plans, on_scale, strict=True):
        score = None
        if plan.has_plan and same:
            try:
                score = evaluate(scorer, plan.assignment()).objective
            except ScenarioError:  # an account or CSM the first scenario does not have
                score = None
        scores.append(score)
    return Comparison(list(names), plans, differences, scores, on_scale)
