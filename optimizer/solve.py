"""``solve(scenario)``: pre-check, build the one model, run a backend, score and explain the plan."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .backends import Progress, ProgressCallback, RawSolution, get_backend, relative_gap
from .backends.base import append_solution, read_last_solution
from .backends.cbc import export_model as write_model
from .diagnose import Diagnosis, find_conflicts, precheck
from .evaluate import Evaluation, evaluate
from .explain.counterfactual import MoveScorer
from .explain.impact import projected_impact
from .explain.reasons import PAIR_BUDGET, held_accounts, reasons_for, runner_up, why_not_stay
from .explain.transition import plan_transition
from .formulation import AssignmentModel, build_model
from .instance import Instance
from .plan import AssignmentRow, Plan
from .scenario import Scenario
from .status import Status, Termination
from .strategies.columns import (
    LARGE_PAIRS,
    Columns,
    eligible_pairs,
    generate_columns,
    repair_point,
    round_point,
    use_columns,
)
from .strategies.lagrangian import decompose, use_lagrangian
from .strategies.lns import improve, objective_of

#: Share of the time limit left to large-neighbourhood search when HiGHS has no proof by then.
LNS_SHARE = 0.5
#: Below this time limit (seconds) the whole limit goes to branch and bound.
MIN_LNS_LIMIT_S = 2.0
#: Most of the time limit that column generation may take (the rest solves its restricted model).
COLUMN_SHARE = 0.6
#: Share of the time left after column generation for rounding its relaxation into a plan.
ROUND_SHARE = 0.2
#: The message of every plan whose diagnosis proves that the hard rules conflict.
NO_PLAN = "The hard rules cannot all hold; see the diagnosis."
#: Share of the time left that the decomposition's search may take to find a first plan when
#: branch and bound has none by half time.
SEARCH_SHARE = 0.4


def solve(
    scenario: Scenario,
    *,
    backend: str | None = None,
    time_limit_s: float | None = None,
    progress: ProgressCallback | None = None,
    export_model: str | Path | None = None,
    warm_start: Mapping[str, str | None] | None = None,
    score_like: Scenario | None = None,
    solution_file: str | Path | None = None,
) -> Plan:
    """Find the best reassignment of ``scenario`` under its hard rules.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`optimizer.load_scenario`).
    backend, time_limit_s
        Override ``scenario.solver.backend`` / ``time_limit_s``.
    progress
        Called with :class:`optimizer.backends.Progress` as the solver improves (HiGHS, CP-SAT).
    export_model
        Also write the model to this ``.mps`` or ``.lp`` file (any MILP solver can read it).
    warm_start
        A starting plan (account id -> CSM id) for the solver, e.g. the plan of a base scenario
        when solving a variant of it; by default the current assignment.
    score_like
        Normalize the objective terms as in this scenario (same accounts) instead of this one, so
        that a variant without some rule is scored on its base's scale (the price of the rule).
    solution_file
        Append every improving plan to this file while solving (HiGHS, CP-SAT), so that a solve
        stopped from outside can still give its best plan: see :func:`recover`.

    Returns
    -------
    Plan
        ``status`` is ``optimal`` (proven within ``solver.gap``), ``feasible``, ``infeasible``
        (with a ``diagnosis``) or ``no_solution``. The plan's objective is the evaluator's score
        of its assignment; ``bound`` and ``gap`` say how far from optimal it can be at most.
    """
    start = time.perf_counter()
    if export_model is not None and Path(export_model).suffix.lower() not in (".mps", ".lp"):
        raise ValueError(
            f"cannot export the model as {Path(export_model).name!r}: use a .mps or .lp file"
        )
    overrides: dict[str, Any] = {}
    if backend is not None:
        overrides["backend"] = backend
    if time_limit_s is not None:
        overrides["time_limit_s"] = time_limit_s
    settings = scenario.solver.model_copy(update=overrides)
    inst = Instance(scenario, reference=None if score_like is None else Instance(score_like))
    before = evaluate(inst)
    chosen_backend = "highs" if settings.backend == "auto" else settings.backend

    def finish(status: Status, message: str, termination: Termination, **extra: Any) -> Plan:
        return Plan(
            status=status,
            termination=termination,
            message=message,
            scenario=scenario.name,
            backend=chosen_backend,
            settings=settings.model_dump(),
            before=before,
            seconds=time.perf_counter() - start,
            as_of=scenario.as_of.isoformat(),
            constraints=scenario.constraints.model_dump(mode="json"),
            **extra,
        )

    found = precheck(inst)
    if found:
        return finish(
            Status.INFEASIBLE,
            NO_PLAN,
            Termination.INFEASIBLE,
            diagnosis=Diagnosis("precheck", found),
        )

    solver = get_backend(chosen_backend)
    start_plan = dict(warm_start) if warm_start is not None else scenario.current_assignment()
    if use_lagrangian(inst, settings):
        return _solve_decomposed(
            inst, settings, before, start_plan, progress, solution_file, start, finish
        )
    columns: Columns | None = None
    if use_columns(inst, settings):
        # Large team: a restricted model whose pairs column generation chose, and a bound of
        # the full model from the same duals (optimizer/strategies/columns.py).
        columns = generate_columns(
            inst,
            settings,
            settings.time_limit_s * COLUMN_SHARE,
            warm=_positions(inst, start_plan),
        )
        built = columns.built
        if solver.dense_books:
            built = build_model(inst, dense=True, columns=built.columns())
    else:
        built = build_model(inst, dense=solver.dense_books)
    if export_model is not None:
        write_model(built.model, export_model)
    hint = built.hint(start_plan)
    full_bound = None if columns is None else columns.bound
    rounded: list[float] | None = None
    if columns is not None and columns.point is not None and not solver.dense_books:
        # A first plan from the relaxation's point (always before branch and bound, which may
        # not find one on a large model in time): the hint, and the floor of the search.
        left = settings.time_limit_s - (time.perf_counter() - start)
        rounded = round_point(built, columns.point, settings, min(left * ROUND_SHARE, 10.0))
    if columns is not None and rounded is None and not solver.dense_books:
        # No relaxation in time (or no plan near it): repair today's assignment instead, by
        # re-placing the accounts of the books that break a rule, so a large solve always has
        # a plan to improve when one is within reach.
        left = settings.time_limit_s - (time.perf_counter() - start)
        broken = {v.subject for v in before.violations}
        rounded = round_point(built, repair_point(built, broken), settings, left * ROUND_SHARE)
    if rounded is not None:
        hint = {var: rounded[var] for var in built.x.values()}
    if columns is not None and solution_file is not None:
        _write_columns(built, f"{solution_file}.columns")
    # HiGHS proves fast but can be slow to find good plans: past half the time limit without a
    # proof, large-neighbourhood search improves its best plan (the bound stays the full model's).
    lns = settings.lns and chosen_backend == "highs" and settings.time_limit_s >= MIN_LNS_LIMIT_S
    remaining = settings.time_limit_s - (time.perf_counter() - start)
    mip_settings = settings.model_copy(
        update={"time_limit_s": max(remaining * (1 - LNS_SHARE) if lns else remaining, 0.1)}
    )
    last: dict[str, float | None] = {"bound": full_bound}

    def tracked(p: Progress) -> None:
        if columns is not None:
            # The restricted model's bound says nothing about the full model: report the
            # column generation's bound instead.
            p = Progress(
                p.elapsed_s,
                p.incumbent,
                full_bound,
                relative_gap(p.incumbent, full_bound),
                p.backend,
            )
        last["bound"] = p.bound if p.bound is not None else last["bound"]
        if progress is not None:
            progress(p)

    # Ctrl-C (in the main thread) returns the best plan so far: the solver runs in a worker
    # thread and saves each improving plan to a file, which recover() reads back.
    interruptible = threading.current_thread() is threading.main_thread()
    own_file = None
    if interruptible and solution_file is None and "solutions" in solver.features:
        handle, own_file = tempfile.mkstemp(prefix="territory-", suffix=".sol")
        os.close(handle)
    saving = str(solution_file) if solution_file is not None else own_file

    stop = threading.Event()

    def search() -> RawSolution:
        if rounded is not None and saving is not None:
            append_solution(saving, objective_of(built, rounded), rounded)
        if lns and rounded is not None:
            # Branch and bound on a large restricted model spends its time on presolve and
            # a bound that is not the full model's: improve the rounded plan directly.
            value = objective_of(built, rounded)
            raw = RawSolution(Termination.TIME_LIMIT, rounded, value, None, 0.0)
        else:
            raw = solver.solve(
                built.model, mip_settings, hint=hint, progress=tracked, solution_file=saving
            )
        if raw.values is None and rounded is not None:
            value = objective_of(built, rounded)
            raw = RawSolution(
                Termination.TIME_LIMIT, rounded, value, None, raw.seconds, raw.message
            )
        left = settings.time_limit_s - (time.perf_counter() - start)
        timed_out = raw.termination is Termination.TIME_LIMIT
        if lns and raw.values is None and timed_out and left > 1.0:
            # No plan from branch and bound by half time: the decomposition's repair-first
            # search (optimizer/strategies/lagrangian.py) looks for one, for the neighbourhood search to
            # improve; if it finds none, branch and bound gets the rest of the time.
            found = _searched_plan(
                built, settings, start_plan, left * SEARCH_SHARE, raw.bound, stop
            )
            left = settings.time_limit_s - (time.perf_counter() - start)
            if found is not None:
                value = objective_of(built, found[0])
                raw = RawSolution(Termination.TIME_LIMIT, found[0], value, found[1], raw.seconds)
                if saving is not None:
                    append_solution(saving, value, found[0])
            elif left > 1.0:
                rest = settings.model_copy(update={"time_limit_s": left})
                raw = solver.solve(
                    built.model, rest, hint=hint, progress=tracked, solution_file=saving
                )
        if lns and raw.status is Status.FEASIBLE and raw.values is not None:
            values, _ = improve(
                built,
                settings,
                raw.values,
                settings.time_limit_s - (time.perf_counter() - start),
                bound=raw.bound,
                progress=tracked,
                solution_file=saving,
                started=start,
                stop=stop,
            )
            raw.values, raw.objective = values, objective_of(built, values)
        return raw

    try:
        raw = _interruptible(search, stop) if interruptible else search()
    except KeyboardInterrupt:
        if saving is None:
            raise
        return recover(
            scenario,
            saving,
            backend=chosen_backend,
            bound=last["bound"],
            seconds=time.perf_counter() - start,
            reason="Interrupted",
            score_like=score_like,
            built=built,
        )
    finally:
        if own_file is not None:
            with contextlib.suppress(OSError):
                os.remove(own_file)

    if raw.status is Status.INFEASIBLE and columns is None:
        diagnosis = find_conflicts(inst, settings)
        return finish(Status.INFEASIBLE, NO_PLAN, Termination.INFEASIBLE, diagnosis=diagnosis)
    if raw.values is None:
        if before.feasible:
            # Never end a time limit with nothing when today's assignment already keeps every rule.
            assignment = {a: c for a, c in scenario.current_assignment().items() if c is not None}
        elif raw.termination is Termination.TIME_LIMIT:
            text = "The time limit ended before any plan was found."
            return finish(Status.NO_SOLUTION, text, raw.termination)
        else:
            text = f"The solver stopped without a plan: {raw.message}"
            return finish(Status.NO_SOLUTION, text, raw.termination)
    else:
        assignment = built.assignment(raw.values)
    after = evaluate(inst, assignment)
    model_bound = raw.bound if columns is None else full_bound
    bound = None if model_bound is None else min(model_bound, after.objective)
    gap = relative_gap(after.objective, bound)
    if columns is None:
        status = Status.OPTIMAL if raw.status is Status.OPTIMAL else Status.FEASIBLE
    else:
        # Optimal only when the full model's bound proves it.
        proven = gap is not None and gap <= settings.gap + 1e-12
        status = Status.OPTIMAL if proven else Status.FEASIBLE
    termination = Termination.OPTIMAL if status is Status.OPTIMAL else Termination.TIME_LIMIT
    message = _message(status, after, gap, settings.gap)
    if columns is not None:
        message += (
            f" Large-team strategy: {len(built.x):,} of the eligible pairs chosen by "
            f"{columns.rounds} round(s) of column generation"
            f"{' (converged)' if columns.converged else ''}; the bound is the full model's."
        )
    if raw.values is None:
        message = "No better plan was found in time; the current assignment, which keeps every rule, is returned."
    return _finish_plan(
        finish, inst, before, after, assignment, status, termination, message, bound, gap
    )


def _solve_decomposed(
    inst: Instance,
    settings: Any,
    before: Evaluation,
    start_plan: Mapping[str, str | None],
    progress: ProgressCallback | None,
    solution_file: str | Path | None,
    start: float,
    finish: Callable[..., Plan],
) -> Plan:
    """Very large teams: the Lagrangian decomposition of optimizer/strategies/lagrangian.py (no large LP)."""
    best: dict[str, Any] = {}
    stop = threading.Event()
    plan_file = None if solution_file is None else f"{solution_file}.plan.json"

    def tracked(p: Progress) -> None:
        if plan_file is not None and best.get("choice") is not None:
            _write_plan(inst, best["choice"], best.get("objective"), plan_file)
        if progress is not None:
            progress(p)

    # Scoring and explaining the plan afterwards takes a few seconds plus about 50 microseconds
    # per account (measured: 6 s at 50,000, 13-15 s at 250,000): kept out of the search's time
    # so that the limit holds for the whole solve, up to a quarter of it (a tenth left 250,000
    # accounts 7 s past a 60 s limit; today's books repaired still fit in the rest).
    reserve = min(0.25 * settings.time_limit_s, 2.0 + 5e-5 * len(inst.accounts))

    def work() -> Any:
        return decompose(
            inst,
            settings,
            max(settings.time_limit_s - reserve - (time.perf_counter() - start), 0.1),
            warm=_positions(inst, start_plan),
            progress=tracked,
            stop=stop,
            started=start,
            best_so_far=best,
        )

    interrupted = False
    try:
        if threading.current_thread() is threading.main_thread():
            _interruptible(work, stop)
        else:
            work()
    except KeyboardInterrupt:
        interrupted = True
    choice = best.get("choice")
    bound = best.get("bound")
    bound = None if bound is None or not math.isfinite(bound) else float(bound)
    if choice is not None:
        assignment = _assignment_of(inst, choice)
    elif before.feasible:
        assignment = {a.id: a.current_csm for a in inst.accounts if a.current_csm is not None}
    else:
        return _no_decomposed_plan(inst, settings, interrupted, start, finish)
    after = evaluate(inst, assignment)
    bound = None if bound is None else min(bound, after.objective)
    gap = relative_gap(after.objective, bound)
    optimal = not interrupted and gap is not None and gap <= settings.gap + 1e-12
    status = Status.OPTIMAL if optimal else Status.FEASIBLE
    termination = (
        Termination.INTERRUPTED
        if interrupted
        else Termination.OPTIMAL
        if optimal
        else Termination.TIME_LIMIT
    )
    if interrupted:
        message = "Interrupted: the best plan found so far is returned"
        message += f" (at most {gap:.2%} from optimal)." if gap is not None else "."
    elif choice is None:
        message = (
            "No better plan was found in time; the current assignment, which keeps every rule, "
            "is returned."
        )
    else:
        message = _message(status, after, gap, settings.gap)
    message += (
        " Large-team strategy: Lagrangian decomposition (every pair priced, no linear program); "
        "the bound is the full model's."
    )
    return _finish_plan(
        finish, inst, before, after, assignment, status, termination, message, bound, gap
    )


def _no_decomposed_plan(
    inst: Instance,
    settings: Any,
    interrupted: bool,
    start: float,
    finish: Callable[..., Plan],
) -> Plan:
    """The decomposition found no plan keeping every rule: say whether time ran out or the
    search gave up, and where the model is small enough, find out whether the rules conflict."""
    if interrupted:
        text = "Interrupted before any plan keeping every rule was found."
        return finish(Status.NO_SOLUTION, text, Termination.INTERRUPTED)
    left = settings.time_limit_s - (time.perf_counter() - start)
    if eligible_pairs(inst) <= LARGE_PAIRS:
        # A model the full strategy would build: the conflict check (which builds it) applies.
        diagnosis = find_conflicts(inst, settings)
        if diagnosis.conflicts and diagnosis.proven:
            return finish(Status.INFEASIBLE, NO_PLAN, Termination.INFEASIBLE, diagnosis=diagnosis)
    if left > 1.0:
        return finish(
            Status.NO_SOLUTION,
            "The search stopped without a plan keeping every rule: no move or exchange it tried "
            "repairs the broken rules, which may not all hold together (the full strategy can "
            "diagnose conflicting rules on models it can build).",
            Termination.SEARCH_ENDED,
        )
    text = "The time limit ended before any plan keeping every rule was found."
    return finish(Status.NO_SOLUTION, text, Termination.TIME_LIMIT)


def _finish_plan(
    finish: Callable[..., Plan],
    inst: Instance,
    before: Evaluation,
    after: Evaluation,
    assignment: dict[str, str],
    status: Status,
    termination: Termination,
    message: str,
    bound: float | None,
    gap: float | None,
) -> Plan:
    """The plan of ``assignment``: its rows with their explanations, impact and transition."""
    rows, held, note = _rows(inst, assignment, before)
    return finish(
        status,
        message,
        termination,
        bound=bound,
        gap=gap,
        assignments=rows,
        after=after,
        held=held,
        held_note=note,
        **_action(inst, before, after, rows),
    )


def _assignment_of(inst: Instance, choice: Any) -> dict[str, str]:
    """Account id -> CSM id for a choice of CSM positions."""
    return {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(choice.tolist())}


def _write_plan(inst: Instance, choice: Any, objective: float | None, path: str) -> None:
    """The best plan so far of a decomposed solve, for :func:`recover` (replaced atomically)."""
    plan = _assignment_of(inst, choice)
    partial = f"{path}.part"
    Path(partial).write_text(
        json.dumps({"objective": objective, "assignment": plan}), encoding="utf-8"
    )
    os.replace(partial, path)


#: Solver threads left running after Ctrl-C; joined at exit (a native solver thread killed at
#: interpreter shutdown aborts the process).
_abandoned: list[threading.Thread] = []


@atexit.register
def _join_abandoned() -> None:
    for thread in _abandoned:
        thread.join()


def _interruptible(work: Callable[[], RawSolution], stop: threading.Event) -> RawSolution:
    """Run ``work`` in a daemon thread so that Ctrl-C reaches this (main) thread at once.

    The solvers release the GIL while they search. On Ctrl-C the caller gets KeyboardInterrupt
    at once; ``stop`` is set, which ends the large-neighbourhood search at its next step, but
    branch and bound cannot be stopped from outside and runs out its time limit in the background
    (its result is discarded; the process waits for it at exit).
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="territory-solve", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        _abandoned.append(thread)
        raise
    if "error" in box:
        raise box["error"]
    result: RawSolution = box["result"]
    return result


