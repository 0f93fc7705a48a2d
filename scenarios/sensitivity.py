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

Every variant is a full solve within ``time_limit_s``, except one that only tightens a limit the
proven-optimal base plan already keeps (a move budget of at least its moves, a narrower
tolerance it meets): the base plan is then its optimum, with the base's bound
(:func:`same_optimum`), and the row says it comes from the base plan. Every row reports its
status and gap, and every difference (a price, a frontier step, an effect on the base
objective) carries the sum of the gaps involved: one smaller than that is "within the gap"
(:mod:`scenarios.gaps`) and is never ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from optimizer import Plan, Scenario, Status, evaluate, solve
from optimizer.instance import TERMS, Instance
from optimizer.rules import RULES

from .executors import Outcome, run_scenarios
from .gaps import Bounded, Difference, difference, plan_gap, ranked_order, ranks

#: The note on a variant answered by the base plan, without a solve.
FROM_BASE = "from the base plan"
#: KPIs the tornado ranks inputs on (plan-level numbers from the evaluator).
TORNADO_KPIS = ("objective", "arr_at_risk", "arr_spread", "expertise_match", "moves", "moved_arr")
DEFAULT_MOVE_BUDGETS: tuple[int | None, ...] = (0, 5, 10, 15, 20, 30, 40, 60, None)
DEFAULT_WEIGHT_FACTORS: tuple[float, ...] = (0.5, 1.5)
DEFAULT_TOLERANCE_STEPS: tuple[float, ...] = (-0.05, 0.05)
#: Rules a variant may tighten and still take the base plan as its answer without a solve
#: (see ``same_optimum``): lower is tighter, ``None`` is no limit.
TIGHTENABLE = ("max_moves", "arr_tolerance", "workload_tolerance")


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
    """One variant: what was changed, and what came out."""

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
    #: For a switched-off rule: the variant's score of the base plan (the first term of
    #: ``price``), to carry the base's gap onto the variant's scale.
    base_plan_score: float | None = None
    #: True when the row is the base plan, without a solve: the variant only tightens rules that
    #: the base plan already keeps, so the base's optimum is the variant's (see ``sensitivity``).
    from_base: bool = False

    @property
    def absolute_gap(self) -> float | None:
        """The plan's absolute gap (objective units; ``None``: no plan or no bound)."""
        return plan_gap(self.plan)

    def kpi(self, name: str) -> float | None:
        if name == "objective":
            return self.base_score
        if self.plan.after is None:
            return None
        value = self.plan.after.kpis.get(name)
        return None if value is None else float(value)


@dataclass(frozen=True)
class TornadoRow:
    """One input of a tornado table: its smallest and largest change of the KPI vs the base.

    ``within_gap``: no run of this input moves the base objective by more than the gaps
    involved (:mod:`scenarios.gaps`), so its changes are not shown to come from the input: the
    base could have returned the same plan. ``uncertainty`` is that objective effect's
    uncertainty (objective units), ``gap`` the largest relative gap of the runs and the base.
    ``rank`` (the objective's tornado only): ``1 +`` the inputs whose effect is provably larger;
    ``None`` within the gap. The other KPIs have no uncertainty in their own units, so their
    rows are ordered by swing, real ones first, without ranks.
    """

    input: str
    low: float
    high: float
    uncertainty: float | None
    gap: float | None
    within_gap: bool
    rank: int | None = None

    @property
    def swing(self) -> float:
        return max(abs(self.low), abs(self.high))

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "low": self.low,
            "high": self.high,
            "uncertainty": self.uncertainty,
            "gap": self.gap,
            "within_gap": self.within_gap,
            "rank": self.rank,
        }


