"""The bound over whole books: Dantzig-Wolfe column generation with one column per book.

Every objective term and every hard rule except "each account once" and the team's move
budgets concerns one CSM's book. Writing a plan as one *book* (a set of accounts) per CSM, the
model becomes a master problem over books: each account in exactly one chosen book, the move
budgets over the chosen books, one book per CSM. Its linear relaxation (the *master LP*, over
the books generated so far) is at least as strong as the full model's linear relaxation, and
much stronger when books are small: converged on the bundled 150 x 8 example (by a prototype
that priced every book exactly in every round, about 10 minutes) it closes 95% of the root gap
(0.34556 against the LP relaxation's 0.33580, optimum 0.34607). This is the classical strong
bound of the Generalized Assignment Problem. This module converges on published GAP instances
in seconds, but not yet on that example (benchmarks/README.md, "The bound over whole books").

**Pricing.** At the master's prices (a price per account, per move budget and per CSM) a book
is worth generating when its reduced cost (its objective, minus the prices of its accounts
and of what it keeps, minus its CSM's price) is negative. Each round first searches every book
by local search (adding, dropping and swapping accounts, vectorized in numpy, from the book's
best known columns); only when that finds nothing is each book priced *exactly*, by a small
mixed-integer program of that one book (every book rule and the balance term), whose proven
bound is all the Lagrangian bound needs. A book without a balance term whose limits are whole
numbers of their unit (the Generalized Assignment Problem's agents: one capacity, integer
sizes) is a knapsack: it is priced exactly by dynamic programming in milliseconds, and when
every book is one, every round is exact. With a *mapper* (e.g. a Dask cluster,
``scenarios.executors.dask_mapper``) the books of an exact round are priced at once, one task
per book.

**Master.** The master LP stays in an LP server's process between rounds
(optimizer/strategies/lp_server.py): each round's books are added as columns in place and the
LP re-solved from its last basis (without highspy it is written out and solved anew each round:
the same LP, two to three times slower on published GAP instances).

**Bound.** For any prices, the master LP value plus every book's smallest reduced cost (a lower
bound of it is enough) is a lower bound of the full model's optimum (Lagrangian duality). It is
valid at every round where every book was priced exactly, converged or not, so a deadline always
leaves the best bound found.

**Fixing.** With a plan in hand, the prices of the best bound also remove pairs for good: a pair
whose Lagrangian reduced cost (its book's lowest cost with the account forced in, against the
book's lowest cost) lifts the bound above the plan's value is in no better plan
(:meth:`BookColumns.fixings`, as in the exact GAP method of Posta, Ferland and Michelon).

The rules come from the registry: each book rule's quantity and limits (optimizer/rules.py), the
pair costs and amounts from :class:`~optimizer.strategies.pricing.Pricing` (which mirrors the
model's coefficients). Tests check a book's value against the full model's objective.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends import get_backend
from ..backends.base import SolverBackend
from ..formulation import LinearModel, build_model
from ..instance import Instance
from ..rules import window
from ..scenario import SolverSettings
from .lp_server import LpServer
from .pricing import Pricing

#: A column's reduced cost must be below this (objective units) to be worth adding.
NEGATIVE = -1e-9
#: Local-search moves per book and round, at most.
MAX_MOVES = 200
#: Swap moves considered per step, at most (the accounts outside the book are cut to the
#: cheapest when in x out exceeds it).
MAX_SWAPS = 60_000
#: Columns kept per book from one round's local search (distinct books on its path).
PER_ROUND = 3
#: Cost of an account left out of every chosen book, of a budget unit over, or of a CSM without
#: a book, in the master (only while the generated books cannot yet cover every account).
ARTIFICIAL = 10.0
#: Smoothing of the prices towards the centre (0: the master's prices).
SMOOTHING = 0.8
#: The master is *stalled* when its value fell by less than STALL_GAIN (relative) over the
#: last STALL rounds: an exact round then checks the bound.
STALL = 10
STALL_GAIN = 1e-5
#: The bound has met the master LP's value when within this (relative).
CLOSED = 1e-9
#: A book is priced by dynamic programming (:func:`knapsack`) when its limits, in whole units,
#: span at most this many states, and its accounts times states stay under DP_CELLS.
DP_STATES = 200_000
DP_CELLS = 50_000_000


@dataclass
class Book:
    """One CSM's subproblem: its eligible accounts with their cost and amounts, its limits
    on each quantity and its balance pieces (all in model units)."""

    csm: int
    accounts: np.ndarray  # account positions
    cost: np.ndarray  # objective coefficient of each pair
    amount: np.ndarray  # (quantities, accounts)
    lo: np.ndarray  # per quantity
    hi: np.ndarray
    #: Balance pieces: (quantity row, band low, band high, cost per unit outside the band).
    bands: list[tuple[int, float, float, float]]
    #: Team-row coefficient of each account (its amount when it stays with this CSM).
    team: np.ndarray  # (team rows, accounts)
    #: Per quantity row, a scale for violations (a typical amount).
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))
    #: Per quantity row, its unit (``amount * units`` is the amount in the scenario's units).
    units: np.ndarray = field(default_factory=lambda: np.ones(0))
    #: The book as an integer knapsack, if it is one (see :func:`knapsack`; computed once).
    _knapsack: Knapsack | bool | None = field(default=False, repr=False)

    @property
    def knapsack(self) -> Knapsack | None:
        if self._knapsack is False:
            self._knapsack = knapsack(self)
        return self._knapsack  # type: ignore[return-value]

    def forcing(self, i: int) -> Book:
        """This book with its ``i``-th account always in it: the other accounts, with every
        limit and band moved by that account's amounts (its cost is the caller's to add)."""
        keep = np.arange(len(self.accounts)) != i
        moved = self.amount[:, i]
        return Book(
            self.csm,
            self.accounts[keep],
            self.cost[keep],
            self.amount[:, keep],
            self.lo - moved,
            self.hi - moved,
            [(q, low - moved[q], high - moved[q], slope) for q, low, high, slope in self.bands],
            self.team[:, keep],
            self.scale,
            self.units,
        )

    def totals(self, mask: np.ndarray) -> np.ndarray:
        return self.amount[:, mask].sum(axis=1)

    def penalty(self, totals: np.ndarray) -> np.ndarray:
        """The balance cost of book totals (``totals``: quantities first, any shape after)."""
        out = np.zeros(totals.shape[1:])
        for q, low, high, slope in self.bands:
            t = totals[q]
            out = out + slope * (np.maximum(t - high, 0.0) + np.maximum(low - t, 0.0))
        return out

    def violation(self, totals: np.ndarray) -> np.ndarray:
        lo = self.lo.reshape((-1,) + (1,) * (totals.ndim - 1))
        hi = self.hi.reshape(lo.shape)
        scale = self.scale.reshape(lo.shape)
        over = np.maximum(totals - hi, 0.0) + np.maximum(lo - totals, 0.0)
        return (over / scale).sum(axis=0)

    def value(self, mask: np.ndarray, cost: np.ndarray | None = None) -> float:
        """The book's objective (or, with ``cost``, its cost at those per-account costs)."""
        base = self.cost if cost is None else cost
        return float(base[mask].sum() + self.penalty(self.totals(mask)[:, None])[0])

    def feasible(self, mask: np.ndarray) -> bool:
        return bool(self.violation(self.totals(mask)[:, None])[0] <= 1e-9)


