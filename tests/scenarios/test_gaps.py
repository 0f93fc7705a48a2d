"""The gap rule (scenarios/gaps.py) on hand-computed cases: no solve needed."""

from __future__ import annotations

import pytest

from optimizer import Plan, Status
from optimizer.evaluate import Evaluation
from scenarios.gaps import (
    Bounded,
    Difference,
    absolute_gap,
    difference,
    plan_gap,
    ranked_order,
    ranks,
    within_gap,
)


def plan(objective: float | None, bound: float | None, status: str = "optimal") -> Plan:
    """A plan with only what the rule reads: status, objective (its evaluation) and bound."""
    after = None
    if objective is not None:
        after = Evaluation(objective, {}, {}, 0.0, [], {})
    return Plan(status=Status(status), bound=bound, after=after)


def test_absolute_gap_is_the_distance_from_objective_to_bound() -> None:
    assert absolute_gap(10.0, 9.5) == pytest.approx(0.5)
    assert absolute_gap(10.0, 10.0) == 0.0
    assert absolute_gap(None, 9.5) is None
    assert absolute_gap(10.0, None) is None
    assert plan_gap(plan(0.35, 0.34)) == pytest.approx(0.01)
    assert plan_gap(plan(0.35, None, "feasible")) is None  # no bound: the gap is unknown
    assert plan_gap(plan(None, None, "infeasible")) is None  # no plan
    assert Bounded.of_plan(plan(None, None, "infeasible")) is None
    assert Bounded.of_plan(plan(0.35, 0.34)) == Bounded(0.35, pytest.approx(0.01))


def test_a_difference_larger_than_both_gaps_is_real_in_either_direction() -> None:
    a, b = Bounded(10.0, 1.0), Bounded(12.0, 0.5)  # optima within [9, 10] and [11.5, 12]
    up, down = difference(a, b), difference(b, a)
    assert (up.value, up.uncertainty) == (pytest.approx(2.0), pytest.approx(1.5))
    assert (down.value, down.uncertainty) == (pytest.approx(-2.0), pytest.approx(1.5))
    assert not up.within_gap and not down.within_gap
    assert up.interval == (pytest.approx(0.5), pytest.approx(3.5))


def test_a_difference_smaller_than_the_sum_of_the_gaps_is_within_the_gap() -> None:
    # [9, 10] and [9.5, 10.5] overlap: the second optimum may be the smaller one.
    assert within_gap(Bounded(10.0, 1.0), Bounded(10.5, 1.0))
    assert within_gap(Bounded(10.5, 1.0), Bounded(10.0, 1.0))
    # |d| = 1 <= 1 + 0.2: within the gap, although [9, 10] and [10.8, 11] do not overlap. The
    # rule is the cautious one (the sum), which also holds for re-scored values.
    assert within_gap(Bounded(10.0, 1.0), Bounded(11.0, 0.2))
    # Just past the sum: real.
    assert not within_gap(Bounded(10.0, 1.0), Bounded(11.21, 0.2))


def test_optimal_plans_with_zero_gap_differ_by_exactly_their_difference() -> None:
    a, b = Bounded(5.0, 0.0), Bounded(5.001, 0.0)
    assert not difference(a, b).within_gap
    same = difference(a, Bounded(5.0, 0.0))
    assert same.within_gap and same.is_zero
    # Float noise in an exact tie is not a difference.
    assert difference(a, Bounded(5.0 + 1e-12, 0.0)).within_gap
    # From plans: both proven optimal, bound equal to objective.
    p, q = Bounded.of_plan(plan(0.3, 0.3)), Bounded.of_plan(plan(0.31, 0.31))
    assert p is not None and q is not None
    assert difference(p, q).uncertainty == 0.0 and not difference(p, q).within_gap


def test_a_missing_bound_leaves_every_difference_within_the_gap() -> None:
    d = difference(Bounded(10.0, None), Bounded(100.0, 0.0))
    assert d.uncertainty is None and d.interval is None
    assert d.within_gap and not d.is_zero
    assert d.to_dict() == {"value": 90.0, "uncertainty": None, "within_gap": True}


def test_ranks_share_a_rank_where_differences_cannot_be_told_apart() -> None:
    items = [
        Difference(5.0, 1.0),
        Difference(4.5, 0.2),  # 5 - 4.5 = 0.5 <= 1.2: shares rank 1
        Difference(2.0, 0.1),  # provably below both
        Difference(0.05, 0.1),  # within the gap of zero: no rank
        Difference(3.0, None),  # no bound: no rank
    ]
    assert ranks(items) == [1, 1, 3, None, None]
    # Ranked first, then those within the gap, larger first.
    assert ranked_order(items) == [0, 1, 2, 4, 3]


def test_a_rank_counts_only_the_differences_provably_larger() -> None:
    # 10 ± 5 is not provably above 5 ± 0.1, although 6 ± 0.1 is: 5 ranks 2, not 3.
    items = [Difference(10.0, 5.0), Difference(6.0, 0.1), Difference(5.0, 0.1)]
    assert ranks(items) == [1, 1, 2]
