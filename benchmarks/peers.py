"""The engine against the model a user would write directly with each solver library.

For each synthetic CS scenario the same objective and rules (the engine's normalized terms,
computed once by :class:`optimizer.instance.Instance`) are written "by hand" the usual way:
one binary per eligible (account, CSM) pair, dense per-CSM sums in full-time books, L1
deviations beyond the comfort band for balance, no warm start, default solver settings. Each
model runs in its own process with the same time limit and thread count:

- ``engine``: ``optimizer.solve`` (HiGHS with load variables, scaling, warm start from today's
  books when they keep the rules, large-neighbourhood search after half the limit);
- ``cpsat``: the direct model in OR-Tools CP-SAT (objective scaled to integers);
- ``cbc``: the direct model in PuLP with its bundled CBC;
- ``highs``: the direct model in HiGHS through OR-Tools MathOpt.

Every plan is scored by the engine's evaluator (so all objectives are on one scale) and checked
for rule violations. Reported per run: status, objective, own bound, gap to the best bound any
of them proved, the time to reach 1% and 0.1% of that bound (from progress where the solver
reports it), and peak memory (max RSS of the run's process).

    python -m benchmarks.peers --sizes 150x8,2000x20 --time-limit 60
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import multiprocessing
import os
import platform
import re
import resource
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.solve_times import scenario_for
from optimizer import Progress, Status, evaluate, solve
from optimizer.instance import Instance
from optimizer.rules import quantities, window

ROOT = Path(__file__).resolve().parent
RUNNERS = ("engine", "cpsat", "cbc", "highs")


@dataclass
class Result:
    size: str
    runner: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float
    peak_mb: float
    violations: int | None
    trace: list[tuple[float, float]] = field(default_factory=list)  # (seconds, incumbent)


def pair_costs(inst: Instance) -> dict[tuple[int, int], float]:
    """The weighted objective cost of each eligible (account, CSM) pair, tie-break included."""
    weights = inst.weights()
    pairs = {}
    for a, cs in enumerate(inst.eligible):
        for c in cs:
            costs = inst.pair_costs(a, c)
            pairs[a, c] = sum(weights[t] * costs[t] for t in costs) + (
                inst.tie_break * costs["continuity"]
            )
    return pairs


def _balance_parts(inst: Instance) -> list[tuple[str, list[float], list[float], float]]:
    """(label, amount per account in books, target per CSM in books, objective weight)."""
    weights = inst.weights()
    if weights["balance"] <= 0:
        return []
    parts = [("arr", [v / inst.arr_unit for v in inst.arr], inst.arr_target, inst.arr_unit)]
    if inst.balances_workload:
        parts.append(
            (
                "workload",
                [v / inst.workload_unit for v in inst.workload],
                inst.workload_target,
                inst.workload_unit,
            )
        )
    out = []
    for label, amounts, targets, unit in parts:
        share = weights["balance"] / len(parts) / inst.total_capacity
        share /= inst.balance_reference(label)
        out.append((label, amounts, [t / unit for t in targets], share))
    return out


def run_direct(inst: Instance, runner: str, limit: float, threads: int) -> tuple[Any, ...]:
    """Build and solve the direct model; return (assignment, status, bound, trace)."""
    band = inst.scenario.constraints.balance_band
    pairs = pair_costs(inst)
    by_csm: list[list[int]] = [[] for _ in inst.csms]
    for a, c in pairs:
        by_csm[c].append(a)
    if runner == "cpsat":
        return _cpsat(inst, pairs, by_csm, band, limit, threads)
    if runner == "cbc":
        return _pulp(inst, pairs, by_csm, band, limit, threads)
    return _mathopt(inst, pairs, by_csm, band, limit, threads)


def _rules(inst: Instance, c: int) -> list[tuple[str, float | None, float | None, list[float]]]:
    """Per-CSM book rules as (label, lower, upper, coefficient per account): each quantity a
    rule of the registry limits, with its combined range, in full-time books."""
    out: list[tuple[str, float | None, float | None, list[float]]] = []
    for quantity in quantities(inst):
        lo, lo_rule, hi, hi_rule = window(inst, quantity, c)
        if lo_rule is None and hi_rule is None:
            continue
        unit = quantity.unit(inst)
        coefficients = [v / unit for v in inst.amounts(quantity)]
        out.append(
            (
                quantity.name,
                None if lo_rule is None else lo / unit,
                None if hi_rule is None else hi / unit,
                coefficients,
            )
        )
    return out


def _mathopt(inst, pairs, by_csm, band, limit, threads):
    from ortools.math_opt.python import mathopt
    from ortools.math_opt.solvers import highs_pb2

    model = mathopt.Model(name="direct")
    x = {(a, c): model.add_binary_variable(name=f"x_{a}_{c}") for a, c in pairs}
    for a in range(len(inst.accounts)):
        model.add_linear_constraint(sum(x[a, c] for c in inst.eligible[a]) == 1)
    objective = sum(cost * x[p] for p, cost in pairs.items())
    for c, accounts in enumerate(by_csm):
        for _label, lo, hi, coef in _rules(inst, c):
            expr = sum(coef[a] * x[a, c] for a in accounts)
            model.add_linear_constraint(
                lb=-float("inf") if lo is None else lo,
                expr=expr,
                ub=float("inf") if hi is None else hi,
            )
    for label, amounts, targets, share in _balance_parts(inst):
        for c, accounts in enumerate(by_csm):
            load = sum(amounts[a] * x[a, c] for a in accounts)
            over = model.add_variable(lb=0.0, name=f"over_{label}_{c}")
            under = model.add_variable(lb=0.0, name=f"under_{label}_{c}")
            model.add_linear_constraint(load - over <= (1 + band) * targets[c])
            model.add_linear_constraint(load + under >= (1 - band) * targets[c])
            objective += share * (over + under)
    moves = inst.scenario.constraints.max_moves
    if moves is not None:
        model.add_linear_constraint(
            sum(x[a, c] for a, c in pairs if inst.current[a] not in (None, c)) <= moves
        )
    model.minimize(objective)
    params = mathopt.SolveParameters(
        time_limit=timedelta(seconds=limit), relative_gap_tolerance=inst.scenario.solver.gap
    )
    params.highs.CopyFrom(highs_pb2.HighsOptionsProto(int_options={"threads": threads}))
    trace: list[tuple[float, float]] = []
    start = time.perf_counter()
    line = re.compile(r"^\s*\S?\s+\d+\s+\d+\s+\d+\s+[0-9.]+%\s+(\S+)\s+(\S+)")

    def on_lines(lines: list[str]) -> None:
        for text in lines:
            found = line.match(text)
            if found:
                with contextlib.suppress(ValueError):
                    trace.append((time.perf_counter() - start, float(found.group(2))))

    result = mathopt.solve(model, mathopt.SolverType.HIGHS, params=params, msg_cb=on_lines)
    bound = result.termination.objective_bounds.dual_bound
    if not result.has_primal_feasible_solution():
        return None, Status.NO_SOLUTION, None, trace
    values = result.variable_values()
    assignment = {
        inst.accounts[a].id: inst.csms[c].id for (a, c), v in x.items() if values[v] > 0.5
    }
    status = (
        Status.OPTIMAL
        if result.termination.reason == mathopt.TerminationReason.OPTIMAL
        else Status.FEASIBLE
    )
    return assignment, status, bound, trace


def _cpsat(inst, pairs, by_csm, band, limit, threads):
    from ortools.sat.python import cp_model

    scale = 10**6  # objective and book amounts to integers (a user's usual choice)
    model = cp_model.CpModel()
    x = {p: model.new_bool_var(f"x_{p[0]}_{p[1]}") for p in pairs}
    for a in range(len(inst.accounts)):
        model.add_exactly_one(x[a, c] for c in inst.eligible[a])
    objective = [round(cost * scale) * x[p] for p, cost in pairs.items()]
    for c, accounts in enumerate(by_csm):
        for _label, lo, hi, coef in _rules(inst, c):
            expr = sum(round(coef[a] * 1000) * x[a, c] for a in accounts)
            if lo is not None:
                model.add(expr >= round(lo * 1000))
            if hi is not None:
                model.add(expr <= round(hi * 1000))
    for label, amounts, targets, share in _balance_parts(inst):
        for c, accounts in enumerate(by_csm):
            load = sum(round(amounts[a] * 1000) * x[a, c] for a in accounts)
            top = round(sum(amounts) * 1000) + 1
            over = model.new_int_var(0, top, f"over_{label}_{c}")
            under = model.new_int_var(0, top, f"under_{label}_{c}")
            model.add(load - over <= round((1 + band) * targets[c] * 1000))
            model.add(load + under >= round((1 - band) * targets[c] * 1000))
            objective.append(round(share * scale / 1000) * (over + under))
    moves = inst.scenario.constraints.max_moves
    if moves is not None:
        model.add(sum(x[a, c] for a, c in pairs if inst.current[a] not in (None, c)) <= moves)
    model.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = threads
    solver.parameters.relative_gap_limit = inst.scenario.solver.gap
    # As the engine's backend does: CP-SAT's own SIGINT handler would outlive the solve and
    # leave a later Ctrl-C killing the process instead of reaching Python.
    solver.parameters.catch_sigint_signal = False
    trace: list[tuple[float, float]] = []
    start = time.perf_counter()

    class Watch(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            trace.append((time.perf_counter() - start, self.objective_value / scale))

    status = solver.solve(model, Watch())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, Status.NO_SOLUTION, None, trace
    assignment = {
        inst.accounts[a].id: inst.csms[c].id for (a, c), v in x.items() if solver.value(v)
    }
    name = Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FEASIBLE
    return assignment, name, solver.best_objective_bound / scale, trace


def _pulp(inst, pairs, by_csm, band, limit, threads):
    import pulp

    problem = pulp.LpProblem("direct", pulp.LpMinimize)
    x = {p: pulp.LpVariable(f"x_{p[0]}_{p[1]}", cat="Binary") for p in pairs}
    objective = [cost * x[p] for p, cost in pairs.items()]
    for a in range(len(inst.accounts)):
        problem += pulp.lpSum(x[a, c] for c in inst.eligible[a]) == 1
    for c, accounts in enumerate(by_csm):
        for _label, lo, hi, coef in _rules(inst, c):
            expr = pulp.lpSum(coef[a] * x[a, c] for a in accounts)
            if lo is not None:
                problem += expr >= lo
            if hi is not None:
                problem += expr <= hi
    for label, amounts, targets, share in _balance_parts(inst):
        for c, accounts in enumerate(by_csm):
            load = pulp.lpSum(amounts[a] * x[a, c] for a in accounts)
            over = pulp.LpVariable(f"over_{label}_{c}", lowBound=0)
            under = pulp.LpVariable(f"under_{label}_{c}", lowBound=0)
            problem += load - over <= (1 + band) * targets[c]
            problem += load + under >= (1 - band) * targets[c]
            objective += [share * over, share * under]
    moves = inst.scenario.constraints.max_moves
    if moves is not None:
        problem += (
            pulp.lpSum(x[a, c] for a, c in pairs if inst.current[a] not in (None, c)) <= moves
        )
    problem += pulp.lpSum(objective)
    solver = pulp.PULP_CBC_CMD(
        msg=False, timeLimit=limit, threads=threads, gapRel=inst.scenario.solver.gap
    )
    problem.solve(solver)
    if problem.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return None, Status.NO_SOLUTION, None, []
    assignment = {
        inst.accounts[a].id: inst.csms[c].id for (a, c), v in x.items() if (v.value() or 0) > 0.5
    }
    status = Status.OPTIMAL if problem.sol_status == pulp.LpSolutionOptimal else Status.FEASIBLE
    return assignment, status, None, []


def measure(
    size: str, runner: str, limit: float, threads: int, out: Any, memory_gib: float = 0.0
) -> None:
    """One run in a fresh process; puts a Result on ``out``. With ``memory_gib``, the process
    (and the CBC it starts) may not use more address space than that."""
    if memory_gib > 0:
        cap = int(memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    started = time.perf_counter()
    try:
        _measure(size, runner, limit, threads, out, started)
    except MemoryError:
        out.put(
            Result(
                size,
                runner,
                f"out of memory ({memory_gib:g} GiB)",
                None,
                None,
                time.perf_counter() - started,
                memory_gib * 1024,
                None,
            )
        )


def _measure(size: str, runner: str, limit: float, threads: int, out: Any, started: float) -> None:
    scenario = scenario_for(size)
    scenario = scenario.replace(
        solver={**scenario.solver.model_dump(), "time_limit_s": limit, "threads": threads}
    )
    start = time.perf_counter()
    trace: list[tuple[float, float]] = []
    if runner == "engine":

        def watch(p: Progress) -> None:
            if p.incumbent is not None:
                trace.append((p.elapsed_s, p.incumbent))

        plan = solve(scenario, progress=watch)
        assignment = plan.assignment() if plan.has_plan else None
        status, bound = plan.status, plan.bound
    else:
        inst = Instance(scenario)
        assignment, status, bound, trace = run_direct(inst, runner, limit, threads)
    seconds = time.perf_counter() - start
    objective = violations = None
    if assignment is not None:
        scored = evaluate(scenario, assignment)
        objective, violations = scored.objective, len(scored.violations)
    # CBC runs as a child process: count the larger of this process and its children.
    peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    out.put(Result(size, runner, status, objective, bound, seconds, peak, violations, trace))


def time_to(result: Result, best_bound: float | None, level: float) -> float | None:
    if best_bound is None:
        return None
    points = list(result.trace)
    if result.objective is not None:
        points.append((result.seconds, result.objective))
    for seconds, value in points:
        if value > 0 and (value - best_bound) / value <= level:
            return seconds
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="150x8,2000x20,5000x40")
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument(
        "--memory-gib", type=float, default=0.0, help="address-space cap per run (0: none)"
    )
    parser.add_argument(
        "--wall",
        type=float,
        default=0.0,
        help="stop a run after this many seconds (0: 3 x limit + 300)",
    )
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    rows = []
    for size in args.sizes.split(","):
        results = []
        for runner in args.runners.split(","):
            queue = context.Queue()
            process = context.Process(
                target=measure,
                args=(size, runner, args.time_limit, args.threads, queue, args.memory_gib),
            )
            wall = args.wall or args.time_limit * 3 + 300
            began = time.perf_counter()
            process.start()
            try:
                result = queue.get(timeout=wall)
            except Exception:
                # No answer: stopped after the wall time, or the process died (out of memory
                # outside Python's reach, say).
                alive = process.is_alive()
                if alive:
                    process.kill()
                waited = time.perf_counter() - began
                status = f"no answer after {waited:.0f} s (stopped)" if alive else "crashed"
                result = Result(size, runner, status, None, None, waited, 0.0, None)
            process.join()
            results.append(result)
            print(
                size,
                runner,
                result.status,
                result.objective,
                result.bound,
                round(result.seconds, 1),
            )
        # Exact models only: the direct CP-SAT model rounds its coefficients to integers, so its
        # bound is of a nearby problem and may sit above the true optimum.
        bounds = [r.bound for r in results if r.bound is not None and r.runner != "cpsat"]
        best = max(bounds) if bounds else None
        for r in results:
            gap = None
            if r.objective is not None and best is not None:
                gap = (r.objective - best) / r.objective
            rows.append(
                {
                    **{k: v for k, v in asdict(r).items() if k != "trace"},
                    "best_bound": best,
                    "gap_to_best_bound": gap,
                    "to_1pct_s": time_to(r, best, 0.01),
                    "to_01pct_s": time_to(r, best, 0.001),
                }
            )
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "peers.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}); {args.time_limit:g} s per run, {args.threads} thread(s), "
        "each run in its own process.",
        "",
        "| size | runner | status | objective | own bound | gap to best bound | to 1% s | to 0.1% s | s | peak MB | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def num(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    for row in rows:
        lines.append(
            f"| {row['size']} | {row['runner']} | {row['status']} | {num(row['objective'], '.5f')} | "
            f"{num(row['bound'], '.5f')} | {num(row['gap_to_best_bound'], '.3%')} | "
            f"{num(row['to_1pct_s'], '.1f')} | {num(row['to_01pct_s'], '.1f')} | "
            f"{row['seconds']:.1f} | {row['peak_mb']:.0f} | {num(row['violations'], 'd')} |"
        )
    text = "\n".join(lines) + "\n"
    (args.out / "peers.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