def books_of(inst: Instance, pricing: Pricing | None = None) -> tuple[list[Book], np.ndarray]:
    """Every CSM's :class:`Book`, and the team rows' right-hand sides (model units): the
    master needs ``sum over chosen books of team >= rhs``."""
    pricing = Pricing(inst) if pricing is None else pricing
    n, m = len(inst.accounts), len(inst.csms)
    costs = pricing.costs(0, n)
    quantities = list(pricing.quantities)
    shares = [np.broadcast_to(pricing.share(q, 0, n), (n, m)) for q in quantities]
    weights = inst.weights()
    band = inst.scenario.constraints.balance_band
    parts = [("arr", inst.arr_target, inst.arr_unit)]
    if inst.balances_workload:
        parts.append(("workload", inst.workload_target, inst.workload_unit))
    names = [q.name for q in quantities]
    team_rules = [r for r in inst.team_rules if r.budget(inst) is not None]
    team_amount = [np.asarray(inst.amounts(r.quantity)) / r.quantity.unit(inst) for r in team_rules]
    current = pricing.current
    rhs = np.zeros(len(team_rules))
    for t, rule in enumerate(team_rules):
        unit = rule.quantity.unit(inst)
        movable = float(team_amount[t][current >= 0].sum())
        budget = rule.budget(inst)
        assert budget is not None
        rhs[t] = movable - budget / unit
    books = []
    for c in range(m):
        accounts = np.flatnonzero(np.isfinite(costs[:, c]))
        amount = np.stack([s[accounts, c] for s in shares]) if shares else np.zeros((0, 0))
        lo = np.zeros(len(quantities))
        hi = np.full(len(quantities), math.inf)
        for k, q in enumerate(quantities):
            low, _, high, _ = window(inst, q, c)
            unit = q.unit(inst)
            lo[k], hi[k] = low / unit, high / unit
        bands = []
        if weights["balance"] > 0:
            for label, targets, unit in parts:
                slope = (
                    weights["balance"]
                    / len(parts)
                    / inst.total_capacity
                    / inst.balance_reference(label)
                )
                target = targets[c] / unit
                bands.append((names.index(label), (1 - band) * target, (1 + band) * target, slope))
        team = np.zeros((len(team_rules), len(accounts)))
        stays = current[accounts] == c
        for t in range(len(team_rules)):
            team[t] = np.where(stays, team_amount[t][accounts], 0.0)
        typical = np.array(
            [max(float(np.abs(row).mean()) if row.size else 1.0, 1e-9) for row in amount]
        )
        units = np.array([q.unit(inst) for q in quantities], dtype=float)
        books.append(
            Book(c, accounts, costs[accounts, c], amount, lo, hi, bands, team, typical, units)
        )
    return books, rhs


# ---------------------------------------------------------------------------- knapsack books


