"""``solve(scenario)``: pre-check, build the one model, run a backend, score and explain the plan."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .backends import ProgressCallback, get_backend, relative_gap
from .backends.base import read_last_solution
from .backends.cbc import export_model as write_model
from .diagnose import Diagnosis, find_conflicts, precheck
from .evaluate import Evaluation, evaluate
from .explain import reasons_for
from .formulation import build_model
from .instance import Instance
from .plan import AssignmentRow, Plan
from .scenario import Scenario


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

    def finish(status: str, message: str, **extra: Any) -> Plan:
        return Plan(
            status=status,
            message=message,
            scenario=scenario.name,
            backend=chosen_backend,
            settings=settings.model_dump(),
            before=before,
            seconds=time.perf_counter() - start,
            **extra,
        )

    no_plan = "The hard rules cannot all hold; see the diagnosis."
    found = precheck(inst)
    if found:
        return finish("infeasible", no_plan, diagnosis=Diagnosis("precheck", found))

    solver = get_backend(chosen_backend)
    built = build_model(inst, dense=solver.dense_books)
    if export_model is not None:
        write_model(built.model, export_model)
    hint = built.hint(dict(warm_start) if warm_start is not None else scenario.current_assignment())
    raw = solver.solve(
        built.model,
        settings,
        hint=hint,
        progress=progress,
        solution_file=None if solution_file is None else str(solution_file),
    )

    if raw.status == "infeasible":
        return finish("infeasible", no_plan, diagnosis=find_conflicts(inst, settings))
    if raw.values is None:
        if before.feasible:
            # Never end a time limit with nothing when today's assignment already keeps every rule.
            assignment = {a: c for a, c in scenario.current_assignment().items() if c is not None}
        elif raw.status == "no_solution":
            return finish("no_solution", "The time limit ended before any plan was found.")
        else:
            return finish("no_solution", f"The solver stopped without a plan: {raw.message}")
    else:
        assignment = built.assignment(raw.values)
    after = evaluate(inst, assignment)
    bound = None if raw.bound is None else min(raw.bound, after.objective)
    gap = relative_gap(after.objective, bound)
    status = "optimal" if raw.status == "optimal" else "feasible"
    message = _message(status, after, gap, settings.gap)
    if raw.values is None:
        message = "No better plan was found in time; the current assignment, which keeps every rule, is returned."
    return finish(
        status,
        message,
        bound=bound,
        gap=gap,
        assignments=_rows(inst, assignment, before),
        after=after,
    )


def recover(
    scenario: Scenario,
    solution_file: str | Path,
    *,
    backend: str | None = None,
    bound: float | None = None,
    seconds: float = 0.0,
    reason: str = "The solve was stopped",
    score_like: Scenario | None = None,
) -> Plan:
    """The best plan of a solve that was stopped from outside (cancelled, killed).

    Reads the last complete plan that :func:`solve` wrote to ``solution_file``; without one,
    falls back to the current assignment when it keeps every rule. ``bound`` is the last bound
    the solver reported (from its progress), so the plan still says how far from optimal it can
    be. The status is ``feasible`` (never ``optimal``: the proof did not finish) or
    ``no_solution``.
    """
    settings = scenario.solver
    if backend is not None:
        settings = settings.model_copy(update={"backend": backend})
    chosen_backend = "highs" if settings.backend == "auto" else settings.backend
    inst = Instance(scenario, reference=None if score_like is None else Instance(score_like))
    before = evaluate(inst)
    built = build_model(inst, dense=get_backend(chosen_backend).dense_books)
    values = read_last_solution(str(solution_file), len(built.model.variables))
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "backend": chosen_backend,
        "settings": settings.model_dump(),
        "before": before,
        "seconds": seconds,
    }
    if values is not None:
        assignment = built.assignment(values)
        found = "the best plan found so far is returned"
    elif before.feasible:
        assignment = {a: c for a, c in scenario.current_assignment().items() if c is not None}
        found = "no plan was found yet; the current assignment, which keeps every rule, is returned"
    else:
        return Plan(status="no_solution", message=f"{reason} before any plan was found.", **common)
    after = evaluate(inst, assignment)
    bound = None if bound is None else min(bound, after.objective)
    gap = relative_gap(after.objective, bound)
    text = f"{reason}: {found}"
    text += f" (at most {gap:.2%} from optimal)." if gap is not None else " (optimality unknown)."
    return Plan(
        status="feasible" if after.feasible else "no_solution",
        message=text,
        bound=bound,
        gap=gap,
        assignments=_rows(inst, assignment, before),
        after=after,
        **common,
    )


def _message(status: str, after: Evaluation, gap: float | None, wanted: float) -> str:
    moves = after.kpis["moves"]
    if status == "optimal":
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


def _rows(inst: Instance, assignment: dict[str, str], before: Evaluation) -> list[AssignmentRow]:
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
            )
        )
    return rows
