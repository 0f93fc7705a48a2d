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
from collections.abc import Callable, Sequence
from typing import Any

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

Metric = Callable[[Sequence[int], list[int | None], Evaluation], float | None]


def equity_audit(
    inst: Instance,
    before: Evaluation,
    after: Evaluation,
    chosen_before: list[int | None],
    chosen_after: list[int | None],
) -> dict[str, Any]:
    """The audit of the plan (``chosen_after``, scored ``after``) against today's books."""
    groups = _groups(inst)
    metrics: dict[str, Metric] = {
        "at_risk_covered": lambda members, chosen, _: _at_risk_covered(inst, members, chosen),
        "expertise_match": lambda members, chosen, _: _expertise(inst, members, chosen),
        "load": lambda members, chosen, scored: _load(inst, members, chosen, scored),
    }
    everyone = set(range(len(inst.accounts)))
    rows: list[dict[str, Any]] = []
    findings: list[str] = []
    for dimension, label, members in groups:
        rest = sorted(everyone - set(members))
        row: dict[str, Any] = {
            "dimension": dimension,
            "group": label,
            "accounts": len(members),
            "arr": sum(inst.arr[a] for a in members),
        }
        for name, metric in metrics.items():
            row[name] = {
                "before": metric(members, chosen_before, before),
                "after": metric(members, chosen_after, after),
                "rest_after": metric(rest, chosen_after, after),
            }
        rows.append(row)
        if len(members) >= MIN_ACCOUNTS and rest:
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


def _groups(inst: Instance) -> list[tuple[str, str, list[int]]]:
    """(dimension, group, member accounts): each region, coverage segment and ARR band that
    some account has (accounts without a region or segment are in no group of it)."""
    out: list[tuple[str, str, list[int]]] = []
    for dimension, value in (
        ("region", lambda a: inst.accounts[a].region),
        ("segment", lambda a: inst.accounts[a].coverage),
    ):
        found: dict[str, list[int]] = {}
        for a in range(len(inst.accounts)):
            key = value(a)
            if key:
                found.setdefault(key, []).append(a)
        out.extend((dimension, key, found[key]) for key in sorted(found))
    arr = sorted(inst.arr)
    if len(arr) >= 2 * len(BAND_QUANTILES) + 2:
        cuts = sorted({arr[min(int(q * len(arr)), len(arr) - 1)] for q in BAND_QUANTILES})
        edges = [-math.inf, *cuts, math.inf]
        for low, high in itertools.pairwise(edges):
            members = [a for a, v in enumerate(inst.arr) if low <= v < high]
            if not members:
                continue
            if math.isinf(low):
                label = f"ARR under {money(high)}"
            elif math.isinf(high):
                label = f"ARR {money(low)} and above"
            else:
                label = f"ARR {money(low)} to {money(high)}"
            out.append(("arr_band", label, members))
    return out


def _high_retention(inst: Instance) -> list[bool]:
    mean = sum(r * c.capacity for r, c in zip(inst.retention, inst.csms, strict=True)) / (
        inst.total_capacity
    )
    return [r >= mean - 1e-12 for r in inst.retention]


def _at_risk_covered(
    inst: Instance, members: Sequence[int], chosen: list[int | None]
) -> float | None:
    high = _high_retention(inst)
    total = covered = 0.0
    for a in members:
        if inst.p_churn[a] < AT_RISK:
            continue
        total += inst.arr[a]
        c = chosen[a]
        if c is not None and high[c]:
            covered += inst.arr[a]
    return covered / total if total > 0 else None


def _expertise(inst: Instance, members: Sequence[int], chosen: list[int | None]) -> float | None:
    flags = inst._expertise_flags
    counted = [a for a in members if flags[a]]
    if not counted:
        return None
    matched = sum(1 for a in counted if (c := chosen[a]) is not None and inst.industry_match(a, c))
    return matched / len(counted)


def _load(
    inst: Instance, members: Sequence[int], chosen: list[int | None], scored: Evaluation
) -> float | None:
    ratio = {inst.csm_index[b.csm_id]: b.workload_vs_target for b in scored.books}
    weight = total = 0.0
    for a in members:
        c = chosen[a]
        if c is None:
            continue
        weight += inst.arr[a]
        total += inst.arr[a] * ratio[c]
    return total / weight if weight > 0 else None


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
