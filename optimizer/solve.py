"""``solve(scenario)``: the pipeline from a scenario to an explained plan.

    pre-check -> strategy -> evaluate -> explain

1. :func:`_begin`: the settings in effect (overrides applied), the instance, today's score.
2. :func:`~optimizer.diagnose.precheck`: arithmetic that proves no plan exists; the plan is then
   its diagnosis.
3. :func:`~optimizer.strategies.choose` picks the full model, column generation or the
   decomposition, and its search runs in a worker thread, so that Ctrl-C returns at once with
   the best plan so far (:mod:`optimizer.interrupt`).
4. :func:`_plan_of`: the evaluator scores the search's plan (or today's books, when the search
   found none and they keep every rule); the bound and the gap say how far from optimal it can
   be; status and termination say what it is and why the search stopped.
5. :func:`~optimizer.explain.explanation.explain`: reasons, runner-ups, held accounts, impact
   and the moves in weekly waves.

:func:`recover` makes the same plan from the files kept by a solve stopped from outside.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backends import ProgressCallback, get_backend, relative_gap
from .diagnose import Diagnosis, precheck
from .evaluate import Evaluation, evaluate
from .explain.explanation import explain
from .instance import Instance
from .interrupt import run_interruptibly
from .plan import Plan
from .recovery import companions, saved_assignment
from .scenario import Scenario, SolverSettings
from .status import Status, Termination
from .strategies import Context, Outcome, Strategy, choose

#: The message of every plan whose diagnosis proves that the hard rules conflict.
NO_PLAN = "The hard rules cannot all hold; see the diagnosis."


@dataclass
class _Run:
    """What the pipeline's steps share: the scenario, the settings in effect, the instance,
    today's score, when the solve began and the backend's name (``auto`` is HiGHS)."""

    scenario: Scenario
    settings: SolverSettings
    inst: Instance
    before: Evaluation
    started: float
    backend: str


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
        Called with :class:`optimizer.backends.Progress` as the solver improves (HiGHS, CP-SAT,
        the neighbourhood search, the decomposition).
    export_model
        Also write the model to this ``.mps`` or ``.lp`` file (any MILP solver can read it).
    warm_start
        A starting plan (account id -> CSM id) for the solver, e.g. the plan of a base scenario
        when solving a variant of it; by default the current assignment.
    score_like
        Normalize the objective terms as in this scenario (same accounts) instead of this one, so
        that a variant without some rule is scored on its base's scale (the price of the rule).
    solution_file
        Keep every improving plan in this file (and beside it) while solving, so that a solve
        stopped from outside can still give its best plan: see :func:`recover`.

    Returns
    -------
    Plan
        ``status`` is ``optimal`` (proven within ``solver.gap``), ``feasible``, ``infeasible``
        (with a ``diagnosis``) or ``no_solution``, and ``termination`` says why the search
        stopped. The plan's objective is the evaluator's score of its assignment; ``bound`` and
        ``gap`` say how far from optimal it can be at most.
    """
    if export_model is not None and Path(export_model).suffix.lower() not in (".mps", ".lp"):
        raise ValueError(
            f"cannot export the model as {Path(export_model).name!r}: use a .mps or .lp file"
        )
    run = _begin(scenario, backend, time_limit_s, score_like)
    conflicts = run.inst.override_conflicts()
    if conflicts:
        # An override that breaks another hard rule is a mistake in the input, not a plan
        # question: named by its path, nothing solved.
        return Plan.invalid(conflicts, scenario=scenario.name)
    found = precheck(run.inst)
    if found:
        diagnosis = Diagnosis("precheck", found)
        return _without_plan(run, Outcome(Termination.INFEASIBLE, diagnosis=diagnosis))
    strategy = choose(run.inst, run.settings)
    start_plan = dict(warm_start) if warm_start is not None else scenario.current_assignment()
    with _plan_file(solution_file, run.backend) as saving:
        ctx = Context(
            run.inst,
            run.settings,
            get_backend(run.backend),
            start_plan,
            progress=progress,
            solution_file=saving,
            recoverable=solution_file is not None,
            export_model=None if export_model is None else Path(export_model),
            started=run.started,
            today=run.before,
        )
        outcome = _search(strategy, ctx)
    return _plan_of(run, outcome, strategy)


