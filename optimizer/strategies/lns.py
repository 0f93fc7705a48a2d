"""Large-neighbourhood search: improve a plan by re-solving small parts of the model exactly.

Branch and bound finds strong bounds on assignment models but can be slow to find good plans
(HiGHS stays several percent above the optimum on the hard published GAP instances, whose bound
it gets within 0.2%). From the best plan so far, each step frees a *neighbourhood* and solves the
same model (every rule, every term) with everything else fixed:

- the books of a few CSMs: their accounts may be re-dealt among them (swaps and chains of moves
  that no single move reaches);
- a few dozen accounts chosen at random, free to go to any eligible CSM;
- accounts that the LP relaxation (solved once) does not place where the plan does, topped up at
  random (guided by the relaxation, as in RINS).

A step is kept when it lowers the objective. The neighbourhood grows while its sub-problems
solve quickly and shrinks when they hit their time slice. Each step's sub-model is cut from the
model in arrays (:class:`Parts`), in time proportional to the neighbourhood rather than to the
model: on 20,000 x 100 a step that wrote the whole model out with the fixed accounts substituted
took 0.7 s, of which the solver used at most 0.3 s. Before the first step and after the last,
a local search over every account at once (:class:`Polish`) takes the plan to one that no
single move or exchange improves. The result is a plan of the full model, so the bound of the
branch and bound that preceded it still applies; the random choices are seeded by
``solver.seed``.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

import numpy as np

from ..backends.base import (
    Progress,
    ProgressCallback,
    SolverBackend,
    append_solution,
)
from ..formulation import AssignmentModel, LinearModel, Row
from ..scenario import SolverSettings
from ..status import Termination
from .lagrangian import Lagrangian, supports
from .local_search import Search

#: Longest time one neighbourhood may take (seconds).
STEP_LIMIT_S = 0.3
#: Accounts freed by an account neighbourhood, at first.
FREE_ACCOUNTS = 15
#: Most of the time the local search (:class:`Polish`) may take before the first
#: neighbourhood, and the time kept for it after the last.
POLISH_SHARE = 0.3
FINAL_POLISH_SHARE = 0.1


def objective_of(built: AssignmentModel, values: list[float]) -> float:
    model = built.model
    return model.constant + sum(c * values[i] for i, c in model.objective.items())


def improve(
    built: AssignmentModel,
    backend: SolverBackend,
    settings: SolverSettings,
    values: list[float],
    seconds: float,
    *,
    bound: float | None = None,
    progress: ProgressCallback | None = None,
    solution_file: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    started: float | None = None,
    stop: threading.Event | None = None,
    relaxed: list[float] | None = None,
) -> tuple[list[float], int]:
    """Improve ``values`` (a feasible solution of ``built``) for up to ``seconds``, solving
    each neighbourhood with ``backend`` (which needs the "neighbourhoods" and "relaxation"
    features). ``relaxed`` is a point of the linear relaxation when one is known (column
    generation ends with one); otherwise the relaxation is solved here once.

    Returns the best solution found and the number of improving steps.
    """
    deadline = clock() + seconds
    started = clock() if started is None else started
    model = built.model
    csms = len(built.instance.csms)
    if seconds <= 0.05 or csms == 0 or not built.x:
        return values, 0
    rng = random.Random(settings.seed)
    pairs_of: dict[int, list[tuple[int, int]]] = {}
    for (a, c), var in built.x.items():
        pairs_of.setdefault(a, []).append((c, var))
    accounts = sorted(pairs_of)
    parts = Parts(model, set(built.x.values()))
    polish = Polish.of(built, parts)
    # The local search's time at the end (the first one ends when no move helps).
    final = seconds * FINAL_POLISH_SHARE if polish is not None else 0.0

    def stopped(until: float) -> bool:
        return clock() >= until - 0.05 or (stop is not None and stop.is_set())

    best = list(values)
    best_objective = objective_of(built, best)
    activity = parts.activity(best)
    owner = _owners(pairs_of, best)
    improved = 0

    def take(candidate: list[float], value: float) -> None:
        nonlocal best, best_objective, activity, owner, improved
        best, best_objective = candidate, value
        activity = parts.activity(best)
        owner = _owners(pairs_of, best)
        improved += 1
        if solution_file is not None:
            append_solution(solution_file, value, best)
        if progress is not None:
            progress(Progress.of(clock() - started, value, bound, "highs+lns"))

    def polished(until: float) -> None:
        if polish is None or stopped(until):
            return
        found = polish.run(best, until - clock(), backend, settings, stop, clock)
        if found is not None:
            take(found, objective_of(built, found))

    polished(min(deadline - final, clock() + seconds * POLISH_SHARE))
    if relaxed is None and not stopped(deadline - final):
        relaxation = backend.relax(model, settings, min(seconds / 4, 5.0))
        relaxed = None if relaxation is None else list(relaxation.values)
    team = min(csms, 2)
    free_accounts = min(FREE_ACCOUNTS, len(accounts))
    step = 0
    while not stopped(deadline):
        if final and clock() >= deadline - final:
            # The last local search; if it ends early, the steps go on until the deadline.
            polished(deadline)
            final = 0.0
            continue
        step += 1
        kind = step % 3
        by_books = kind == 1 and csms > 1
        if by_books:
            chosen = set(rng.sample(range(csms), team))
            free = {a for a in accounts if owner[a][0] in chosen}
        elif kind == 2 and relaxed is not None:
            # Guided by the LP relaxation: accounts the LP does not place where the plan does.
            apart = [a for a in accounts if relaxed[owner[a][1]] < 0.99]
            rng.shuffle(apart)
            free = set(apart[:free_accounts])
            if len(free) < free_accounts:
                others = [a for a in accounts if a not in free]
                free |= set(rng.sample(others, min(len(others), free_accounts - len(free))))
        else:
            free = set(rng.sample(accounts, free_accounts))
        # Free the chosen accounts' pairs (in a books neighbourhood, only those to the chosen
        # books: the others stay at 0 and need no variable).
        freed = sorted(var for a in free for c, var in pairs_of[a] if not by_books or c in chosen)
        part, kept = parts.cut(freed, best, activity)
        limit = min(STEP_LIMIT_S, max(deadline - final - clock(), 0.05))
        result = backend.solve_part(part, settings, {}, limit, hint=[best[i] for i in kept])
        if result is None:
            continue
        solved, status = result
        candidate = list(best)
        for i, value in zip(kept, solved, strict=True):
            candidate[i] = value
        value = objective_of(built, candidate)
        if value < best_objective - 1e-9 * max(1.0, abs(best_objective)):
            take(candidate, value)
        # Grow a neighbourhood that solves to optimality, shrink one that runs out of time.
        if status is Termination.OPTIMAL:
            if by_books:
                team = min(csms, team + 1)
            else:
                free_accounts = min(len(accounts), free_accounts + 10)
        elif by_books:
            team = max(2, team - 1)
        else:
            free_accounts = max(10, free_accounts - 10)
    return best, improved


class Parts:
    """A model in arrays, from which the sub-model of a neighbourhood is cut in time
    proportional to the neighbourhood.

    In a neighbourhood the given ``binaries`` (the assignment variables) not freed are fixed
    at the plan's values. The other variables (book totals, deviations, team counters) stay
    free where a row links them, directly or through other such variables, to a freed
    variable; the rest (the totals of books the neighbourhood cannot change) keep their
    values, which only fixed variables decide. The sub-model holds the kept variables and
    every row that touches one, with the fixed variables' part moved into the row's bounds
    (from the rows' activities at the plan, which the caller keeps: :meth:`activity`). A row
    that touches no kept variable is left out: the plan, which keeps every row, decides it.
    """

    def __init__(self, model: LinearModel, binaries: set[int]) -> None:
        self.model = model
        n = len(model.variables)
        rows = model.rows
        lengths = np.fromiter((len(r.index) for r in rows), dtype=np.int64, count=len(rows))
        total = int(lengths.sum())
        self.row_of = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        self.var = np.fromiter((i for r in rows for i in r.index), dtype=np.int64, count=total)
        self.coef = np.fromiter((c for r in rows for c in r.coef), dtype=float, count=total)
        # Column-wise: each variable's entries (positions into row_of / var / coef).
        self.by_var = np.argsort(self.var, kind="stable")
        self.var_start = np.searchsorted(self.var[self.by_var], np.arange(n + 1))
        #: The variables a neighbourhood may keep free without freeing them (all but the
        #: binaries).
        self.auxiliary = np.ones(n, dtype=bool)
        self.auxiliary[list(binaries)] = False
        self.lower = np.array([r.lb for r in rows], dtype=float)
        self.upper = np.array([r.ub for r in rows], dtype=float)
        self.objective = np.zeros(n)
        for i, c in model.objective.items():
            self.objective[i] = c
        # Row-wise, the auxiliary entries only (a book's total row has one auxiliary variable
        # among its thousands of binaries).
        linking = self.auxiliary[self.var]
        self.link_start = np.concatenate(
            ([0], np.cumsum(np.bincount(self.row_of[linking], minlength=len(rows))))
        )
        self.link_var = self.var[linking]

    def keeps_every_row(self, values: list[float], tolerance: float = 1e-6) -> bool:
        """Whether ``values`` keep every row of the model (within ``tolerance``)."""
        activity = self.activity(values)
        return bool(
            np.all(activity >= self.lower - tolerance)
            and np.all(activity <= self.upper + tolerance)
        )

    def activity(self, values: list[float]) -> np.ndarray:
        """Each row's activity (left-hand side) at ``values``."""
        contributions = self.coef * np.asarray(values, dtype=float)[self.var]
        return np.bincount(self.row_of, weights=contributions, minlength=len(self.model.rows))

    def reach(self, freed: np.ndarray) -> np.ndarray:
        """``freed`` and the auxiliary variables that rows link to them (sorted)."""
        kept = np.zeros(len(self.auxiliary), dtype=bool)
        kept[freed] = True
        seen = np.zeros(len(self.model.rows), dtype=bool)
        frontier = freed
        while len(frontier):
            rows = np.unique(self.row_of[_gather(self.by_var, self.var_start, frontier)])
            rows = rows[~seen[rows]]
            seen[rows] = True
            linked = np.unique(self.link_var[_gather(None, self.link_start, rows)])
            frontier = linked[~kept[linked]]
            kept[frontier] = True
        return np.flatnonzero(kept)

    def cut(
        self,
        freed: list[int],
        values: list[float],
        activity: np.ndarray,
        *,
        every_auxiliary: bool = False,
    ) -> tuple[LinearModel, list[int]]:
        """The sub-model in which ``freed`` and the auxiliary variables linked to them (with
        ``every_auxiliary``, all of them) are free and every other variable is fixed at
        ``values`` (whose row activities are ``activity``); and the model's variable of each
        sub-model variable, in order."""
        model = self.model
        freed_array = np.unique(np.asarray(freed, dtype=np.int64))
        kept = (
            np.union1d(freed_array, np.flatnonzero(self.auxiliary))
            if every_auxiliary
            else self.reach(freed_array)
        )
        position = {int(i): k for k, i in enumerate(kept.tolist())}
        entries = _gather(self.by_var, self.var_start, kept)
        row = self.row_of[entries]
        var = self.var[entries]
        coef = self.coef[entries]
        point = np.asarray(values, dtype=float)
        # The kept variables' part of each touched row, at the plan.
        touched, inverse = np.unique(row, return_inverse=True)
        kept_part = np.bincount(inverse, weights=coef * point[var], minlength=len(touched))
        shift = activity[touched] - kept_part
        part = LinearModel(
            variables=[model.variables[i] for i in kept.tolist()],
            objective={k: float(c) for k, c in enumerate(self.objective[kept]) if c},
        )
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(touched) + 1))
        var_sorted, coef_sorted = var[order].tolist(), coef[order].tolist()
        for t, j in enumerate(touched.tolist()):
            source: Row = model.rows[j]
            lo, hi = int(bounds[t]), int(bounds[t + 1])
            part.rows.append(
                Row(
                    source.name,
                    source.group,
                    [position[i] for i in var_sorted[lo:hi]],
                    coef_sorted[lo:hi],
                    source.lb - float(shift[t]),
                    source.ub - float(shift[t]),
                    source.steps,
                )
            )
        return part, kept.tolist()


