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

from ..backends.base import Progress, ProgressCallback, relative_gap
from ..formulation import full_tops
from ..instance import Instance
from ..rules import ACCOUNTS, ARR, HIGH_RISK, MOVED_ARR, MOVES, WORKLOAD, Quantity, window
from ..scenario import SolverSettings
from . import columns as column_generation
from .columns import BLOCK, Pricing, eligible_pairs

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
#: Penalty per unit of broken rule (rules are measured relative to their limit) in the search.
PENALTY = 100.0
#: Times the repair may widen the candidates, CSMs added per account of a broken book, and
#: most books under a minimum offered to every account.
WIDEN_LIMIT = 6
WIDEN_COLUMNS = 4
WIDEN_UNDER = 16
#: Exchange repair: broken books tried per round, accounts of other books sampled, and the
#: book's smallest, largest and high-risk accounts tried (this many of each).
SWAP_BOOKS = 32
SWAP_OTHERS = 1500
SWAP_TRIES = 8
#: Exchanges for balance made in one go before single moves are looked at again.
SWAP_ROUND = 64
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
    return all(r.quantity in PRICED for r in inst.book_rules) and all(
        r.quantity in PRICED_TEAM for r in inst.team_rules
    )


def use_lagrangian(inst: Instance, settings: SolverSettings) -> bool:
    """Whether this solve uses the decomposition (``solver.strategy``, or the size for auto),
    which it can only where it prices every rule (:func:`supports`)."""
    if not supports(inst):
        return False
    if settings.strategy != "auto":
        return settings.strategy == "lagrangian"
    return eligible_pairs(inst) > column_generation.HUGE_PAIRS


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
class Outcome:
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
) -> Outcome:
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
            progress(
                Progress(
                    elapsed_s=clock() - started,
                    incumbent=plan_value,
                    bound=best_bound,
                    gap=None if plan_value is None else relative_gap(plan_value, best_bound),
                    backend="lagrangian",
                )
            )

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
    return Outcome(plan, plan_value, best_bound, steps, full_pricings, clock() - start, lines)


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
    ) -> None:
        """Steps until ``until`` (or ``stop``); ``upper()`` is the best plan's value (or a guess)
        that the Polyak steps aim below; ``on_bound`` hears of every better bound."""
        lag, clock, rows = self.lag, self.clock, self.rows
        while clock() < until and not (stop is not None and stop.is_set()):
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


@dataclass
class _Books:
    """A plan during the search and what it adds up to: per account its CSM, pair cost,
    workload and whether it moved; per book its totals; the team's moves and moved ARR."""

    choice: np.ndarray
    cost: np.ndarray
    work: np.ndarray
    moved: np.ndarray
    count: np.ndarray
    risk: np.ndarray
    arr: np.ndarray
    wl: np.ndarray
    moves: float
    moved_arr: float


@dataclass
class _Candidates:
    """Each account's candidate CSMs with the pair's cost, workload and whether taking it
    counts as a move."""

    csm: np.ndarray
    cost: np.ndarray
    work: np.ndarray
    moved: np.ndarray

    def extend(self, lag: Lagrangian, has_current: np.ndarray, extra: np.ndarray) -> None:
        rows = np.arange(len(extra))
        self.csm = np.hstack([self.csm, extra])
        self.cost = np.hstack([self.cost, lag.pair_costs(rows, extra)])
        self.work = np.hstack([self.work, lag.workload_of(rows, extra)])
        current = lag.pricing.current
        self.moved = np.hstack([self.moved, has_current[:, None] & (extra != current[:, None])])


