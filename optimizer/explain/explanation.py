"""Everything a plan says about itself: each account's row with its reasons and
counterfactuals, the accounts a rule holds in place, the projected impact, and the moves in
weekly waves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..evaluate import Evaluation
from ..instance import Instance
from ..plan import AssignmentRow
from .counterfactual import MoveScorer
from .equity import equity_audit
from .impact import projected_impact
from .reasons import PAIR_BUDGET, held_accounts, reasons_for, runner_up, why_not_stay
from .transition import plan_transition


@dataclass
class Explanation:
    """A plan's rows and what it says about them (fields of :class:`~optimizer.plan.Plan`)."""

    assignments: list[AssignmentRow]
    held: list[dict[str, Any]]
    held_note: str
    impact: list[dict[str, Any]]
    transition: dict[str, Any]
    equity: dict[str, Any]


def explain(
    inst: Instance, assignment: dict[str, str], before: Evaluation, after: Evaluation
) -> Explanation:
    """The explanation of ``assignment`` (account id -> CSM id), scored ``after``, against
    today's books scored ``before``."""
    rows, held, note = _rows(inst, assignment, before)
    chosen_after: list[int | None] = [inst.csm_index[r.csm_id] for r in rows]
    impact = projected_impact(inst, before, after, list(inst.current), chosen_after)
    return Explanation(
        assignments=rows,
        held=held,
        held_note=note,
        impact=[row.to_dict() for row in impact],
        transition=plan_transition(inst, rows),
        equity=equity_audit(inst, before, after, list(inst.current), chosen_after),
    )


def _rows(
    inst: Instance, assignment: dict[str, str], before: Evaluation
) -> tuple[list[AssignmentRow], list[dict[str, Any]], str]:
    """The plan's rows with their reasons and counterfactuals, and the held accounts."""
    chosen: list[int | None] = [inst.csm_index[assignment[a.id]] for a in inst.accounts]
    scorer = MoveScorer(inst, chosen)
    # Runner-ups price every other CSM: on a large team only the largest changes by ARR, within
    # a budget of single changes (the note says so); what staying would cost is always given.
    changed = [
        a
        for a, account in enumerate(inst.accounts)
        if account.current_csm != assignment[account.id]
    ]
    per_account = max(len(inst.csms) - 1, 1)
    explained = set(
        sorted(changed, key=lambda a: (-inst.arr[a], a))[: max(1, PAIR_BUDGET // per_account)]
    )
    rows = []
    for a, account in enumerate(inst.accounts):
        csm_id = assignment[account.id]
        c = inst.csm_index[csm_id]
        rows.append(
            AssignmentRow(
                account_id=account.id,
                account_name=account.name,
                csm_id=csm_id,
                csm_name=inst.csms[c].name,
                previous_csm_id=account.current_csm,
                moved=account.current_csm is not None and account.current_csm != csm_id,
                arr=account.arr,
                reasons=reasons_for(inst, a, c, before),
                runner_up=runner_up(inst, scorer, a) if a in explained else None,
                stay=why_not_stay(inst, scorer, a) if account.current_csm != csm_id else None,
            )
        )
    held, note = held_accounts(inst, scorer)
    if len(explained) < len(changed):
        note += (
            f"; runner-ups are given for the {len(explained):,} largest of the "
            f"{len(changed):,} changed accounts (a budget of {PAIR_BUDGET:,} priced changes)"
        )
    return rows, held, note
