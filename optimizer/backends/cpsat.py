"""CP-SAT (OR-Tools). Needs integer data: each row is scaled by its ``steps`` (money in cents)
and continuous variables become integers counted in their own ``steps``.

The objective keeps its floating-point coefficients (CP-SAT scales them itself). CP-SAT has real
solution callbacks, so progress is reported on every improving plan. With more than one worker
CP-SAT's search is not reproducible from run to run unless ``interleave_search`` is on, which
this backend sets so the same seed gives the same plan.
"""

from __future__ import annotations

import math
import os
import time

from ortools.sat.python import cp_model

from ..formulation import LinearModel
from ..scenario import SolverSettings
from ..status import termination_of
from .base import (
    Progress,
    ProgressCallback,
    RawSolution,
    SolverBackend,
    append_solution,
)

_EPS = 1e-6
#: The smallest objective coefficient becomes at least this integer, so rounding the objective
#: to integers moves no coefficient by more than 1/(2 * OBJECTIVE_RESOLUTION) of itself...
OBJECTIVE_RESOLUTION = 1e4
#: ...unless the objective's largest possible value would then come near CP-SAT's int64 limit.
OBJECTIVE_CEILING = 2.0**60


#: Finest extra resolution the model may take to make its row coefficients integral.
MAX_REFINEMENT = 10**6
#: Largest integer domain bound the refinement may create (well inside CP-SAT's int64).
DOMAIN_CEILING = 2.0**52


def _integral(value: float) -> bool:
    return abs(value - round(value)) <= 1e-6 * max(1.0, abs(value))


def _refinement(model: LinearModel) -> int:
    """The smallest power of ten by which every row's resolution (``steps``) must be refined so
    that all coefficients on integer variables become integers: 100 for a workload of 2.2766
    units counted in hundredths. Continuous variables are refined alike, so their coefficients
    stay what they were. Beyond MAX_REFINEMENT (or where domains would grow past
    DOMAIN_CEILING) coefficients are rounded; the evaluator still checks every plan exactly."""
    largest = max(
        (abs(v.ub * v.steps) for v in model.variables if not v.integer and math.isfinite(v.ub)),
        default=1.0,
    )
    factor = 1
    while factor < MAX_REFINEMENT and largest * factor * 10 < DOMAIN_CEILING:
        if all(
            _integral(c * row.steps * factor)
            for row in model.rows
            for i, c in zip(row.index, row.coef, strict=True)
            if model.variables[i].integer
        ):
            break
        factor *= 10
    return factor


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(
        self,
        progress: ProgressCallback | None,
        start: float,
        factor: float,
        solution_file: str | None = None,
        columns: list[tuple[cp_model.IntVar, float]] | None = None,
    ):
        super().__init__()
        self._factor = factor
        self._progress = progress
        self._start = start
        self._file = solution_file
        self._columns = columns or []

    def on_solution_callback(self) -> None:
        incumbent = self.objective_value / self._factor
        bound = self.best_objective_bound / self._factor
        if self._file is not None:
            values = [self.value(v) / per for v, per in self._columns]
            append_solution(self._file, incumbent, values)
        if self._progress is None:
            return
        self._progress(Progress.of(time.perf_counter() - self._start, incumbent, bound, "cpsat"))


class CpSatBackend(SolverBackend):
    name = "cpsat"
    features = frozenset({"hint", "progress", "solutions"})

    def solve(
        self,
        model: LinearModel,
        settings: SolverSettings,
        hint: dict[int, float] | None = None,
        progress: ProgressCallback | None = None,
        solution_file: str | None = None,
    ) -> RawSolution:
        start = time.perf_counter()
        cp = cp_model.CpModel()
        refine = _refinement(model)
        cp_vars: list[cp_model.IntVar] = []
        for var in model.variables:
            if var.integer:
                cp_vars.append(
                    cp.new_int_var(math.ceil(var.lb - _EPS), math.floor(var.ub + _EPS), var.name)
                )
            else:
                cp_vars.append(
                    cp.new_int_var(
                        math.floor(var.lb * var.steps * refine + _EPS),
                        math.ceil(var.ub * var.steps * refine - _EPS),
                        var.name,
                    )
                )
        for row in model.rows:
            steps = row.steps * refine
            terms = []
            for i, c in zip(row.index, row.coef, strict=True):
                var = model.variables[i]
                scale = steps if var.integer else steps / (var.steps * refine)
                terms.append((cp_vars[i], round(c * scale)))
            expr = sum(coef * v for v, coef in terms)
            lo = None if math.isinf(row.lb) else math.ceil(row.lb * steps - 1e-6)
            hi = None if math.isinf(row.ub) else math.floor(row.ub * steps + 1e-6)
            if not terms:
                if (lo is not None and lo > 0) or (hi is not None and hi < 0):
                    cp.add_bool_or([])  # an empty row that cannot hold: infeasible
                continue
            if lo is not None and lo == hi:
                cp.add(expr == lo)
                continue
            if lo is not None:
                cp.add(expr >= lo)
            if hi is not None:
                cp.add(expr <= hi)
        # An integer objective: CP-SAT's own scaling of float objectives loses the small terms.
        per_step = {
            i: (c if model.variables[i].integer else c / (model.variables[i].steps * refine))
            for i, c in model.objective.items()
        }
        # Coefficients a trillion times below the largest cannot change the integer objective.
        largest_coef = max((abs(c) for c in per_step.values()), default=0.0)
        smallest = min(
            (abs(c) for c in per_step.values() if abs(c) > 1e-12 * largest_coef), default=1.0
        )
        activity = sum(
            abs(c) * max(abs(cp_vars[i].proto.domain[0]), abs(cp_vars[i].proto.domain[-1]))
            for i, c in per_step.items()
        )
        factor = min(OBJECTIVE_RESOLUTION / smallest, OBJECTIVE_CEILING / max(activity, 1e-300))
        cp.minimize(
            sum(round(c * factor) * cp_vars[i] for i, c in per_step.items() if round(c * factor))
        )
        if hint:
            for i, value in hint.items():
                cp.add_hint(cp_vars[i], round(value))

        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(0.0, settings.time_limit_s - (time.perf_counter() - start))
        p.relative_gap_limit = settings.gap
        p.absolute_gap_limit = 1e-9
        p.random_seed = settings.seed
        # CP-SAT would install its own SIGINT handler and leave the process killed by a later
        # Ctrl-C; the engine handles Ctrl-C itself (optimizer.solve keeps the best plan).
        p.catch_sigint_signal = False
        p.num_workers = settings.threads or min(8, os.cpu_count() or 1)
        if p.num_workers > 1:
            p.interleave_search = True
        callback = None
        if progress is not None or solution_file is not None:
            columns = [
                (v, 1.0 if var.integer else float(var.steps * refine))
                for v, var in zip(cp_vars, model.variables, strict=True)
            ]
            callback = _Callback(progress, start, factor, solution_file, columns)
        status = solver.solve(cp, callback)
        seconds = time.perf_counter() - start
        values = None
        obj_value = None
        bound = None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = []
            for var, cp_var in zip(model.variables, cp_vars, strict=True):
                raw = solver.value(cp_var)
                values.append(float(raw) if var.integer else raw / (var.steps * refine))
            obj_value = solver.objective_value / factor + model.constant
            bound = solver.best_objective_bound / factor + model.constant
        termination = termination_of(self.name, solver.status_name(status))
        return RawSolution(
            termination, values, obj_value, bound, seconds, solver.status_name(status)
        )
