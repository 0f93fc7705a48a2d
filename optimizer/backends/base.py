"""The small interface every backend implements, and the outcome it returns."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ..formulation import LinearModel
from ..scenario import SolverSettings

#: The statuses a backend may report. ``error`` becomes ``no_solution`` with a message upstream.
RAW_STATUSES = ("optimal", "feasible", "infeasible", "no_solution", "error")


@dataclass(frozen=True)
class Progress:
    """A progress report during a solve: best plan value, best bound, gap, seconds so far."""

    elapsed_s: float
    incumbent: float | None
    bound: float | None
    gap: float | None
    backend: str


ProgressCallback = Callable[[Progress], None]


@dataclass
class RawSolution:
    status: str
    values: list[float] | None
    objective: float | None
    bound: float | None
    seconds: float
    message: str = ""
    log: list[str] = field(default_factory=list)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9); ``None`` without both numbers."""
    if objective is None or bound is None:
        return None
    diff = abs(objective - bound)
    if diff <= 1e-12:
        return 0.0
    return diff / max(abs(objective), 1e-9)


class SolverBackend(ABC):
    """One solver behind the common model. Subclasses set ``name`` and ``features``."""

    name: str = ""
    #: What the backend supports: "hint" (warm start), "export" (write MPS/LP), "progress".
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
    ) -> RawSolution:
        """Solve ``model`` (a minimization) within ``settings``' limits."""


_SAFE = re.compile(r"[^A-Za-z0-9_.]")


def safe_name(name: str) -> str:
    """A name solver file formats accept (letters, digits, '_' and '.')."""
    return _SAFE.sub("_", name)