def recover(
    scenario: Scenario,
    solution_file: str | Path,
    *,
    backend: str | None = None,
    bound: float | None = None,
    seconds: float = 0.0,
    reason: str = "The solve was stopped",
    score_like: Scenario | None = None,
    termination: Termination = Termination.INTERRUPTED,
) -> Plan:
    """The best plan of a solve that was stopped from outside (cancelled, killed).

    Reads the last complete plan that :func:`solve` kept in ``solution_file``; without one,
    falls back to the current assignment when it keeps every rule. ``bound`` is the last bound
    the solver reported (from its progress), so the plan still says how far from optimal it can
    be. The status is ``feasible`` (never ``optimal``: the proof did not finish) or
    ``no_solution``; ``termination`` says what stopped it (interrupted by default), and the
    message begins with ``reason``.
    """
    run = _begin(scenario, backend, None, score_like)
    assignment = saved_assignment(run.inst, str(solution_file), run.backend)
    outcome = Outcome(termination, assignment, bound, stopped_by=reason)
    return _plan_of(run, outcome, None, seconds=seconds)


# ------------------------------------------------------------------------------ the steps


def _begin(
    scenario: Scenario,
    backend: str | None,
    time_limit_s: float | None,
    score_like: Scenario | None,
) -> _Run:
    """The settings in effect, the instance and today's score; the clock starts here."""
    started = time.perf_counter()
    overrides: dict[str, Any] = {}
    if backend is not None:
        overrides["backend"] = backend
    if time_limit_s is not None:
        overrides["time_limit_s"] = time_limit_s
    settings = scenario.solver.model_copy(update=overrides)
    inst = Instance(scenario, reference=None if score_like is None else Instance(score_like))
    name = "highs" if settings.backend == "auto" else settings.backend
    return _Run(scenario, settings, inst, evaluate(inst), started, name)


@contextlib.contextmanager
def _plan_file(given: str | Path | None, backend: str) -> Iterator[str | None]:
    """Where the search keeps its improving plans: the caller's file, or, so that Ctrl-C in
    the main thread can return the best plan, a file of the solve's own (removed after it)."""
    if given is not None:
        yield str(given)
        return
    main = threading.current_thread() is threading.main_thread()
    if not main or "solutions" not in get_backend(backend).features:
        yield None
        return
    handle, path = tempfile.mkstemp(prefix="territory-", suffix=".sol")
    os.close(handle)
    try:
        yield path
    finally:
        for kept in companions(path):
            with contextlib.suppress(OSError):
                os.remove(kept)


def _search(strategy: Strategy, ctx: Context) -> Outcome:
    """The strategy's search; in the main thread Ctrl-C returns at once with its best plan."""
    if threading.current_thread() is not threading.main_thread():
        return strategy.search(ctx)
    try:
        return run_interruptibly(lambda: strategy.search(ctx), ctx.stop)
    except KeyboardInterrupt:
        outcome = strategy.interrupted(ctx)
        outcome.stopped_by = "Interrupted"
        return outcome


def _plan_of(
    run: _Run, outcome: Outcome, strategy: Strategy | None, seconds: float | None = None
) -> Plan:
    """The search's outcome as a plan: scored, bounded, with its status, termination and
    message, and explained."""
    if outcome.termination is Termination.INFEASIBLE and outcome.assignment is None:
        return _without_plan(run, outcome, seconds)
    assignment = outcome.assignment
    fallback = assignment is None
    if assignment is None:
        if not run.before.feasible:
            return _without_plan(run, outcome, seconds)
        # Never end with nothing when today's assignment already keeps every rule.
        current = run.scenario.current_assignment()
        assignment = {a: c for a, c in current.items() if c is not None}
    after = evaluate(run.inst, assignment)
    bound = None if outcome.bound is None else min(outcome.bound, after.objective)
    gap = relative_gap(after.objective, bound)
    status, termination = _verdict(outcome, strategy, gap, run.settings.gap, after, fallback)
    message = _message_of(outcome, status, after, gap, run.settings.gap, fallback)
    # The limit is the wall time the user waits: explanations stop at it (the largest
    # accounts explained first), or a second after the search; a recovered plan has none.
    deadline = None
    if seconds is None:  # at least a second, so that a small book is always explained in full
        deadline = max(run.started + run.settings.time_limit_s, time.perf_counter() + 1.0)
    explained = explain(run.inst, assignment, run.before, after, deadline)
    return _plan(
        run,
        status,
        termination,
        message,
        seconds,
        bound=bound,
        gap=gap,
        after=after,
        assignments=explained.assignments,
        held=explained.held,
        held_note=explained.held_note,
        impact=explained.impact,
        equity=explained.equity,
        overrides=explained.overrides,
        book_goals=explained.book_goals,
        projection=explained.projection,
        transition=explained.transition,
    )