def _largest(values: list[float | None]) -> float | None:
    """The largest value; ``None`` when any is unknown (or there is none)."""
    known = [v for v in values if v is not None]
    return max(known) if known and len(known) == len(values) else None


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

    def effect(self, run: Run) -> Difference | None:
        """The run's plan scored with the base objective, minus the base plan's objective, and
        its uncertainty: the base's absolute gap plus the run's own (on the same normalizers;
        for a weight variant, its gap in its own weights). ``None`` without both plans."""
        base = Bounded.of_plan(self.base)
        if base is None or run.base_score is None or not run.plan.has_plan:
            return None
        return difference(base, Bounded(run.base_score, run.absolute_gap))

    def price_difference(self, run: Run) -> Difference | None:
        """A rule's price and its uncertainty: the variant's absolute gap plus the base's gap
        carried to the variant's scale (the base's relative gap times the variant's score of
        the base plan). ``None`` without a price."""
        if run.price is None:
            return None
        base_gap = self.base.gap
        if base_gap is None or run.base_plan_score is None or run.absolute_gap is None:
            return Difference(run.price, None)
        return Difference(run.price, run.absolute_gap + base_gap * abs(run.base_plan_score))

    def price_order(self) -> list[tuple[Run, int | None]]:
        """The rule prices, dearest first, each with its rank (``None``: within the gap, last;
        rules whose prices cannot be told apart share a rank)."""
        items = [self.price_difference(r) or Difference(0.0, None) for r in self.prices]
        rank = ranks(items)
        return [(self.prices[i], rank[i]) for i in ranked_order(items)]

    def tornado(self, kpi: str) -> list[TornadoRow]:
        """One row per weight or tolerance input: the smallest and largest change of ``kpi`` vs
        the base; inputs with a real effect first (largest swing first), then those within the
        gap."""
        base = self.base_kpi(kpi)
        if base is None:
            return []
        changes: dict[str, list[float]] = {}
        effects: dict[str, list[Difference]] = {}
        gaps: dict[str, list[float | None]] = {}
        for run in [*self.weights, *self.tolerances]:
            value = run.kpi(kpi)
            if value is None or not run.plan.has_plan:
                continue
            changes.setdefault(run.input, []).append(value - base)
            effects.setdefault(run.input, []).append(
                self.effect(run) or Difference(value - base, None)
            )
            gaps.setdefault(run.input, []).append(run.plan.gap)
        rows: list[TornadoRow] = []
        shown: list[Difference] = []
        for name, deltas in changes.items():
            # What the row's rank rests on: its largest real objective effect, else its largest.
            real = [abs(e) for e in effects[name] if not e.within_gap]
            candidates = real or [abs(e) for e in effects[name]]
            shown.append(max(candidates, key=lambda e: e.value))
            rows.append(
                TornadoRow(
                    name,
                    min(deltas),
                    max(deltas),
                    uncertainty=_largest([e.uncertainty for e in effects[name]]),
                    gap=_largest([*gaps[name], self.base.gap]),
                    within_gap=not real,
                )
            )
        if kpi == "objective":
            rank = ranks(shown)
            return [replace(rows[i], rank=rank[i]) for i in ranked_order(shown)]
        return sorted(rows, key=lambda r: (r.within_gap, -r.swing))

    def frontier_steps(self) -> list[Difference | None]:
        """For each move budget, what it gains over the next smaller budget that has a plan
        (positive: a better objective), with the two gaps; ``None`` for the smallest."""

        def order(run: Run) -> float:
            return float("inf") if run.value is None else float(run.value)

        out: list[Difference | None] = []
        for run in self.frontier:
            mine = Bounded.of_plan(run.plan)
            smaller = [r for r in self.frontier if order(r) < order(run) and r.plan.has_plan]
            if mine is None or not smaller:
                out.append(None)
                continue
            previous = Bounded.of_plan(max(smaller, key=order).plan)
            out.append(None if previous is None else -difference(previous, mine))
        return out

    def frontier_behind_best(self) -> list[Difference | None]:
        """For each move budget, how far its objective is behind the best budget's, with the
        two gaps (within the gap: this budget may already reach the best)."""
        solved = [Bounded.of_plan(r.plan) for r in self.frontier]
        known = [b for b in solved if b is not None]
        if not known:
            return [None] * len(solved)
        best = min(known, key=lambda b: b.value)
        return [
            None if b is None else Difference(0.0, 0.0) if b is best else difference(best, b)
            for b in solved
        ]

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
        def run_dict(r: Run) -> dict[str, Any]:
            return {
                "input": r.input,
                "value": r.value,
                "status": r.plan.status,
                "gap": r.plan.gap,
                "bound": r.plan.bound,
                "absolute_gap": r.absolute_gap,
                "from_base_plan": r.from_base,
                "seconds": r.plan.seconds,
                "objective": r.plan.objective,
                "base_score": r.base_score,
                "changed_accounts": r.changed_accounts,
                "kpis": None if r.plan.after is None else r.plan.after.kpis,
            }

        def with_effect(r: Run) -> dict[str, Any]:
            effect = self.effect(r)
            return {**run_dict(r), "effect": None if effect is None else effect.to_dict()}

        def optional(d: Difference | None) -> dict[str, Any] | None:
            return None if d is None else d.to_dict()

        rank = {id(run): r for run, r in self.price_order()}
        prices = []
        for run in self.prices:
            price = self.price_difference(run)
            prices.append(
                {
                    **run_dict(run),
                    "price": run.price,
                    "uncertainty": None if price is None else price.uncertainty,
                    "within_gap": True if price is None else price.within_gap,
                    "rank": rank[id(run)],
                }
            )
        return {
            "base": {
                "status": self.base.status,
                "objective": self.base.objective,
                "bound": self.base.bound,
                "gap": self.base.gap,
                "absolute_gap": plan_gap(self.base),
                "seconds": self.base.seconds,
                "kpis": None if self.base.after is None else self.base.after.kpis,
            },
            "weights": [with_effect(r) for r in self.weights],
            "tolerances": [with_effect(r) for r in self.tolerances],
            "frontier": [
                {
                    **run_dict(run),
                    "gain_share": share,
                    "gain_over_previous": optional(step),
                    "behind_best": optional(behind),
                }
                for run, (_, share), step, behind in zip(
                    self.frontier,
                    self.frontier_gain_shares(),
                    self.frontier_steps(),
                    self.frontier_behind_best(),
                    strict=True,
                )
            ],
            "prices": prices,
            "stability": [with_effect(r) for r in self.stability],
            "tornado": {kpi: [row.to_dict() for row in self.tornado(kpi)] for kpi in TORNADO_KPIS},
        }


