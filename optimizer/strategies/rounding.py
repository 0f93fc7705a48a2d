"""From a relaxation's point, or today's books, to a plan of a built model: the accounts placed
whole stay, and a small exact model places the rest (every rule, every term)."""

from __future__ import annotations

import time

from ..backends import get_backend
from ..formulation import AssignmentModel
from ..scenario import SolverSettings

#: The backend that places the accounts left over (a small exact model, many times).
PART_BACKEND = "highs"


def round_point(
    built: AssignmentModel, point: list[float], settings: SolverSettings, seconds: float
) -> list[float] | None:
    """A plan near the relaxation's point: accounts it places whole stay there, and the few it
    splits (at most about one per CSM and team rule) are placed by a small exact MIP with every
    rule. If that MIP has no plan, it frees more accounts: those of the CSMs the split ones
    could go to. Returns a solution of ``built`` or ``None``."""
    start = time.perf_counter()
    owner: dict[int, tuple[int, float]] = {}
    for (a, c), var in built.x.items():
        if a not in owner or point[var] > owner[a][1]:
            owner[a] = (c, point[var])
    split = {a for a, (_, v) in owner.items() if v < 1 - 1e-6}
    touched = {c for (a, c) in built.x if a in split}
    wider = split | {a for a, (c, _) in owner.items() if c in touched}
    attempts = [split] if wider == split else [split, wider]
    for free in attempts:
        left = seconds - (time.perf_counter() - start)
        if left <= 0.05:
            return None
        fixed: dict[int, float] = {}
        for (a, c), var in built.x.items():
            if a not in free:
                fixed[var] = 1.0 if owner[a][0] == c else 0.0
        solved = get_backend(PART_BACKEND).solve_part(built.model, settings, fixed, left)
        if solved is not None:
            return solved[0]
    return None


def repair_point(built: AssignmentModel, broken: set[str]) -> list[float]:
    """A point for :func:`round_point` from the current assignment: accounts stay with their
    current CSM unless that CSM is in ``broken`` (ids of CSMs whose book breaks a rule) or
    they have none (or one they may not keep), which leaves them for the repair MIP to place."""
    inst = built.instance
    point = [0.0] * len(built.model.variables)
    for a, c in enumerate(inst.current):
        if c is None or inst.csms[c].id in broken:
            continue
        var = built.x.get((a, c))
        if var is not None:
            point[var] = 1.0
    return point