def _without_plan(run: _Run, outcome: Outcome, seconds: float | None = None) -> Plan:
    """No plan: the rules conflict (with the diagnosis), or none was found."""
    if outcome.termination is Termination.INFEASIBLE:
        return _plan(
            run,
            Status.INFEASIBLE,
            Termination.INFEASIBLE,
            NO_PLAN,
            seconds,
            diagnosis=outcome.diagnosis,
        )
    text = outcome.message
    if not text and outcome.stopped_by is not None:
        text = f"{outcome.stopped_by} before any plan was found."
    return _plan(run, Status.NO_SOLUTION, outcome.termination, text, seconds)


def _verdict(
    outcome: Outcome,
    strategy: Strategy | None,
    gap: float | None,
    wanted: float,
    after: Evaluation,
    fallback: bool,
) -> tuple[Status, Termination]:
    """The plan's status and termination. A plan stopped from outside is never proven; a
    strategy whose bound is the full model's proves a plan when the gap closes; otherwise only
    the solver's own proof counts (a restricted model proven optimal only ended its search)."""
    if outcome.stopped_by is not None:
        status = Status.FEASIBLE if after.feasible else Status.NO_SOLUTION
        return status, outcome.termination
    if strategy is not None and strategy.bound_proves:
        proven = gap is not None and gap <= wanted + 1e-12
    else:
        proven = outcome.termination is Termination.OPTIMAL and not fallback
    if proven:
        return Status.OPTIMAL, Termination.OPTIMAL
    if outcome.termination is Termination.OPTIMAL:
        return Status.FEASIBLE, Termination.SEARCH_ENDED
    return Status.FEASIBLE, outcome.termination


def _message_of(
    outcome: Outcome,
    status: Status,
    after: Evaluation,
    gap: float | None,
    wanted: float,
    fallback: bool,
) -> str:
    """The plan's message: what it is in words, and how the strategy searched."""
    if outcome.stopped_by is not None:
        found = (
            "no plan was found yet; the current assignment, which keeps every rule, is returned"
            if fallback
            else "the best plan found so far is returned"
        )
        text = f"{outcome.stopped_by}: {found}"
        text += (
            f" (at most {gap:.2%} from optimal)." if gap is not None else " (optimality unknown)."
        )
    elif fallback:
        text = (
            "No better plan was found in time; the current assignment, which keeps every rule, "
            "is returned."
        )
    else:
        text = _message(status, after, gap, wanted)
    return f"{text} {outcome.note}" if outcome.note else text


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


def _plan(
    run: _Run,
    status: Status,
    termination: Termination,
    message: str,
    seconds: float | None,
    **fields: Any,
) -> Plan:
    """The plan with what every plan carries: the scenario's name, date and rules, the backend
    and settings, today's score and the time taken."""
    scenario = run.scenario
    return Plan(
        status=status,
        termination=termination,
        message=message,
        scenario=scenario.name,
        backend=run.backend,
        settings=run.settings.model_dump(),
        before=run.before,
        seconds=time.perf_counter() - run.started if seconds is None else seconds,
        as_of=scenario.as_of.isoformat(),
        constraints=scenario.constraints.model_dump(mode="json"),
        **fields,
    )