def _with(scenario: Scenario, section: str, changes: dict[str, Any], name: str) -> Scenario:
    data = getattr(scenario, section).model_dump()
    data.update(changes)
    return scenario.replace(**{section: data, "name": name})


def sensitivity_variants(
    scenario: Scenario,
    weight_factors: Sequence[float] = DEFAULT_WEIGHT_FACTORS,
    tolerance_steps: Sequence[float] = DEFAULT_TOLERANCE_STEPS,
    move_budgets: Sequence[int | None] = DEFAULT_MOVE_BUDGETS,
    prices: bool = True,
) -> list[tuple[str, str, Any, Scenario]]:
    """(group, input, value, scenario) for every variant, in the order :func:`sensitivity`
    reports them to ``on_done`` (after the base); each scenario is named for progress lines,
    e.g. ``weight.churn_risk x1.5``."""
    out: list[tuple[str, str, Any, Scenario]] = []
    weights = scenario.objectives.model_dump()
    total = sum(weights.values())
    # Travel moves nothing on a team without in-person accounts and places: not tried there.
    travels = any(a.visits_per_quarter for a in scenario.accounts) and any(
        c.latitude is not None or c.location is not None for c in scenario.csms
    )
    # Nor the soft rules' weight without a soft rule.
    softened = Instance(scenario).book_rules
    has_soft = any(not r.hard for r in softened) or any(
        p.soft for p in scenario.constraints.protect
    )
    for term in TERMS:
        if term == "travel" and not weights[term] and not travels:
            continue
        if term == "soft_rules" and not weights[term] and not has_soft:
            continue
        for factor in weight_factors:
            value = weights[term] * factor if weights[term] > 0 else 0.1 * total
            if weights[term] == 0 and (factor < 1 or any(v[1] == f"weight.{term}" for v in out)):
                continue  # a zero weight cannot go lower, and is tried at 10% once
            label = f"x{factor:g}" if weights[term] > 0 else f"0 -> {value:g}"
            out.append(
                (
                    "weights",
                    f"weight.{term}",
                    value,
                    _with(scenario, "objectives", {term: value}, f"weight.{term} {label}"),
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
                        _with(scenario, "objectives", {term: value}, f"weight.{term} x{factor:g}"),
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
                _with(
                    scenario,
                    "constraints",
                    {"max_moves": budget},
                    f"max_moves {'unlimited' if budget is None else budget}",
                ),
            )
        )
    if prices:
        band = rule.utilization
        for name, switch in rule_switches().items():
            if name == "utilization" and (band is None or band.at_least is band.at_most is None):
                continue  # hours tracked without a band: no rule to price
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
        # Each goal and each override on its own (all of them together are rule.goals,
        # rule.overrides): what one goal, or the leader's decision on one account, costs.
        goals = scenario.constraints.goals
        out += _each_left_out(
            scenario,
            "goals",
            goals,
            [(f"goal.{g.name}", None, f"without goal {g.name}") for g in goals],
        )
        overrides = scenario.constraints.overrides
        out += _each_left_out(
            scenario,
            "overrides",
            overrides,
            [
                (
                    f"override.{o.account}",
                    o.pin or ", ".join(o.forbid),
                    f"without the override on {o.account}",
                )
                for o in overrides
            ],
        )
    return out


