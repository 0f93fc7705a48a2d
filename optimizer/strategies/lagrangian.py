"""Lagrangian decomposition for very large teams: a bound and a plan without any large LP.

Column generation (:mod:`optimizer.strategies.columns`) needs the linear relaxation of a restricted model,
one row per account. Past a few million eligible pairs even its first relaxation does not solve
in minutes (250,000 accounts: no plan and no bound in 5 minutes). This module works on the
model's structure instead, entirely in numpy:

**Bound.** Every rule that links accounts (each book's ARR and workload total, its account and
high-risk counts, the team's move budget) is priced by a multiplier. At given prices the model
falls apart into one choice per account (its cheapest eligible CSM at those prices) and, per
CSM, a one-variable piecewise-linear problem for each book total (its balance cost and its hard
window). The sum of those minima is a lower bound of the full model's optimum at *any* prices
(the Lagrangian dual; its maximum equals the linear relaxation's value). Prices are improved by
projected subgradient steps (Polyak step towards the best plan's value), with each family of
rules scaled by its limit so that the families move together. Most steps price only each
account's few most promising CSMs (*candidates*); every few steps all pairs are priced, which
gives the valid bound, refreshes the candidates, and never misses a CSM.

**Plan.** From the prices' cheapest choices, a local search over single account moves (each
account among its candidates) minimizes the model's exact objective plus a large penalty for
every broken rule: it first repairs what the cheapest choices break (books over their limits or
under their minimum, moves over the budget), then keeps improving the objective while every rule
holds. The plan is only ever reported if it keeps every rule.

Everything is vectorized over accounts except the sequential application of chosen moves, so
250,000 accounts x 1,000 CSMs runs in a few GiB and minutes (see benchmarks/README.md).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends.base import Progress, ProgressCallback
from ..diagnose import find_conflicts
from ..formulation import full_tops
from ..instance import Instance
from ..recovery import write_plan
from ..rules import (
    ACCOUNTS,
    ARR,
    HIGH_RISK,
    MOVED_ARR,
    MOVES,
    WORKLOAD,
    Quantity,
    active,
    window,
)
from ..scenario import SolverSettings
from ..status import Termination
from .base import Context, Outcome, Strategy
from .local_search import Search
from .pricing import BLOCK, LARGE_PAIRS, Pricing, eligible_pairs

#: Candidate CSMs kept per account (the cheapest at the latest full pricing, plus today's).
CANDIDATES = 12
#: Every step prices every pair, unless that takes longer than FULL_STEP_S seconds: then
#: steps that price only each account's candidates go in between (at most MAX_EVERY - 1).
FULL_STEP_S = 0.25
MAX_EVERY = 10
#: Exact steps without a better bound before the step length is halved.
PATIENCE = 20
#: Above this many accounts, the first steps (until SAMPLE_SHARE of the time) price a random
#: sample of this many accounts, with every book's limits scaled to the sample.
SAMPLE_ACCOUNTS = 20_000
SAMPLE_SHARE = 0.15
#: Deflection of each step by the previous direction, and where between the best bound and
#: the best plan's value each step aims (Polyak step).
MOMENTUM = 0.7
TARGET_SHARE = 0.1
#: Schedule, in shares of the time: prices until FIRST_DUAL_SHARE, a first plan until
#: FIRST_PLAN_SHARE, prices again until DUAL_SHARE, then the last plan.
FIRST_DUAL_SHARE = 0.3
FIRST_PLAN_SHARE = 0.5
DUAL_SHARE = 0.8
#: Most of the time that repairing today's books (the first plan) may take.
TODAY_SHARE = 0.8


#: The quantities whose rules the decomposition prices (book totals, then team totals).
PRICED = (ACCOUNTS, ARR, WORKLOAD, HIGH_RISK)
PRICED_TEAM = (MOVES, MOVED_ARR)


def supports(inst: Instance) -> bool:
    """Whether every hard rule of ``inst`` limits a quantity the decomposition prices (a rule
    registered on another quantity would go unpriced, and its plans unchecked by the search)."""
    return all(
        (r.quantity in PRICED and r.hard) or not active(inst, r) for r in inst.book_rules
    ) and all(r.quantity in PRICED_TEAM for r in inst.team_rules)


#: The per-account arrays of :class:`~optimizer.strategies.columns.Pricing` (a sample slices them).
_PER_ACCOUNT = (
    "arr_share",
    "high_risk",
    "workload",
    "group",
    "current",
    "churn",
    "best_retention",
    "expansion",
    "best_expansion",
    "industry",
    "expertise",
    "continuity",
    "best_preference",
)


@dataclass
class Prices:
    """Multipliers: per CSM on the book totals and counts, and on the team's move budget."""

    arr: np.ndarray
    workload: np.ndarray
    count: np.ndarray  # >= 0
    risk: np.ndarray  # >= 0
    moves: float = 0.0  # >= 0
    moved_arr: float = 0.0  # >= 0

    @staticmethod
    def zero(m: int) -> Prices:
        return Prices(np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m))

    def copy(self) -> Prices:
        return Prices(
            self.arr.copy(),
            self.workload.copy(),
            self.count.copy(),
            self.risk.copy(),
            self.moves,
            self.moved_arr,
        )