def recover(
    scenario: Scenario,
    solution_file: str | Path,
    *,
    backend: str | None = None,
    bound: float | None = None,
    seconds: float = 0.0,
    reason: str = "The solve was stopped",
    score_like: Scenario | None = None,
    built: AssignmentModel | None = None,
    termination: Termination = Termination.INTERRUPTED,
) -> Plan:
    """The best plan of a solve that was stopped from outside (cancelled, killed).

    Reads the last complete plan that :func:`solve` wrote to ``solution_file``; without one,
    falls back to the current assignment when it keeps every rule. ``bound`` is the last bound
    the solver reported (from its progress), so the plan still says how far from optimal it can
    be. The status is ``feasible`` (never ``optimal``: the proof did not finish) or
    ``no_solution``; ``termination`` says what stopped it (interrupted by default).
    """
    settings = scenario.solver
    if backend is not None:
        settings = settings.model_copy(update={"backend": backend})
    chosen_backend = "highs" if settings.backend == "auto" else settings.backend
    inst = Instance(scenario, reference=None if score_like is None else Instance(score_like))
    before = evaluate(inst)
    if built is None and not os.path.exists(f"{solution_file}.plan.json"):
        # A large-team solve wrote its restricted model's pairs beside the plans.
        pairs = _read_columns(f"{solution_file}.columns", inst)
        dense = get_backend(chosen_backend).dense_books
        built = build_model(inst, dense=dense, columns=pairs)
    decomposed = _read_plan(f"{solution_file}.plan.json", inst)
    values = (
        None
        if decomposed is not None or built is None
        else read_last_solution(str(solution_file), len(built.model.variables))
    )
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "backend": chosen_backend,
        "settings": settings.model_dump(),
        "before": before,
        "seconds": seconds,
        "termination": termination,
    }
    if decomposed is not None:
        assignment = decomposed
        found = "the best plan found so far is returned"
    elif values is not None and built is not None:
        assignment = built.assignment(values)
        found = "the best plan found so far is returned"
    elif before.feasible:
        assignment = {a: c for a, c in scenario.current_assignment().items() if c is not None}
        found = "no plan was found yet; the current assignment, which keeps every rule, is returned"
    else:
        text = f"{reason} before any plan was found."
        return Plan(status=Status.NO_SOLUTION, message=text, **common)
    after = evaluate(inst, assignment)
    bound = None if bound is None else min(bound, after.objective)
    gap = relative_gap(after.objective, bound)
    text = f"{reason}: {found}"
    text += f" (at most {gap:.2%} from optimal)." if gap is not None else " (optimality unknown)."
    rows, held, note = _rows(inst, assignment, before)
    return Plan(
        status=Status.FEASIBLE if after.feasible else Status.NO_SOLUTION,
        message=text,
        bound=bound,
        gap=gap,
        assignments=rows,
        after=after,
        held=held,
        held_note=note,
        as_of=scenario.as_of.isoformat(),
        constraints=scenario.constraints.model_dump(mode="json"),
        **_action(inst, before, after, rows),
        **common,
    )


