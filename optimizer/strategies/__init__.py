"""How a solve searches: one module per strategy, each behind :class:`~.base.Strategy`.

============  =============================================================================
``full``      every eligible pair in one model: branch and bound, then neighbourhood search
              (full.py, lns.py)
``columns``   large teams: column generation picks the pairs, the restricted model is searched
              as the full one, the bound is the full model's (columns.py, lp_server.py)
``lagrangian``  very large teams: prices on the rules that link accounts, a bound of the full
              model and a repairing local search, no linear program (lagrangian.py,
              local_search.py)
============  =============================================================================

``solver.strategy = "auto"`` picks by size: :func:`choose`. ``books.py`` is a bound, not yet a
strategy: the Dantzig-Wolfe bound over whole books (:func:`~.books.book_bound`).
"""

from __future__ import annotations

from ..instance import Instance
from ..scenario import SolverSettings
from . import pricing
from .base import Context, Outcome, Strategy
from .columns import ColumnGeneration
from .full import FullModel
from .lagrangian import Decomposition, supports
from .pricing import eligible_pairs


def use_lagrangian(inst: Instance, settings: SolverSettings) -> bool:
    """Whether this solve uses the decomposition (``solver.strategy``, or for ``auto`` more
    than :data:`pricing.HUGE_PAIRS` eligible pairs), which it can only where it prices every
    rule of the registry (:func:`~.lagrangian.supports`)."""
    if not supports(inst):
        return False
    if settings.strategy != "auto":
        return settings.strategy == "lagrangian"
    return eligible_pairs(inst) > pricing.HUGE_PAIRS


def use_columns(inst: Instance, settings: SolverSettings) -> bool:
    """Whether this solve uses column generation (``solver.strategy``, or for ``auto`` between
    :data:`pricing.LARGE_PAIRS` and :data:`pricing.HUGE_PAIRS` eligible pairs)."""
    if settings.strategy != "auto":
        return settings.strategy == "columns"
    return pricing.LARGE_PAIRS < eligible_pairs(inst) <= pricing.HUGE_PAIRS


def choose(inst: Instance, settings: SolverSettings) -> Strategy:
    """The strategy for this solve: the decomposition, column generation or the full model."""
    if use_lagrangian(inst, settings):
        return Decomposition()
    # Past the decomposition's size, a team with a rule it cannot price goes to columns.
    huge = settings.strategy == "auto" and eligible_pairs(inst) > pricing.HUGE_PAIRS
    if use_columns(inst, settings) or huge:
        return ColumnGeneration()
    return FullModel()


__all__ = ["Context", "Outcome", "Strategy", "choose", "use_columns", "use_lagrangian"]
