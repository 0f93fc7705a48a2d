"""The full model: every eligible pair, branch and bound, then large-neighbourhood search.

:class:`ModelSearch` is the search on a built model, shared with column generation (which
builds a *restricted* model and brings the full model's bound):

1. Branch and bound from the start plan (the hint), with half the time limit when HiGHS may
   hand over to the neighbourhood search (``solver.lns``), else all of it.
2. No plan by then: the decomposition's repair-first search (optimizer/strategies/lagrangian.py)
   looks for one; if it finds none, branch and bound gets the rest of the time.
3. A plan but no proof: large-neighbourhood search (optimizer/strategies/lns.py) improves it
   until the time limit. The bound stays branch and bound's (the full model's).

Every improving plan is appended to the solve's solution file, so that Ctrl-C (or a job
stopped from outside) still has the best plan to return.
"""

from __future__ import annotations

import math

from ..backends import Progress, RawSolution
from ..backends.base import append_solution, read_last_solution
from ..backends.cbc import export_model as write_model
from ..diagnose import find_conflicts
from ..formulation import AssignmentModel, build_model
from ..status import Status, Termination
from .base import Context, Outcome, Strategy
from .lagrangian import decompose, supports
from .lns import improve, objective_of
from .rounding import round_point

#: Share of the time limit left to large-neighbourhood search when HiGHS has no proof by then.
LNS_SHARE = 0.5
#: Below this time limit (seconds) the whole limit goes to branch and bound.
MIN_LNS_LIMIT_S = 2.0
#: Share of the time left that the decomposition's search may take to find a first plan when
#: branch and bound has none by half time.
SEARCH_SHARE = 0.4


class FullModel(Strategy):
    """Every eligible pair in one model, solved by the backend (module docstring)."""

    name = "full"
    bound_proves = False

    def __init__(self) -> None:
        self.model: ModelSearch | None = None

    def search(self, ctx: Context) -> Outcome:
        built = build_model(ctx.inst, dense=ctx.backend.dense_books)
        self.model = ModelSearch(ctx, built)
        return self.model.run()

    def interrupted(self, ctx: Context) -> Outcome:
        if self.model is None:
            return Outcome(Termination.INTERRUPTED)
        return self.model.interrupted()


