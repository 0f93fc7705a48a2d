"""Phased transition plans: a plan's moves in weekly waves.

Moving 30 accounts on one Monday hurts customers: every move is a new relationship. The
transition plan (settings: the scenario's ``transition`` block) puts the moves in waves of a
week, most valuable first:

1. moves that the rules force (staying with the previous CSM is ruled out), largest ARR first;
2. then the others by the objective they gain (the cost of staying, from the counterfactuals),
   ties by ARR; new accounts (no previous CSM) by ARR, in the first week with room.

Each move goes to the earliest week where neither CSM has reached ``max_handoffs_per_week``
(giving and receiving both count) and that does not start within ``renewal_buffer_days`` before
the account's renewal (it then moves in the first week after the renewal). A move that finds no
such week inside the horizon is **flagged** with the reason and a suggested date after it.
Each move has a ``brief`` slot: the handoff brief for the outgoing and the incoming CSM, written
from an editable template by :mod:`documents.briefs` (the engine renders no templates).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from ..instance import Instance
from ..plan import AssignmentRow


def first_monday_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=7 - day.weekday())


def plan_transition(inst: Instance, rows: list[AssignmentRow]) -> dict[str, Any]:
    """The transition plan of ``rows`` (a plan's assignments) as the plan JSON's ``transition``."""
    config = inst.scenario.transition
    start = config.start or first_monday_after(inst.scenario.as_of)
    weeks = config.weeks
    limit = config.max_handoffs_per_week
    horizon_end = start + dt.timedelta(days=7 * weeks - 1)
    accounts = {a.id: a for a in inst.accounts}
    csms = {c.id: c for c in inst.csms}

    def priority(row: AssignmentRow) -> tuple[int, float, float, str]:
        stay = row.stay or {}
        if row.previous_csm_id is None:
            return (2, 0.0, -row.arr, row.account_id)
        if stay and not stay.get("allowed", True):
            return (0, 0.0, -row.arr, row.account_id)
        return (1, -float(stay.get("cost", 0.0)), -row.arr, row.account_id)

    changes = [r for r in rows if r.previous_csm_id != r.csm_id]
    changes.sort(key=priority)
    load: dict[tuple[str, int], int] = defaultdict(int)
    moves: list[dict[str, Any]] = []
    for row in changes:
        account = accounts[row.account_id]
        renewal = account.renewal_date
        wave = None
        reasons = []
        for w in range(1, weeks + 1):
            begins = start + dt.timedelta(days=7 * (w - 1))
            if (
                renewal is not None
                and begins <= renewal
                and (renewal - begins).days < config.renewal_buffer_days
            ):
                reasons.append("renewal")
                continue
            giver = row.previous_csm_id
            if load[(row.csm_id, w)] >= limit or (giver is not None and load[(giver, w)] >= limit):
                reasons.append("capacity")
                continue
            wave = w
            break
        flag = None
        if wave is None:
            if "renewal" in reasons and renewal is not None:
                suggested = max(renewal + dt.timedelta(days=1), horizon_end + dt.timedelta(days=1))
                flag = (
                    f"renews on {renewal.isoformat()}, inside the transition window: hand it over "
                    f"after the renewal, from {suggested.isoformat()}"
                )
            else:
                suggested = horizon_end + dt.timedelta(days=1)
                flag = (
                    f"no week within {weeks} has room for another handoff by these CSMs "
                    f"(at most {limit} per CSM per week): from {suggested.isoformat()}"
                )
            effective = suggested
        else:
            effective = start + dt.timedelta(days=7 * (wave - 1))
            load[(row.csm_id, wave)] += 1
            if row.previous_csm_id is not None:
                load[(row.previous_csm_id, wave)] += 1
        stay = row.stay or {}
        moves.append(
            {
                "account_id": row.account_id,
                "account_name": row.account_name,
                "kind": "new" if row.previous_csm_id is None else "handoff",
                "from_csm_id": row.previous_csm_id,
                "from_csm_name": None
                if row.previous_csm_id is None
                else csms[row.previous_csm_id].name,
                "to_csm_id": row.csm_id,
                "to_csm_name": row.csm_name,
                "arr": row.arr,
                "priority": ["required", "gain", "new account"][priority(row)[0]],
                "gain": None if not stay or not stay.get("allowed", True) else stay.get("cost"),
                "wave": wave,
                "effective_date": effective.isoformat(),
                "renewal_date": None if renewal is None else renewal.isoformat(),
                "flagged": wave is None,
                "flag": flag,
                "reasons": row.reasons,
            }
        )
    for move in moves:
        move["brief"] = None  # written by documents.briefs (editable templates)
    waves = []
    for w in range(1, weeks + 1):
        members = [m for m in moves if m["wave"] == w]
        begins = start + dt.timedelta(days=7 * (w - 1))
        waves.append(
            {
                "wave": w,
                "start": begins.isoformat(),
                "end": (begins + dt.timedelta(days=6)).isoformat(),
                "moves": len(members),
                "arr": sum(m["arr"] for m in members),
            }
        )
    return {
        "start": start.isoformat(),
        "weeks": weeks,
        "max_handoffs_per_week": limit,
        "renewal_buffer_days": config.renewal_buffer_days,
        "waves": waves,
        "moves": moves,
        "flagged": sum(1 for m in moves if m["flagged"]),
        "briefs": 0,
    }
