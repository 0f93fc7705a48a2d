"""HiGHS through OR-Tools MathOpt (the default backend).

MathOpt fires no MIP callbacks for HiGHS, so progress is read from HiGHS's own log lines
(delivered through ``msg_cb``): each branch-and-bound line carries the bound, the incumbent and
the gap. Threads are set through HiGHS's own options, not MathOpt's generic field.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

import numpy as np
from ortools.math_opt import model_pb2, parameters_pb2, result_pb2, sparse_containers_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import (
    callback,
    init_arguments,
    mathopt,
    model_parameters,
    parameters,
)
from ortools.math_opt.solvers import highs_pb2

from ..formulation import LinearModel
from ..scenario import SolverSettings
from ..status import Termination, termination_of
from .base import (
    Progress,
    ProgressCallback,
    RawSolution,
    Relaxation,
    SolverBackend,
)

_NUMBER = r"(-?inf|-?[0-9.]+(?:e[-+]?[0-9]+)?)"
# A B&B log line: "... BestBound BestSol Gap% | ... Time s" (see HiGHS's MIP log header).
_BB_LINE = re.compile(
    rf"^\s*\S?\s+\d+\s+\d+\s+\d+\s+[0-9.]+%\s+{_NUMBER}\s+{_NUMBER}\s+(?:{_NUMBER}%|Large|inf)"
)


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
    dropped (the fixed values decide it): a neighbourhood (:meth:`HighsBackend.solve_part`).
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
    features = frozenset({"hint", "progress", "solutions", "neighbourhoods", "relaxation"})

    def __init__(self) -> None:
        # The objective scale of the last model seen: a neighbourhood search solves hundreds of
        # parts of one model.
        self._scale: tuple[int, float] | None = None

    def _scale_of(self, model: LinearModel) -> float:
        if self._scale is None or self._scale[0] != id(model):
            self._scale = (id(model), model.objective_scale())
        return self._scale[1]

    def solve(
        self,
        model: LinearModel,
        settings: SolverSettings,
        hint: dict[int, float] | None = None,
        progress: ProgressCallback | None = None,
        solution_file: str | None = None,
    ) -> RawSolution:
        start = time.perf_counter()
        scale = model.objective_scale()
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
                    progress(Progress.of(time.perf_counter() - start, incumbent, bound, self.name))

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

    def solve_part(
        self,
        model: LinearModel,
        settings: SolverSettings,
        fixed: Mapping[int, float],
        seconds: float,
        hint: Sequence[float] | None = None,
    ) -> tuple[list[float], Termination] | None:
        keep = [i for i in range(len(model.variables)) if i not in fixed]
        proto = to_proto(model, "neighbourhood", self._scale_of(model), keep, dict(fixed))
        mo = mathopt.Model.from_model_proto(proto)
        variables = [mo.get_variable(i) for i in range(len(keep))]
        params = mathopt.SolveParameters(
            time_limit=timedelta(seconds=max(seconds, 0.01)),
            relative_gap_tolerance=1e-9,
            absolute_gap_tolerance=1e-9,
            random_seed=settings.seed,
        )
        params.highs.CopyFrom(highs_options(settings, log=False))
        start = mathopt.ModelSolveParameters(
            solution_hints=[
                mathopt.SolutionHint(
                    variable_values={v: hint[i] for v, i in zip(variables, keep, strict=True)}
                )
            ]
            if hint is not None
            else []
        )
        try:
            result = mathopt.solve(mo, mathopt.SolverType.HIGHS, params=params, model_params=start)
        except Exception:  # a failed part changes nothing
            return None
        if not result.has_primal_feasible_solution():
            return None
        part = [float(v) for v in result.variable_values(variables)]
        if any(math.isnan(v) for v in part):
            return None
        values = [0.0] * len(model.variables)
        for var, value in fixed.items():
            values[var] = value
        for i, value in zip(keep, part, strict=True):
            values[i] = value
        termination = termination_of(self.name, result.termination.reason.name)
        return values, termination

    def relax(
        self,
        model: LinearModel,
        settings: SolverSettings,
        seconds: float,
        *,
        elastic: float | None = None,
    ) -> Relaxation | None:
        scale = self._scale_of(model)
        proto = to_proto(model, "relaxation", scale)
        n_vars = len(model.variables)
        del proto.variables.integers[:]
        proto.variables.integers.extend([False] * n_vars)
        if elastic is not None:
            _make_elastic(proto, model, elastic * scale)
        params = parameters.SolveParameters(time_limit=timedelta(seconds=max(seconds, 0.01)))
        params.highs.CopyFrom(highs_options(settings, log=False))
        try:
            # The core API: no Python model is built (much faster on large relaxations).
            result = core_solver.solve(
                proto,
                parameters_pb2.SOLVER_TYPE_HIGHS,
                init_arguments.StreamableSolverInitArguments().to_proto(),
                params.to_proto(),
                model_parameters.ModelSolveParameters().to_proto(),
                None,
                callback.CallbackRegistration().to_proto(),
                None,
                None,
            )
        except Exception:  # no relaxation is an outcome: the caller goes on without it
            return None
        if (
            result.termination.reason != result_pb2.TERMINATION_REASON_OPTIMAL
            or not result.solutions
        ):
            return None
        solution = result.solutions[0]
        primal = solution.primal_solution.variable_values
        values = np.zeros(len(proto.variables.ids))
        values[np.asarray(primal.ids, dtype=np.int64)] = np.asarray(primal.values)
        duals = np.zeros(len(model.rows))
        dual = solution.dual_solution.dual_values
        duals[np.asarray(dual.ids, dtype=np.int64)] = np.asarray(dual.values) / scale
        objective = solution.primal_solution.objective_value / scale
        return Relaxation(objective, values[:n_vars], duals)


def _make_elastic(proto: model_pb2.ModelProto, model: LinearModel, cost: float) -> None:
    """Give every hard rule's row of ``proto`` a slack per finite side at ``cost`` a unit."""
    matrix = proto.linear_constraint_matrix
    variables = proto.variables
    objective = proto.objective.linear_coefficients
    next_id = len(variables.ids)
    entries: list[tuple[int, int, float]] = []
    for j, sign in model.elastic_slacks():
        variables.ids.append(next_id)
        variables.lower_bounds.append(0.0)
        variables.upper_bounds.append(math.inf)
        variables.integers.append(False)
        variables.names.append(f"elastic_{next_id}")
        objective.ids.append(next_id)
        objective.values.append(cost)
        entries.append((j, next_id, sign))
        next_id += 1
    if not entries:
        return
    # The matrix must stay sorted by (row, column): merge the new entries in.
    old = list(zip(matrix.row_ids, matrix.column_ids, matrix.coefficients, strict=True))
    merged = sorted(old + entries)
    del matrix.row_ids[:], matrix.column_ids[:], matrix.coefficients[:]
    matrix.row_ids.extend(r for r, _, _ in merged)
    matrix.column_ids.extend(c for _, c, _ in merged)
    matrix.coefficients.extend(v for _, _, v in merged)


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
