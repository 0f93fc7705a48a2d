"""Handoff briefs: one Markdown page per move of a plan's transition, from an editable template.

The engine schedules the moves (``plan.transition``, :mod:`optimizer.explain.transition`); this
module writes what the outgoing and the incoming CSM read: the account, why it moves, its risks,
its open expansion and the to-dos, from ``handoff.md.j2`` (override it with ``template_dir``).
:func:`plan_document` is the plan JSON the CLI and the HTTP API hand out: the engine's
``Plan.to_dict()`` with these briefs written in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optimizer import Plan, Scenario
from optimizer.units import money

from .templating import render_template, template_environment

TEMPLATE = "handoff.md.j2"
#: Most handoff briefs written into one plan (the first moves in schedule order get them; a
#: team moving tens of thousands of accounts would otherwise carry megabytes of briefs).
BRIEF_LIMIT = 5_000


def plan_document(
    plan: Plan, scenario: Scenario, *, template_dir: str | Path | None = None
) -> dict[str, Any]:
    """The plan JSON (docs/plan-format.md) with a handoff brief written for each move."""
    data = plan.to_dict()
    add_briefs(data, scenario, template_dir=template_dir)
    return data


def add_briefs(
    plan: dict[str, Any], scenario: Scenario, *, template_dir: str | Path | None = None
) -> dict[str, Any]:
    """Write ``brief`` into each move of the plan JSON's ``transition`` (the first
    :data:`BRIEF_LIMIT` in schedule order; the others keep ``None``) and count them in
    ``transition.briefs``. Returns ``plan``, changed in place."""
    transition = plan.get("transition")
    if not transition:
        return plan
    moves = transition.get("moves") or []
    briefs = handoff_briefs(scenario, moves[:BRIEF_LIMIT], template_dir=template_dir)
    for i, move in enumerate(moves):
        move["brief"] = briefs[i] if i < len(briefs) else None
    transition["briefs"] = len(briefs)
    return plan


def handoff_briefs(
    scenario: Scenario,
    moves: list[dict[str, Any]],
    *,
    template_dir: str | Path | None = None,
) -> list[str]:
    """One brief per move (as in the plan JSON's ``transition.moves``), in their order."""
    env = template_environment(template_dir)
    accounts = {a.id: a for a in scenario.accounts}
    csms = {c.id: c for c in scenario.csms}
    threshold = scenario.constraints.high_risk_threshold
    out = []
    for move in moves:
        account = accounts[move["account_id"]]
        churn = account.churn_probability
        potential = account.expansion_score
        risks = []
        if churn >= threshold:
            risks.append(f"high churn risk ({churn:.0%})")
        elif churn >= 0.2:
            risks.append(f"elevated churn risk ({churn:.0%})")
        if account.renewal_date is not None:
            days = (account.renewal_date - scenario.as_of).days
            if days <= 180:
                risks.append(f"renews in {days} days ({account.renewal_date.isoformat()})")
        if account.health_score is not None and account.health_score < 50:
            risks.append(f"low health score ({account.health_score:.0f})")
        competitive = account.competitive_probability
        if competitive is not None and competitive >= 0.5:
            risks.append(f"a competitor is working the account ({competitive:.0%})")
        if move["flag"]:
            risks.append(move["flag"])
        headroom = (
            max(account.potential_arr - account.arr, 0.0)
            if account.potential_arr is not None
            else None
        )
        expansion = []
        if headroom:
            expansion.append(f"{money(headroom)} between today's ARR and its estimated potential")
        if potential >= 0.4:
            expansion.append(f"expansion potential {potential:.0%}")
        context = {
            "move": move,
            "account": account,
            "outgoing": csms.get(move["from_csm_id"]) if move["from_csm_id"] else None,
            "incoming": csms[move["to_csm_id"]],
            "risks": risks,
            "expansion": expansion,
            "reasons": move["reasons"],
            "churn": churn,
            "money": money,
        }
        out.append(render_template(env, TEMPLATE, context))
    return out
