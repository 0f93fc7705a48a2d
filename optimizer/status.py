"""How a solve ended, as values to compare: never text to parse.

Two small enums, as solver libraries report outcomes: :class:`Status` says what the plan is
(proven optimal, a plan without proof, no plan because the rules conflict, no plan in time,
rejected input) and :class:`Termination` says why the solve stopped (proof, conflicting rules,
the time limit, an interruption from outside, a search with nothing left to try, a solver
failure). :data:`SOLVER_CODES` is the one table from each backend's own codes to a
:class:`Termination`; a code not in it is :attr:`Termination.UNKNOWN`, never a crash.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What a plan is. The values are the plan JSON's ``status`` (docs/plan-format.md)."""

    #: Proven within the requested gap.
    OPTIMAL = "optimal"
    #: A plan keeping every hard rule, not proven optimal (``bound`` and ``gap`` say how far
    #: from optimal it can be).
    FEASIBLE = "feasible"
    #: No plan can keep every hard rule; ``diagnosis`` says which rules conflict.
    INFEASIBLE = "infeasible"
    #: The solve ended before any plan keeping every rule was found.
    NO_SOLUTION = "no_solution"
    #: The input was rejected; nothing was solved (``issues`` lists every problem).
    INVALID = "invalid"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def exit_code(self) -> int:
        """The ``territory`` command's exit code: 0 a plan, 1 no plan, 2 invalid input."""
        return EXIT_CODES[self]


EXIT_CODES = {
    Status.OPTIMAL: 0,
    Status.FEASIBLE: 0,
    Status.INFEASIBLE: 1,
    Status.NO_SOLUTION: 1,
    Status.INVALID: 2,
}


class Termination(StrEnum):
    """Why a solve stopped. The values are the plan JSON's ``termination``."""

    #: The search proved its best plan optimal (within the requested gap).
    OPTIMAL = "optimal"
    #: The search proved that the hard rules cannot all hold.
    INFEASIBLE = "infeasible"
    #: The time limit ended the search, with or without a plan.
    TIME_LIMIT = "time_limit"
    #: Stopped from outside: Ctrl-C, a cancelled job, a server stopping the job.
    INTERRUPTED = "interrupted"
    #: A heuristic search stopped before the time limit: nothing it can try repairs or
    #: improves the plan further (no proof either way).
    SEARCH_ENDED = "search_ended"
    #: The solver failed (the message says how).
    ERROR = "error"
    #: The input was rejected before any solve.
    INVALID_INPUT = "invalid_input"
    #: A solver code this table does not know.
    UNKNOWN = "unknown"


_T = Termination

#: Each backend's own outcome codes (by name) and what they mean here.
#: HiGHS: MathOpt's ``TerminationReason``; FEASIBLE and NO_SOLUTION_FOUND are "a limit was
#: reached" with and without a plan (the only limit set is time). CP-SAT: ``CpSolverStatus``;
#: FEASIBLE and UNKNOWN likewise end at the time limit. CBC: the solution status PuLP reads back
#: (CBC's own "Result" line decides infeasibility and failures, see optimizer/backends/cbc.py).
SOLVER_CODES: dict[str, dict[str, Termination]] = {
    "highs": {
        "OPTIMAL": _T.OPTIMAL,
        "INFEASIBLE": _T.INFEASIBLE,
        "FEASIBLE": _T.TIME_LIMIT,
        "NO_SOLUTION_FOUND": _T.TIME_LIMIT,
        "UNBOUNDED": _T.ERROR,
        "INFEASIBLE_OR_UNBOUNDED": _T.ERROR,
        "IMPRECISE": _T.ERROR,
        "NUMERICAL_ERROR": _T.ERROR,
        "OTHER_ERROR": _T.ERROR,
    },
    "cpsat": {
        "OPTIMAL": _T.OPTIMAL,
        "FEASIBLE": _T.TIME_LIMIT,
        "INFEASIBLE": _T.INFEASIBLE,
        "UNKNOWN": _T.TIME_LIMIT,
        "MODEL_INVALID": _T.ERROR,
    },
    "cbc": {
        "Optimal Solution Found": _T.OPTIMAL,
        "Solution Found": _T.TIME_LIMIT,
        "No Solution Found": _T.TIME_LIMIT,
        "No Solution Exists": _T.INFEASIBLE,
        "Solution is Unbounded": _T.ERROR,
    },
}


def termination_of(backend: str, code: str) -> Termination:
    """What ``backend``'s outcome ``code`` means (:attr:`Termination.UNKNOWN` if not listed)."""
    return SOLVER_CODES.get(backend, {}).get(code, Termination.UNKNOWN)
