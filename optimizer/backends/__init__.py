"""Solver backends behind one interface. ``get_backend(name)`` returns one by name.

| name    | solver                          | features                  |
|---------|---------------------------------|---------------------------|
| highs   | HiGHS through OR-Tools MathOpt  | warm start, progress, plans saved while solving |
| cpsat   | OR-Tools CP-SAT                 | warm start, progress, plans saved while solving |
| cbc     | CBC through PuLP                | warm start, model export                        |
"""

from __future__ import annotations

from .base import Progress, ProgressCallback, RawSolution, SolverBackend, relative_gap

BACKENDS = ("highs", "cpsat", "cbc")


def get_backend(name: str) -> SolverBackend:
    """The backend called ``name`` (``auto`` is HiGHS, the default)."""
    if name in ("auto", "highs"):
        from .highs import HighsBackend

        return HighsBackend()
    if name == "cpsat":
        from .cpsat import CpSatBackend

        return CpSatBackend()
    if name == "cbc":
        from .cbc import CbcBackend

        return CbcBackend()
    raise ValueError(f"unknown backend {name!r}: choose one of auto, {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Progress",
    "ProgressCallback",
    "RawSolution",
    "SolverBackend",
    "get_backend",
    "relative_gap",
]