def _searched_plan(
    built: AssignmentModel,
    settings: Any,
    start_plan: Mapping[str, str | None],
    seconds: float,
    bound: float | None,
    stop: threading.Event,
) -> tuple[list[float], float | None] | None:
    """A plan of ``built`` (the full model) from the decomposition's search within ``seconds``,
    and the better of ``bound`` and the decomposition's own bound (both the full model's);
    ``None`` if it finds no plan keeping every rule."""
    inst = built.instance
    started = time.perf_counter()
    outcome = decompose(inst, settings, seconds, warm=_positions(inst, start_plan), stop=stop)
    if outcome.choice is None:
        return None
    point = [0.0] * len(built.model.variables)
    for a, c in enumerate(outcome.choice.tolist()):
        var = built.x.get((a, int(c)))
        if var is None:
            return None
        point[var] = 1.0
    # Every account placed: the remaining (continuous) variables follow from the placement.
    left = max(seconds - (time.perf_counter() - started), 1.0)
    values = round_point(built, point, settings, left)
    if values is None:
        return None
    best = outcome.bound if math.isfinite(outcome.bound) else None
    if bound is not None:
        best = bound if best is None else max(best, bound)
    return values, best


def _positions(inst: Instance, plan: Mapping[str, str | None]) -> dict[int, int]:
    """``plan`` (account id -> CSM id) as positions, for the accounts and CSMs it knows."""
    out = {}
    for account_id, csm_id in plan.items():
        if csm_id in inst.csm_index and account_id in inst.account_index:
            out[inst.account_index[account_id]] = inst.csm_index[csm_id]
    return out


