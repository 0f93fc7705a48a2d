"""Column generation for large teams: a restricted model, and a bound of the full one.

On 20,000 accounts x 100 CSMs the full model has two million assignment variables: building it
takes longer than a useful time limit and HiGHS has no bound after minutes. Most pairs can never
matter (an account is not worth sending to most of a thousand CSMs), but which ones do depends on
the rules: pruning to each account's ten cheapest CSMs made a ±15% ARR balance infeasible. So
the pairs are chosen by the linear relaxation itself:

1. Start each account with its current CSM, the warm start's CSM, its few cheapest eligible
   CSMs and a few random ones (the *columns*). Where the decomposition prices every rule of the
   scenario (:func:`~optimizer.strategies.lagrangian.supports`), a short Lagrangian ascent first
   prices the rules that link accounts, and each account also starts with its cheapest CSMs at
   those prices: cheapest at price zero ignores the books' limits, so when today's books are far
   from balanced the first relaxations would otherwise spend rounds discovering where the
   accounts must go. On 20,000 x 100 with today's books at up to 2.8 x target and half-time
   CSMs, the relaxation converged in about 47 s instead of 92 s; on the generator's balanced
   books in the same time as without (35 s; 2 loaded cores). The ascent's bound is valid too
   and is kept.
2. Solve the linear relaxation of the model restricted to those columns, with every CSM and team
   rule made elastic (a violation costs far more than any plan), so that it always solves.
3. *Price* every eligible pair of the full model with the relaxation's duals, in vectorized
   blocks: a pair whose reduced cost is negative could improve the relaxation, so the most
   negative few per account join the columns. Repeat until none prices out or the time share
   ends.
4. The duals also give a **bound of the full model** (the Lagrangian bound: every CSM and team
   rule priced by its dual, each account free to take its cheapest eligible CSM at those prices),
   valid at every round whatever the columns; the best one is kept.

The restricted model (the same :func:`~optimizer.formulation.build_model`, every rule and term,
only fewer ``x`` variables) is then solved as a MIP from the warm start; its plans are plans of
the full model, and the plan reports the full model's bound, never the restricted one's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..backends import get_backend
from ..formulation import LOADED, AssignmentModel, build_model
from ..instance import Instance
from ..recovery import write_columns
from ..scenario import SolverSettings
from ..status import Termination
from .base import Context, Outcome, Strategy
from .full import ModelSearch
from .lagrangian import Ascent, Lagrangian, Prices, supports
from .lp_server import LpServer
from .pricing import BLOCK, Pricing, priced
from .rounding import repair_point, round_point

#: Most of the time limit that column generation may take (the rest solves its restricted model),
#: and how far a restarted round whose time is predicted may go past it.
COLUMN_SHARE = 0.6
COLUMN_STRETCH = 0.75
#: Share of the time left after column generation for rounding its relaxation into a plan.
ROUND_SHARE = 0.2

#: Cheapest eligible CSMs each account starts with (beside its current and warm-start CSM).
INITIAL_COLUMNS = 3
#: Random eligible CSMs each account also starts with, so the first relaxation can balance books.
RANDOM_COLUMNS = 2
#: Most columns one account gains per pricing round.
NEW_COLUMNS = 2
#: Cost of one full-time book of violation of an elastic rule in the relaxation.
ELASTIC_PENALTY = 10.0
#: The backend that solves the relaxations when the LP server is not available.
LP_BACKEND = "highs"
#: Seconds per account kept for scoring and explaining the plan after the search (measured at
#: 20,000 x 100: 6.1-6.3 s, with 4,000 or 15,000 accounts moved).
EXPLAIN_S_PER_ACCOUNT = 2e-4
#: The Lagrangian ascent that seeds the columns: its steps (at most SEED_SHARE of column
#: generation's time), and the cheapest CSMs at its prices each account starts with.
SEED_STEPS = 100
SEED_SHARE = 0.2
SEED_COLUMNS = 4


@dataclass
class Columns:
    """The outcome of column generation."""

    built: AssignmentModel
    #: The best Lagrangian bound of the full model (``None`` if no relaxation solved).
    bound: float | None
    rounds: int
    #: The relaxation's value on the final columns (with elastic rules: an upper limit of the
    #: full relaxation when no rule is violated).
    relaxation: float | None
    converged: bool
    seconds: float
    log: list[str] = field(default_factory=list)
    #: The last relaxation's value of each assignment variable of ``built`` (0 for columns
    #: added after it), or ``None``.
    point: list[float] | None = None
    #: Which solved the relaxations: "highs" (the LP server, warm-started) or "mathopt".
    route: str = "highs"


@dataclass
class Duals:
    """The duals of the rows a pair (a, c) takes part in: per book quantity and CSM (the book
    total's definition row for ARR and workload, else the sum over the rules on it), per team
    rule (a pair that keeps today's CSM counts in its stays), and per account."""

    book: dict[str, np.ndarray]
    team: dict[str, float]
    assign: np.ndarray

    def reduced(self, pricing: Pricing, costs: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Reduced costs without the account's own (assign) dual: the Lagrangian prices."""
        out = costs.copy()
        for quantity in pricing.quantities:
            dual = self.book.get(quantity.name)
            if dual is None or not np.any(dual):
                continue
            out -= pricing.share(quantity, lo, hi) * dual[None, :]
        if any(self.team.values()):
            has = np.flatnonzero(pricing.current[lo:hi] >= 0)
            stay = np.zeros(len(has))
            for rule in pricing.inst.team_rules:
                stay = stay + pricing.amount[rule.quantity.name][lo + has] * self.team[rule.name]
            out[has, pricing.current[lo + has]] -= stay
        return out


def generate_columns(
    inst: Instance,
    settings: SolverSettings,
    seconds: float,
    *,
    stretch: float | None = None,
    warm: dict[int, int] | None = None,
    log: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Columns:
    """Choose the columns of a restricted model and bound the full model (module docstring)
    within ``seconds``; a restarted round whose predicted time no longer fits may still run
    if it ends within ``stretch`` seconds (default: ``seconds``)."""
    start = clock()
    deadline = start + seconds
    # Past the share, a round starts only when its time is predicted to fit (restarted
    # rounds, which shrink) and a started restarted round may finish: the bound a converging
    # round adds is worth more than the seconds the search of the restricted model loses
    # (robustness worst shape at 20,000 x 100: rounds of 18-23, 8-9, 4-5 and 2 s against a
    # 32 s share; stopping after the second left the bound 0.8% short, and a second round
    # cut by the share left only the first round's bound, 17% short).
    hard = start + max(seconds, stretch if stretch is not None else seconds)
    pricing = Pricing(inst)
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        if log is not None:
            log(text)

    columns: list[set[int]] = [set() for _ in inst.accounts]
    for lo in range(0, pricing.n, BLOCK):
        hi = min(lo + BLOCK, pricing.n)
        costs = pricing.costs(lo, hi)
        k = min(INITIAL_COLUMNS, pricing.m)
        cheapest = np.argpartition(costs, k - 1, axis=1)[:, :k] if k < pricing.m else None
        for a in range(lo, hi):
            row = costs[a - lo]
            picks = range(pricing.m) if cheapest is None else cheapest[a - lo]
            columns[a].update(int(c) for c in picks if math.isfinite(row[c]))
    rng = np.random.default_rng(settings.seed)
    for a, cs in enumerate(inst.eligible):
        if len(cs) > len(columns[a]):
            for k in rng.choice(len(cs), size=min(RANDOM_COLUMNS, len(cs)), replace=False):
                columns[a].add(cs[int(k)])
    for a, c in enumerate(inst.current):
        if c is not None and c not in inst.exclusions[a]:
            columns[a].add(c)
    for a, c in (warm or {}).items():
        if 0 <= c < pricing.m and c not in inst.exclusions[a]:
            columns[a].add(c)
    seeded = None
    if supports(inst) and SEED_STEPS > 0:
        seeded = _seed(inst, pricing, start + seconds * SEED_SHARE, clock)
    if seeded is not None:
        picks, seed_bound = seeded
        for a, row in enumerate(picks.tolist()):
            columns[a].update(c for c in row if c not in inst.exclusions[a])
        say(f"Lagrangian prices: bound {seed_bound:.6g}, {clock() - start:.1f} s")

    best_bound: float | None = None
    relaxation: float | None = None
    converged = False
    rounds = 0
    built = build_model(inst, columns=[sorted(cs) for cs in columns])
    master: _Master
    start_plan = {a: c for a, c in enumerate(inst.current) if c is not None}
    start_plan.update(warm or {})
    try:
        master = _HighsMaster(built, settings, start_plan)
    except Exception:  # no highspy: re-solve through MathOpt each round (slower, same result)
        master = _MathOptMaster(built, settings)
    point: dict[tuple[int, int], float] = {}
    round_seconds = 0.0
    last_took = 0.0
    # A first bound before any relaxation: every rule at price 0, each account with its
    # cheapest eligible CSM (weak, but valid even if no relaxation solves in time).
    free_bound = lagrangian_bound(built, np.zeros(len(built.model.rows)), pricing)
    if math.isfinite(free_bound):
        best_bound = free_bound
    if seeded is not None and math.isfinite(seeded[1]):
        best_bound = seeded[1] if best_bound is None else max(best_bound, seeded[1])
    try:
        while clock() + round_seconds < (hard if round_seconds > 0 else deadline):
            began = clock()
            rounds += 1
            # A restarted round may finish within the stretch: cut short, it would leave
            # only the bound of the round before (the first round's is weak).
            solved = master.solve((hard if rounds > 1 else deadline) - clock())
            if solved is None:
                say(f"round {rounds}: the relaxation did not solve ({master.status})")
                break
            relaxation, y, point = solved
            base = master.built
            duals = duals_of(base, y)
            # Price every eligible pair; keep the Lagrangian bound and the improving columns.
            bound = pair_free_bound(base, y)
            new: list[tuple[int, int, float]] = []
            tolerance = 1e-9 * max(1.0, abs(relaxation))
            for lo in range(0, pricing.n, BLOCK):
                hi = min(lo + BLOCK, pricing.n)
                costs = pricing.costs(lo, hi)
                reduced = duals.reduced(pricing, costs, lo, hi)
                bound += float(np.min(reduced, axis=1).sum())
                gain = reduced - duals.assign[lo:hi, None]
                for r in np.flatnonzero(np.min(gain, axis=1) < -tolerance):
                    a = lo + int(r)
                    order = np.argsort(gain[r])[: NEW_COLUMNS + len(columns[a])]
                    picked = [
                        int(c) for c in order if gain[r, c] < -tolerance and c not in columns[a]
                    ][:NEW_COLUMNS]
                    columns[a].update(picked)
                    new.extend((a, c, float(costs[r, c])) for c in picked)
            if math.isfinite(bound):
                best_bound = bound if best_bound is None else max(best_bound, bound)
            say(
                f"round {rounds}: relaxation {relaxation:.6g}, full-model bound {bound:.6g}, "
                f"{sum(map(len, columns))} columns (+{len(new)}), {clock() - start:.1f} s"
            )
            if not new or relaxation - bound <= 1e-7 * max(1.0, abs(relaxation)):
                # No column prices out, or the bound meets the relaxation: the restricted
                # relaxation is the full one (what still prices out is degeneracy).
                converged = True
                break
            master.add(new)
            took = clock() - began
            round_seconds = took
            if isinstance(master, _HighsMaster):
                if rounds == 1:
                    # The first relaxation starts from scratch; later ones restart from the
                    # last basis and take a fraction of it (20,000 x 100 with skewed books: 20
                    # s, then 9, 5 and 2 s), so the first does not say whether a second fits.
                    round_seconds = 0.0
                elif last_took > 0:
                    # Restarted rounds shrink about geometrically as fewer columns price out:
                    # expect the next to shrink as this one did (never to grow). Assuming it
                    # takes as long as this one skipped the round that converges (the worst
                    # robustness shape at 20,000 x 100: rounds of 18.5, 8.0, 4.0 and 1.7 s,
                    # stopped after the second with the bound 0.8% short).
                    round_seconds = took * min(1.0, took / last_took)
            last_took = took
    finally:
        master.close()
    built = build_model(inst, columns=[sorted(cs) for cs in columns])
    lp_point = None
    if point:
        lp_point = [0.0] * len(built.model.variables)
        for pair, var in built.x.items():
            lp_point[var] = point.get(pair, 0.0)
    route = "highs" if isinstance(master, _HighsMaster) else "mathopt"
    return Columns(
        built, best_bound, rounds, relaxation, converged, clock() - start, lines, lp_point, route
    )


def _seed(
    inst: Instance, pricing: Pricing, until: float, clock: Callable[[], float]
) -> tuple[np.ndarray, float]:
    """Each account's :data:`SEED_COLUMNS` cheapest CSMs at prices from :data:`SEED_STEPS`
    steps of the Lagrangian ascent (optimizer/strategies/lagrangian.py; fewer if ``until``
    comes first), and the bound at those prices."""
    lag = Lagrangian(inst, pricing)
    # The ascent prices its start (price zero) itself and keeps that bound.
    ascent = Ascent(lag, Prices.zero(lag.m), -math.inf, None, clock)
    # No plan yet for the Polyak steps to aim below: aim above the bound by its own size.
    ascent.run(until, lambda: 2 * abs(ascent.best_bound) + 1e-3, steps=SEED_STEPS)
    bound, _, picks = lag.price_all(ascent.best_prices, SEED_COLUMNS)
    return picks, max(bound, ascent.best_bound)


class _Master:
    """The elastic restricted relaxation across rounds."""

    #: The model whose rows the duals belong to (its rows and continuous variables are those of
    #: every round; only pairs are added).
    built: AssignmentModel
    #: How the last solve ended, in the solver's words.
    status: str = ""

    def solve(
        self, seconds: float
    ) -> tuple[float, np.ndarray, dict[tuple[int, int], float]] | None:
        """Value, row duals (in ``built``'s row order) and the pairs' values, or ``None``."""
        raise NotImplementedError

    def add(self, pairs: list[tuple[int, int, float]]) -> None:
        """Add pairs (account, CSM, objective coefficient)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the master holds."""


class _MathOptMaster(_Master):
    """Rebuilds the restricted model and solves it from scratch each round."""

    def __init__(self, built: AssignmentModel, settings: SolverSettings) -> None:
        self.built = built
        self.settings = settings
        self.columns = built.columns()

    def solve(
        self, seconds: float
    ) -> tuple[float, np.ndarray, dict[tuple[int, int], float]] | None:
        backend = get_backend(LP_BACKEND)
        solved = backend.relax(self.built.model, self.settings, seconds, elastic=ELASTIC_PENALTY)
        if solved is None:
            self.status = "not solved in time"
            return None
        values = solved.values
        point = {pair: values[v] for pair, v in self.built.x.items() if values[v] > 1e-9}
        return solved.objective, solved.duals, point

    def add(self, pairs: list[tuple[int, int, float]]) -> None:
        for a, c, _ in pairs:
            self.columns[a].append(c)
        self.built = build_model(self.built.instance, columns=self.columns)


class _HighsMaster(_Master):
    """Keeps the relaxation in a HiGHS process (optimizer/strategies/lp_server.py) and adds columns in
    place, so each round starts from the last basis."""

    def __init__(
        self,
        built: AssignmentModel,
        settings: SolverSettings,
        start: dict[int, int] | None = None,
    ) -> None:
        self.built = built
        model = built.model
        inst = built.instance
        self.scale = model.objective_scale()
        self.position = {row.name: j for j, row in enumerate(model.rows)}
        self.server = LpServer(threads=settings.threads or 1, seed=settings.seed)
        try:
            self.server.add_rows([r.lb for r in model.rows], [r.ub for r in model.rows])
            entries: list[list[tuple[int, float]]] = [[] for _ in model.variables]
            for j, row in enumerate(model.rows):
                for i, coef in zip(row.index, row.coef, strict=True):
                    entries[i].append((j, coef))
            cost = [model.objective.get(i, 0.0) * self.scale for i in range(len(entries))]
            lb = [v.lb for v in model.variables]
            ub = [v.ub for v in model.variables]
            for j, sign in model.elastic_slacks():
                entries.append([(j, sign)])
                cost.append(ELASTIC_PENALTY * self.scale)
                lb.append(0.0)
                ub.append(math.inf)
            self._send_columns(cost, lb, ub, entries)
            if start is not None:
                self.server.set_basis(*_start_basis(built, start, len(entries)))
        except Exception:
            self.server.close()
            raise
        self.pairs: list[tuple[int, int]] = [(-1, -1)] * len(entries)
        for pair, var in built.x.items():
            self.pairs[var] = pair
        self.inst = inst

    def _send_columns(
        self,
        cost: list[float],
        lb: list[float],
        ub: list[float],
        entries: list[list[tuple[int, float]]],
    ) -> None:
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        for column in entries:
            starts.append(len(index))
            for j, coef in column:
                index.append(j)
                value.append(coef)
        self.server.add_columns(
            np.asarray(cost),
            np.asarray(lb),
            np.asarray(ub),
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value),
        )

    def column(self, a: int, c: int) -> list[tuple[int, float]]:
        """The rows of pair (a, c) and its coefficients, as :func:`build_model` writes them."""
        inst = self.inst
        csm = inst.csms[c].id
        out = [(self.position[f"assign[{inst.accounts[a].id}]"], 1.0)]

        def put(name: str, coef: float) -> None:
            j = self.position.get(name)
            if j is not None:
                out.append((j, coef))

        for quantity in LOADED:
            amount = inst.pair_amount(quantity, a, c) / quantity.unit(inst)
            put(f"{quantity.name}_load[{csm}]", amount)
        for rule in inst.book_rules:
            if not rule.quantity.loaded:
                amount = inst.pair_amount(rule.quantity, a, c) / rule.quantity.unit(inst)
                if amount:
                    put(f"{rule.name}[{csm}]", amount)
        if inst.current[a] == c:
            for team in inst.team_rules:
                amount = inst.amounts(team.quantity)[a] / team.quantity.unit(inst)
                put(team.name, amount)
        return sorted(out)

    def add(self, pairs: list[tuple[int, int, float]]) -> None:
        self._send_columns(
            [cost * self.scale for _, _, cost in pairs],
            [0.0] * len(pairs),
            [1.0] * len(pairs),
            [self.column(a, c) for a, c, _ in pairs],
        )
        self.pairs.extend((a, c) for a, c, _ in pairs)

    def solve(
        self, seconds: float
    ) -> tuple[float, np.ndarray, dict[tuple[int, int], float]] | None:
        answer = self.server.solve(seconds)
        self.status = f"{answer.get('status')}, {answer.get('iterations')} iterations"
        if not answer["ok"]:
            return None
        x = answer["x"]
        point = {
            self.pairs[k]: float(x[k])
            for k in np.flatnonzero(x > 1e-9)
            if k < len(self.pairs) and self.pairs[k][0] >= 0
        }
        return float(answer["objective"]) / self.scale, answer["y"] / self.scale, point

    def close(self) -> None:
        self.server.close()


def _start_basis(
    built: AssignmentModel, start: dict[int, int], n_columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """A starting basis from a plan (HiGHS statuses: 0 at lower bound, 1 basic): each account's
    variable for its CSM in ``start`` (or its first pair) basic in its assign row, each book
    total basic in its definition row, every other row's slack basic, everything else at 0."""
    model = built.model
    columns = np.zeros(n_columns, dtype=np.int8)
    rows = np.ones(len(model.rows), dtype=np.int8)
    chosen: dict[int, int] = {}
    for (a, c), var in built.x.items():
        if a not in chosen or start.get(a) == c:
            chosen[a] = var
    for var in chosen.values():
        columns[var] = 1
    for j, row in enumerate(model.rows):
        name = row.name
        if row.group is not None and row.group[0] == "assign":
            rows[j] = 0
        elif row.group is None and (
            name.startswith("arr_load[") or name.startswith("workload_load[")
        ):
            rows[j] = 0
            columns[row.index[-1]] = 1  # the load variable (last in its definition row)
    return columns, rows


def duals_of(built: AssignmentModel, y: np.ndarray) -> Duals:
    """The duals of the rules a pair takes part in, from ``y`` (one per row of ``built``).

    ``y`` is first made sign-consistent in place: a dual that asks for a bound its row does not
    have (numerical noise) becomes 0, so that any ``y`` gives a valid bound.
    """
    model = built.model
    inst = built.instance
    for j, row in enumerate(model.rows):
        if (y[j] > 0 and math.isinf(row.lb)) or (y[j] < 0 and math.isinf(row.ub)):
            y[j] = 0.0
    position = {row.name: j for j, row in enumerate(model.rows)}

    def per_csm(labels: list[str]) -> np.ndarray:
        return np.asarray(
            [
                sum(
                    float(y[position[name]])
                    for label in labels
                    if (name := f"{label}[{c.id}]") in position
                )
                for c in inst.csms
            ]
        )

    book: dict[str, np.ndarray] = {}
    for quantity in priced(inst):
        if quantity.loaded:
            book[quantity.name] = per_csm([f"{quantity.name}_load"])
        else:
            rules = [r.name for r in inst.book_rules if r.quantity is quantity]
            book[quantity.name] = per_csm(rules)
    team = {
        rule.name: float(y[position[rule.name]]) if rule.name in position else 0.0
        for rule in inst.team_rules
    }
    assign = np.asarray([y[position[f"assign[{a.id}]"]] for a in inst.accounts])
    return Duals(book, team, assign)


def pair_free_bound(built: AssignmentModel, y: np.ndarray) -> float:
    """The part of the Lagrangian bound that does not depend on the pairs: each rule's bound
    times its dual, and each continuous variable at the bound its reduced cost prefers (the
    load variables' bounds are the full model's; see ``build_model(columns=...)``)."""
    model = built.model
    fixed = model.constant
    reduced = dict(model.objective)
    x_vars = set(built.x.values())
    for j, row in enumerate(model.rows):
        if row.group is not None and row.group[0] == "assign":
            continue
        if y[j] > 0:
            fixed += y[j] * row.lb
        elif y[j] < 0:
            fixed += y[j] * row.ub
        if y[j]:
            for i, c in zip(row.index, row.coef, strict=True):
                if i not in x_vars:
                    reduced[i] = reduced.get(i, 0.0) - y[j] * c
    for i, var in enumerate(model.variables):
        if i in x_vars:
            continue
        d = reduced.get(i, 0.0)
        if d > 0:
            fixed += d * var.lb
        elif d < 0:
            fixed += d * var.ub
    return float(fixed)


def lagrangian_bound(built: AssignmentModel, y: np.ndarray, pricing: Pricing) -> float:
    """A lower bound of the full model's optimum from any row prices ``y`` of ``built``: every
    rule priced by its dual, every account free to take its cheapest eligible CSM."""
    duals = duals_of(built, y)
    bound = pair_free_bound(built, y)
    for lo in range(0, pricing.n, BLOCK):
        hi = min(lo + BLOCK, pricing.n)
        bound += float(np.min(duals.reduced(pricing, pricing.costs(lo, hi), lo, hi), axis=1).sum())
    return bound


class ColumnGeneration(Strategy):
    """Large teams: a restricted model whose pairs column generation chose, searched like the
    full model (optimizer/strategies/full.py) from a plan rounded from the relaxation, and the
    full model's bound from the same duals (module docstring)."""

    name = "columns"
    bound_proves = True

    def __init__(self) -> None:
        self.columns: Columns | None = None
        self.model: ModelSearch | None = None

    def search(self, ctx: Context) -> Outcome:
        # Keep time for scoring and explaining the plan after the search, as the decomposition
        # does (20,000 x 100 with a 60 s limit ended at 65-68 s).
        reserve = ctx.explain_reserve(EXPLAIN_S_PER_ACCOUNT)
        ctx = replace(
            ctx,
            settings=ctx.settings.model_copy(
                update={"time_limit_s": max(ctx.settings.time_limit_s - reserve, 0.1)}
            ),
        )
        inst, settings = ctx.inst, ctx.settings
        columns = generate_columns(
            inst,
            settings,
            settings.time_limit_s * COLUMN_SHARE,
            stretch=settings.time_limit_s * COLUMN_STRETCH,
            warm=ctx.positions(),
        )
        self.columns = columns
        built = columns.built
        relaxed = columns.point
        if ctx.backend.dense_books:
            built = build_model(inst, dense=True, columns=built.columns())
            rounded = relaxed = None
        else:
            rounded = _first_plan(ctx, built, columns)
        if ctx.recoverable and ctx.solution_file is not None:
            write_columns(built, f"{ctx.solution_file}.columns")
        self.model = ModelSearch(
            ctx,
            built,
            restricted=True,
            full_bound=columns.bound,
            rounded=rounded,
            relaxed=relaxed,
        )
        outcome = self.model.run()
        outcome.note = self._note()
        return outcome

    def interrupted(self, ctx: Context) -> Outcome:
        if self.model is None:
            bound = None if self.columns is None else self.columns.bound
            return Outcome(Termination.INTERRUPTED, None, bound)
        outcome = self.model.interrupted()
        outcome.note = self._note()
        return outcome

    def _note(self) -> str:
        columns, model = self.columns, self.model
        if columns is None or model is None:
            return ""
        converged = " (converged)" if columns.converged else ""
        return (
            f"Large-team strategy: {len(model.built.x):,} of the eligible pairs chosen by "
            f"{columns.rounds} round(s) of column generation{converged}; the bound is the full "
            "model's."
        )


def _first_plan(ctx: Context, built: AssignmentModel, columns: Columns) -> list[float] | None:
    """A first plan of the restricted model before branch and bound (which may not find one on
    a large model in time): rounded from the relaxation's point, or else today's books
    repaired by re-placing the accounts of the books that break a rule."""
    settings = ctx.settings
    rounded = None
    if columns.point is not None:
        rounded = round_point(built, columns.point, settings, min(ctx.left() * ROUND_SHARE, 10.0))
    if rounded is None:
        today = ctx.today if ctx.today is not None else None
        broken = set() if today is None else {v.subject for v in today.violations}
        rounded = round_point(
            built, repair_point(built, broken), settings, ctx.left() * ROUND_SHARE
        )
    return rounded
