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
solve quickly and shrinks when they hit their time slice. The result is a plan of the full
model, so the bound of the branch and bound that preceded it still applies; the random choices
are seeded by ``solver.seed``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from ..backends.base import (
    Progress,
    ProgressCallback,
    SolverBackend,
    append_solution,
    relative_gap,
)
from ..formulation import AssignmentModel
from ..scenario import SolverSettings
from ..status import Termination

#: Longest time one neighbourhood may take (seconds).
STEP_LIMIT_S = 0.3
#: Accounts freed by an account neighbourhood, at first.
FREE_ACCOUNTS = 15


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
) -> tuple[list[float], int]:
    """Improve ``values`` (a feasible solution of ``built``) for up to ``seconds``, solving
    each neighbourhood with ``backend`` (which needs the "neighbourhoods" and "relaxation"
    features).

    Returns the best solution found and the number of improving steps.
    """
    deadline = clock() + seconds
    started = clock() if started is None else started
    model = built.model
    csms = len(built.instance.csms)
    if seconds <= 0.05 or csms == 0 or not built.x:
        return values, 0
    rng = random.Random(settings.seed)
    assignment_vars = set(built.x.values())
    pairs_of: dict[int, list[tuple[int, int]]] = {}
    for (a, c), var in built.x.items():
        pairs_of.setdefault(a, []).append((c, var))
    accounts = sorted(pairs_of)

    relaxation = backend.relax(model, settings, min(seconds / 4, 5.0))
    relaxed = None if relaxation is None else relaxation.values
    best = list(values)
    best_objective = objective_of(built, best)
    team = min(csms, 2)
    free_accounts = min(FREE_ACCOUNTS, len(accounts))
    improved = 0
    step = 0
    owner = _owners(pairs_of, best)
    while clock() < deadline - 0.05 and not (stop is not None and stop.is_set()):
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
        fixed = {var: float(round(best[var])) for var in assignment_vars}
        for a in free:
            for c, var in pairs_of[a]:
                if not by_books or c in chosen:
                    del fixed[var]
                else:
                    fixed[var] = 0.0
        limit = min(STEP_LIMIT_S, deadline - clock())
        result = backend.solve_part(model, settings, fixed, limit, hint=best)
        if result is None:
            continue
        candidate, status = result
        value = objective_of(built, candidate)
        if value < best_objective - 1e-9 * max(1.0, abs(best_objective)):
            best, best_objective = candidate, value
            owner = _owners(pairs_of, best)
            improved += 1
            if solution_file is not None:
                append_solution(solution_file, value, best)
            if progress is not None:
                progress(
                    Progress(
                        elapsed_s=clock() - started,
                        incumbent=value,
                        bound=bound,
                        gap=relative_gap(value, bound),
                        backend="highs+lns",
                    )
                )
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


def _owners(
    pairs_of: dict[int, list[tuple[int, int]]], values: list[float]
) -> dict[int, tuple[int, int]]:
    """Each account's CSM in ``values``, with the variable that places it there."""
    return {a: max(pairs, key=lambda p: values[p[1]]) for a, pairs in pairs_of.items()}