class ModelSearch:
    """Branch and bound, then large-neighbourhood search, on a built model.

    For a restricted model (``restricted``, from column generation) the bound reported is
    ``full_bound`` (the full model's), never the restricted model's; ``rounded`` is a plan of
    it found before the search (rounded from the relaxation, or today's books repaired), which
    the search starts from.
    """

    def __init__(
        self,
        ctx: Context,
        built: AssignmentModel,
        *,
        restricted: bool = False,
        full_bound: float | None = None,
        rounded: list[float] | None = None,
        relaxed: list[float] | None = None,
    ) -> None:
        self.ctx = ctx
        self.built = built
        self.restricted = restricted
        self.full_bound = full_bound
        self.rounded = rounded
        #: A point of the model's linear relaxation, when the caller has one (else the
        #: neighbourhood search solves the relaxation itself).
        self.relaxed = relaxed
        #: The last bound heard of (for a plan returned on Ctrl-C).
        self.last_bound = full_bound
        self._hint: dict[int, float] | None = None
        settings = ctx.settings
        self.lns = (
            settings.lns
            and ctx.backend.name == "highs"
            and settings.time_limit_s >= MIN_LNS_LIMIT_S
        )

    # ------------------------------------------------------------------ the search
    def run(self) -> Outcome:
        ctx, built = self.ctx, self.built
        if ctx.export_model is not None:
            write_model(built.model, ctx.export_model)
        raw = self._first_plan()
        if self.lns and raw.values is None and raw.termination is Termination.TIME_LIMIT:
            raw = self._plan_by_search(raw)
        if self.lns and raw.status is Status.FEASIBLE and raw.values is not None:
            values, _ = improve(
                built,
                ctx.backend,
                ctx.settings,
                raw.values,
                ctx.left(),
                bound=raw.bound,
                progress=self.tracked,
                solution_file=ctx.solution_file,
                started=ctx.started,
                stop=ctx.stop,
                relaxed=self.relaxed,
            )
            raw.values, raw.objective = values, objective_of(built, values)
        return self._outcome(raw)

    def _first_plan(self) -> RawSolution:
        """Branch and bound (half the time when the neighbourhood search may follow), or the
        rounded plan of a restricted model directly: branch and bound on a large restricted
        model spends its time on presolve and a bound that is not the full model's."""
        ctx, built, rounded = self.ctx, self.built, self.rounded
        if rounded is not None and ctx.solution_file is not None:
            append_solution(ctx.solution_file, objective_of(built, rounded), rounded)
        if self.lns and rounded is not None:
            value = objective_of(built, rounded)
            return RawSolution(Termination.TIME_LIMIT, rounded, value, None, 0.0)
        remaining = ctx.left()
        limit = max(remaining * (1 - LNS_SHARE) if self.lns else remaining, 0.1)
        raw = self._branch_and_bound(limit)
        if raw.values is None and rounded is not None:
            value = objective_of(built, rounded)
            return RawSolution(
                Termination.TIME_LIMIT, rounded, value, None, raw.seconds, raw.message
            )
        return raw

    def _branch_and_bound(self, seconds: float) -> RawSolution:
        ctx = self.ctx
        if self._hint is None:
            # The rounded plan when there is one, else the start plan.
            self._hint = (
                self.built.hint(ctx.start_plan)
                if self.rounded is None
                else {var: self.rounded[var] for var in self.built.x.values()}
            )
        settings = ctx.settings.model_copy(update={"time_limit_s": seconds})
        return ctx.backend.solve(
            self.built.model,
            settings,
            hint=self._hint,
            progress=self.tracked,
            solution_file=ctx.solution_file,
        )

    def _plan_by_search(self, raw: RawSolution) -> RawSolution:
        """No plan from branch and bound by half time: the decomposition's repair-first search
        looks for one, for the neighbourhood search to improve; if it finds none, branch and
        bound gets the rest of the time."""
        ctx = self.ctx
        left = ctx.left()
        if left <= 1.0:
            return raw
        found = searched_plan(self.built, ctx, left * SEARCH_SHARE, raw.bound)
        if found is not None:
            values, bound = found
            value = objective_of(self.built, values)
            if ctx.solution_file is not None:
                append_solution(ctx.solution_file, value, values)
            return RawSolution(Termination.TIME_LIMIT, values, value, bound, raw.seconds)
        left = ctx.left()
        return self._branch_and_bound(left) if left > 1.0 else raw

    def tracked(self, p: Progress) -> None:
        """Progress from the backend and the neighbourhood search: on a restricted model the
        bound reported is the full model's."""
        if self.restricted:
            p = Progress.of(p.elapsed_s, p.incumbent, self.full_bound, p.backend)
        self.last_bound = p.bound if p.bound is not None else self.last_bound
        if self.ctx.progress is not None:
            self.ctx.progress(p)

    # ------------------------------------------------------------------ outcomes
    def _outcome(self, raw: RawSolution) -> Outcome:
        built = self.built
        if raw.status is Status.INFEASIBLE and not self.restricted:
            ctx = self.ctx
            return Outcome(Termination.INFEASIBLE, diagnosis=find_conflicts(ctx.inst, ctx.settings))
        bound = self.full_bound if self.restricted else raw.bound
        if raw.values is None:
            if raw.termination is Termination.TIME_LIMIT:
                text = "The time limit ended before any plan was found."
            else:
                text = f"The solver stopped without a plan: {raw.message}"
            return Outcome(raw.termination, None, bound, message=text)
        return Outcome(raw.termination, built.assignment(raw.values), bound)

    def interrupted(self) -> Outcome:
        """The last plan written to the solution file, with the last bound heard of."""
        path = self.ctx.solution_file
        if path is None:
            raise KeyboardInterrupt  # nothing kept to return: Ctrl-C goes to the caller
        values = read_last_solution(path, len(self.built.model.variables))
        assignment = None if values is None else self.built.assignment(values)
        return Outcome(Termination.INTERRUPTED, assignment, self.last_bound)


def searched_plan(
    built: AssignmentModel, ctx: Context, seconds: float, bound: float | None
) -> tuple[list[float], float | None] | None:
    """A plan of ``built`` (the full model) from the decomposition's search within ``seconds``,
    and the better of ``bound`` and the decomposition's own bound (both the full model's);
    ``None`` if it finds no plan keeping every rule, or cannot price every rule."""
    inst = built.instance
    if not supports(inst):
        return None
    started = ctx.elapsed()
    outcome = decompose(inst, ctx.settings, seconds, warm=ctx.positions(), stop=ctx.stop)
    if outcome.choice is None:
        return None
    point = [0.0] * len(built.model.variables)
    for a, c in enumerate(outcome.choice.tolist()):
        var = built.x.get((a, int(c)))
        if var is None:
            return None
        point[var] = 1.0
    # Every account placed: the remaining (continuous) variables follow from the placement.
    left = max(seconds - (ctx.elapsed() - started), 1.0)
    values = round_point(built, point, ctx.settings, left)
    if values is None:
        return None
    best = outcome.bound if math.isfinite(outcome.bound) else None
    if bound is not None:
        best = bound if best is None else max(best, bound)
    return values, best
