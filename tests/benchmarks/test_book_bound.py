"""benchmarks/book_bound.py: its row for a published GAP instance must put the book bound between
the best known value and the LP relaxation (GAP units, a maximization), and say whether the bound
proves the optimum by rounding."""

from __future__ import annotations

import math

from benchmarks.book_bound import HEADER, measure


def test_a_gap_row_orders_optimum_bound_and_relaxation() -> None:
    row = dict(zip(HEADER, measure("gap4-1", 30.0), strict=True))
    best, lp, bound = int(row["best known"]), float(row["LP relaxation"]), float(row["book bound"])
    assert best <= bound + 1e-6 <= lp + 2e-6
    assert row["converged"] == "yes"
    assert row["bound proves the best known"] == (
        "yes" if math.floor(bound + 1e-6) == best else "no"
    )