class Polish:
    """Local search on a plan of a built model (optimizer/strategies/local_search.py: single
    moves, exchanges and traded moves, scored on the model's exact objective) over the model's
    own pairs, so that its plans stay plans of ``built``.

    A neighbourhood step re-solves a few dozen accounts exactly; the local search looks at
    every account's every move at once and stops at a plan no single move or exchange
    improves. On the robustness suite's worst 20,000 x 100 shape it took a plan from column
    generation and 20 s of neighbourhood steps from 0.20256 to 0.20225 in 6 s, more than those
    20 s had gained. Only for scenarios whose every rule the decomposition prices
    (:func:`~optimizer.strategies.lagrangian.supports`): :meth:`of` is ``None`` otherwise.
    """

    def __init__(self, built: AssignmentModel, parts: Parts, columns: list[list[int]]) -> None:
        self.built = built
        self.parts = parts
        self.search = Search(Lagrangian(built.instance))
        self.search.restrict(list(built.x))
        width = max(len(c) for c in columns)
        # Each account's CSMs in the model, padded with its first (a move to where it is
        # changes nothing and is never taken).
        self.candidates = np.array([c + [c[0]] * (width - len(c)) for c in columns])

    @classmethod
    def of(cls, built: AssignmentModel, parts: Parts) -> Polish | None:
        columns = built.columns()
        if not supports(built.instance) or not all(columns):
            return None
        return cls(built, parts, columns)

    def run(
        self,
        values: list[float],
        seconds: float,
        backend: SolverBackend,
        settings: SolverSettings,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> list[float] | None:
        """A better solution of the model than ``values`` (a feasible one), or ``None``."""
        started = clock()
        built = self.built
        choice = np.zeros(len(built.instance.accounts), dtype=np.int64)
        for (a, c), i in built.x.items():
            if values[i] > 0.5:
                choice[a] = c
        before = objective_of(built, values)
        found, value = self.search.run(choice, self.candidates, started + seconds, stop, clock)
        if found is None or value is None or value >= before - 1e-9 * max(1.0, abs(before)):
            return None
        # The new placement fixes every assignment variable; the totals and deviations follow
        # from it (a small linear model over the auxiliary variables alone).
        point = np.where(self.parts.auxiliary, values, 0.0).tolist()
        for a, c in enumerate(found.tolist()):
            var = built.x.get((a, int(c)))
            if var is None:  # cannot happen with the search restricted to the model's pairs
                return None
            point[var] = 1.0
        part, kept = self.parts.cut([], point, self.parts.activity(point), every_auxiliary=True)
        left = max(seconds - (clock() - started), 1.0)
        solved = backend.solve_part(part, settings, {}, left)
        if solved is None:
            return None
        for i, v in zip(kept, solved[0], strict=True):
            point[i] = v
        if not self.parts.keeps_every_row(point):
            return None
        after = objective_of(built, point)
        # The local search scores the model's objective itself: a completed plan that does not
        # agree (or is no better) is not taken.
        if after >= before or not math.isclose(after, value, rel_tol=1e-6, abs_tol=1e-9):
            return None
        return point


def _gather(order: np.ndarray | None, start: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The positions ``start[i]:start[i + 1]`` of every ``i`` in ``items``, concatenated (through
    ``order`` when given)."""
    lo, hi = start[items], start[items + 1]
    counts = hi - lo
    positions = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return positions if order is None else order[positions]


def _owners(
    pairs_of: dict[int, list[tuple[int, int]]], values: list[float]
) -> dict[int, tuple[int, int]]:
    """Each account's CSM in ``values``, with the variable that places it there."""
    return {a: max(pairs, key=lambda p: values[p[1]]) for a, pairs in pairs_of.items()}
