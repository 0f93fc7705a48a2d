"""Projected impact of a plan: what changes for the business, each number with its assumption.

The numbers come from the evaluator's books and KPIs of the current assignment and the plan;
the assumptions say what the projection takes for granted, so a VP of CS can defend them (or
change the inputs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..evaluate import Evaluation
from ..instance import Instance

#: Expansion potential from which an account counts as expansion-ready ("medium" and above).
EXPANSION_READY = 0.4


@dataclass(frozen=True)
class ImpactRow:
    metric: str
    label: str
    before: float | None
    after: float | None
    #: ``after - before`` (``None`` when either is missing).
    change: float | None
    #: ``money``, ``share``, ``ratio`` or ``count``.
    unit: str
    #: Which direction is an improvement: ``lower`` or ``higher``.
    better: str
    assumption: str

    @property
    def improved(self) -> bool | None:
        if self.change is None:
            return None
        return self.change < 0 if self.better == "lower" else self.change > 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "improved": self.improved}


def expansion_coverage(inst: Instance, chosen: list[int | None]) -> float | None:
    """Share of the ARR of expansion-ready accounts whose CSM expands at least as well as the
    team's capacity-weighted mean (``None`` without such accounts)."""
    mean = inst.mean_expansion_rate
    ready = covered = 0.0
    for a, c in enumerate(chosen):
        if inst.potential[a] < EXPANSION_READY:
            continue
        ready += inst.arr[a]
        if c is not None and inst.expansion_rate[c] >= mean - 1e-12:
            covered += inst.arr[a]
    return covered / ready if ready > 0 else None


def projected_impact(
    inst: Instance,
    before: Evaluation,
    after: Evaluation,
    chosen_before: list[int | None],
    chosen_after: list[int | None],
) -> list[ImpactRow]:
    """The plan's projected impact against the current assignment."""
    b, a = before.kpis, after.kpis

    def row(
        metric: str, label: str, old: Any, new: Any, unit: str, better: str, assumption: str
    ) -> ImpactRow:
        change = None if old is None or new is None else float(new) - float(old)
        return ImpactRow(
            metric,
            label,
            None if old is None else float(old),
            None if new is None else float(new),
            change,
            unit,
            better,
            assumption,
        )

    return [
        row(
            "arr_at_risk",
            "Expected ARR at risk",
            b["arr_at_risk"],
            a["arr_at_risk"],
            "money",
            "lower",
            "Each account's churn probability is scaled by how much its CSM loses relative to "
            "the team: p x (1 - CSM retention) / (1 - team mean retention), capped at 1. "
            "Retention rates are historical and assumed to carry over to the new books.",
        ),
        row(
            "workload_cv",
            "Workload spread (coefficient of variation per full-time CSM)",
            b["workload_cv"],
            a["workload_cv"],
            "ratio",
            "lower",
            "Workload units per account are taken as given (complexity when none is set) and "
            "scaled by each CSM's capacity; a lower spread means fewer overloaded books.",
        ),
        row(
            "arr_max_deviation",
            "Largest ARR deviation from a CSM's target",
            b["arr_max_deviation"],
            a["arr_max_deviation"],
            "share",
            "lower",
            "Targets are the team's ARR shared in proportion to capacity.",
        ),
        row(
            "expertise_match",
            "Accounts with a CSM who covers their industry",
            b["expertise_match"],
            a["expertise_match"],
            "share",
            "higher",
            "Industry coverage as listed for each CSM; accounts without an industry are not "
            "counted.",
        ),
        row(
            "expansion_coverage",
            "Expansion-ready ARR with a CSM who expands at least as well as the team",
            expansion_coverage(inst, chosen_before),
            expansion_coverage(inst, chosen_after),
            "share",
            "higher",
            f"Expansion-ready = expansion potential of at least {EXPANSION_READY:g} ('medium'); "
            "a CSM's expansion rate is historical and compared with the capacity-weighted team "
            "mean.",
        ),
        row(
            "expected_expansion_arr",
            "Expected expansion ARR",
            b["expected_expansion_arr"],
            a["expected_expansion_arr"],
            "money",
            "higher",
            "Sum of ARR x expansion potential x the CSM's expansion rate: the expansion rate is "
            "assumed to apply to every account a CSM holds.",
        ),
        row(
            "max_high_risk_per_csm",
            "Most high-risk accounts on one CSM",
            b["max_high_risk_per_csm"],
            a["max_high_risk_per_csm"],
            "count",
            "lower",
            "High-risk = churn probability at or above constraints.high_risk_threshold.",
        ),
        row(
            "moves",
            "Accounts that change CSM",
            b["moves"],
            a["moves"],
            "count",
            "lower",
            "Each move is a handoff: a new relationship and a short-term risk, planned in waves "
            "by the transition plan.",
        ),
    ]
