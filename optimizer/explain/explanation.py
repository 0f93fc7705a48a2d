"""Everything a plan says about itself: each account's row with its reasons and
counterfactuals, the accounts a rule holds in place, the projected impact, and the moves in
weekly waves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..evaluate import Evaluation
from ..instance import Instance
from ..plan import AssignmentRow
from .book_goals import book_goals
from .counterfactual import MoveScorer
from .equity import equity_audit
from .impact import projected_impact
from .projection import project_outcomes
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
    overrides: list[dict[str, Any]]
    book_goals: list[dict[str, Any]]
    projection: dict[str, Any]


def explain(
    inst: Instance,
    assignment: dict[str, str],
    before: Evaluation,
    after: Evaluation,
    deadline: float | None = None,
) -> Explanation:
    """The explanation of ``assignment`` (account id -> CSM id), scored ``after``, against
    today's books scored ``before``. Past ``deadline`` (``time.perf_counter()``), the priced
    counterfactuals (runner-ups, held accounts) stop, the largest accounts done first, and the
    held note says so."""
    rows, held, note = _rows(inst, assignment, before, deadline)
    chosen_after: list[int | None] = [inst.csm_index[r.csm_id] for r in rows]
    impact = projected_impact(inst, before, after, list(inst.current), chosen_after)
    return Explanation(
        assignments=rows,
        held=held,
        held_note=note,
        impact=[row.to_dict() for row in impact],
        transition=plan_transition(inst, rows),
        equity=equity_audit(inst, before, after, list(inst.current), chosen_after),
        overrides=overrides_of(inst, chosen_after),
        book_goals=book_goals(inst, list(inst.current), chosen_after),
        projection=project_outcomes(inst, list(inst.current), chosen_after),
    )


def overrides_of(inst: Instance, chosen: list[int | None]) -> list[dict[str, Any]]:
    """Every override with its reason and what it costs the plan: ``gain_without`` is the best
    objective gain of a single change that only the override rules out (a pinned account to
    another CSM, a forbidden CSM for the account), 0 when none gains. It is a lower bound of
    the override's price when the plan is optimal (re-optimizing without it can only gain more:
    ``territory sensitivity`` prices each override exactly)."""
    overrides = inst.scenario.constraints.overrides
    if not overrides:
        return []
    scorer = MoveScorer(inst, chosen)
    out: list[dict[str, Any]] = []
    for override in overrides:
        a = inst.account_index[override.account]
        rule = "pinned" if override.pin is not None else "forbidden"
        targets = (
            {inst.csm_index[c] for c in override.forbid}
            if override.pin is None
            else set(range(len(inst.csms)))
        )
        gain, best = 0.0, None
        for alt in scorer.alternatives(a):
            if alt.csm in targets and alt.rules == (rule,) and -alt.delta > gain + 1e-12:
                gain, best = -alt.delta, alt.csm
        c = chosen[a]
        out.append(
            {
                "account_id": override.account,
                "kind": "pin" if override.pin is not None else "forbid",
                "csm_ids": [override.pin] if override.pin is not None else list(override.forbid),
                "reason": override.reason,
                "author": override.author,
                "date": None if override.date is None else override.date.isoformat(),
                "csm_id": None if c is None else inst.csms[c].id,
                "gain_without": gain,
                "better_csm_id": None if best is None else inst.csms[best].id,
            }
        )
    return out


def _rows(
    inst: Instance, assignment: dict[str, str], before: Evaluation, deadline: float | None
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
    largest = sorted(changed, key=lambda a: (-inst.arr[a], a))[: max(1, PAIR_BUDGET // per_account)]
    runner_ups: dict[int, dict[str, Any] | None] = {}
    for a in largest:  # the largest first, until the time is up
        if deadline is not None and time.perf_counter() > deadline:
            break
        runner_ups[a] = runner_up(inst, scorer, a)
    explained = set(runner_ups)
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
                runner_up=runner_ups.get(a),
                stay=why_not_stay(inst, scorer, a) if account.current_csm != csm_id else None,
            )
        )
    held, note = held_accounts(inst, scorer, deadline)
    if len(explained) < len(changed):
        why = (
            "the time limit"
            if len(explained) < len(largest)
            else f"a budget of {PAIR_BUDGET:,} priced changes"
        )
        note += (
            f"; runner-ups are given for the {len(explained):,} largest of the "
            f"{len(changed):,} changed accounts ({why})"
        )
    return rows, held, note
