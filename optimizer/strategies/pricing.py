"""Every (account, CSM) pair priced at once, in numpy: the objective coefficient of each pair
and its share of each quantity a rule limits, for column generation and the decomposition.

``Pricing.costs(lo, hi)`` equals the objective coefficient that
:func:`~optimizer.formulation.build_model` gives ``x[a, c]`` (tests check it), for accounts in
blocks of :data:`BLOCK`, so that pricing a million pairs is a few passes over memory.
"""

from __future__ import annotations

import math

import numpy as np

from ..instance import Instance
from ..rules import BOOK_QUANTITIES, WORKLOAD, Quantity, quantities

#: Eligible (account, CSM) pairs above which ``solver.strategy = "auto"`` uses columns, and
#: above which it uses the Lagrangian decomposition instead (optimizer/strategies/lagrangian.py).
LARGE_PAIRS = 100_000
HUGE_PAIRS = 5_000_000
#: Accounts priced per vectorized block (block x CSMs matrices of float64).
BLOCK = 2048


def eligible_pairs(inst: Instance) -> int:
    """How many (account, CSM) pairs the rules allow."""
    return sum(len(inst.group_eligible[g]) for g in inst.group)


class Pricing:
    """Vectorized objective coefficients and rule coefficients of every (account, CSM) pair.

    ``costs(lo, hi)`` equals the objective coefficient that :func:`build_model` gives
    ``x[a, c]`` for accounts ``lo..hi-1`` (``inf`` where the pair is not eligible); the rule
    coefficients mirror the rows of :mod:`optimizer.formulation` (tests check both).
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        n, m = len(inst.accounts), len(inst.csms)
        self.n, self.m = n, m
        weights = inst.weights()
        arr = np.asarray(inst.arr, dtype=float)
        self.arr_share = arr / inst.arr_unit
        self.high_risk = np.asarray(inst.high_risk, dtype=float)
        self.workload = np.asarray(inst.workload, dtype=float) / inst.workload_unit
        self.group = np.asarray(inst.group, dtype=np.int64)
        #: The book quantities whose duals price a pair (in the order they are applied), and
        #: each rule quantity's amount per account in model units (team quantities too).
        self.quantities = priced(inst)
        team = [rule.quantity for rule in inst.team_rules]
        self.amount = {
            q.name: np.asarray(inst.amounts(q), dtype=float) / q.unit(inst)
            for q in (*self.quantities, *team)
        }
        eligible = np.zeros((len(inst.group_eligible), m), dtype=bool)
        for g, cs in enumerate(inst.group_eligible):
            eligible[g, cs] = True
        self.eligible = eligible
        self.current = np.asarray([-1 if c is None else c for c in inst.current], dtype=np.int64)

        def norm(value: float) -> float:
            return value if value > 0 else math.inf

        self.churn = weights["churn_risk"] * arr * np.asarray(inst.p_churn) / norm(inst._churn_norm)
        self.best_retention = np.asarray(inst._best_retention)
        self.retention = np.asarray(inst.retention)
        self.expansion = (
            weights["expansion"] * arr * np.asarray(inst.potential) / norm(inst._expansion_norm)
        )
        self.best_expansion = np.asarray(inst._best_expansion)
        self.expansion_rate = np.asarray(inst.expansion_rate)
        industries = sorted({a.industry for a in inst.accounts if a.industry is not None})
        code = {name: k for k, name in enumerate(industries)}
        self.industry = np.asarray(
            [len(industries) if a.industry is None else code[a.industry] for a in inst.accounts],
            dtype=np.int64,
        )
        covers = np.ones((len(industries) + 1, m), dtype=bool)  # last row: no industry
        for k, name in enumerate(industries):
            covers[k] = [name in c.industries for c in inst.csms]
        self.covers = covers
        flags = np.asarray(inst._expertise_flags, dtype=float)
        self.expertise = weights["expertise"] * flags * arr / norm(inst._expertise_norm)
        moves = inst.accounts_with_current
        step = (weights["continuity"] + inst.tie_break) / moves if moves else 0.0
        self.continuity = np.where(self.current >= 0, step, 0.0)
        # A soft protection costs like a move of its account (the soft_rules term's part).
        keep = weights["soft_rules"] / inst.total_capacity
        if keep:
            softly = [inst.softly_protected(a) is not None for a in range(n)]
            self.continuity = self.continuity + np.where(
                np.asarray(softly, dtype=bool) & (self.current >= 0), keep, 0.0
            )
        preference_norm = inst._preference_norm
        self.preference_weight = (
            weights["preference"] / preference_norm if preference_norm > 0 else 0.0
        )
        self.best_preference = np.asarray(inst._best_preference)
        travel_norm = inst._travel_norm
        self.travel_weight = weights["travel"] / travel_norm if travel_norm > 0 else 0.0
        #: In-person accounts (sorted) and their travel hours above their best eligible CSM
        #: (only when travel is weighed).
        rows = inst.travel_rows if self.travel_weight else {}
        self.travel_accounts = np.asarray(sorted(rows), dtype=np.int64)
        self.travel_extra = {a: row - inst._best_travel.get(a, 0.0) for a, row in rows.items()}

    def costs(self, lo: int, hi: int) -> np.ndarray:
        """Objective coefficient of each pair, ``inf`` where not eligible (rows lo..hi-1)."""
        rows = np.arange(lo, hi)
        out = self.churn[lo:hi, None] * (self.best_retention[lo:hi, None] - self.retention[None, :])
        out += self.expansion[lo:hi, None] * (
            self.best_expansion[lo:hi, None] - self.expansion_rate[None, :]
        )
        out += self.expertise[lo:hi, None] * ~self.covers[self.industry[lo:hi]]
        moved = np.broadcast_to(self.continuity[lo:hi, None], out.shape).copy()
        has = self.current[lo:hi] >= 0
        moved[has, self.current[lo:hi][has]] = 0.0
        out += moved
        if self.preference_weight:
            out += self.preference_weight * self.best_preference[lo:hi, None]
            for a in rows:
                for c, score in self.inst.preference[a].items():
                    out[a - lo, c] -= self.preference_weight * score
        if self.travel_weight:
            first, last = np.searchsorted(self.travel_accounts, [lo, hi])
            for a in self.travel_accounts[first:last].tolist():
                out[a - lo] += self.travel_weight * self.travel_extra[a]
        out[~self.eligible[self.group[lo:hi]]] = math.inf
        return out

    def share(self, quantity: Quantity, lo: int, hi: int) -> np.ndarray:
        """Each pair's amount of ``quantity`` in model units, accounts lo..hi-1 (one column
        when it is the same with every CSM)."""
        if quantity.per_pair is None:
            return self.amount[quantity.name][lo:hi, None]
        if quantity is WORKLOAD:
            return self.workload_share(lo, hi)
        out = np.broadcast_to(self.amount[quantity.name][lo:hi, None], (hi - lo, self.m)).copy()
        unit = quantity.unit(self.inst)
        overrides = quantity.per_pair(self.inst)
        for a in range(lo, hi):
            for c, value in overrides[a].items():
                out[a - lo, c] = value / unit
        return out

    def workload_share(self, lo: int, hi: int) -> np.ndarray:
        """Workload of each pair in full-time books (per-CSM workloads applied)."""
        out = np.broadcast_to(self.workload[lo:hi, None], (hi - lo, self.m)).copy()
        unit = self.inst.workload_unit
        for a in range(lo, hi):
            for c, units in self.inst.workload_with[a].items():
                out[a - lo, c] = units / unit
        return out


def priced(inst: Instance) -> list[Quantity]:
    """The book quantities whose rows a pair may be in: the loaded ones (ARR, workload: their
    definition rows) and every one a rule limits, in the order of :func:`rules.quantities`."""
    used = quantities(inst)
    return [q for q in BOOK_QUANTITIES if q in used or q.loaded] + [
        q for q in used if q not in BOOK_QUANTITIES
    ]
