"""Outcome projection: retained ARR, churned ARR and expected expansion 6 and 12 months out,
per CSM and in total, for today's books and for the plan.

Assumptions (each listed next to the numbers in the plan):

- an account's annual churn probability is its ``churn_risk`` scaled by its CSM's retention
  against the team's capacity-weighted mean (the ``arr_at_risk`` KPI's adjustment), and the
  hazard is constant over the year: it survives ``m`` months with probability
  ``(1 - p)^(m / 12)``;
- a moved account's annual churn probability rises by ``transition.handoff_churn`` for the
  quarter of its handoff (the first three months): ``(1 - p - bump)^(3 / 12) x
  (1 - p)^((m - 3) / 12)``, capped so that no probability passes 1;
- expansion accrues evenly over the year on the ARR still there: ``arr x expansion_potential
  x the CSM's expansion_rate x m / 12 x survival``;
- an account without a CSM (today, for a new account) counts with the team's mean retention
  (its churn probability as given) and mean expansion rate.
"""

from __future__ import annotations

from typing import Any

from ..evaluate import adjusted_churn
from ..instance import Instance

#: Months of a handoff quarter.
HANDOFF_MONTHS = 3


def survival(p: float, months: int, bump: float = 0.0) -> float:
    """The probability that an account with annual churn probability ``p`` is still a customer
    after ``months``, with ``bump`` added to ``p`` for the first quarter (a handoff)."""
    p = min(max(p, 0.0), 1.0)
    if not bump:
        return (1.0 - p) ** (months / 12)
    first = min(months, HANDOFF_MONTHS)
    raised = min(p + bump, 1.0)
    return (1.0 - raised) ** (first / 12) * (1.0 - p) ** ((months - first) / 12)


def _book(
    inst: Instance, chosen: list[int | None], months: int, bump: float
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Per CSM, and for the accounts without one: retained ARR, churned ARR and expected
    expansion ``months`` out under ``chosen`` (``bump`` for accounts that change CSM)."""
    rows = [
        {"retained_arr": 0.0, "churned_arr": 0.0, "expected_expansion_arr": 0.0} for _ in inst.csms
    ]
    unowned = {"retained_arr": 0.0, "churned_arr": 0.0, "expected_expansion_arr": 0.0}
    for a, c in enumerate(chosen):
        current = inst.current[a]
        moved = c is not None and current is not None and current != c
        if c is None:  # no CSM: the team's mean retention and expansion rate
            p, rate, row = inst.p_churn[a], inst.mean_expansion_rate, unowned
        else:
            p = adjusted_churn(inst.p_churn[a], inst.retention[c], inst.mean_retention)
            rate, row = inst.expansion_rate[c], rows[c]
        alive = survival(p, months, bump if moved else 0.0)
        arr = inst.arr[a]
        row["retained_arr"] += arr * alive
        row["churned_arr"] += arr * (1.0 - alive)
        row["expected_expansion_arr"] += arr * inst.potential[a] * rate * months / 12 * alive
    return rows, unowned


def _total(rows: list[dict[str, float]], unowned: dict[str, float]) -> dict[str, float]:
    return {key: sum(r[key] for r in rows) + unowned[key] for key in unowned}


def project_outcomes(
    inst: Instance, chosen_before: list[int | None], chosen_after: list[int | None]
) -> dict[str, Any]:
    """The projection of today's books and of the plan, per horizon, per CSM and in total."""
    settings = inst.scenario.transition
    bump = settings.handoff_churn
    horizons = []
    for months in settings.projection_months:
        before, unowned_before = _book(inst, chosen_before, months, bump)
        after, unowned_after = _book(inst, chosen_after, months, bump)
        horizons.append(
            {
                "months": months,
                "before": _total(before, unowned_before),
                "after": _total(after, unowned_after),
                "without_csm": {"before": unowned_before, "after": unowned_after},
                "csms": [
                    {"csm_id": csm.id, "before": before[c], "after": after[c]}
                    for c, csm in enumerate(inst.csms)
                ],
            }
        )
    return {
        "horizons": horizons,
        "assumptions": [
            "Annual churn probability: churn_risk scaled by the CSM's retention against the "
            "team's mean (as ARR at risk); constant hazard: survival over m months is "
            "(1 - p)^(m/12).",
            f"A moved account's churn probability rises by {bump:.0%} (transition."
            "handoff_churn) for the quarter of its handoff.",
            "Expansion accrues evenly over the year on the ARR still there: ARR x "
            "expansion_potential x the CSM's expansion_rate x m/12.",
            "An account without a CSM counts with the team's mean retention and expansion rate.",
        ],
    }
