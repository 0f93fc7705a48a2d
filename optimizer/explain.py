"""Short business-language reasons for each assignment of a plan.

Reasons compare the account's new CSM with its previous one on the same quantities the
objective uses (retention, expansion, industry, book balance) and name the rule that holds an
account in place (lock, renewal freeze). They are meant for the CSM who asks "why did this
account move to me?".
"""

from __future__ import annotations

from .evaluate import Evaluation
from .instance import FREEZE, LANGUAGE, LOCKED, REGION, SKILLS, Instance

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
    if fixed == LOCKED:
        return ["locked: stays with its current CSM"]
    if fixed == FREEZE:
        return [f"renewal on {account.renewal_date}: kept with its CSM through the renewal"]

    if previous is not None and previous != c:
        excluded = inst.exclusions[a].get(previous)
        if excluded == SKILLS:
            missing = sorted(set(account.required_skills) - set(inst.csms[previous].skills))
            out.append(f"previous CSM lacks required skill(s): {', '.join(missing)}")
        elif excluded == REGION:
            out.append(f"previous CSM is outside region {account.region}")
        elif excluded == LANGUAGE:
            out.append(f"previous CSM does not speak {account.language}")

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
