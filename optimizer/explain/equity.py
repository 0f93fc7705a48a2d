"""The equity audit: is any group of accounts served clearly worse than the rest of the team?

For each region, coverage segment and ARR band, today and under the plan:

- **at-risk ARR with a high-retention CSM**: of the group's at-risk ARR (accounts whose churn
  probability is at least :data:`AT_RISK`, "medium" and above), the share whose CSM retains at
  least as well as the team's capacity-weighted mean retention;
- **expertise match**: of the group's accounts whose industry some eligible CSM covers, the share
  with a CSM who covers it (the ``expertise_match`` KPI, per group);
- **load of its CSMs**: the ARR-weighted mean, over the group's accounts, of their CSM's workload
  against that CSM's workload target (1 = on target).

A group of at least :data:`MIN_ACCOUNTS` accounts is *served clearly worse* when, under the plan,
its first two shares are :data:`SHARE_GAP` (15 points) or more below those of the rest of the
team, or its CSMs' load is :data:`LOAD_GAP` (15% of target) or more above the rest's. Each such
finding names the group, both figures and today's.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..evaluate import Evaluation
from ..instance import Instance
from ..units import money

#: Churn probability from which an account counts as at risk ("medium" and above).
AT_RISK = 0.2
#: Smallest group a finding is made for.
MIN_ACCOUNTS = 5
#: How far below the rest a share must be to be a finding, and how far above the rest a load.
SHARE_GAP = 0.15
LOAD_GAP = 0.15
#: The ARR bands: the team's accounts split at these quantiles of ARR.
BAND_QUANTILES = (0.25, 0.5, 0.75)


def equity_audit(
    inst: Instance,
    before: Evaluation,
    after: Evaluation,
    chosen_before: list[int | None],
    chosen_after: list[int | None],
) -> dict[str, Any]:
    """The audit of the plan (``chosen_after``, scored ``after``) against today's books."""
    today = _Measures(inst, chosen_before, before)
    plan = _Measures(inst, chosen_after, after)
    rows: list[dict[str, Any]] = []
    findings: list[str] = []
    n = len(inst.accounts)
    for dimension, label, mask in _groups(inst):
        rest = ~mask
        row: dict[str, Any] = {
            "dimension": dimension,
            "group": label,
            "accounts": int(mask.sum()),
            "arr": float(plan.arr[mask].sum()),
        }
        for name in ("at_risk_covered", "expertise_match", "load"):
            row[name] = {
                "before": today.measure(name, mask),
                "after": plan.measure(name, mask),
                "rest_after": plan.measure(name, rest),
            }
        rows.append(row)
        if row["accounts"] >= MIN_ACCOUNTS and row["accounts"] < n:
            findings.extend(_findings(dimension, label, row))
    return {
        "groups": rows,
        "findings": findings,
        "thresholds": {
            "at_risk": AT_RISK,
            "min_accounts": MIN_ACCOUNTS,
            "share_gap": SHARE_GAP,
            "load_gap": LOAD_GAP,
        },
    }


class _Measures:
    """Per account, under one assignment: what each measure sums (numpy arrays, so that a
    group's measure is a masked sum, also on 250,000 accounts)."""

    def __init__(self, inst: Instance, chosen: list[int | None], scored: Evaluation) -> None:
        m = len(inst.csms)
        csm = np.array([-1 if c is None else c for c in chosen], dtype=np.int64)
        placed = csm >= 0
        safe = np.where(placed, csm, 0)
        self.arr = np.asarray(inst.arr, dtype=float)
        retention = np.asarray(inst.retention, dtype=float)
        mean = inst.mean_retention
        high = retention >= mean - 1e-12
        at_risk = np.asarray(inst.p_churn, dtype=float) >= AT_RISK
        self.risk_arr = np.where(at_risk, self.arr, 0.0)
        self.covered_arr = np.where(at_risk & placed & high[safe], self.arr, 0.0)
        counted = np.asarray(inst._expertise_flags, dtype=bool)
        matched = np.array(
            [
                bool(counted[a] and c is not None and inst.industry_match(a, c))
                for a, c in enumerate(chosen)
            ],
            dtype=bool,
        )
        self.counted = counted.astype(float)
        self.matched = matched.astype(float)
        ratio = np.zeros(m)
        for book in scored.books:
            ratio[inst.csm_index[book.csm_id]] = book.workload_vs_target
        self.load_weight = np.where(placed, self.arr, 0.0)
        self.load = np.where(placed, self.arr * ratio[safe], 0.0)

    def measure(self, name: str, mask: np.ndarray) -> float | None:
        if name == "at_risk_covered":
            top, bottom = self.covered_arr[mask].sum(), self.risk_arr[mask].sum()
        elif name == "expertise_match":
            top, bottom = self.matched[mask].sum(), self.counted[mask].sum()
        else:
            top, bottom = self.load[mask].sum(), self.load_weight[mask].sum()
        return float(top / bottom) if bottom > 0 else None


def _groups(inst: Instance) -> list[tuple[str, str, np.ndarray]]:
    """(dimension, group, member mask): each region, coverage segment and ARR band that some
    account has (accounts without a region or segment are in no group of it)."""
    out: list[tuple[str, str, np.ndarray]] = []
    for dimension, values in (
        ("region", [a.region for a in inst.accounts]),
        ("segment", [a.coverage for a in inst.accounts]),
    ):
        keys = np.array([v or "" for v in values], dtype=object)
        for key in sorted({v for v in values if v}):
            out.append((dimension, key, keys == key))
    arr = np.asarray(inst.arr, dtype=float)
    if len(arr) >= 2 * len(BAND_QUANTILES) + 2:
        ordered = np.sort(arr)
        cuts = sorted(
            {float(ordered[min(int(q * len(arr)), len(arr) - 1)]) for q in BAND_QUANTILES}
        )
        edges = [-math.inf, *cuts, math.inf]
        for low, high in itertools.pairwise(edges):
            mask = (arr >= low) & (arr < high)
            if not mask.any():
                continue
            if math.isinf(low):
                label = f"ARR under {money(high)}"
            elif math.isinf(high):
                label = f"ARR {money(low)} and above"
            else:
                label = f"ARR {money(low)} to {money(high)}"
            out.append(("arr_band", label, mask))
    return out


def _findings(dimension: str, label: str, row: dict[str, Any]) -> list[str]:
    """The ways the group ``label`` is served clearly worse than the rest, in words."""
    out: list[str] = []
    where = label if dimension == "arr_band" else f"{label} ({dimension})"
    for name, words in (
        ("at_risk_covered", "of its at-risk ARR is with a high-retention CSM"),
        ("expertise_match", "of its accounts have an industry-matched CSM"),
    ):
        value = row[name]
        mine, rest, today = value["after"], value["rest_after"], value["before"]
        if mine is not None and rest is not None and mine <= rest - SHARE_GAP + 1e-12:
            was = "" if today is None else f"; today {today:.0%}"
            out.append(f"{where}: {mine:.0%} {words}, against {rest:.0%} for the rest{was}")
    load = row["load"]
    mine, rest, today = load["after"], load["rest_after"], load["before"]
    if mine is not None and rest is not None and mine >= rest + LOAD_GAP - 1e-12:
        was = "" if today is None else f"; today {today:.0%}"
        out.append(
            f"{where}: its CSMs carry {mine:.0%} of their workload target on average, against "
            f"{rest:.0%} for the rest{was}"
        )
    return out
