"""Short business-language reasons for each assignment of a plan.

Reasons compare the account's new CSM with its previous one on the same quantities the
objective uses (retention, expansion, industry, book balance) and name the rule that holds an
account in place (lock, renewal freeze). They are meant for the CSM who asks "why did this
account move to me?".
"""

from __future__ import annotations

import time

from ..evaluate import Evaluation
from ..instance import Instance
from .counterfactual import Alternative, MoveScorer, describe_cost

#: Differences in retention or expansion rate smaller than this are not worth a reason.
RATE_MARGIN = 0.01
#: Churn probability from which an account counts as at risk in reasons ("medium" and above).
AT_RISK = 0.2
#: Expansion potential from which an expansion specialist is worth a reason ("medium"), and "high".
GROWTH = 0.4
HIGH_POTENTIAL = 0.8


def _pct(value: float) -> str:
    return f"{value:.0%}"


def reasons_for(inst: Instance, a: int, c: int, before: Evaluation) -> list[str]:
    """Reasons for giving account ``a`` to CSM ``c`` (``before`` scores the current plan)."""
    account = inst.accounts[a]
    csm = inst.csms[c]
    previous = inst.current[a]
    fixed = inst.fixed[a]
    out: list[str] = []
    if fixed is not None:
        rule = inst.pair_rule(fixed)
        if rule.kept is not None:
            return [rule.kept(inst, a)]

    if previous is not None and previous != c:
        excluded = inst.exclusions[a].get(previous)
        left = None if excluded is None else inst.pair_rule(excluded).left
        if left is not None:
            out.append(left(inst, a, previous))

    match_now = inst.industry_match(a, c)
    if match_now and (previous is None or previous == c or not inst.industry_match(a, previous)):
        out.append(f"industry match: {account.industry}")
    if account.required_skills and previous is None:
        out.append(f"has the required skills: {', '.join(account.required_skills)}")

    risky = inst.high_risk[a]
    if previous is not None and previous != c:
        gain = inst.retention[c] - inst.retention[previous]
        if gain > RATE_MARGIN and inst.p_churn[a] >= AT_RISK:
            label = "a high-risk" if risky else "an at-risk"
            out.append(
                f"retention specialist for {label} account "
                f"(retention {_pct(inst.retention[c])} vs {_pct(inst.retention[previous])})"
            )
        gain = inst.expansion_rate[c] - inst.expansion_rate[previous]
        if gain > RATE_MARGIN and inst.potential[a] >= GROWTH:
            level = "high" if inst.potential[a] >= HIGH_POTENTIAL else "medium"
            out.append(
                f"expansion specialist for a {level}-potential account "
                f"(expansion {_pct(inst.expansion_rate[c])} vs {_pct(inst.expansion_rate[previous])})"
            )
        band = inst.scenario.constraints.balance_band
        old_book = before.books[previous]
        new_book = before.books[c]
        if old_book.arr_vs_target > 1 + band:
            out.append(
                f"relieves an over-capacity book ({inst.csms[previous].label} at {_pct(old_book.arr_vs_target)} of target ARR)"
            )
        elif old_book.workload_vs_target > 1 + band:
            out.append(
                f"relieves an overloaded book ({inst.csms[previous].label} at {_pct(old_book.workload_vs_target)} of target workload)"
            )
        if new_book.arr_vs_target < 1 - band:
            out.append(
                f"fills an under-target book ({csm.label} at {_pct(new_book.arr_vs_target)} of target ARR)"
            )
        if not out:
            out.append("rebalances books as part of the overall plan")
    elif previous is None:
        out.insert(0, "new account: placed with the best-suited CSM")
    else:
        out.insert(0, "stays with current CSM")
    return out


# ---------------------------------------------------------------------------- counterfactuals

#: Above this many (account, CSM) pairs the search for held accounts looks only at locked and
#: frozen accounts (a pass over every pair takes about a second per 100,000 pairs).
HELD_PAIR_LIMIT = 400_000
#: Most single changes priced for runner-ups, and for held locked and frozen accounts on a
#: large team: beyond it the largest accounts by ARR are explained first.
PAIR_BUDGET = 200_000


def _alternative_dict(inst: Instance, alt: Alternative) -> dict[str, object]:
    csm = inst.csms[alt.csm]
    decided_by = alt.rules[0] if alt.rules else alt.main_term()
    return {
        "csm_id": csm.id,
        "csm_name": csm.name,
        "cost": alt.delta,
        "allowed": alt.allowed,
        "decided_by": decided_by,
        "broken": list(alt.broken),
    }