@dataclass
class Knapsack:
    """A book whose only rules are limits in whole units and that has no balance term (as in
    the Generalized Assignment Problem: one capacity, integer amounts): each limited quantity's
    amounts and limits in whole steps of that quantity."""

    weights: np.ndarray  # (limited quantities, accounts), integers >= 0
    lo: np.ndarray  # integers >= 0
    hi: np.ndarray  # integers


def knapsack(book: Book) -> Knapsack | None:
    """``book`` as a :class:`Knapsack`, or ``None`` when it has a balance term, an amount that
    is not a whole number of its scenario unit, a negative amount, or too many states."""
    if book.bands:
        return None
    rows, lows, highs = [], [], []
    for q in range(len(book.lo)):
        lo, hi = float(book.lo[q]), float(book.hi[q])
        if lo <= 1e-12 and math.isinf(hi):
            continue
        if math.isinf(hi) or hi < -1e-9:
            return None
        unit = float(book.units[q]) if len(book.units) > q else 1.0
        raw = book.amount[q] * unit
        whole = np.round(raw)
        if np.any(whole < 0) or np.any(np.abs(raw - whole) > 1e-6 * np.maximum(1.0, np.abs(raw))):
            return None
        step = int(np.gcd.reduce(whole.astype(np.int64))) if len(whole) else 1
        step = max(step, 1)
        rows.append(whole.astype(np.int64) // step)
        lows.append(max(math.ceil(lo * unit / step - 1e-9), 0))
        highs.append(math.floor(hi * unit / step + 1e-9))
    if not rows:
        weights = np.zeros((0, len(book.accounts)), dtype=np.int64)
        return Knapsack(weights, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    hi_arr = np.asarray(highs, dtype=np.int64)
    states = float(np.prod(np.maximum(hi_arr, 0) + 1.0))
    if states > DP_STATES or states * len(book.accounts) > DP_CELLS:
        return None
    return Knapsack(np.stack(rows), np.asarray(lows, dtype=np.int64), hi_arr)


def dynamic(knap: Knapsack, cost: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The cheapest book of a knapsack at per-account ``cost``, exactly (dynamic programming
    over the reachable totals of every limited quantity): the book and its cost, or ``None``
    and ``inf`` when no book keeps the limits."""
    k = len(cost)
    if np.any(knap.hi < 0):
        return None, math.inf
    shape = tuple(int(h) + 1 for h in knap.hi)
    best = np.full(shape, math.inf)
    best[(0,) * len(shape)] = 0.0
    took = np.zeros((k, *shape), dtype=bool)
    fits = np.all(knap.weights < np.asarray(shape)[:, None], axis=0)  # not over a limit alone
    weights = knap.weights.T.tolist()
    costs = cost.tolist()
    for i in np.flatnonzero(fits).tolist():
        w = weights[i]
        src = tuple(slice(0, n - v) for n, v in zip(shape, w, strict=True))
        dst = tuple(slice(v, n) for n, v in zip(shape, w, strict=True))
        candidate = best[src] + costs[i]
        better = candidate < best[dst]
        took[i][dst] = better
        best[dst] = np.where(better, candidate, best[dst])
    allowed = best[tuple(slice(int(v), None) for v in knap.lo)]
    if allowed.size == 0 or not np.isfinite(allowed).any():
        return None, math.inf
    flat = int(np.argmin(allowed))
    state = np.asarray(np.unravel_index(flat, allowed.shape)) + knap.lo
    value = float(allowed.flat[flat])
    mask = np.zeros(k, dtype=bool)
    for i in range(k - 1, -1, -1):
        if took[i][tuple(state)]:
            mask[i] = True
            state = state - knap.weights[:, i]
    return mask, value


# ---------------------------------------------------------------------------- pricing


def improve(book: Book, cost: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Local search on one book at per-account ``cost``: from ``mask``, the best single add,
    drop or swap while any improves (first the book's rule violations, then its cost).
    Returns the books visited that keep every rule, the last (best) first."""
    mask = mask.copy()
    amount = book.amount
    totals = book.totals(mask)
    path: list[np.ndarray] = []
    for _ in range(MAX_MOVES):
        inside = np.flatnonzero(mask)
        outside = np.flatnonzero(~mask)
        viol = float(book.violation(totals[:, None])[0])
        here = float(book.penalty(totals[:, None])[0])
        value = float(cost[mask].sum()) + here
        if viol <= 1e-9:
            path.append(mask.copy())
        # Candidate moves: (delta totals, delta cost, in, out)
        deltas = [amount[:, outside], -amount[:, inside]]
        dcost = [cost[outside], -cost[inside]]
        ins = [outside, np.full(len(inside), -1)]
        outs = [np.full(len(outside), -1), inside]
        if len(inside) and len(outside):
            keep = outside
            if len(inside) * len(outside) > MAX_SWAPS:
                room = max(MAX_SWAPS // len(inside), 1)
                keep = outside[np.argsort(cost[outside], kind="stable")[:room]]
            swap_in = np.repeat(keep, len(inside))
            swap_out = np.tile(inside, len(keep))
            deltas.append(amount[:, swap_in] - amount[:, swap_out])
            dcost.append(cost[swap_in] - cost[swap_out])
            ins.append(swap_in)
            outs.append(swap_out)
        delta = np.concatenate(deltas, axis=1)
        new_totals = totals[:, None] + delta
        new_viol = book.violation(new_totals)
        new_value = value - here + np.concatenate(dcost) + book.penalty(new_totals)
        better_viol = new_viol < viol - 1e-9
        same_viol = new_viol <= viol + 1e-9
        gain = np.where(better_viol, -np.inf, np.where(same_viol, new_value - value, np.inf))
        if viol > 1e-9:
            # Repair first: the largest cut of the violation, ties by cost.
            key = np.where(better_viol, new_viol + 1e-6 * new_value, np.inf)
            best = int(np.argmin(key))
            if not np.isfinite(key[best]):
                break
        else:
            best = int(np.argmin(gain))
            if not gain[best] < -1e-12:
                break
        add = np.concatenate(ins)[best]
        drop = np.concatenate(outs)[best]
        if add >= 0:
            mask[add] = True
        if drop >= 0:
            mask[drop] = False
        totals = totals + delta[:, best]
    else:
        if float(book.violation(totals[:, None])[0]) <= 1e-9:
            path.append(mask.copy())
    path.reverse()
    return path


def exact(
    book: Book,
    cost: np.ndarray,
    backend: SolverBackend,
    settings: SolverSettings,
    seconds: float,
    hint: np.ndarray | None = None,
) -> tuple[np.ndarray | None, float]:
    """The cheapest book at per-account ``cost``, by dynamic programming for a knapsack book
    (:func:`knapsack`), else by a small MIP of this one book: the best book found (or ``None``)
    and a proven lower bound of its cost (``-inf`` without one, ``inf`` when no book keeps its
    limits)."""
    knap = book.knapsack
    if knap is not None:
        found, _ = dynamic(knap, cost)
        if found is None:
            return None, math.inf
        return found, book.value(found, cost)
    model = LinearModel()
    k = len(book.accounts)
    for i in range(k):
        model.add_var(f"x{i}", 0.0, 1.0, True)
        model.add_objective(i, float(cost[i]))
    index = list(range(k))
    for q in range(len(book.lo)):
        lo, hi = float(book.lo[q]), float(book.hi[q])
        if lo <= 0.0 and math.isinf(hi):
            continue
        coef = [float(v) for v in book.amount[q]]
        model.add_row(f"limit{q}", ("limit", str(q)), index, coef, lo, hi)
    for q, low, high, slope in book.bands:
        coef = [float(v) for v in book.amount[q]]
        top = float(book.amount[q].sum())
        over = model.add_var(f"over{q}", 0.0, max(top, 0.0), False)
        under = model.add_var(f"under{q}", 0.0, max(low, 0.0), False)
        model.add_row(f"over{q}", None, [*index, over], [*coef, -1.0], ub=high)
        model.add_row(f"under{q}", None, [*index, under], [*coef, 1.0], lb=low)
        model.add_objective(over, slope)
        model.add_objective(under, slope)
    params = settings.model_copy(update={"time_limit_s": max(seconds, 0.05), "gap": 1e-9})
    start = None if hint is None else {i: float(hint[i]) for i in range(k)}
    raw = backend.solve(model, params, hint=start)
    bound = -math.inf if raw.bound is None else raw.bound
    if raw.values is None:
        return None, bound
    mask = np.asarray(raw.values[:k]) > 0.5
    if not book.feasible(mask):
        return None, bound
    return mask, min(bound, book.value(mask, cost))


def price(
    book: Book,
    cost: np.ndarray,
    backend: str,
    settings: SolverSettings,
    seconds: float,
    hint: np.ndarray | None = None,
) -> tuple[np.ndarray | None, float]:
    """:func:`exact` with the backend named (so that a book can be priced in another process
    or on another machine: everything here pickles)."""
    return exact(book, cost, get_backend(backend), settings, seconds, hint)


#: How the books of an exact round are priced elsewhere: ``mapper(function, tasks)`` returns
#: ``[function(*task) for task in tasks]``, in order, computed wherever it likes (on a Dask
#: cluster: ``scenarios.executors.dask_mapper``).
Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], Sequence[Any]]


# ---------------------------------------------------------------------------- the master


@dataclass
class Column:
    book: int  # CSM position
    mask: np.ndarray  # over the book's accounts
    cost: float
    team: np.ndarray  # team-row amounts


@dataclass
class BookBound:
    """What the book-level column generation found."""

    #: The best proven lower bound of the full model's optimum (``None`` if no round priced
    #: every book exactly).
    bound: float | None
    #: The last master LP value (an upper bound of the book-level bound).
    master: float | None
    rounds: int
    exact_rounds: int
    columns: list[Column]
    seconds: float
    converged: bool
    #: Pairs removed by their reduced cost (``book_bound(..., incumbent=...)``), else ``None``.
    fixings: Fixings | None = None


@dataclass
class Fixings:
    """What :meth:`BookColumns.fixings` proved: the pairs (account position, CSM position)
    that no plan scoring below ``incumbent`` uses."""

    incumbent: float
    #: The Lagrangian bound at the prices used (``None``: no bound was proven).
    bound: float | None
    pairs: list[tuple[int, int]]
    #: Pairs looked at (every eligible pair of the books reached).
    checked: int
    #: Whether every book was reached in time.
    complete: bool
    seconds: float = 0.0


class BookColumns:
    """Column generation over whole books (module docstring)."""

    def __init__(
        self,
        inst: Instance,
        backend: SolverBackend,
        settings: SolverSettings,
        pricing: Pricing | None = None,
        *,
        mapper: Mapper | None = None,
        workers: int = 1,
    ) -> None:
        self.inst = inst
        self.backend = backend
        self.settings = settings
        #: Where the books of an exact round are priced (``None``: here, one after the other),
        #: and how many it prices at once.
        self.mapper = mapper
        self.workers = workers
        self.books, self.rhs = books_of(inst, pricing)
        #: Whether every book is a knapsack (priced by dynamic programming in milliseconds).
        self.knapsacks = all(book.knapsack is not None for book in self.books)
        self.columns: list[Column] = []
        self._seen: set[tuple[int, bytes]] = set()
        self.n = len(inst.accounts)
        #: Starting prices and a lower bound of their Lagrangian value (see :meth:`start`).
        self.centre: tuple[np.ndarray, np.ndarray] | None = None
        self.centre_value: float | None = None
        #: The prices of the best proven bound, each book's lowest cost there, and the bound.
        self.proven: tuple[tuple[np.ndarray, np.ndarray], list[float], float] | None = None
        #: The master kept in the LP server's process while :meth:`run` runs (``None``: none).
        self._server: _ServerMaster | None = None

    def start(self, seconds: float) -> float | None:
        """Start from the full model's linear relaxation: its duals are good first prices
        (their Lagrangian value is at least the relaxation's value, which is returned: a
        valid bound already)."""
        built = build_model(self.inst)
        relaxed = self.backend.relax(built.model, self.settings, seconds)
        if relaxed is None:
            return None
        prices = np.zeros(self.n)
        team = np.zeros(len(self.rhs))
        names = [r.name for r in self.inst.team_rules if r.budget(self.inst) is not None]
        for j, row in enumerate(built.model.rows):
            if row.group is None:
                continue
            rule, subject = row.group
            if rule == "assign":
                prices[self.inst.account_index[subject]] = relaxed.duals[j]
            elif subject == "team" and rule in names:
                team[names.index(rule)] = max(relaxed.duals[j], 0.0)
        self.centre = (prices, team)
        self.centre_value = relaxed.objective
        return relaxed.objective

    # ------------------------------------------------------------------ columns
    def add(self, c: int, mask: np.ndarray) -> bool:
        key = (c, np.packbits(mask).tobytes())
        if key in self._seen:
            return False
        book = self.books[c]
        if not book.feasible(mask):
            return False
        self._seen.add(key)
        self.columns.append(
            Column(c, mask.copy(), book.value(mask), book.team[:, mask].sum(axis=1))
        )
        return True

    def add_plan(self, choice: Sequence[int] | np.ndarray) -> None:
        """Each CSM's book in a plan (``choice[a]``: account ``a``'s CSM position)."""
        choice = np.asarray(choice)
        for c, book in enumerate(self.books):
            self.add(c, choice[book.accounts] == c)

    # ------------------------------------------------------------------ the master LP
    def master(self, seconds: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        """Solve the master LP: its value, the account prices, the team prices and the CSM
        prices (``None`` if it did not solve). In the LP server's process while :meth:`run`
        holds one (the master kept between rounds, each round's columns added in place and
        solved from the last basis), else rebuilt and solved from scratch."""
        if self._server is not None:
            return self._server.solve(self.columns, self.books, seconds)
        return self._rebuilt(seconds)

    def _rebuilt(self, seconds: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        """:meth:`master`, the whole master written out and solved from scratch."""
        m = len(self.books)
        model = LinearModel()  # rows: one per account, team rule and book (_column_entries)
        for a in range(self.n):
            model.add_row(f"assign{a}", ("assign", str(a)), [], [], 1.0, 1.0)
        for t, rhs in enumerate(self.rhs):
            model.add_row(f"team{t}", ("team", str(t)), [], [], lb=float(rhs))
        for c in range(m):
            model.add_row(f"book{c}", ("book", str(c)), [], [], 1.0, 1.0)
        teams = len(self.rhs)
        for k, col in enumerate(self.columns):
            var = model.add_var(f"l{k}", 0.0, math.inf, False)
            model.add_objective(var, col.cost if col.cost else 1e-15)
            for j, coef in _column_entries(col, self.books, self.n, teams):
                model.rows[j].index.append(var)
                model.rows[j].coef.append(coef)
        for k, (j, coef) in enumerate(_artificial_entries(self.n, teams, m)):
            var = model.add_var(f"art{k}", 0.0, math.inf, False)
            model.add_objective(var, ARTIFICIAL)
            model.rows[j].index.append(var)
            model.rows[j].coef.append(coef)
        relaxed = self.backend.relax(model, self.settings, seconds)
        if relaxed is None:
            return None
        duals, n = relaxed.duals, self.n
        return relaxed.objective, duals[:n], duals[n : n + teams], duals[n + teams :]

    def reduced(self, c: int, prices: np.ndarray, team: np.ndarray) -> np.ndarray:
        """Book ``c``'s per-account reduced costs at account prices and team prices."""
        book = self.books[c]
        return book.cost - prices[book.accounts] - team @ book.team

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        seconds: float,
        *,
        stop: Callable[[], bool] | None = None,
        target: float | None = None,
    ) -> BookBound:
        """Generate columns until the master LP is priced out exactly, ``seconds`` pass, or
        the bound reaches ``target`` (e.g. a plan's value within the requested gap).

        Prices are smoothed (Wentges): each round prices a point between the master's prices
        and the *centre*, the prices with the best Lagrangian value seen so far (estimated by
        the search, exact after an exact round); a round whose smoothed prices find no book
        that is negative at the master's own prices retries at the master's prices."""
        try:
            self._server = _ServerMaster(self.rhs, self.n, len(self.books), self.settings)
        except Exception:  # no highspy: the master is rebuilt each round (slower, same LP)
            self._server = None
        try:
            return self._run(seconds, stop, target)
        finally:
            if self._server is not None:
                self._server.close()
                self._server = None

    def _run(
        self, seconds: float, stop: Callable[[], bool] | None, target: float | None
    ) -> BookBound:
        """:meth:`run`, with the master wherever :meth:`master` finds it."""
        start = time.perf_counter()
        deadline = start + seconds
        best: float | None = None
        master_value: float | None = None
        rounds = exact_rounds = 0
        converged = False
        starts: dict[int, list[np.ndarray]] = {}
        centre = self.centre
        centre_value = -math.inf if self.centre_value is None else self.centre_value
        best = self.centre_value
        alpha = SMOOTHING
        history: list[float] = []
        while time.perf_counter() < deadline and not (stop is not None and stop()):
            left = deadline - time.perf_counter()
            solved = self.master(max(left, 0.1))
            if solved is None:
                break
            master_value, prices, team, conv = solved
            rounds += 1
            history.append(master_value)
            point = (prices, team)
            if centre is not None and alpha > 0:
                point = (
                    alpha * centre[0] + (1 - alpha) * prices,
                    np.maximum(alpha * centre[1] + (1 - alpha) * team, 0.0),
                )
            if self.knapsacks:
                # Every book priced exactly in milliseconds: each round is an exact round.
                exact_rounds += 1
                lows, added, complete = self._exact(point, (prices, team, conv), starts, deadline)
                if complete:
                    value = self._keep(point, lows)
                    best = value if best is None else max(best, value)
                    if value > centre_value:
                        centre, centre_value = point, value
                    ended = self._ended(best, master_value, target)
                    if ended is not None:
                        converged = ended
                        break
                if added:
                    alpha = SMOOTHING
                    continue
                if alpha > 0:
                    alpha = 0.0
                    continue
                converged = complete
                break
            stalled = len(history) > STALL and history[-1 - STALL] - history[
                -1
            ] <= STALL_GAIN * max(abs(history[-1]), 1e-9)
            if not stalled:
                added, estimate = self._search(point, (prices, team, conv), starts)
                value = self.lagrangian(point, estimate)
                if value > centre_value:
                    centre, centre_value = point, value
                if added:
                    alpha = SMOOTHING
                    continue
                if alpha > 0:
                    alpha = 0.0  # mispriced: search at the master's own prices
                    continue
            # The search finds nothing at the master's prices (or the master stalls): price
            # every book exactly at the centre, which gives a valid bound.
            history.clear()
            exact_rounds += 1
            at = centre if centre is not None else (prices, team)
            lows, added, complete = self._exact(at, (prices, team, conv), starts, deadline)
            if complete:
                value = self._keep(at, lows)
                best = value if best is None else max(best, value)
                centre_value = max(centre_value, value)
                ended = self._ended(best, master_value, target)
                if ended is not None:
                    converged = ended
                    break
            if not added:
                # Nothing negative at the centre: try the master's prices before stopping.
                if centre is not None and at is centre:
                    centre = None
                    centre_value = -math.inf
                    continue
                converged = complete
                break
            alpha = SMOOTHING
        return BookBound(
            best,
            master_value,
            rounds,
            exact_rounds,
            self.columns,
            time.perf_counter() - start,
            converged,
        )

    def _keep(self, point: tuple[np.ndarray, np.ndarray], lows: Sequence[float]) -> float:
        """The bound an exact round proved at ``point`` (each book's lowest cost ``lows``);
        the prices of the best one so far are kept for :meth:`fixings`."""
        value = self.lagrangian(point, lows)
        if self.proven is None or value > self.proven[2]:
            self.proven = (point, list(lows), value)
        return value

    @staticmethod
    def _ended(best: float, master: float, target: float | None) -> bool | None:
        """Whether the bound ``best`` ends the generation: ``False`` when it reached
        ``target``, ``True`` when it meets the master LP's value (no column can lower it any
        more: converged), ``None`` to go on."""
        if target is not None and best >= target:
            return False
        if best >= master - CLOSED * max(1.0, abs(master)):
            return True
        return None

    def fixings(
        self, incumbent: float, seconds: float, *, clock: Callable[[], float] = time.perf_counter
    ) -> Fixings:
        """Pairs that no plan scoring below ``incumbent`` uses, by their Lagrangian reduced cost
        at the prices of the best bound proven (:meth:`run` must have proven one).

        At those prices every plan scores at least the bound ``L = sum of prices + sum over
        books of each book's lowest cost``. A plan that gives account ``a`` to CSM ``c`` scores
        at least ``L - low_c + forced_c(a)``, where ``forced_c(a)`` is a lower bound of book
        ``c``'s lowest cost with ``a`` in it (that book priced exactly with ``a`` forced in:
        dynamic programming for a knapsack book, a small MIP's proven bound otherwise). When
        that exceeds ``incumbent``, the pair cannot be in a better plan and is removed for good;
        an optimal plan keeps every pair it uses unless ``incumbent`` is below the optimum.
        Books not reached within ``seconds`` fix nothing (the pairs found are still valid)."""
        began = clock()
        found = Fixings(incumbent, None, [], 0, True)
        try:
            self._fix(found, began + seconds, clock)
        finally:
            found.seconds = clock() - began
        return found

    def _fix(self, found: Fixings, deadline: float, clock: Callable[[], float]) -> None:
        """:meth:`fixings` until ``deadline``, into ``found``."""
        incumbent = found.incumbent
        if self.proven is None:
            found.complete = False
            return
        point, lows, value = self.proven
        found.bound = value
        above = incumbent + 1e-9 * max(1.0, abs(incumbent))
        for c, book in enumerate(self.books):
            cost = self.reduced(c, *point)
            rest = value - lows[c]
            k = len(book.accounts)
            found.checked += k
            lowest, _ = (None, None) if book.knapsack is None else dynamic(book.knapsack, cost)
            for i in range(k):
                if lowest is not None and lowest[i]:
                    continue  # in the book's cheapest book: forcing it in costs nothing
                left = deadline - clock()
                if left <= 0:
                    found.complete = False
                    return
                sub = book.forcing(i)
                _, forced = exact(
                    sub, np.delete(cost, i), self.backend, self.settings, min(left, 1.0)
                )
                if rest + float(cost[i]) + forced > above:
                    found.pairs.append((int(book.accounts[i]), c))

    def lagrangian(self, point: tuple[np.ndarray, np.ndarray], lows: Sequence[float]) -> float:
        """The Lagrangian value at ``point`` (account prices, team prices) given each book's
        smallest cost at those prices (a lower bound of each makes a lower bound)."""
        prices, team = point
        return float(prices.sum() + team @ self.rhs + sum(lows))

    def _search(
        self,
        point: tuple[np.ndarray, np.ndarray],
        at_master: tuple[np.ndarray, np.ndarray, np.ndarray],
        starts: dict[int, list[np.ndarray]],
    ) -> tuple[int, list[float]]:
        """Local search on every book at ``point``; adds the books negative at the master's
        prices. Returns how many were added and each book's best cost found at ``point``."""
        prices, team, conv = at_master
        added = 0
        estimate = []
        for c, book in enumerate(self.books):
            cost = self.reduced(c, *point)
            here = self.reduced(c, prices, team)
            begin = starts.get(c) or [np.zeros(len(book.accounts), dtype=bool)]
            found: list[np.ndarray] = list(begin[:2])
            for mask in begin[:2]:
                found.extend(improve(book, cost, mask)[:PER_ROUND])
            found = [f for f in found if book.feasible(f)]
            scored = sorted(found, key=lambda f: book.value(f, cost))
            starts[c] = scored[:2] or begin
            estimate.append(book.value(scored[0], cost) if scored else math.inf)
            for mask in scored[:PER_ROUND]:
                if book.value(mask, here) - conv[c] < NEGATIVE and self.add(c, mask):
                    added += 1
        return added, estimate

    def _exact(
        self,
        point: tuple[np.ndarray, np.ndarray],
        at_master: tuple[np.ndarray, np.ndarray, np.ndarray],
        starts: dict[int, list[np.ndarray]],
        deadline: float,
    ) -> tuple[list[float], int, bool]:
        """Every book priced exactly at ``point``: each book's proven lowest cost, how many
        books (negative at the master's prices) were added, and whether every book was priced."""
        prices, team, conv = at_master
        lows: list[float] = []
        added = 0
        priced: list[tuple[np.ndarray | None, float]] = []

        def task(c: int) -> tuple[np.ndarray, np.ndarray | None]:
            """Book ``c``'s costs at ``point`` and its best known book as a hint."""
            known = starts.get(c)
            return self.reduced(c, *point), (known[0] if known else None)

        if self.mapper is not None and not self.knapsacks:
            # Every book at once, on the mapper's workers (each with its share of the time).
            left = deadline - time.perf_counter()
            if left <= 0:
                return lows, added, False
            share = max(left / math.ceil(len(self.books) / max(self.workers, 1)), 0.05)
            tasks = []
            for c, book in enumerate(self.books):
                cost, hint = task(c)
                tasks.append((book, cost, self.backend.name, self.settings, share, hint))
            priced = list(self.mapper(price, tasks))
        for c, book in enumerate(self.books):
            if c < len(priced):
                mask, low = priced[c]
            else:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return lows, added, False
                cost, hint = task(c)
                share = left / max(len(self.books) - c, 1)
                mask, low = exact(book, cost, self.backend, self.settings, share, hint)
            lows.append(low)
            if mask is None:
                continue
            starts[c] = [mask, *starts.get(c, [])][:2]
            here = self.reduced(c, prices, team)
            if book.value(mask, here) - conv[c] < NEGATIVE and self.add(c, mask):
                added += 1
        return lows, added, all(math.isfinite(v) for v in lows)


def _column_entries(
    col: Column, books: Sequence[Book], n: int, teams: int
) -> list[tuple[int, float]]:
    """A book column's (row, coefficient) entries in the master, whose rows are one per
    account, then one per team rule, then one per book."""
    entries = [(int(a), 1.0) for a in books[col.book].accounts[col.mask]]
    entries += [(n + t, float(col.team[t])) for t in np.flatnonzero(col.team).tolist()]
    entries.append((n + teams + col.book, 1.0))
    return entries


def _artificial_entries(n: int, teams: int, books: int) -> list[tuple[int, float]]:
    """The master's artificial columns, one entry each: an account left out (+1) or covered
    twice (-1), a book row met without a book (a CSM without a column yet), a team row met
    artificially."""
    accounts = [(a, sign) for a in range(n) for sign in (1.0, -1.0)]
    return (
        accounts
        + [(n + teams + c, 1.0) for c in range(books)]
        + [(n + t, 1.0) for t in range(teams)]
    )


class _ServerMaster:
    """The master LP kept in an LP server's process (optimizer/strategies/lp_server.py): rows
    for each account, team rule and book, the artificial columns, then each round's new book
    columns added in place, so that each solve starts from the last basis (rebuilt and solved
    from scratch, the master took three quarters of a round on published GAP instances)."""

    def __init__(self, rhs: np.ndarray, n: int, m: int, settings: SolverSettings) -> None:
        teams = len(rhs)
        self.n, self.teams = n, teams
        #: Costs are sent times this (a power of two bringing the artificial cost near 1).
        self.scale = float(2.0 ** round(-math.log2(ARTIFICIAL)))
        self.server = LpServer(threads=settings.threads or 1, seed=settings.seed)
        self.sent = 0
        try:
            inf = math.inf
            self.server.add_rows(
                [1.0] * n + [float(v) for v in rhs] + [1.0] * m,
                [1.0] * n + [inf] * teams + [1.0] * m,
            )
            artificial = _artificial_entries(n, teams, m)
            count = len(artificial)
            self.server.add_columns(
                np.full(count, ARTIFICIAL * self.scale),
                np.zeros(count),
                np.full(count, inf),
                np.arange(count, dtype=np.int32),
                np.asarray([j for j, _ in artificial], dtype=np.int32),
                np.asarray([coef for _, coef in artificial]),
            )
        except Exception:
            self.server.close()
            raise

    def solve(
        self, columns: Sequence[Column], books: Sequence[Book], seconds: float
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        new = columns[self.sent :]
        if new:
            starts: list[int] = []
            index: list[int] = []
            value: list[float] = []
            for col in new:
                starts.append(len(index))
                for j, coef in _column_entries(col, books, self.n, self.teams):
                    index.append(j)
                    value.append(coef)
            self.server.add_columns(
                np.asarray([col.cost * self.scale for col in new]),
                np.zeros(len(new)),
                np.full(len(new), math.inf),
                np.asarray(starts, dtype=np.int32),
                np.asarray(index, dtype=np.int32),
                np.asarray(value),
            )
            self.sent = len(columns)
        answer = self.server.solve(max(seconds, 0.1))
        if not answer["ok"]:
            return None
        y = np.asarray(answer["y"]) / self.scale
        n, t = self.n, self.teams
        return float(answer["objective"]) / self.scale, y[:n], y[n : n + t], y[n + t :]

    def close(self) -> None:
        self.server.close()


def book_bound(
    inst: Instance,
    backend: SolverBackend,
    settings: SolverSettings,
    seconds: float,
    *,
    plans: Sequence[Mapping[str, str] | None] = (),
    target: float | None = None,
    stop: Callable[[], bool] | None = None,
    incumbent: float | None = None,
    fixing_seconds: float = 0.0,
    mapper: Mapper | None = None,
    workers: int = 1,
) -> BookBound:
    """The book-level bound of ``inst`` within ``seconds``, seeded with the books of
    ``plans`` (account id -> CSM id). With ``incumbent`` (a plan's objective), then up to
    ``fixing_seconds`` more to find the pairs no better plan uses (:meth:`BookColumns.fixings`).
    With ``mapper``, the exact rounds price ``workers`` books at a time through it."""
    started = time.perf_counter()
    generator = BookColumns(inst, backend, settings, mapper=mapper, workers=workers)
    generator.start(seconds / 4)
    seconds -= time.perf_counter() - started
    for plan in plans:
        if plan is None:
            continue
        choice = [inst.csm_index.get(plan.get(a.id, ""), -1) for a in inst.accounts]
        generator.add_plan(choice)
    found = generator.run(seconds, stop=stop, target=target)
    if incumbent is not None:
        found.fixings = generator.fixings(incumbent, fixing_seconds)
    return found
