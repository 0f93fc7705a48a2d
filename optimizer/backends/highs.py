"""HiGHS through OR-Tools MathOpt (the default backend).

MathOpt fires no MIP callbacks for HiGHS, so progress is read from HiGHS's own log lines
(delivered through ``msg_cb``): each branch-and-bound line carries the bound, the incumbent and
the gap. Threads are set through HiGHS's own options, not MathOpt's generic field.
"""

from __future__ import annotations

import math
import re
import time
from datetime import timedelta

from ortools.math_opt import model_pb2, sparse_containers_pb2
from ortools.math_opt.python import mathopt
from ortools.math_opt.solvers import highs_pb2

from ..formulation import LinearModel
from ..scenario import SolverSettings
from ..status import Termination, termination_of
from .base import Progress, ProgressCallback, RawSolution, SolverBackend, relative_gap

_NUMBER = r"(-?inf|-?[0-9.]+(?:e[-+]?[0-9]+)?)"
# A B&B log line: "... BestBound BestSol Gap% | ... Time s" (see HiGHS's MIP log header).
_BB_LINE = re.compile(
    rf"^\s*\S?\s+\d+\s+\d+\s+\d+\s+[0-9.]+%\s+{_NUMBER}\s+{_NUMBER}\s+(?:{_NUMBER}%|Large|inf)"
)


def objective_scale(model: LinearModel) -> float:
    """A power of two that brings the largest objective coefficient near 1.

    HiGHS's optimality tolerances are absolute; terms normalized to shares have coefficients of
    1e-6 and below on large teams, which HiGHS flags as "excessively small costs".
    """
    largest = max((abs(c) for c in model.objective.values()), default=0.0)
    if largest <= 0.0:
        return 1.0
    return float(2.0 ** round(-math.log2(largest)))


def to_proto(
    model: LinearModel,
    name: str = "territory",
    scale: float = 1.0,
    keep: list[int] | None = None,
    fixed: dict[int, float] | None = None,
) -> model_pb2.ModelProto:
    """The MathOpt model proto of ``model`` (built directly: fast for large models), with the
    objective multiplied by ``scale``.

    With ``keep``, the proto holds only those variables (renumbered in that order) and the
    others are fixed at their ``fixed`` values: their part of each row moves into the row's
    bounds and their part of the objective into its constant; a row left with no variable is
    dropped (the fixed values decide it). This is a neighbourhood of the search in
    :mod:`optimizer.strategies.lns`.
    """
    fixed = fixed or {}
    position = None if keep is None else {i: k for k, i in enumerate(keep)}
    columns = range(len(model.variables)) if keep is None else keep
    proto = model_pb2.ModelProto(name=name)
    v = proto.variables
    v.ids.extend(range(len(columns)))
    v.lower_bounds.extend(model.variables[i].lb for i in columns)
    v.upper_bounds.extend(model.variables[i].ub for i in columns)
    v.integers.extend(model.variables[i].integer for i in columns)
    v.names.extend(model.variables[i].name for i in columns)
    constant = model.constant
    objective: list[tuple[int, float]] = []
    for i, c in model.objective.items():
        k = i if position is None else position.get(i)
        if k is None:
            constant += c * fixed[i]
        else:
            objective.append((k, c))
    objective.sort()
    proto.objective.maximize = False
    proto.objective.offset = constant * scale
    proto.objective.linear_coefficients.CopyFrom(
        sparse_containers_pb2.SparseDoubleVectorProto(
            ids=[k for k, _ in objective], values=[c * scale for _, c in objective]
        )
    )
    row_ids: list[int] = []
    col_ids: list[int] = []
    coefs: list[float] = []
    rows = proto.linear_constraints
    for row in model.rows:
        shift = 0.0
        merged: dict[int, float] = {}
        for i, c in zip(row.index, row.coef, strict=True):
            k = i if position is None else position.get(i)
            if k is None:
                shift += c * fixed[i]
            else:
                merged[k] = merged.get(k, 0.0) + c
        if not merged and row.index and position is not None:
            continue  # every variable fixed: the fixed values keep this row
        j = len(rows.ids)
        rows.ids.append(j)
        rows.lower_bounds.append(row.lb - shift)
        rows.upper_bounds.append(row.ub - shift)
        rows.names.append(row.name)
        for k in sorted(merged):
            if merged[k] != 0.0:
                row_ids.append(j)
                col_ids.append(k)
                coefs.append(merged[k])
    proto.linear_constraint_matrix.row_ids.extend(row_ids)
    proto.linear_constraint_matrix.column_ids.extend(col_ids)
    proto.linear_constraint_matrix.coefficients.extend(coefs)
    return proto