def runner_up(inst: Instance, scorer: MoveScorer, a: int) -> dict[str, object] | None:
    """Why account ``a`` went to its planned CSM and not the next best one: the best other CSM
    the rules allow and what it would cost, and a better CSM that a rule rules out, if any."""
    alternatives = scorer.alternatives(a)
    if not alternatives:
        return None
    allowed = next((alt for alt in alternatives if alt.allowed), None)
    blocked = next((alt for alt in alternatives if not alt.allowed and alt.delta < -1e-9), None)
    if allowed is None:
        best = alternatives[0]
        out = _alternative_dict(inst, best)
        out["text"] = (
            f"no other CSM can take the account under the rules "
            f"(e.g. {inst.csms[best.csm].label}: {best.broken[0]})"
        )
        return out
    out = _alternative_dict(inst, allowed)
    text = (
        f"runner-up {inst.csms[allowed.csm].label}: {allowed.delta:.4f} worse "
        f"({describe_cost(allowed)})"
    )
    if blocked is not None:
        out["decided_by"] = blocked.rules[0]
        text += (
            f"; {inst.csms[blocked.csm].label} would be {-blocked.delta:.4f} better but "
            f"{blocked.broken[0]}"
        )
    out["text"] = text
    return out


def why_not_stay(inst: Instance, scorer: MoveScorer, a: int) -> dict[str, object] | None:
    """For a moved account: what staying with its previous CSM would cost, or which rule
    rules it out."""
    previous = inst.current[a]
    if previous is None or previous == scorer.chosen[a]:
        return None
    alt = scorer.alternative(a, previous)
    out = _alternative_dict(inst, alt)
    label = inst.csms[previous].label
    if not alt.allowed:
        out["text"] = f"staying with {label} is ruled out: {alt.broken[0]}"
    elif alt.delta >= 0:
        out["text"] = f"staying with {label} would be {alt.delta:.4f} worse ({describe_cost(alt)})"
    else:
        out["text"] = (
            f"staying with {label} would score {-alt.delta:.4f} better on its own; the plan is "
            "not proven optimal and is within its reported gap"
        )
    return out


def held_accounts(
    inst: Instance, scorer: MoveScorer, deadline: float | None = None
) -> tuple[list[dict[str, object]], str]:
    """Accounts that keep their CSM although a single move would improve the objective, each
    with the rule that holds it (lock, renewal freeze, protection, move budget, capacity,
    eligibility).

    Returns the list (largest forgone gain first) and a note on what was searched.
    """
    pairs = len(inst.accounts) * len(inst.csms)
    every = pairs <= HELD_PAIR_LIMIT
    out: list[dict[str, object]] = []
    candidates = [
        a
        for a in range(len(inst.accounts))
        if scorer.chosen[a] is not None
        and inst.current[a] == scorer.chosen[a]
        and (every or inst.fixed[a] is not None)
    ]
    limit = len(candidates) if every else max(1, PAIR_BUDGET // max(len(inst.csms), 1))
    checked = sorted(candidates, key=lambda a: (-inst.arr[a], a))[:limit]
    done = 0
    for a in checked:  # the largest first: past the deadline, the rest is left out
        if deadline is not None and time.perf_counter() > deadline:
            break
        done += 1
        account = inst.accounts[a]
        c = scorer.chosen[a]
        assert c is not None
        improving = [alt for alt in scorer.alternatives(a) if alt.delta < -1e-9]
        if not improving:
            continue
        alt = improving[0]
        if alt.allowed:
            rule, kind = None, "none"
            text = (
                f"moving it to {inst.csms[alt.csm].label} would improve the objective by "
                f"{-alt.delta:.4f}: the plan is not proven optimal and is within its reported gap"
            )
        else:
            rule = alt.rules[0]
            kind = inst.rule(rule).hold
            text = (
                f"{inst.csms[alt.csm].label} would be {-alt.delta:.4f} better, but {alt.broken[0]}"
            )
        out.append(
            {
                "account_id": account.id,
                "account_name": account.name,
                "csm_id": inst.csms[c].id,
                "better_csm_id": inst.csms[alt.csm].id,
                "better_csm_name": inst.csms[alt.csm].name,
                "gain": -alt.delta,
                "rule": rule,
                "kind": kind,
                "text": text,
            }
        )
    out.sort(key=lambda row: (-float(row["gain"]), str(row["account_id"])))  # type: ignore[arg-type]
    if done < len(checked):
        note = (
            f"the {done:,} largest of the {len(candidates):,} accounts that kept their CSM were "
            "checked against every other CSM (the time limit stopped the check)"
        )
    elif every:
        note = "every account that kept its CSM was checked against every other CSM"
    elif len(checked) == len(candidates):
        note = (
            "only locked, frozen and protected accounts were checked "
            f"(more than {HELD_PAIR_LIMIT:,} pairs)"
        )
    else:
        note = (
            f"only the {len(checked):,} largest of the {len(candidates):,} locked, frozen and "
            f"protected accounts were checked (more than {HELD_PAIR_LIMIT:,} pairs)"
        )
    return out, note