@dataclass
class Decomposed:
    """What the decomposition found."""

    #: Each account's CSM (positions), or ``None`` when no plan keeping every rule was found.
    choice: np.ndarray | None
    #: The plan's objective (the model's), or ``None``.
    objective: float | None
    #: The best valid bound of the full model's optimum (``-inf`` if none).
    bound: float
    steps: int
    full_pricings: int
    seconds: float
    log: list[str] = field(default_factory=list)


class Lagrangian:
    """The model of an instance in the decomposed form described in the module docstring."""

    def __init__(self, inst: Instance, pricing: Pricing | None = None) -> None:
        self.inst = inst
        self.pricing = p = pricing if pricing is not None else Pricing(inst)
        n, m = p.n, p.m
        self.n, self.m = n, m
        # Each book total's range from the rules registry, in model units: counts may be
        # unbounded above; ARR and workload cannot exceed what the eligible accounts bring.
        tops = full_tops(inst)
        self.count_lo, self.count_cap = self._window(inst, ACCOUNTS)
        self.risk_lo, self.risk_cap = self._window(inst, HIGH_RISK)
        self.arr_lo, self.arr_hi = self._window(inst, ARR, tops["arr"])
        self.workload_lo, self.workload_hi = self._window(inst, WORKLOAD, tops["workload"])
        weights = inst.weights()
        self.band = inst.scenario.constraints.balance_band
        parts = ["arr", "workload"] if inst.balances_workload else ["arr"]
        self.share = {"arr": 0.0, "workload": 0.0}
        if weights["balance"] > 0:
            for label in parts:
                self.share[label] = (
                    weights["balance"]
                    / len(parts)
                    / inst.total_capacity
                    / inst.balance_reference(label)
                )
        self.target = {
            "arr": np.asarray(inst.arr_target) / inst.arr_unit,
            "workload": np.asarray(inst.workload_target) / inst.workload_unit,
        }
        current = p.current
        has = current >= 0
        self.stay_ok = has.copy()
        self.stay_ok[has] = p.eligible[p.group[has], current[has]]
        max_moves, max_moved_arr = _budget(inst, MOVES), _budget(inst, MOVED_ARR)
        self.moves_floor = (
            None if max_moves is None else float(inst.accounts_with_current - max_moves)
        )
        self.moved_arr_floor = (
            None
            if max_moved_arr is None
            else float(p.arr_share[has].sum() - max_moved_arr / inst.arr_unit)
        )
        self.max_moves = max_moves
        self.max_moved_arr = None if max_moved_arr is None else max_moved_arr / inst.arr_unit
        # Per-CSM workloads differ from the account's own for a few pairs only.
        self.special = {a: per for a, per in enumerate(inst.workload_with) if per}
        self.has_workload = bool(np.any(p.workload)) or bool(self.special)
        self._static: np.ndarray | None = None
        #: For a sample (see :meth:`sample`): each account's position in the instance.
        self._origin: np.ndarray | None = None

    def sample(self, rows: np.ndarray) -> Lagrangian:
        """The same model on the accounts ``rows`` (a share f of them) with every book's and
        the team's limits and targets scaled by f: at any prices its Lagrangian is about f
        times this one's, so its best prices are about this one's, at a fraction of the cost
        per step. (Only the pricing and the steps use it.)"""
        f = len(rows) / self.n
        out = copy.copy(self)
        p = copy.copy(self.pricing)
        for name in _PER_ACCOUNT:
            setattr(p, name, getattr(self.pricing, name)[rows])
        p.n = len(rows)
        out.pricing = p
        out.n = len(rows)
        out._static = self._static_costs()[rows]
        out._origin = rows if self._origin is None else self._origin[rows]
        out.stay_ok = self.stay_ok[rows]
        position = {int(a): i for i, a in enumerate(rows.tolist())}
        out.special = {position[a]: per for a, per in self.special.items() if a in position}
        out.count_lo, out.count_cap = self.count_lo * f, self.count_cap * f
        out.risk_lo, out.risk_cap = self.risk_lo * f, self.risk_cap * f
        out.arr_lo, out.arr_hi = self.arr_lo * f, self.arr_hi * f
        out.workload_lo, out.workload_hi = self.workload_lo * f, self.workload_hi * f
        out.target = {label: value * f for label, value in self.target.items()}
        has = p.current >= 0
        out.max_moves = None if self.max_moves is None else self.max_moves * f
        out.moves_floor = None if out.max_moves is None else float(has.sum()) - out.max_moves
        out.max_moved_arr = None if self.max_moved_arr is None else self.max_moved_arr * f
        out.moved_arr_floor = (
            None if out.max_moved_arr is None else float(p.arr_share[has].sum()) - out.max_moved_arr
        )
        return out

    @staticmethod
    def _window(
        inst: Instance, quantity: Quantity, tops: list[float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each book total's hard range in model units: [0, ``tops`` or unbounded] within every
        book rule on ``quantity`` (optimizer/rules.py)."""
        unit = quantity.unit(inst)
        m = len(inst.csms)
        lo = np.zeros(m)
        hi = np.full(m, math.inf) if tops is None else np.asarray(tops, dtype=float)
        for c in range(m):
            low, _, high, _ = window(inst, quantity, c)
            lo[c] = max(lo[c], low / unit)
            hi[c] = min(hi[c], high / unit)
        return lo, hi

    # ------------------------------------------------------------------ pair quantities
    def pair_costs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Objective coefficient of pairs (rows[i], cols[i, k]) (``inf`` where not eligible):
        :meth:`Pricing.costs` for chosen pairs only."""
        p = self.pricing
        r = rows[:, None]
        out = p.churn[r] * (p.best_retention[r] - p.retention[cols])
        out += p.expansion[r] * (p.best_expansion[r] - p.expansion_rate[cols])
        out += p.expertise[r] * ~p.covers[p.industry[r], cols]
        out += np.where(cols == p.current[r], 0.0, p.continuity[r])
        if p.preference_weight:
            preference = self.inst.preference
            best = p.best_preference
            origin = rows if self._origin is None else self._origin[rows]
            for i, (a, where) in enumerate(zip(rows.tolist(), origin.tolist(), strict=True)):
                scores = preference[where]
                out[i] += p.preference_weight * best[a]
                if scores:
                    for k, c in enumerate(cols[i].tolist()):
                        out[i, k] -= p.preference_weight * scores.get(c, 0.0)
        if p.travel_weight:
            origin = rows if self._origin is None else self._origin[rows]
            for i, where in enumerate(origin.tolist()):
                extra = p.travel_extra.get(where)
                if extra is not None:
                    out[i] += p.travel_weight * extra[cols[i]]
        out[~p.eligible[p.group[r], cols]] = math.inf
        return out

    def workload_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Workload share of pairs (rows[i], cols[i, k]) in full-time books."""
        out = np.broadcast_to(self.pricing.workload[rows][:, None], cols.shape).copy()
        if self.special:
            unit = self.inst.workload_unit
            for i, a in enumerate(rows.tolist()):
                per = self.special.get(a)
                if per:
                    for k, c in enumerate(cols[i].tolist()):
                        if c in per:
                            out[i, k] = per[c] / unit
        return out

    def _adjust(self, prices: Prices, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """What the prices add to the cost of pairs (rows[i], cols[i, k])."""
        p = self.pricing
        out = prices.count[cols] + p.arr_share[rows, None] * prices.arr[cols]
        out += p.high_risk[rows, None] * prices.risk[cols]
        if self.has_workload and np.any(prices.workload):
            out += self.workload_of(rows, cols) * prices.workload[cols]
        if prices.moves or prices.moved_arr:
            stay = (cols == p.current[rows, None]) & self.stay_ok[rows, None]
            out -= stay * (prices.moves + prices.moved_arr * p.arr_share[rows, None])
        return out

    def _continuous(self, prices: Prices) -> tuple[float, np.ndarray, np.ndarray]:
        """The per-CSM part: each book total where its balance cost minus its price is least."""
        total = 0.0
        best = []
        for label, price, lo, hi in (
            ("arr", prices.arr, self.arr_lo, self.arr_hi),
            ("workload", prices.workload, self.workload_lo, self.workload_hi),
        ):
            if label == "workload" and not self.has_workload:
                best.append(np.zeros(self.m))
                continue
            target = self.target[label]
            edges = np.stack(
                [
                    lo,
                    hi,
                    np.clip((1 - self.band) * target, lo, hi),
                    np.clip((1 + self.band) * target, lo, hi),
                ]
            )
            value = self.balance(label, edges) - price[None, :] * edges
            k = np.argmin(value, axis=0)
            cols = np.arange(self.m)
            total += float(value[k, cols].sum())
            best.append(edges[k, cols])
        return total, best[0], best[1]

    def balance(self, label: str, load: np.ndarray) -> np.ndarray:
        """The balance term of book totals ``load`` (per CSM, broadcast over leading axes)."""
        share = self.share[label]
        if not share:
            return np.zeros_like(load)
        target = self.target[label]
        over = np.maximum(load - (1 + self.band) * target, 0.0)
        under = np.maximum((1 - self.band) * target - load, 0.0)
        return share * (over + under)

    def constant(self, prices: Prices) -> float:
        """The prices times the limits they relax: a count's upper limit at a positive price,
        its lower limit at a negative one (finite limits only)."""
        out = -float(_at_limit(prices.count, self.count_lo, self.count_cap).sum())
        out -= float(_at_limit(prices.risk, self.risk_lo, self.risk_cap).sum())
        if self.moves_floor is not None:
            out += prices.moves * self.moves_floor
        if self.moved_arr_floor is not None:
            out += prices.moved_arr * self.moved_arr_floor
        return out

    # ------------------------------------------------------------------ the dual
    def _static_costs(self) -> np.ndarray:
        """Every pair's objective coefficient (``inf`` where not eligible), computed once:
        n x m floats (2 GB at 250,000 x 1,000), which makes each full pricing a few passes
        over memory."""
        if self._static is None:
            out = np.empty((self.n, self.m))
            for lo in range(0, self.n, BLOCK):
                hi = min(lo + BLOCK, self.n)
                out[lo:hi] = self.pricing.costs(lo, hi)
            self._static = out
        return self._static

    def _full_adjust(self, prices: Prices, lo: int, hi: int) -> np.ndarray:
        """:meth:`_adjust` for every CSM of accounts lo..hi-1, as one small matrix product."""
        p = self.pricing
        features = np.column_stack(
            [np.ones(hi - lo), p.arr_share[lo:hi], p.high_risk[lo:hi], p.workload[lo:hi]]
        )
        out = features @ np.vstack([prices.count, prices.arr, prices.risk, prices.workload])
        if self.special and np.any(prices.workload):
            unit = self.inst.workload_unit
            for a in range(lo, hi):
                per = self.special.get(a)
                if per:
                    for c, units in per.items():
                        out[a - lo, c] += (units / unit - p.workload[a]) * prices.workload[c]
        if prices.moves or prices.moved_arr:
            stay = np.flatnonzero(self.stay_ok[lo:hi])
            out[stay, p.current[lo + stay]] -= (
                prices.moves + prices.moved_arr * p.arr_share[lo + stay]
            )
        return out

    def price_all(
        self, prices: Prices, keep: int = CANDIDATES
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Price every eligible pair: the (valid) bound at ``prices``, each account's cheapest
        CSM, and its ``keep`` cheapest CSMs (today's CSM among them when it may stay; none
        are chosen when ``keep`` is 0, which is much faster)."""
        p = self.pricing
        static = self._static_costs()
        value = 0.0
        choice = np.empty(self.n, dtype=np.int64)
        keep = min(keep, self.m)
        candidates = np.empty((self.n, keep), dtype=np.int64)
        every = np.arange(self.m)
        for lo in range(0, self.n, BLOCK):
            hi = min(lo + BLOCK, self.n)
            rows = np.arange(hi - lo)
            reduced = static[lo:hi] + self._full_adjust(prices, lo, hi)
            best = np.argmin(reduced, axis=1)
            choice[lo:hi] = best
            value += float(reduced[rows, best].sum())
            if keep == 0:
                continue
            if keep < self.m:
                top = np.argpartition(reduced, keep - 1, axis=1)[:, :keep]
            else:
                top = np.broadcast_to(every, reduced.shape).copy()
            # Today's CSM, when eligible, is always a candidate.
            stay = self.stay_ok[lo:hi]
            cur = p.current[lo:hi]
            present = (top == cur[:, None]).any(axis=1)
            fix = stay & ~present
            top[fix, -1] = cur[fix]
            # Ineligible picks (an account with fewer eligible CSMs than ``keep``) repeat the best.
            bad = ~np.isfinite(reduced[rows[:, None], top])
            top[bad] = np.broadcast_to(best[:, None], top.shape)[bad]
            candidates[lo:hi] = top
        continuous, _, _ = self._continuous(prices)
        return value + continuous + self.constant(prices), choice, candidates

    def cheapest(
        self, prices: Prices, candidates: np.ndarray, cand_costs: np.ndarray
    ) -> np.ndarray:
        """Each account's cheapest candidate at ``prices``."""
        rows = np.arange(self.n)
        reduced = cand_costs + self._adjust(prices, rows, candidates)
        return np.asarray(candidates[rows, np.argmin(reduced, axis=1)])

    def totals(self, choice: np.ndarray) -> dict[str, np.ndarray | float]:
        """Each book's totals and the team's stays for a choice of one CSM per account."""
        p = self.pricing
        m = self.m
        rows = np.arange(self.n)
        out: dict[str, np.ndarray | float] = {
            "count": np.bincount(choice, minlength=m).astype(float),
            "arr": np.bincount(choice, weights=p.arr_share, minlength=m),
            "risk": np.bincount(choice, weights=p.high_risk, minlength=m),
        }
        if self.has_workload:
            wl = self.workload_of(rows, choice[:, None])[:, 0]
            out["workload"] = np.bincount(choice, weights=wl, minlength=m)
        else:
            out["workload"] = np.zeros(m)
        stays = self.stay_ok & (choice == p.current)
        out["stays"] = float(stays.sum())
        out["stayed_arr"] = float(p.arr_share[stays].sum())
        return out


def decompose(
    inst: Instance,
    settings: SolverSettings,
    seconds: float,
    *,
    warm: dict[int, int] | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    started: float | None = None,
    best_so_far: dict[str, object] | None = None,
) -> Decomposed:
    """Bound the full model and find a plan within ``seconds`` (module docstring).

    ``best_so_far``, if given, always holds the best plan so far (``"choice"``, ``"objective"``)
    and the best bound (``"bound"``), so a caller interrupted from outside can use them.
    """
    start = clock()
    started = start if started is None else started
    deadline = start + seconds
    lines: list[str] = []
    shared = best_so_far if best_so_far is not None else {}

    def say(text: str) -> None:
        lines.append(text)
        if log is not None:
            log(text)

    def stopped() -> bool:
        return clock() >= deadline or (stop is not None and stop.is_set())

    lag = Lagrangian(inst)
    search = Search(lag)
    prices = Prices.zero(lag.m)
    best_bound, _, candidates = lag.price_all(prices)
    cand_costs = lag.pair_costs(np.arange(lag.n), candidates)
    best_prices = prices.copy()
    shared["bound"] = best_bound
    plan: np.ndarray | None = None
    plan_value: float | None = None

    def report() -> None:
        if progress is not None:
            progress(Progress.of(clock() - started, plan_value, best_bound, "lagrangian"))

    def consider(found: np.ndarray | None, value: float | None) -> None:
        nonlocal plan, plan_value
        if found is None or value is None:
            return
        if plan_value is None or value < plan_value - 1e-12:
            plan, plan_value = found.copy(), value
            shared["choice"], shared["objective"] = plan, plan_value
            report()

    # A plan first: today's books (or the warm start), repaired where they break a rule, so
    # that even a short time limit ends with a plan (250,000 accounts: about 15 s).
    today = _start_choice(lag, warm)
    estimate, broken = search.evaluate(today)
    if broken <= 1e-9:
        consider(today, estimate)
    else:
        until = start + seconds * TODAY_SHARE
        consider(*search.run(today, candidates, until, stop, clock, repair_only=True))
        say(f"today's books repaired: {plan_value}, {clock() - start:.1f} s")
    today_partial = today if search.partial is None else search.partial
    # Before any plan, the Polyak steps aim below today's books' value (which breaks rules
    # perhaps, but is a fair guess of the scale), or twice the bound.
    if not estimate > best_bound + 1e-9:
        estimate = abs(best_bound) * 2 + 1e-3

    def upper() -> float:
        return plan_value if plan_value is not None else estimate

    def improved(bound: float) -> None:
        nonlocal best_bound
        best_bound = bound
        shared["bound"] = best_bound
        report()

    ascent = Ascent(lag, prices, best_bound, (candidates, cand_costs), clock)
    if lag.n > SAMPLE_ACCOUNTS and not stopped():
        # Many accounts: most steps on a sample (with every book's limits scaled to it), whose
        # best prices are about the full model's; then full steps from there.
        rng = np.random.default_rng(settings.seed)
        sample = lag.sample(np.sort(rng.choice(lag.n, SAMPLE_ACCOUNTS, replace=False)))
        share = SAMPLE_ACCOUNTS / lag.n
        first = Ascent(sample, Prices.zero(lag.m), -math.inf, None, clock)
        first.run(start + seconds * SAMPLE_SHARE, lambda: share * upper(), stop)
        ascent.restart(first.best_prices)
        if ascent.best_bound > best_bound:
            improved(ascent.best_bound)
        say(
            f"sample of {SAMPLE_ACCOUNTS:,} accounts: {first.steps} steps; full bound at its "
            f"prices {ascent.best_bound:.6g}, {clock() - start:.1f} s"
        )

    def ascend(until: float) -> None:
        """Subgradient steps on the prices of the full model until ``until``."""
        nonlocal best_prices
        ascent.run(until, upper, stop, on_bound=improved)
        best_prices = ascent.best_prices

    def deal(until: float) -> tuple[np.ndarray, np.ndarray | None]:
        """A plan from the best prices: deal the accounts, repair and improve by search; then
        improve the best plan. Returns the candidates it used and, if the dealt plan was not
        repaired in time, where its repair got to."""
        value, _, fresh = lag.price_all(best_prices)
        if value > best_bound:
            improved(value)
        merged = _merge(fresh, plan)
        dealt = search.greedy(best_prices, merged)
        if log is not None:
            objective, broken = search.evaluate(dealt)
            say(f"dealt at the best prices: {objective:.6g}, broken {broken:.3g}")
        found = search.run(dealt, merged, until, stop)
        say(f"search from them: {found[1]}, {clock() - start:.1f} s")
        if found[0] is None:
            return merged, search.partial
        consider(*found)
        if plan is not None and not stopped():
            consider(*search.run(plan, merged, until, stop))
        return merged, None

    # Prices, then a plan from them; more prices (aiming at the best plan's value), and a last
    # plan from the best prices. If the first dealt plan is not repaired in its time, its
    # repair goes on instead (it ends better than today's books repaired and improved).
    ascend(start + seconds * FIRST_DUAL_SHARE)
    used, unrepaired = candidates, None
    if not stopped():
        used, unrepaired = deal(start + seconds * FIRST_PLAN_SHARE)
        say(f"first plan: bound {best_bound:.6g}, plan {plan_value}, {clock() - start:.1f} s")
    if unrepaired is not None and not stopped():
        consider(*search.run(unrepaired, used, deadline, stop))
    elif not stopped():
        ascend(start + seconds * DUAL_SHARE)
        if not stopped():
            deal(deadline)
    if plan is None and not stopped():
        consider(*search.run(today_partial, used, deadline, stop))
    steps, full_pricings = ascent.steps, ascent.full
    say(
        f"{steps} price steps, {full_pricings} full pricings: bound {best_bound:.6g}, "
        f"plan {plan_value}, {clock() - start:.1f} s"
    )
    return Decomposed(plan, plan_value, best_bound, steps, full_pricings, clock() - start, lines)


def _start_choice(lag: Lagrangian, warm: dict[int, int] | None) -> np.ndarray:
    """Today's CSM (or the warm start's) where eligible, else the account's cheapest CSM."""
    p = lag.pricing
    out = np.where(lag.stay_ok, p.current, -1)
    for a, c in (warm or {}).items():
        if 0 <= c < lag.m and p.eligible[p.group[a], c]:
            out[a] = c
    missing = np.flatnonzero(out < 0)
    if len(missing):
        out[missing] = np.argmin(lag._static_costs()[missing], axis=1)
    return out


def _merge(candidates: np.ndarray, plan: np.ndarray | None) -> np.ndarray:
    """The candidates plus each account's CSM in ``plan`` (so the search can keep it)."""
    if plan is None:
        return candidates
    present = (candidates == plan[:, None]).any(axis=1)
    if present.all():
        return candidates
    return np.hstack([candidates, np.where(present, candidates[:, 0], plan)[:, None]])


def _scales(lag: Lagrangian) -> np.ndarray:
    """Each priced rule's scale (its limit), in the order of :func:`_flat`."""
    finite = np.isfinite(lag.count_cap)
    finite_r = np.isfinite(lag.risk_cap)
    return np.concatenate(
        [
            np.maximum(lag.target["arr"], 1e-9),
            np.maximum(lag.target["workload"], 1e-9),
            np.maximum(np.where(finite, lag.count_cap, np.maximum(lag.count_lo, 1)), 1),
            np.maximum(np.where(finite_r, lag.risk_cap, np.maximum(lag.risk_lo, 1)), 1),
            [max(lag.max_moves or 1.0, 1.0), max(lag.max_moved_arr or 1.0, 1e-9)],
        ]
    )


def _flat(prices: Prices) -> np.ndarray:
    return np.concatenate(
        [
            prices.arr,
            prices.workload,
            prices.count,
            prices.risk,
            [prices.moves, prices.moved_arr],
        ]
    )


def _unflat(lag: Lagrangian, z: np.ndarray) -> Prices:
    m = lag.m
    return Prices(
        z[:m].copy(),
        z[m : 2 * m].copy(),
        z[2 * m : 3 * m].copy(),
        z[3 * m : 4 * m].copy(),
        float(z[4 * m]),
        float(z[4 * m + 1]),
    )


def _gradient(lag: Lagrangian, prices: Prices, choice: np.ndarray) -> np.ndarray:
    """The supergradient of the dual at ``prices`` (``choice`` its cheapest choices), in the
    order of :func:`_flat`; components whose rule is absent are 0."""
    totals = lag.totals(choice)
    _, arr_load, workload_load = lag._continuous(prices)
    g_wl = np.asarray(totals["workload"]) - workload_load
    if not lag.has_workload:
        g_wl = np.zeros(lag.m)
    g_count = _count_gradient(
        np.asarray(totals["count"]), lag.count_lo, lag.count_cap, prices.count
    )
    g_risk = _count_gradient(np.asarray(totals["risk"]), lag.risk_lo, lag.risk_cap, prices.risk)
    g_moves = 0.0 if lag.moves_floor is None else lag.moves_floor - float(totals["stays"])
    g_moved = (
        0.0 if lag.moved_arr_floor is None else lag.moved_arr_floor - float(totals["stayed_arr"])
    )
    return np.concatenate(
        [np.asarray(totals["arr"]) - arr_load, g_wl, g_count, g_risk, [g_moves, g_moved]]
    )


def _step(
    lag: Lagrangian,
    prices: Prices,
    choice: np.ndarray,
    value: float,
    target: float,
    theta: float,
    memory: dict[str, np.ndarray],
) -> Prices | None:
    """One projected, deflected subgradient step: the new prices, or ``None`` when the
    choice keeps every priced rule exactly (the prices cannot move)."""
    scale = memory.get("scale")
    if scale is None:
        scale = memory["scale"] = _scales(lag)
    m = lag.m
    # In scaled units (each rule divided by its limit) the families move together.
    g = _gradient(lag, prices, choice) / scale
    z = _flat(prices) * scale
    # Counts with no lower limit and the move budget: prices >= 0; counts with no upper limit
    # (a minimum only): prices <= 0.
    signed = np.zeros(len(z), dtype=bool)
    signed[2 * m : 3 * m] = lag.count_lo <= 0
    signed[3 * m : 4 * m] = lag.risk_lo <= 0
    signed[4 * m :] = True
    capped = np.zeros(len(z), dtype=bool)
    capped[2 * m : 3 * m] = ~np.isfinite(lag.count_cap) & (lag.count_lo > 0)
    capped[3 * m : 4 * m] = ~np.isfinite(lag.risk_cap) & (lag.risk_lo > 0)
    previous = memory.get("direction")
    d = g if previous is None else g + MOMENTUM * previous
    d = np.where(signed & (z <= 0) & (d < 0), 0.0, d)
    d = np.where(capped & (z >= 0) & (d > 0), 0.0, d)
    norm = float(d @ d)
    if norm <= 1e-18:
        return None
    memory["direction"] = d
    t = theta * max(target - value, 1e-9 * max(1.0, abs(value))) / norm
    z = z + t * d
    z[signed] = np.maximum(z[signed], 0.0)
    z[capped] = np.minimum(z[capped], 0.0)
    return _unflat(lag, z / scale)


def _at_limit(price: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Each count's price times the limit the dual rests it on: the upper limit (if finite)
    for a positive price, the lower one for a negative price."""
    return np.where(price < 0, price * lo, price * np.where(np.isfinite(hi), hi, 0))


def _count_gradient(
    total: np.ndarray, lo: np.ndarray, hi: np.ndarray, price: np.ndarray
) -> np.ndarray:
    """A count's supergradient: its total minus the load the dual chose (the lower limit at a
    negative price, else the upper limit; 0 for a count no rule limits)."""
    load = np.where(price < 0, lo, np.where(np.isfinite(hi), hi, np.maximum(total, lo)))
    return total - load


def _budget(inst: Instance, quantity: Quantity) -> float | None:
    """The tightest budget of the team rules on ``quantity`` (``None``: none)."""
    budgets = [
        b for r in inst.team_rules if r.quantity is quantity and (b := r.budget(inst)) is not None
    ]
    return min(budgets) if budgets else None


class Ascent:
    """Projected, deflected subgradient steps on the prices of one :class:`Lagrangian`."""

    def __init__(
        self,
        lag: Lagrangian,
        prices: Prices,
        bound: float,
        candidates: tuple[np.ndarray, np.ndarray] | None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.lag = lag
        self.clock = clock
        self.prices = prices.copy()
        self.best_prices = prices.copy()
        self.best_bound = bound
        self.theta = 1.0
        self.failed = 0
        self.steps = 0
        self.full = 0
        self.every = 1
        self.memory: dict[str, np.ndarray] = {}
        self.rows = np.arange(lag.n)
        began = clock()
        if candidates is None:
            value, _, fresh = lag.price_all(self.prices)
            candidates = (fresh, lag.pair_costs(self.rows, fresh))
            self.full += 1
            if value > self.best_bound:
                self.best_bound = value
        self.candidates, self.cand_costs = candidates
        # How long a full pricing (without choosing candidates) and a restricted step take.
        began = clock()
        self.value, self.choice, _ = lag.price_all(self.prices, 0)
        self.time_full = clock() - began
        began = clock()
        lag.cheapest(self.prices, self.candidates, self.cand_costs)
        self.time_step = clock() - began

    def restart(self, prices: Prices) -> None:
        """Continue from ``prices`` (priced in full: their bound counts)."""
        self.prices = prices.copy()
        self.value, self.choice, fresh = self.lag.price_all(self.prices)
        self.candidates, self.cand_costs = fresh, self.lag.pair_costs(self.rows, fresh)
        self.full += 1
        self.memory.pop("direction", None)
        if self.value > self.best_bound:
            self.best_bound, self.best_prices = self.value, self.prices.copy()

    def run(
        self,
        until: float,
        upper: Callable[[], float],
        stop: threading.Event | None = None,
        on_bound: Callable[[float], None] | None = None,
        steps: int | None = None,
    ) -> None:
        """Steps until ``until`` (or ``stop``, or ``steps`` more steps); ``upper()`` is the best
        plan's value (or a guess) that the Polyak steps aim below; ``on_bound`` hears of every
        better bound."""
        lag, clock, rows = self.lag, self.clock, self.rows
        last = math.inf if steps is None else self.steps + steps
        while clock() < until and self.steps < last and not (stop is not None and stop.is_set()):
            self.steps += 1
            began = clock()
            if self.steps % self.every == 0:
                # Restricted steps in between need fresh candidates; without them, skip that.
                refresh = self.every > 1
                value, choice, fresh = lag.price_all(self.prices, CANDIDATES if refresh else 0)
                if refresh:
                    self.candidates, self.cand_costs = fresh, lag.pair_costs(rows, fresh)
                self.full += 1
                self.time_full = clock() - began
                if value > self.best_bound + 1e-12 * max(1.0, abs(self.best_bound)):
                    self.best_bound, self.best_prices = value, self.prices.copy()
                    self.failed = 0
                    if on_bound is not None:
                        on_bound(value)
                elif refresh:
                    # The restricted steps since the last full pricing went astray (they only
                    # see each account's candidates): back to the best prices, and shorter
                    # steps when that happens twice in a row.
                    self.failed += 1
                    if self.failed >= 2:
                        self.theta, self.failed = self.theta / 2, 0
                    self.prices = self.best_prices.copy()
                    self.memory.pop("direction", None)
                    value = self.best_bound
                    choice = lag.cheapest(self.prices, self.candidates, self.cand_costs)
                else:
                    # Every step exact: shorter steps, from the best prices, after PATIENCE
                    # steps without a better bound.
                    self.failed += 1
                    if self.failed >= PATIENCE:
                        self.theta, self.failed = self.theta / 2, 0
                        self.prices = self.best_prices.copy()
                        self.memory.pop("direction", None)
                        value, choice, _ = lag.price_all(self.prices, 0)
            else:
                reduced = self.cand_costs + lag._adjust(self.prices, rows, self.candidates)
                k = np.argmin(reduced, axis=1)
                choice = self.candidates[rows, k]
                value = float(reduced[rows, k].sum()) + lag._continuous(self.prices)[0]
                value += lag.constant(self.prices)
                self.time_step = clock() - began
            if self.time_full > FULL_STEP_S and self.time_step:
                # Full pricing is slow (very large teams): restricted steps in between, full
                # pricing about a quarter of the time.
                wanted = math.ceil(3 * self.time_full / self.time_step)
                self.every = min(max(2, wanted), MAX_EVERY)
            target = self.best_bound + TARGET_SHARE * (upper() - self.best_bound)
            if not math.isfinite(target):
                target = abs(value) * 2 + 1e-3
            moved = _step(lag, self.prices, choice, value, target, self.theta, self.memory)
            if moved is None:
                return
            self.prices = moved


class Decomposition(Strategy):
    """Very large teams: the decomposition of this module, no linear program at all. Its
    bound is the full model's; its plans keep every rule (the search repairs before it
    improves)."""

    name = "lagrangian"
    bound_proves = True

    def __init__(self) -> None:
        #: The best plan and bound so far (written by :func:`decompose` as it goes).
        self.best: dict[str, Any] = {}

    def search(self, ctx: Context) -> Outcome:
        inst = ctx.inst
        plan_file = f"{ctx.solution_file}.plan.json" if ctx.recoverable else None

        def tracked(p: Progress) -> None:
            if plan_file is not None and self.best.get("choice") is not None:
                write_plan(inst, self.best["choice"], self.best.get("objective"), plan_file)
            if ctx.progress is not None:
                ctx.progress(p)

        decompose(
            inst,
            ctx.settings,
            max(ctx.left() - ctx.explain_reserve(EXPLAIN_S_PER_ACCOUNT), 0.1),
            warm=ctx.positions(),
            progress=tracked,
            stop=ctx.stop,
            started=ctx.started,
            best_so_far=self.best,
        )
        return self._outcome(ctx, Termination.TIME_LIMIT)

    def interrupted(self, ctx: Context) -> Outcome:
        return self._outcome(ctx, Termination.INTERRUPTED)

    def _outcome(self, ctx: Context, termination: Termination) -> Outcome:
        choice = self.best.get("choice")
        bound = self.best.get("bound")
        bound = None if bound is None or not math.isfinite(bound) else float(bound)
        note = (
            "Large-team strategy: Lagrangian decomposition (every pair priced, no linear "
            "program); the bound is the full model's."
        )
        if choice is not None:
            return Outcome(termination, assignment_of(ctx.inst, choice), bound, note=note)
        if termination is Termination.INTERRUPTED:
            text = "Interrupted before any plan keeping every rule was found."
            return Outcome(termination, None, bound, message=text, note=note)
        return _no_plan(ctx, bound, note)


#: Seconds per account kept for scoring and explaining the plan (measured: 6 s at 50,000,
#: 13-15 s at 250,000; a tenth of the limit left 250,000 accounts 7 s past a 60 s limit, and
#: today's books repaired still fit in the rest of a quarter).
EXPLAIN_S_PER_ACCOUNT = 5e-5


def _no_plan(ctx: Context, bound: float | None, note: str) -> Outcome:
    """The search found no plan keeping every rule: whether time ran out or the search gave
    up, and, where the model is small enough, whether the rules conflict."""
    inst = ctx.inst
    if eligible_pairs(inst) <= LARGE_PAIRS:
        # A model the full strategy would build: the conflict check (which builds it) applies.
        diagnosis = find_conflicts(inst, ctx.settings)
        if diagnosis.conflicts and diagnosis.proven:
            return Outcome(Termination.INFEASIBLE, diagnosis=diagnosis, note=note)
    if ctx.left() > 1.0:
        text = (
            "The search stopped without a plan keeping every rule: no move or exchange it tried "
            "repairs the broken rules, which may not all hold together (the full strategy can "
            "diagnose conflicting rules on models it can build)."
        )
        return Outcome(Termination.SEARCH_ENDED, None, bound, message=text, note=note)
    text = "The time limit ended before any plan keeping every rule was found."
    return Outcome(Termination.TIME_LIMIT, None, bound, message=text, note=note)


def assignment_of(inst: Instance, choice: np.ndarray) -> dict[str, str]:
    """Account id -> CSM id for a choice of CSM positions."""
    return {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(choice.tolist())}
