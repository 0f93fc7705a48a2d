"""The leader's book rules, today and under the plan: each goal and renewal-load rule, per CSM
it limits, with the value a leader reads (a count, an ARR sum, or a share of the book), its
limit, and whether the book keeps it.

Rows come from the rules themselves (``BookRule.family``, optimizer/rules.py), so a rule the
scenario defines is reported exactly as the model and the evaluator count it.
"""

from __future__ import annotations

from typing import Any

from ..evaluate import quantity_totals
from ..instance import Instance
from ..rules import BookRule, Quantity
from ..units import money


def _shown(rule: BookRule, part: float, whole: float | None) -> float | None:
    """The value a leader reads: the share ``part / whole`` for a share rule (``None`` for an
    empty book), else the total itself."""
    if rule.ratio is None:
        return part
    return None if not whole else part / whole


def book_goals(
    inst: Instance, chosen_before: list[int | None], chosen_after: list[int | None]
) -> list[dict[str, Any]]:
    """Per scenario-defined book rule (goals, renewal load): its words, its unit and, for each
    CSM it limits, the value before and after, the limits and whether each book keeps it."""
    out: list[dict[str, Any]] = []
    cache: dict[tuple[str, int], list[float]] = {}

    def totals(quantity: Quantity, chosen: list[int | None], which: int) -> list[float]:
        key = (quantity.name, which)
        if key not in cache:
            cache[key] = quantity_totals(inst, quantity, chosen)
        return cache[key]

    plans = ((chosen_before, 0), (chosen_after, 1))
    for rule in inst.book_rules:
        if rule.family is None:
            continue
        own = [totals(rule.quantity, chosen, k) for chosen, k in plans]
        parts = own
        wholes: list[list[float] | None] = [None, None]
        counts = rule.quantity.label
        unit = "ARR" if rule.quantity.is_money else "accounts"
        if rule.ratio is not None:
            part_q, whole_q, _ = rule.ratio
            parts = [totals(part_q, chosen, k) for chosen, k in plans]
            wholes = [totals(whole_q, chosen, k) for chosen, k in plans]
            counts, unit = part_q.label, "share"
        rows = []
        for c, csm in enumerate(inst.csms):
            limits = inst.rule_limits[rule.name][c]
            lo, hi = limits
            if lo is None and hi is None:
                continue
            if rule.ratio is not None:  # the share itself, not the rule's own total
                lo, hi = (rule.ratio[2], None) if lo is not None else (None, rule.ratio[2])
            values = []
            for k in (0, 1):
                whole = wholes[k]
                values.append(_shown(rule, parts[k][c], None if whole is None else whole[c]))
            rows.append(
                {
                    "csm_id": csm.id,
                    "before": values[0],
                    "after": values[1],
                    "at_least": lo,
                    "at_most": hi,
                    "kept_before": rule.broken_by(inst, own[0][c], limits) == 0,
                    "kept_after": rule.broken_by(inst, own[1][c], limits) == 0,
                }
            )
        out.append(
            {
                "rule": rule.name,
                "family": rule.family,
                "soft": not rule.hard,
                "words": rule.words,
                "counts": counts,
                "unit": unit,
                "csms": rows,
            }
        )
    return out


def summary(rule: dict[str, Any]) -> tuple[int, int, int]:
    """(books it limits, kept today, kept under the plan) of one :func:`book_goals` row."""
    rows = rule["csms"]
    return (
        len(rows),
        sum(1 for r in rows if r["kept_before"]),
        sum(1 for r in rows if r["kept_after"]),
    )


def _value(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ARR":
        return money(value)
    return f"{value:g}"


def _limit(unit: str, row: dict[str, Any]) -> str:
    parts = []
    if row["at_least"] is not None:
        parts.append(f"at least {_value(unit, row['at_least'])}")
    if row["at_most"] is not None:
        parts.append(f"at most {_value(unit, row['at_most'])}")
    return " and ".join(parts)


def describe(rule: dict[str, Any]) -> dict[str, str]:
    """One :func:`book_goals` row in words: the limit (``per CSM`` when they differ), the books
    that keep it today and under the plan, and the book closest to (or past) its limit."""
    unit, rows = rule["unit"], rule["csms"]
    limits = {_limit(unit, r) for r in rows}
    total, before, after = summary(rule)

    def room(row: dict[str, Any]) -> float:
        value = row["after"]
        if value is None:
            return float("inf")
        gaps = [value - row["at_least"]] if row["at_least"] is not None else []
        gaps += [row["at_most"] - value] if row["at_most"] is not None else []
        return min(gaps) / max(abs(row["at_least"] or row["at_most"] or 1.0), 1e-9)

    tight = min(rows, key=room) if rows else None
    closest = (
        ""
        if tight is None
        else f"{tight['csm_id']}: {_value(unit, tight['before'])} -> "
        f"{_value(unit, tight['after'])} ({_limit(unit, tight)})"
    )
    return {
        "limit": limits.pop() if len(limits) == 1 else "per CSM",
        "kept": f"{before}/{total} -> {after}/{total}",
        "closest": closest,
    }