def _each_left_out(
    scenario: Scenario,
    key: str,
    items: Sequence[Any],
    labels: Sequence[tuple[str, Any, str]],
) -> list[tuple[str, str, Any, Scenario]]:
    """With more than one item in ``constraints.<key>``, one price variant per item without
    it: (input, value, scenario name) from ``labels``, in the same order."""
    if len(items) <= 1:
        return []
    out = []
    for i, (name, value, title) in enumerate(labels):
        rest = [item.model_dump(mode="json") for k, item in enumerate(items) if k != i]
        out.append(("prices", name, value, _with(scenario, "constraints", {key: rest}, title)))
    return out


def _tighter_or_equal(base: Any, variant: Any) -> bool:
    """Whether a limit ``variant`` allows no more than ``base`` (``None``: no limit)."""
    if variant is None:
        return base is None
    return base is None or variant <= base


def same_optimum(base_scenario: Scenario, variant: Scenario, base: Plan) -> Plan | None:
    """The base plan as the variant's answer, when that is provably its optimum; else ``None``.

    That holds when the base plan is proven optimal, the variant differs from the base only by
    tightening limits of ``TIGHTENABLE`` (a smaller move budget, a narrower tolerance), and the
    base plan keeps the variant's rules with the same score (both scored on the base's scale):
    every plan of the variant is a plan of the base, so none scores better than the base's bound,
    and the base plan is one of them. Its bound and gap hold for the variant unchanged. Whether a
    rule the base plan happens to keep could be dropped is another matter (dropping a rule widens
    the choice), so a relaxed variant is always solved.
    """
    if base.status is not Status.OPTIMAL or not base.has_plan or base.objective is None:
        return None
    before = base_scenario.model_dump(exclude={"name", "constraints"})
    if variant.model_dump(exclude={"name", "constraints"}) != before:
        return None
    old = base_scenario.constraints.model_dump()
    new = variant.constraints.model_dump()
    changed = {k for k in old if old[k] != new[k]}
    if not changed <= set(TIGHTENABLE):
        return None
    if not all(_tighter_or_equal(old[k], new[k]) for k in changed):
        return None
    after = evaluate(Instance(variant, reference=Instance(base_scenario)), base.assignment())
    if not after.feasible or abs(after.objective - base.objective) > 1e-9 * max(
        1.0, abs(base.objective)
    ):
        return None
    return replace(
        base,
        scenario=variant.name,
        message="The base plan: it keeps this variant's tighter rules, so it is this variant's "
        "optimum too (no solve).",
        seconds=0.0,
        after=after,
        constraints=variant.constraints.model_dump(mode="json"),
    )