def _write_columns(built: AssignmentModel, path: str) -> None:
    """The restricted model's pairs (per account, its CSM ids in model order), for recover()."""
    inst = built.instance
    per_account = {
        inst.accounts[a].id: [inst.csms[c].id for c in cs]
        for a, cs in enumerate(built.columns())
        if cs
    }
    Path(path).write_text(json.dumps(per_account), encoding="utf-8")


def _read_plan(path: str, inst: Instance) -> dict[str, str] | None:
    """The plan :func:`_write_plan` wrote, if it is there and names this scenario's accounts."""
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))["assignment"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(plan, dict) or set(plan) != set(inst.account_index):
        return None
    if not all(c in inst.csm_index for c in plan.values()):
        return None
    return {str(a): str(c) for a, c in plan.items()}


def _read_columns(path: str, inst: Instance) -> list[list[int]] | None:
    """The pairs :func:`_write_columns` wrote, or ``None`` (a full model) if there is no file."""
    try:
        per_account = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [
        [inst.csm_index[c] for c in per_account.get(account.id, []) if c in inst.csm_index]
        for account in inst.accounts
    ]


def _message(status: Status, after: Evaluation, gap: float | None, wanted: float) -> str:
    moves = after.kpis["moves"]
    if status is Status.OPTIMAL:
        head = (
            f"Optimal plan (gap {gap:.4%} within the requested {wanted:.4%})"
            if gap
            else "Optimal plan"
        )
    elif gap is not None:
        head = f"Feasible plan, at most {gap:.2%} from optimal (stopped before proving optimality)"
    else:
        head = "Feasible plan, optimality not proven (stopped before proving optimality)"
    text = f"{head}: {moves} account(s) change CSM."
    if after.violations:
        text += f" WARNING: {len(after.violations)} rule violation(s) found when checking the plan."
    return text


def _action(
    inst: Instance, before: Evaluation, after: Evaluation, rows: list[AssignmentRow]
) -> dict[str, Any]:
    """The plan's projected impact and its transition plan."""
    chosen_before = list(inst.current)
    chosen_after: list[int | None] = [inst.csm_index[r.csm_id] for r in rows]
    impact = projected_impact(inst, before, after, chosen_before, chosen_after)
    return {
        "impact": [row.to_dict() for row in impact],
        "transition": plan_transition(inst, rows),
    }


def _rows(
    inst: Instance, assignment: dict[str, str], before: Evaluation
) -> tuple[list[AssignmentRow], list[dict[str, Any]], str]:
    """The plan's rows with their reasons and counterfactuals, and the held accounts."""
    chosen: list[int | None] = [inst.csm_index[assignment[a.id]] for a in inst.accounts]
    scorer = MoveScorer(inst, chosen)
    # Runner-ups price every other CSM: on a large team only the largest changes by ARR, within
    # a budget of single changes (the note says so); what staying would cost is always given.
    changed = [
        a
        for a, account in enumerate(inst.accounts)
        if account.current_csm != assignment[account.id]
    ]
    per_account = max(len(inst.csms) - 1, 1)
    explained = set(
        sorted(changed, key=lambda a: (-inst.arr[a], a))[: max(1, PAIR_BUDGET // per_account)]
    )
    rows = []
    for a, account in enumerate(inst.accounts):
        csm_id = assignment[account.id]
        c = inst.csm_index[csm_id]
        rows.append(
            AssignmentRow(
                account_id=account.id,
                account_name=account.name,
                csm_id=csm_id,
                csm_name=inst.csms[c].name,
                previous_csm_id=account.current_csm,
                moved=account.current_csm is not None and account.current_csm != csm_id,
                arr=account.arr,
                reasons=reasons_for(inst, a, c, before),
                runner_up=runner_up(inst, scorer, a) if a in explained else None,
                stay=why_not_stay(inst, scorer, a) if account.current_csm != csm_id else None,
            )
        )
    held, note = held_accounts(inst, scorer)
    if len(explained) < len(changed):
        note += (
            f"; runner-ups are given for the {len(explained):,} largest of the "
            f"{len(changed):,} changed accounts (a budget of {PAIR_BUDGET:,} priced changes)"
        )
    return rows, held, note
