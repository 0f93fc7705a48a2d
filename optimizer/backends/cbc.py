"""CBC through PuLP. PuLP runs CBC as a separate program, and the same PuLP model can be written
as an MPS or LP file for any other solver (``territory solve --export-model model.mps``).

PuLP does not hand back CBC's best bound, so it is read from CBC's log file.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from pathlib import Path

import pulp

from ..formulation import LinearModel
from ..scenario import SolverSettings
from ..status import Termination, termination_of
from .base import ProgressCallback, RawSolution, SolverBackend, safe_name


def to_pulp(
    model: LinearModel, name: str = "territory"
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The PuLP problem of ``model`` with readable, unique names."""
    problem = pulp.LpProblem(safe_name(name), pulp.LpMinimize)
    variables = [
        pulp.LpVariable(
            f"{safe_name(var.name)}_{i}",
            lowBound=None if math.isinf(var.lb) else var.lb,
            upBound=None if math.isinf(var.ub) else var.ub,
            cat=pulp.LpBinary
            if var.integer and var.lb == 0 and var.ub == 1
            else (pulp.LpInteger if var.integer else pulp.LpContinuous),
        )
        for i, var in enumerate(model.variables)
    ]
    problem += pulp.lpSum(c * variables[i] for i, c in model.objective.items()) + model.constant
    for j, row in enumerate(model.rows):
        coef, lb, ub = _exact(row.coef, row.lb, row.ub, row.steps)
        expr = pulp.LpAffineExpression(
            [(variables[i], c) for i, c in zip(row.index, coef, strict=True)]
        )
        base = f"{safe_name(row.name)}_{j}"
        if lb == ub:
            problem += (expr == lb, base)
            continue
        if not math.isinf(lb):
            problem += (expr >= lb, f"{base}_lo")
        if not math.isinf(ub):
            problem += (expr <= ub, f"{base}_hi")
    return problem, variables


def _exact(
    coef: list[float], lb: float, ub: float, steps: float
) -> tuple[list[float], float, float]:
    """The row multiplied by ``steps`` and rounded, when that makes every number an integer.

    Money and effort rows are in full-time books (e.g. 1/8.5 per unit): written to the solver's
    file with 12 digits, a book filled exactly to its limit came out 2e-12 over it, and CBC
    declared such models infeasible. In whole steps (cents, hundredths of a unit) the same row
    is exact.
    """
    if steps == 1.0:
        return coef, lb, ub
    numbers = [c * steps for c in coef] + [b * steps for b in (lb, ub) if not math.isinf(b)]
    # An absolute test: a relative one let 4,066,666.67 cents pass as 4,066,667 and made a
    # feasible model infeasible.
    if any(abs(v - round(v)) > 1e-6 or abs(v) > 2**52 for v in numbers):
        return coef, lb, ub
    return (
        [float(round(c * steps)) for c in coef],
        lb if math.isinf(lb) else float(round(lb * steps)),
        ub if math.isinf(ub) else float(round(ub * steps)),
    )


def export_model(model: LinearModel, path: str | Path) -> Path:
    """Write ``model`` as MPS (``.mps``) or CPLEX LP (``.lp``) for any MILP solver."""
    path = Path(path)
    problem, _ = to_pulp(model)
    if path.suffix.lower() == ".lp":
        problem.writeLP(str(path))
    elif path.suffix.lower() == ".mps":
        problem.writeMPS(str(path))
    else:
        raise ValueError(f"unknown model file type {path.suffix!r}: use .mps or .lp")
    return path


_BOUND = re.compile(
    r"^(?:Lower bound|Objective bound|Best possible):\s*(-?[0-9.eE+-]+)", re.MULTILINE
)
_BEST_POSSIBLE = re.compile(r"best possible (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")
_RESULT = re.compile(r"^Result - (.*)$", re.MULTILINE)
#: CBC's preprocessing verdict, which is not a proof (see CbcBackend.solve).
_PREPROCESS_INFEASIBLE = re.compile(r"^Pre-processing says infeasible", re.MULTILINE)
#: CBC's line when presolve or the root LP proves infeasibility (no "Result -" line follows).
_INFEASIBLE = re.compile(r"^Problem is infeasible", re.MULTILINE)