def sensitivity(
    scenario: Scenario,
    *,
    weight_factors: Sequence[float] = DEFAULT_WEIGHT_FACTORS,
    tolerance_steps: Sequence[float] = DEFAULT_TOLERANCE_STEPS,
    move_budgets: Sequence[int | None] = DEFAULT_MOVE_BUDGETS,
    prices: bool = True,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    **solve_options: Any,
) -> Sensitivity:
    """Solve ``scenario`` and its variants (see the module docstring); ``solve_options`` go to
    :func:`optimizer.solve` for every run (``time_limit_s``, ``backend``).

    ``on_done(index, outcome)`` is called as each run ends: index 0 is the base, index ``i`` the
    variant ``i - 1`` of :func:`sensitivity_variants` (``1 + len(variants)`` calls in all). A
    variant answered by the base plan (:func:`same_optimum`) is reported at once, its outcome's
    ``note`` saying so; the others are solved together in one pool (see ``run_scenarios``),
    warm-started from the base plan.
    """
    base = solve(scenario, **solve_options)
    if on_done:
        on_done(0, Outcome("base", base))
    base_assignment = base.assignment()
    variants = sensitivity_variants(scenario, weight_factors, tolerance_steps, move_budgets, prices)
    plans: dict[int, Plan] = {}
    for i, (group, _name, _value, variant_scenario) in enumerate(variants):
        if group in ("frontier", "tolerances"):
            reused = same_optimum(scenario, variant_scenario, base)
            if reused is not None:
                plans[i] = reused
                if on_done:
                    on_done(i + 1, Outcome(variant_scenario.name, reused, note=FROM_BASE))
    # Rule prices are measured on the relaxed scenario's own scale (its ideal for a freed account
    # is what that account can now reach); every other variant on the base's scale, so that a
    # tolerance change moves the hard window, not the balance preference.
    todo = [i for i in range(len(variants)) if i not in plans]
    start = base_assignment or None
    outcomes = run_scenarios(
        [variants[i][3] for i in todo],
        scheduler=scheduler,
        workers=workers,
        on_done=None if on_done is None else (lambda k, outcome: on_done(todo[k] + 1, outcome)),
        task_options=[{} if variants[i][0] == "prices" else {"score_like": scenario} for i in todo],
        warm_start=start,
        **solve_options,
    )
    for i, outcome in zip(todo, outcomes, strict=True):
        plans[i] = outcome.as_plan()
    result = Sensitivity(base=base)
    scorer = Instance(scenario)
    for i, (group, name, value, variant_scenario) in enumerate(variants):
        plan = plans[i]
        mine = plan.assignment()
        changed = sum(1 for a, c in mine.items() if base_assignment.get(a) != c)
        score = evaluate(scorer, mine).objective if plan.has_plan else None
        run = Run(name, value, plan, changed, score, from_base=i not in todo)
        if group == "prices" and plan.has_plan and base.has_plan:
            run.base_plan_score = evaluate(variant_scenario, base_assignment).objective
            run.price = run.base_plan_score - plan.objective  # type: ignore[operator]
        getattr(result, group).append(run)
    return result