def highs_options(settings: SolverSettings, log: bool) -> highs_pb2.HighsOptionsProto:
    """HiGHS's own options for a solve under ``settings`` (threads set here, not through
    MathOpt's generic field; see :func:`_threads`)."""
    return highs_pb2.HighsOptionsProto(
        int_options={"threads": _threads(settings.threads or 1), "random_seed": settings.seed},
        bool_options={"output_flag": log},
    )


class HighsBackend(SolverBackend):
    name = "highs"
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
        scale = objective_scale(model)
        mo = mathopt.Model.from_model_proto(to_proto(model, scale=scale))
        variables = [mo.get_variable(i) for i in range(len(model.variables))]
        params = mathopt.SolveParameters(
            time_limit=timedelta(seconds=settings.time_limit_s),
            relative_gap_tolerance=settings.gap,
            absolute_gap_tolerance=1e-9,
            random_seed=settings.seed,
        )
        options = highs_options(settings, log=True)
        if solution_file is not None:
            # HiGHS appends each improving plan to this file (columns in model order).
            options.bool_options["mip_improving_solution_save"] = True
            options.string_options["mip_improving_solution_file"] = solution_file
        params.highs.CopyFrom(options)
        model_params = None
        if hint:
            model_params = mathopt.ModelSolveParameters(
                solution_hints=[
                    mathopt.SolutionHint(variable_values={variables[i]: v for i, v in hint.items()})
                ]
            )
        log: list[str] = []

        def on_lines(lines: list[str]) -> None:
            log.extend(lines)
            if progress is None:
                return
            for line in lines:
                match = _BB_LINE.match(line)
                if match:
                    bound, incumbent = _num(match.group(1), scale), _num(match.group(2), scale)
                    progress(
                        Progress(
                            elapsed_s=time.perf_counter() - start,
                            incumbent=incumbent,
                            bound=bound,
                            gap=relative_gap(incumbent, bound),
                            backend=self.name,
                        )
                    )

        try:
            result = mathopt.solve(
                mo,
                mathopt.SolverType.HIGHS,
                params=params,
                model_params=model_params,
                msg_cb=on_lines,
            )
        except Exception as exc:  # a solver failure is an outcome, not a crash
            seconds = time.perf_counter() - start
            return RawSolution(
                Termination.ERROR, None, None, None, seconds, f"HiGHS failed: {exc}", log
            )
        seconds = time.perf_counter() - start
        reason = result.termination.reason
        has_solution = result.has_primal_feasible_solution()
        bound = result.termination.objective_bounds.dual_bound
        bound_value = None if math.isinf(bound) else bound / scale
        values = None
        objective = None
        if has_solution:
            var_values = result.variable_values(variables)
            values = [float(v) for v in var_values]
            objective = result.objective_value() / scale
        termination = termination_of(self.name, reason.name)
        message = result.termination.detail or reason.name.lower()
        return RawSolution(termination, values, objective, bound_value, seconds, message, log)


_process_threads: int | None = None


def _threads(wanted: int) -> int:
    """HiGHS starts one thread scheduler per process, sized by the first solve; a later solve
    asking for another count fails inside HiGHS. Keep the first count for the process."""
    global _process_threads
    if _process_threads is None:
        _process_threads = wanted
    return _process_threads


def _num(text: str, scale: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isinf(value) else value / scale