class CbcBackend(SolverBackend):
    name = "cbc"
    features = frozenset({"hint", "export"})
    #: CBC derives its knapsack cover cuts from rows that show the sums (150 x 8: 10 s with
    #: dense rows, no proof in 60 s with load variables).
    dense_books = True

    def solve(
        self,
        model: LinearModel,
        settings: SolverSettings,
        hint: dict[int, float] | None = None,
        progress: ProgressCallback | None = None,
        solution_file: str | None = None,
    ) -> RawSolution:
        start = time.perf_counter()
        problem, variables = to_pulp(model)
        if hint:
            for i, value in hint.items():
                variables[i].setInitialValue(value)
        # CBC's preprocessing verdict "infeasible or unbounded" proves nothing and prints no
        # result: the model is then solved again without preprocessing, which does.
        for extra in ([], ["preprocess off"]):
            with tempfile.TemporaryDirectory(prefix="territory-cbc-") as tmp:
                log_path = Path(tmp) / "cbc.log"
                command = pulp.PULP_CBC_CMD(
                    msg=False,
                    timeLimit=settings.time_limit_s,
                    gapRel=settings.gap,
                    threads=settings.threads or 1,
                    warmStart=bool(hint),
                    logPath=str(log_path),
                    # CBC's default cutoff increment prunes nodes that could improve the plan
                    # by less than about 1e-5 and still says "optimal" (a robustness shape at
                    # 14 x 3: 0.5808091 "optimal" where HiGHS proves 0.5808051).
                    options=[
                        f"randomCbcSeed {settings.seed + 1}",
                        "allowableGap 1e-9",
                        "increment 1e-10",
                        *extra,
                    ],
                )
                try:
                    problem.solve(command)
                except pulp.PulpSolverError as exc:
                    seconds = time.perf_counter() - start
                    return RawSolution(
                        Termination.ERROR, None, None, None, seconds, f"CBC failed: {exc}"
                    )
                log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if _PREPROCESS_INFEASIBLE.search(log) is None:
                break
        seconds = time.perf_counter() - start
        result = _RESULT.search(log)
        result_text = result.group(1).strip() if result else pulp.LpStatus[problem.status]
        sol_status = problem.sol_status
        has_solution = sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        values = [float(v.varValue or 0.0) for v in variables] if has_solution else None
        objective = float(pulp.value(problem.objective) or 0.0) if has_solution else None
        # CBC's own "Result - ..." line decides: PuLP also says "Infeasible" when CBC stopped at
        # its time limit before finding any plan, or when the CBC process ended without writing
        # a solution (killed, out of memory): without that line nothing is proven.
        infeasible_line = _INFEASIBLE.search(log) is not None
        if result is None and not has_solution and not infeasible_line:
            return RawSolution(
                Termination.ERROR,
                None,
                None,
                None,
                seconds,
                "CBC ended without reporting a result (the process may have been stopped)",
                log.splitlines(),
            )
        proven_infeasible = infeasible_line or (
            result is not None and "infeasible" in result_text.lower()
        )
        termination = termination_of(self.name, pulp.LpSolution.get(sol_status, ""))
        if proven_infeasible:
            termination = Termination.INFEASIBLE
            values, objective = None, None
        elif termination is Termination.INFEASIBLE or (
            termination is Termination.OPTIMAL and "Optimal" not in result_text
        ):
            # PuLP's reading alone proves nothing (see above): CBC stopped without a proof.
            termination = Termination.TIME_LIMIT
        proven = termination is Termination.OPTIMAL
        bound = objective if proven else None
        precise = _BEST_POSSIBLE.findall(log)  # full precision, unlike the summary's "Lower bound"
        if not proven and precise:
            bound = float(precise[-1])
        elif not proven and (match := _BOUND.search(log)):
            bound = float(match.group(1))
        lines = log.splitlines()
        return RawSolution(termination, values, objective, bound, seconds, result_text, lines)
