"""The small interface every backend implements, and the outcome it returns."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..formulation import LinearModel
from ..scenario import SolverSettings
from ..status import Status, Termination


@dataclass(frozen=True)
class Progress:
    """A progress report during a solve: best plan value, best bound, gap, seconds so far."""

    elapsed_s: float
    incumbent: float | None
    bound: float | None
    gap: float | None
    backend: str

    @classmethod
    def of(
        cls, elapsed_s: float, incumbent: float | None, bound: float | None, backend: str
    ) -> Progress:
        """A report whose gap is the plan's relative distance to the bound."""
        return cls(elapsed_s, incumbent, bound, relative_gap(incumbent, bound), backend)


ProgressCallback = Callable[[Progress], None]


@dataclass
class RawSolution:
    """A backend's answer: why it stopped, its best solution vector (model order) if any, that
    solution's objective, the best bound, and the solver's own words."""

    termination: Termination
    values: list[float] | None
    objective: float | None
    bound: float | None
    seconds: float
    message: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """The answer as a plan status: a solution is optimal only with a proof."""
        if self.termination is Termination.INFEASIBLE:
            return Status.INFEASIBLE
        if self.values is None:
            return Status.NO_SOLUTION
        return Status.OPTIMAL if self.termination is Termination.OPTIMAL else Status.FEASIBLE


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9); ``None`` without both numbers."""
    if objective is None or bound is None:
        return None
    diff = abs(objective - bound)
    if diff <= 1e-12:
        return 0.0
    return diff / max(abs(objective), 1e-9)


@dataclass(frozen=True)
class Relaxation:
    """The optimum of a model's linear relaxation: its value, each variable's value (model
    order) and each row's dual (model order), in the model's own objective units."""

    objective: float
    values: np.ndarray
    duals: np.ndarray


class SolverBackend(ABC):
    """One solver behind the common model. Subclasses set ``name`` and ``features``."""

    name: str = ""
    #: What the backend supports: "hint" (warm start), "export" (write MPS/LP), "progress",
    #: "solutions" (improving plans saved while solving), "neighbourhoods"
    #: (:meth:`solve_part`) and "relaxation" (:meth:`relax`).
    features: frozenset[str] = frozenset()
    #: Whether the model should repeat each book's sum in every rule (see build_model).
    dense_books: bool = False

    @abstractmethod
    def solve(
        self,
        model: LinearModel,
        settings: SolverSettings,
        hint: dict[int, float] | None = None,
        progress: ProgressCallback | None = None,
        solution_file: str | None = None,
    ) -> RawSolution:
        """Solve ``model`` (a minimization) within ``settings``' limits.

        With ``solution_file``, backends with the "solutions" feature append every improving
        plan to that file as they find it (see :func:`read_last_solution`), so that a solve
        stopped from outside (a cancelled job, a killed process) still leaves its best plan.
        """

    def solve_part(
        self,
        model: LinearModel,
        settings: SolverSettings,
        fixed: Mapping[int, float],
        seconds: float,
        hint: Sequence[float] | None = None,
    ) -> tuple[list[float], Termination] | None:
        """Solve ``model`` exactly with the variables in ``fixed`` held at their values (a
        *neighbourhood*), within ``seconds``; ``hint`` is a full solution vector to start from.
        Returns the full solution vector and whether it was proven optimal, or ``None`` when no
        solution was found. Backends with the "neighbourhoods" feature implement it."""
        raise NotImplementedError(f"the {self.name} backend does not solve neighbourhoods")

    def relax(
        self,
        model: LinearModel,
        settings: SolverSettings,
        seconds: float,
        *,
        elastic: float | None = None,
    ) -> Relaxation | None:
        """The optimum of the linear relaxation of ``model`` within ``seconds`` (``None`` if
        not reached). With ``elastic``, every hard rule's row gets a slack costing that much
        per model unit (:meth:`LinearModel.elastic_slacks`), so that it always solves. Backends
        with the "relaxation" feature implement it."""
        raise NotImplementedError(f"the {self.name} backend does not solve relaxations")


def append_solution(path: str, objective: float, values: list[float]) -> None:
    """Append one plan to ``path`` in HiGHS's improving-solution format."""
    lines = [f"Objective {objective!r}", f"# Columns {len(values)}"]
    lines += [f"c{i} {v!r}" for i, v in enumerate(values)]
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def read_last_solution(path: str, columns: int) -> list[float] | None:
    """The last complete plan of ``columns`` values in ``path`` (HiGHS's improving-solution file
    or :func:`append_solution`'s), or ``None``. A block cut short by a killed writer is ignored."""
    try:
        with open(path, encoding="utf-8", errors="replace") as src:
            lines = src.read().splitlines()
    except OSError:
        return None
    best: list[float] | None = None
    i = 0
    while i < len(lines):
        if lines[i].startswith("# Columns ") and lines[i][10:].strip().isdigit():
            n = int(lines[i][10:].strip())
            block = lines[i + 1 : i + 1 + n]
            i += 1 + n
            if n != columns or len(block) != n:
                continue
            try:
                best = [float(line.rsplit(" ", 1)[1]) for line in block]
            except (IndexError, ValueError):
                continue
        else:
            i += 1
    return best


_SAFE = re.compile(r"[^A-Za-z0-9_.]")


def safe_name(name: str) -> str:
    """A name solver file formats accept (letters, digits, '_' and '.')."""
    return _SAFE.sub("_", name)