class Search:
    """Local search over single account moves: the model's exact objective, and never more
    broken rules (a move is taken when it breaks less, or breaks no more and costs less)."""

    def __init__(self, lag: Lagrangian) -> None:
        self.lag = lag
        p = lag.pricing
        inf = math.inf
        self.count_lo, self.count_cap = lag.count_lo, lag.count_cap
        self.count_scale = np.where(
            np.isfinite(lag.count_cap), np.maximum(lag.count_cap, 1), np.maximum(lag.count_lo, 1)
        )
        self.risk_lo, self.risk_cap = lag.risk_lo, lag.risk_cap
        self.risk_scale = np.where(
            np.isfinite(lag.risk_cap), np.maximum(lag.risk_cap, 1), np.maximum(lag.risk_lo, 1)
        )
        self.arr_scale = np.maximum(lag.target["arr"], 1e-9)
        self.workload_scale = np.maximum(lag.target["workload"], 1e-9)
        band = lag.band
        self.arr_up = (1 + band) * lag.target["arr"]
        self.arr_down = (1 - band) * lag.target["arr"]
        self.workload_up = (1 + band) * lag.target["workload"]
        self.workload_down = (1 - band) * lag.target["workload"]
        self.max_moves = inf if lag.max_moves is None else lag.max_moves
        self.max_moved_arr = inf if lag.max_moved_arr is None else lag.max_moved_arr
        self.moves_scale = max(self.max_moves, 1.0) if math.isfinite(self.max_moves) else 1.0
        self.moved_scale = (
            max(self.max_moved_arr, 1e-9) if math.isfinite(self.max_moved_arr) else 1.0
        )
        self.has_current = p.current >= 0
        #: Where the last :meth:`run` ended (repaired or not), to go on from.
        self.partial: np.ndarray | None = None

    # -------------------------------------------------------------- per-book cost, vectorized
    def _broken(
        self, c: np.ndarray, count: np.ndarray, risk: np.ndarray, arr: np.ndarray, wl: np.ndarray
    ) -> np.ndarray:
        lag = self.lag
        out = np.maximum(count - self.count_cap[c], 0) / self.count_scale[c]
        out += np.maximum(self.count_lo[c] - count, 0) / self.count_scale[c]
        out += np.maximum(risk - self.risk_cap[c], 0) / self.risk_scale[c]
        out += np.maximum(self.risk_lo[c] - risk, 0) / self.risk_scale[c]
        out += (
            np.maximum(arr - lag.arr_hi[c], 0) + np.maximum(lag.arr_lo[c] - arr, 0)
        ) / self.arr_scale[c]
        if lag.has_workload:
            out += (
                np.maximum(wl - lag.workload_hi[c], 0) + np.maximum(lag.workload_lo[c] - wl, 0)
            ) / self.workload_scale[c]
        return out

    def _sides(self, books: _Books) -> tuple[np.ndarray, np.ndarray]:
        """Per book: whether it is over any of its limits, and whether it is under a minimum."""
        lag = self.lag
        over = (books.count > self.count_cap) | (books.risk > self.risk_cap)
        over |= books.arr > lag.arr_hi
        under = books.arr < lag.arr_lo
        under |= (books.count < self.count_lo) | (books.risk < self.risk_lo)
        if lag.has_workload:
            over |= books.wl > lag.workload_hi
            under |= books.wl < lag.workload_lo
        return over, under

    def _balance(self, c: np.ndarray, arr: np.ndarray, wl: np.ndarray) -> np.ndarray:
        lag = self.lag
        out = lag.share["arr"] * (
            np.maximum(arr - self.arr_up[c], 0) + np.maximum(self.arr_down[c] - arr, 0)
        )
        if lag.share["workload"]:
            out += lag.share["workload"] * (
                np.maximum(wl - self.workload_up[c], 0) + np.maximum(self.workload_down[c] - wl, 0)
            )
        return out

    def _team_broken(self, moves: np.ndarray | float, moved: np.ndarray | float) -> np.ndarray:
        return (
            np.maximum(np.asarray(moves) - self.max_moves, 0) / self.moves_scale
            + np.maximum(np.asarray(moved) - self.max_moved_arr, 0) / self.moved_scale
        )

    def evaluate(self, choice: np.ndarray) -> tuple[float, float]:
        """The model's objective of ``choice`` and how much it breaks the rules (0 = none)."""
        lag = self.lag
        rows = np.arange(lag.n)
        costs = lag.pair_costs(rows, choice[:, None])[:, 0]
        t = lag.totals(choice)
        every = np.arange(lag.m)
        count, risk = np.asarray(t["count"]), np.asarray(t["risk"])
        arr, wl = np.asarray(t["arr"]), np.asarray(t["workload"])
        objective = float(costs.sum() + self._balance(every, arr, wl).sum())
        moved = self.has_current & (choice != lag.pricing.current)
        broken = float(self._broken(every, count, risk, arr, wl).sum())
        broken += float(self._team_broken(moved.sum(), lag.pricing.arr_share[moved].sum()))
        if not np.all(np.isfinite(costs)):
            broken = math.inf
        return objective, broken

    def run(
        self,
        choice: np.ndarray,
        candidates: np.ndarray,
        deadline: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.perf_counter,
        repair_only: bool = False,
    ) -> tuple[np.ndarray | None, float | None]:
        """Improve ``choice`` by single moves to candidate CSMs until no move helps or time
        ends (or, with ``repair_only``, as soon as every rule holds); the plan and its
        objective if it keeps every rule, else ``(None, None)``."""
        lag = self.lag
        p = lag.pricing
        rows = np.arange(lag.n)
        current, share, high = p.current, p.arr_share, p.high_risk
        books = self._books(choice.copy())
        # Moving to a candidate changes the move count by +1 (leaving today's CSM), -1 (going
        # back to it) or 0.
        cands = _Candidates(
            candidates,
            lag.pair_costs(rows, candidates),
            lag.workload_of(rows, candidates),
            self.has_current[:, None] & (candidates != current[:, None]),
        )
        tol = 1e-12
        widened = 0
        while clock() < deadline and not (stop is not None and stop.is_set()):
            # Repair first: while a rule is broken, only moves that break less are taken.
            repairing = self.evaluate(books.choice)[1] > 1e-9
            if repair_only and not repairing:
                break
            # While repairing, only an account of a book over a limit, or one with a candidate
            # book under a minimum, can break less by moving (unless the team's move budget is
            # broken): the round scores those accounts only.
            sel = rows
            if repairing and not self._team_broken(books.moves, books.moved_arr) > 0:
                over, under = self._sides(books)
                sel = np.flatnonzero(over[books.choice] | under[cands.csm].any(axis=1))
            local = np.arange(len(sel))
            src = books.choice[sel]
            s_share, s_high, s_work = share[sel], high[sel], books.work[sel]
            count, risk, arr, wl = books.count, books.risk, books.arr, books.wl
            d_src_broken = self._broken(
                src, count[src] - 1, risk[src] - s_high, arr[src] - s_share, wl[src] - s_work
            ) - self._broken(src, count[src], risk[src], arr[src], wl[src])
            d_src_cost = self._balance(src, arr[src] - s_share, wl[src] - s_work) - self._balance(
                src, arr[src], wl[src]
            )
            dst = cands.csm[sel]
            c_work, c_cost = cands.work[sel], cands.cost[sel]
            d_dst_broken = self._broken(
                dst,
                count[dst] + 1,
                risk[dst] + s_high[:, None],
                arr[dst] + s_share[:, None],
                wl[dst] + c_work,
            ) - self._broken(dst, count[dst], risk[dst], arr[dst], wl[dst])
            d_dst_cost = self._balance(
                dst, arr[dst] + s_share[:, None], wl[dst] + c_work
            ) - self._balance(dst, arr[dst], wl[dst])
            d_moves = cands.moved[sel].astype(float) - books.moved[sel][:, None]
            d_team = self._team_broken(
                books.moves + d_moves, books.moved_arr + d_moves * s_share[:, None]
            ) - self._team_broken(books.moves, books.moved_arr)
            broken = d_src_broken[:, None] + d_dst_broken + d_team
            cost = c_cost - books.cost[sel][:, None] + d_src_cost[:, None] + d_dst_cost
            score = cost + PENALTY * broken
            useless_but_team = (dst == src[:, None]) | ~np.isfinite(c_cost)
            useless = useless_but_team | (broken > (-tol if repairing else tol))
            score[useless] = math.inf
            k = np.argmin(score, axis=1)
            best = score[local, k]
            movers = np.flatnonzero(best < -1e-12)
            if len(movers) == 0 and not repairing and self._budget_full(books):
                # The move budget is spent: a move that would help pairs with sending a moved
                # account back to today's CSM where that loses less.
                lone = d_src_broken[:, None] + d_dst_broken
                ops = self._trades(cands, cost, lone, d_moves, books.moved, useless_but_team)
                if ops and self._apply(ops, books, cands, repairing, deadline, clock):
                    continue
            if len(movers) == 0:
                # No single move to a candidate helps. Exchange two accounts between a broken
                # book (or, once every rule holds, a book far from its balance band) and
                # another one: a book at its account limit can only change that way.
                swapped = 0
                while clock() < deadline and not (stop is not None and stop.is_set()):
                    done = self._swap(books, improve=not repairing)
                    swapped += done
                    if not done or (not repairing and swapped >= SWAP_ROUND):
                        break
                if swapped:
                    continue
                if widened >= WIDEN_LIMIT:
                    break
                # Then look further: to every CSM for the accounts of books over a limit, to
                # the books under a minimum (or under their balance band) for every account.
                widened += 1
                extra = self._widen(books, improve=not repairing)
                if extra.shape[1] == 0:
                    break
                cands.extend(lag, self.has_current, extra)
                continue
            movers = movers[np.argsort(best[movers], kind="stable")]
            ops = [
                [(a, pick)]
                for a, pick in zip(sel[movers].tolist(), k[movers].tolist(), strict=True)
            ]
            applied = self._apply(ops, books, cands, repairing, deadline, clock)
            if applied == 0 and not repairing:
                break
        objective, broken_total = self.evaluate(books.choice)
        self.partial = books.choice
        if broken_total > 1e-9:
            return None, None
        return books.choice, objective

    def _books(self, choice: np.ndarray) -> _Books:
        """The search's state for ``choice`` (which it then changes in place)."""
        lag = self.lag
        rows = np.arange(lag.n)
        t = lag.totals(choice)
        moved = self.has_current & (choice != lag.pricing.current)
        return _Books(
            choice=choice,
            cost=lag.pair_costs(rows, choice[:, None])[:, 0],
            work=lag.workload_of(rows, choice[:, None])[:, 0],
            moved=moved,
            count=np.asarray(t["count"]).copy(),
            risk=np.asarray(t["risk"]).copy(),
            arr=np.asarray(t["arr"]).copy(),
            wl=np.asarray(t["workload"]).copy(),
            moves=float(moved.sum()),
            moved_arr=float(lag.pricing.arr_share[moved].sum()),
        )

    def greedy(self, prices: Prices, candidates: np.ndarray) -> np.ndarray:
        """Deal the accounts one by one, most to lose first, each to its cheapest candidate at
        ``prices`` that has room under every upper limit (book limits, move budget); an account
        with no such candidate takes its cheapest one (the search repairs it)."""
        lag = self.lag
        p = lag.pricing
        n = lag.n
        rows = np.arange(n)
        reduced = lag.pair_costs(rows, candidates) + lag._adjust(prices, rows, candidates)
        order = np.argsort(reduced, axis=1, kind="stable")
        ranked = np.take_along_axis(candidates, order, axis=1)
        values = np.take_along_axis(reduced, order, axis=1)
        if values.shape[1] > 1:
            regret = np.where(np.isfinite(values[:, 1]), values[:, 1] - values[:, 0], math.inf)
        else:
            regret = np.full(n, math.inf)
        work = lag.workload_of(rows, ranked)
        current = p.current.tolist()
        has_current = self.has_current.tolist()
        share, high = p.arr_share.tolist(), p.high_risk.tolist()
        count = [0.0] * lag.m
        risk = [0.0] * lag.m
        arr = [0.0] * lag.m
        wl = [0.0] * lag.m
        cap, rcap = lag.count_cap.tolist(), lag.risk_cap.tolist()
        hi, whi = lag.arr_hi.tolist(), lag.workload_hi.tolist()
        moves, moved_arr = 0.0, 0.0
        max_moves, max_moved = self.max_moves, self.max_moved_arr
        out = np.empty(n, dtype=np.int64)
        ranked_l, finite = ranked.tolist(), np.isfinite(values).tolist()
        for a in np.argsort(-regret, kind="stable").tolist():
            s, h = share[a], high[a]
            chosen = -1
            for k, c in enumerate(ranked_l[a]):
                if not finite[a][k]:
                    break
                w = float(work[a, k])
                move = has_current[a] and c != current[a]
                if (
                    count[c] + 1 <= cap[c]
                    and risk[c] + h <= rcap[c]
                    and arr[c] + s <= hi[c] + 1e-12
                    and wl[c] + w <= whi[c] + 1e-12
                    and (not move or (moves + 1 <= max_moves and moved_arr + s <= max_moved))
                ):
                    chosen = k
                    break
            k = max(chosen, 0)
            c = ranked_l[a][k]
            out[a] = c
            count[c] += 1
            risk[c] += h
            arr[c] += s
            wl[c] += float(work[a, k])
            if has_current[a] and c != current[a]:
                moves += 1
                moved_arr += s
        return out

    def _budget_full(self, books: _Books) -> bool:
        return books.moves >= self.max_moves - 0.5 or books.moved_arr >= self.max_moved_arr - 1e-9

    def _trades(
        self,
        cands: _Candidates,
        cost: np.ndarray,
        lone: np.ndarray,
        d_moves: np.ndarray,
        moved_now: np.ndarray,
        useless: np.ndarray,
    ) -> list[list[tuple[int, int]]]:
        """Pairs (send a moved account back, make a new move): the most helpful new moves
        that only the move budget blocks, with the moved accounts that lose least by going
        back (``cost`` and ``lone`` are each candidate's change in cost and in broken book
        rules, without the team's rules)."""
        rows = np.arange(len(cands.csm))
        current = self.lag.pricing.current
        fine = ~useless & (lone <= 1e-12)
        blocked = np.where(fine & (d_moves > 0) & (cost < -1e-12), cost, math.inf)
        k_new = np.argmin(blocked, axis=1)
        gain = blocked[rows, k_new]
        takers = np.flatnonzero(np.isfinite(gain))
        back = fine & moved_now[:, None] & (cands.csm == current[:, None])
        loss = np.where(back, cost, math.inf)
        k_back = np.argmin(loss, axis=1)
        lose = loss[rows, k_back]
        givers = np.flatnonzero(np.isfinite(lose))
        if len(takers) == 0 or len(givers) == 0:
            return []
        takers = takers[np.argsort(gain[takers], kind="stable")]
        givers = givers[np.argsort(lose[givers], kind="stable")]
        ops: list[list[tuple[int, int]]] = []
        used: set[int] = set()
        j = 0
        for a in takers.tolist():
            while j < len(givers) and int(givers[j]) in used | {a}:
                j += 1
            if j >= len(givers) or gain[a] + lose[givers[j]] >= -1e-12:
                break
            r = int(givers[j])
            ops.append([(r, int(k_back[r])), (a, int(k_new[a]))])
            used.update((a, r))
            j += 1
        return ops

    def _swap(self, books: _Books, improve: bool = False) -> int:
        """For each broken book (a few), the exchange of one of its accounts with one account
        of another book that breaks least (then costs least); applied when it breaks less.
        With ``improve`` (every rule holds), the books furthest from their balance band
        instead, and exchanges that break nothing and cost less. Returns the exchanges made."""
        lag = self.lag
        p = lag.pricing
        every = np.arange(lag.m)
        share, high, current = p.arr_share, p.high_risk, p.current
        choice, count, risk, arr, wl = books.choice, books.count, books.risk, books.arr, books.wl
        cost_now, work_now, moved_now = books.cost, books.work, books.moved
        rng = np.random.default_rng(len(choice) + int(books.moves))
        done = 0
        broken_now = self._broken(every, count, risk, arr, wl)
        rank = self._balance(every, arr, wl) if improve else broken_now
        for c in np.argsort(-rank, kind="stable")[:SWAP_BOOKS].tolist():
            if rank[c] <= 1e-12:
                break
            mine = np.flatnonzero(choice == c)
            if len(choice) > 4 * SWAP_OTHERS:
                # Many accounts: a random draw (most of them are in other books) instead of a
                # pass over all of them, which dominated the repair at 250,000 accounts; cut to
                # SWAP_OTHERS below like any other list (not by position: the draw is sorted).
                others = np.unique(rng.integers(0, len(choice), 2 * SWAP_OTHERS))
                others = others[(choice[others] != c) & p.eligible[p.group[others], c]]
            else:
                others = np.flatnonzero((choice != c) & p.eligible[p.group, c])
            if len(mine) == 0 or len(others) == 0:
                continue
            if len(others) > SWAP_OTHERS:
                others = np.sort(rng.choice(others, SWAP_OTHERS, replace=False))
            by_arr = mine[np.argsort(share[mine], kind="stable")]
            tried = np.unique(
                np.concatenate(
                    [by_arr[:SWAP_TRIES], by_arr[-SWAP_TRIES:], mine[high[mine] > 0][:SWAP_TRIES]]
                )
            )
            d = choice[others]
            col_c = np.full((len(others), 1), c)
            w_bc = lag.workload_of(others, col_c)[:, 0]
            pc_bc = lag.pair_costs(others, col_c)[:, 0]
            will_b = (self.has_current[others] & (current[others] != c)).astype(float)
            step_b = will_b - moved_now[others]
            base_d = self._broken(d, count[d], risk[d], arr[d], wl[d])
            balance_d = self._balance(d, arr[d], wl[d])
            balance_c = float(self._balance(np.asarray([c]), arr[[c]], wl[[c]])[0])
            # Every tried account a of book c against every sampled b (rows a, columns b).
            dd = np.broadcast_to(d, (len(tried), len(others)))
            cc = np.full(dd.shape, c)
            sa, ha = share[tried][:, None], high[tried][:, None]
            sb, hb = share[others][None, :], high[others][None, :]
            w_ad = lag.workload_of(tried, dd)
            pc_ad = lag.pair_costs(tried, dd)
            new_c_arr = arr[c] + sb - sa
            new_c_wl = wl[c] + w_bc[None, :] - work_now[tried][:, None]
            new_d_arr = arr[dd] + sa - sb
            new_d_wl = wl[dd] + w_ad - work_now[others][None, :]
            d_broken = (
                self._broken(cc, count[cc], risk[c] + hb - ha, new_c_arr, new_c_wl)
                - broken_now[c]
                + self._broken(dd, count[dd], risk[dd] + ha - hb, new_d_arr, new_d_wl)
                - base_d[None, :]
            )
            step_a = (self.has_current[tried][:, None] & (current[tried][:, None] != dd)).astype(
                float
            ) - moved_now[tried][:, None].astype(float)
            dm = step_a + step_b[None, :]
            dma = step_a * sa + step_b[None, :] * sb
            d_broken += self._team_broken(
                books.moves + dm, books.moved_arr + dma
            ) - self._team_broken(books.moves, books.moved_arr)
            d_cost = (
                pc_ad
                + pc_bc[None, :]
                - cost_now[tried][:, None]
                - cost_now[others][None, :]
                + self._balance(cc, new_c_arr, new_c_wl)
                - balance_c
                + self._balance(dd, new_d_arr, new_d_wl)
                - balance_d[None, :]
            )
            score = d_cost + PENALTY * d_broken
            useless = (d_broken > 1e-12) | (score >= -1e-12) if improve else d_broken >= -1e-12
            score[useless | ~np.isfinite(pc_ad) | ~np.isfinite(pc_bc)[None, :]] = math.inf
            flat = int(np.argmin(score))
            i, j = divmod(flat, len(others))
            best = (
                (float(score[i, j]), int(tried[i]), int(others[j]))
                if math.isfinite(score[i, j])
                else None
            )
            if best is None:
                continue
            _, a, b = best
            db = int(choice[b])
            self._move(books, a, db)
            self._move(books, b, c)
            done += 1
            broken_now = self._broken(every, count, risk, arr, wl)
        return done

    def _move(self, books: _Books, a: int, target: int) -> None:
        """Move account ``a`` to CSM ``target`` in ``books``."""
        lag = self.lag
        p = lag.pricing
        source = int(books.choice[a])
        pair = (np.asarray([a]), np.asarray([[target]]))
        work = float(lag.workload_of(*pair)[0, 0])
        s, h = p.arr_share[a], p.high_risk[a]
        books.count[source] -= 1
        books.count[target] += 1
        books.risk[source] -= h
        books.risk[target] += h
        books.arr[source] -= s
        books.arr[target] += s
        books.wl[source] -= books.work[a]
        books.wl[target] += work
        will = bool(self.has_current[a]) and target != p.current[a]
        dm = float(will) - float(books.moved[a])
        books.moves += dm
        books.moved_arr += dm * s
        books.moved[a] = will
        books.choice[a] = target
        books.cost[a] = float(lag.pair_costs(*pair)[0, 0])
        books.work[a] = work

    def _widen(self, books: _Books, improve: bool = False) -> np.ndarray:
        """Extra candidate columns for the repair: each account of a book over a limit gets
        the CSMs (among all) where it would break least and cost least; every account gets the
        books under a minimum (a few of them). With ``improve`` (every rule holds): every
        account gets the books furthest under their balance band."""
        lag = self.lag
        n, m = lag.n, lag.m
        choice, count, risk, arr, wl = books.choice, books.count, books.risk, books.arr, books.wl
        if improve:
            short = np.maximum(self.arr_down - arr, 0) * lag.share["arr"]
            if lag.share["workload"]:
                short += np.maximum(self.workload_down - wl, 0) * lag.share["workload"]
            short_books = [
                c for c in np.argsort(-short, kind="stable")[:WIDEN_UNDER] if short[c] > 0
            ]
            if not short_books:
                return np.empty((n, 0), dtype=np.int64)
            return np.stack([np.full(n, c) for c in short_books], axis=1).astype(np.int64)
        over = (count > lag.count_cap) | (risk > lag.risk_cap) | (arr > lag.arr_hi + 1e-12)
        under = arr < lag.arr_lo - 1e-12
        under |= (count < lag.count_lo) | (risk < lag.risk_lo)
        if lag.has_workload:
            over |= wl > lag.workload_hi + 1e-12
            under |= wl < lag.workload_lo - 1e-12
        columns = [np.full(n, u) for u in np.flatnonzero(under)[:WIDEN_UNDER]]
        movers = np.flatnonzero(over[choice])
        if len(movers):
            picks = np.repeat(choice[:, None], WIDEN_COLUMNS, axis=1)
            every = np.arange(m)
            high, share = lag.pricing.high_risk, lag.pricing.arr_share
            for lo in range(0, len(movers), BLOCK):
                rows = movers[lo : lo + BLOCK]
                dst = np.broadcast_to(every, (len(rows), m))
                work = self.lag.workload_of(rows, dst)
                score = lag.pair_costs(rows, dst) + PENALTY * (
                    self._broken(
                        dst,
                        count[dst] + 1,
                        risk[dst] + high[rows, None],
                        arr[dst] + share[rows, None],
                        wl[dst] + work,
                    )
                    - self._broken(dst, count[dst], risk[dst], arr[dst], wl[dst])
                )
                score[dst == choice[rows, None]] = math.inf
                k = min(WIDEN_COLUMNS, m)
                top = np.argpartition(score, k - 1, axis=1)[:, :k]
                picks[rows, :k] = top
            columns.extend(picks.T)
        if not columns:
            return np.empty((n, 0), dtype=np.int64)
        return np.stack(columns, axis=1).astype(np.int64)

    def _apply(
        self,
        ops: list[list[tuple[int, int]]],
        books: _Books,
        cands: _Candidates,
        repairing: bool,
        deadline: float,
        clock: Callable[[], float],
    ) -> int:
        """Apply the chosen operations one by one (each one or more moves (account, candidate)
        taken together), each re-priced exactly at the books as they are then (the vectorized
        prices assumed no other move) and undone unless it breaks less, or breaks no more and
        costs less. Returns how many were applied. (The books' totals are plain floats here:
        this loop runs once per move, where numpy's per-element cost would dominate.)"""
        lag = self.lag
        p = lag.pricing
        share = p.arr_share.tolist()
        high = p.high_risk.tolist()
        current = p.current
        has_current = self.has_current
        choice, cost_now, work_now, moved_now = books.choice, books.cost, books.work, books.moved
        candidates, cand_costs, cand_work = cands.csm, cands.cost, cands.work
        applied = 0

        cap, cap_scale = self.count_cap.tolist(), self.count_scale.tolist()
        rcap, rscale = self.risk_cap.tolist(), self.risk_scale.tolist()
        clo, rlo = self.count_lo.tolist(), self.risk_lo.tolist()
        lo, hi, ascale = lag.arr_lo.tolist(), lag.arr_hi.tolist(), self.arr_scale.tolist()
        wlo, whi = lag.workload_lo.tolist(), lag.workload_hi.tolist()
        wscale = self.workload_scale.tolist()
        up, down = self.arr_up.tolist(), self.arr_down.tolist()
        wup, wdown = self.workload_up.tolist(), self.workload_down.tolist()
        ashare, wshare = lag.share["arr"], lag.share["workload"]
        has_workload = lag.has_workload
        max_moves, max_moved = self.max_moves, self.max_moved_arr
        moves_scale, moved_scale = self.moves_scale, self.moved_scale

        def book(c: int, n_: float, r_: float, a_: float, w_: float) -> tuple[float, float]:
            """(broken, balance cost) of book ``c`` with these totals: ``_broken`` and
            ``_balance`` for one book, in plain floats (this loop runs per move)."""
            broken = 0.0
            if n_ > cap[c]:
                broken += (n_ - cap[c]) / cap_scale[c]
            elif n_ < clo[c]:
                broken += (clo[c] - n_) / cap_scale[c]
            if r_ > rcap[c]:
                broken += (r_ - rcap[c]) / rscale[c]
            elif r_ < rlo[c]:
                broken += (rlo[c] - r_) / rscale[c]
            if a_ > hi[c]:
                broken += (a_ - hi[c]) / ascale[c]
            elif a_ < lo[c]:
                broken += (lo[c] - a_) / ascale[c]
            if has_workload:
                if w_ > whi[c]:
                    broken += (w_ - whi[c]) / wscale[c]
                elif w_ < wlo[c]:
                    broken += (wlo[c] - w_) / wscale[c]
            cost = 0.0
            if a_ > up[c]:
                cost += ashare * (a_ - up[c])
            elif a_ < down[c]:
                cost += ashare * (down[c] - a_)
            if wshare:
                if w_ > wup[c]:
                    cost += wshare * (w_ - wup[c])
                elif w_ < wdown[c]:
                    cost += wshare * (wdown[c] - w_)
            return broken, cost

        def team_broken(mv: float, ma: float) -> float:
            out = 0.0
            if mv > max_moves:
                out += (mv - max_moves) / moves_scale
            if ma > max_moved:
                out += (ma - max_moved) / moved_scale
            return out

        counts, risks = books.count.tolist(), books.risk.tolist()
        arrs, wls = books.arr.tolist(), books.wl.tolist()
        state = [books.moves, books.moved_arr]

        def shift(a: int, k: int) -> tuple[float, float, tuple[Any, ...]]:
            """Move account a to its candidate k: the exact change in broken rules and in cost,
            and what undoes it."""
            c = int(choice[a])
            d = int(candidates[a, k])
            s, h, w_old, w_new = share[a], high[a], float(work_now[a]), float(cand_work[a, k])
            nc, rc, ac, wc = counts[c], risks[c], arrs[c], wls[c]
            nd, rd, ad, wd = counts[d], risks[d], arrs[d], wls[d]
            src_before = book(c, nc, rc, ac, wc)
            src_after = book(c, nc - 1, rc - h, ac - s, wc - w_old)
            dst_before = book(d, nd, rd, ad, wd)
            dst_after = book(d, nd + 1, rd + h, ad + s, wd + w_new)
            was = bool(moved_now[a])
            will = bool(has_current[a]) and d != int(current[a])
            dm = float(will) - float(was)
            mv, ma = state
            d_team = team_broken(mv + dm, ma + dm * s) - team_broken(mv, ma)
            d_broken = src_after[0] - src_before[0] + dst_after[0] - dst_before[0] + d_team
            d_cost = (
                float(cand_costs[a, k])
                - float(cost_now[a])
                + src_after[1]
                - src_before[1]
                + dst_after[1]
                - dst_before[1]
            )
            undo = (a, c, d, s, h, w_old, w_new, float(cost_now[a]), was, dm)
            choice[a] = d
            counts[c], counts[d] = nc - 1, nd + 1
            risks[c], risks[d] = rc - h, rd + h
            arrs[c], arrs[d] = ac - s, ad + s
            wls[c], wls[d] = wc - w_old, wd + w_new
            cost_now[a] = cand_costs[a, k]
            work_now[a] = w_new
            moved_now[a] = will
            state[0], state[1] = mv + dm, ma + dm * s
            return d_broken, d_cost, undo

        def unshift(undo: tuple[Any, ...]) -> None:
            a, c, d, s, h, w_old, w_new, cost, was, dm = undo
            choice[a] = c
            counts[c] += 1
            counts[d] -= 1
            risks[c] += h
            risks[d] -= h
            arrs[c] += s
            arrs[d] -= s
            wls[c] += w_old
            wls[d] -= w_new
            cost_now[a] = cost
            work_now[a] = w_old
            moved_now[a] = was
            state[0] -= dm
            state[1] -= dm * s

        for step, op in enumerate(ops):
            if step % 256 == 0 and clock() >= deadline:
                break
            if any(int(candidates[a, k]) == int(choice[a]) for a, k in op):
                continue
            total_broken = total_cost = 0.0
            undos = []
            for a, k in op:
                d_broken, d_cost, undo = shift(a, k)
                total_broken += d_broken
                total_cost += d_cost
                undos.append(undo)
            rejected = total_broken > (-1e-12 if repairing else 1e-12) or (
                total_broken > -1e-12 and total_cost >= -1e-12
            )
            if rejected:
                for undo in reversed(undos):
                    unshift(undo)
                continue
            applied += 1
        books.moves, books.moved_arr = state
        books.count[:], books.risk[:], books.arr[:], books.wl[:] = counts, risks, arrs, wls
        return applied
