"""When a difference between two solved values is real: the one rule every comparison uses.

A solve proves two numbers about its plan (the objective is minimized): the plan's objective
``z`` and a bound ``b`` that no plan can beat. The optimum lies in ``[b, z]``, so the plan is at
most its **absolute gap** ``g = z - b`` from it (in objective units; ``Plan.gap`` is the same
distance relative to ``|z|``). A value computed exactly, such as the score of a given plan, has
``g = 0``; a plan without a bound has an unknown gap (``None``).

For two solved values ``z1`` (gap ``g1``) and ``z2`` (gap ``g2``), the difference
``d = z2 - z1`` is known to within its **uncertainty** ``u = g1 + g2``::

    within the gap   when  |d| <= u   (or when g1 or g2 is unknown)
    real             otherwise: the sign of d is proven

with a rounding allowance of ``1e-9 * max(1, |d|, u)``. For two optima this is a little more
cautious than asking whether the intervals ``[b1, z1]`` and ``[b2, z2]`` overlap (they do exactly
when ``-g1 <= d <= g2``, which implies ``|d| <= u``); the sum also serves for values scored on
another scale than the one they were solved on, where the direction of the error is unknown.
Two plans proven optimal with zero gap differ by exactly ``d``: only ``d = 0`` is within the gap.

A difference within the gap may be anything from ``-u`` to ``+u``: it does not say which value
is larger, so it is never shown as a ranking. :func:`ranks` ranks a list of differences (rule
prices, the tornado's effects): a difference within the gap of zero gets no rank, and every other
one ranks ``1 +`` the number of differences that are provably larger than it, so that two whose
own difference is within their gaps share a rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optimizer import Plan

#: Relative rounding allowance: float noise in an exact tie is not a real difference.
ROUNDING = 1e-9

#: What the CLI, the JSON and the report say for a difference that is not real.
WITHIN_THE_GAP = "within the gap"


def absolute_gap(objective: float | None, bound: float | None) -> float | None:
    """``|objective - bound|``: how far from optimal a plan can be, in objective units.

    ``None`` when either number is missing (no plan, or a solve that proved no bound).
    """
    if objective is None or bound is None:
        return None
    return abs(objective - bound)


def plan_gap(plan: Plan) -> float | None:
    """A plan's absolute gap (``None`` without a plan or without a bound)."""
    return absolute_gap(plan.objective, plan.bound) if plan.has_plan else None


@dataclass(frozen=True)
class Bounded:
    """A value known to within ``gap`` (absolute, ``>= 0``; ``None``: unknown)."""

    value: float
    gap: float | None = 0.0

    @classmethod
    def of_plan(cls, plan: Plan) -> Bounded | None:
        """A plan's objective with its absolute gap; ``None`` when the plan has no objective."""
        if not plan.has_plan or plan.objective is None:
            return None
        return cls(plan.objective, plan_gap(plan))


@dataclass(frozen=True)
class Difference:
    """A difference of solved values and its uncertainty (the sum of their absolute gaps)."""

    value: float
    uncertainty: float | None

    @property
    def within_gap(self) -> bool:
        """True unless the difference is larger than its uncertainty (see the module)."""
        if self.uncertainty is None:
            return True
        allowance = ROUNDING * max(1.0, abs(self.value), self.uncertainty)
        return abs(self.value) <= self.uncertainty + allowance

    @property
    def is_zero(self) -> bool:
        """Exactly no difference: both values proven (zero gaps) and equal, up to rounding."""
        if self.uncertainty is None:
            return False
        allowance = ROUNDING * max(1.0, abs(self.value))
        return abs(self.value) <= allowance and self.uncertainty <= allowance

    @property
    def interval(self) -> tuple[float, float] | None:
        """Where the difference of the optima can lie: ``value ± uncertainty``."""
        if self.uncertainty is None:
            return None
        return (self.value - self.uncertainty, self.value + self.uncertainty)

    def __neg__(self) -> Difference:
        return Difference(-self.value, self.uncertainty)

    def __abs__(self) -> Difference:
        return Difference(abs(self.value), self.uncertainty)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "uncertainty": self.uncertainty,
            "within_gap": self.within_gap,
        }


def difference(first: Bounded, second: Bounded) -> Difference:
    """``second - first``, known to within the sum of their gaps (``None`` if either is unknown)."""
    if first.gap is None or second.gap is None:
        return Difference(second.value - first.value, None)
    return Difference(second.value - first.value, first.gap + second.gap)


def within_gap(first: Bounded, second: Bounded) -> bool:
    """Whether ``second - first`` is within the gap (the module's rule)."""
    return difference(first, second).within_gap


def provably_larger(a: Difference, b: Difference) -> bool:
    """Whether ``a.value`` exceeds ``b.value`` by more than both uncertainties together."""
    apart = difference(Bounded(b.value, b.uncertainty), Bounded(a.value, a.uncertainty))
    return apart.value > 0 and not apart.within_gap


def ranks(items: Sequence[Difference]) -> list[int | None]:
    """The rank of each difference, largest first (``None``: within the gap of zero).

    A rank is ``1 +`` the number of ranked differences provably larger than this one, so that
    differences which cannot be told apart share a rank.
    """
    ranked = [i for i, item in enumerate(items) if not item.within_gap]
    out: list[int | None] = [None] * len(items)
    for i in ranked:
        out[i] = 1 + sum(1 for j in ranked if provably_larger(items[j], items[i]))
    return out


def ranked_order(items: Sequence[Difference]) -> list[int]:
    """Positions of ``items`` in display order: ranked ones by rank (then by value, largest
    first), then those within the gap (by value)."""
    rank = ranks(items)
    return sorted(
        range(len(items)),
        key=lambda i: (rank[i] is None, rank[i] or 0, -items[i].value),
    )
