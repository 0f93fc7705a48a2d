"""Infeasibility that a person can act on.

Two stages. :func:`precheck` runs cheap arithmetic before any solve (total minimum ARR above the
total, locked accounts breaking a CSM's caps, an account no CSM may take...). When the model is
still infeasible, :func:`find_conflicts` solves an *elastic* copy in which every hard-rule group
(a rule for one CSM, one account's lock, the team move budget...) may be switched off at a cost
of one, and reports the smallest set of groups whose relaxation makes the scenario feasible, in
business words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .formulation import ELIGIBILITY_RULES, Group, Row, build_model
from .instance import FREEZE, LANGUAGE, LOCKED, REGION, SKILLS, Instance
from .scenario import SolverSettings
from .status import Status
from .units import money


@dataclass(frozen=True)
class Conflict:
    """One rule (for one CSM, account or the team) that takes part in making the plan impossible."""

    rule: str
    subject: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class Diagnosis:
    """Why no plan exists: the conflicting rules and how they were found."""

    method: str  # "precheck" or "relaxation"
    conflicts: list[Conflict]
    note: str = ""
    #: Whether the conflicts prove that no plan exists (a relaxation stopped by its time limit
    #: may switch off rules that did not need to be). Not part of the plan's JSON.
    proven: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "note": self.note,
        }


_RULE_NAMES = {
    "max_accounts": "max accounts",
    "min_arr": "minimum ARR",
    "max_arr": "maximum ARR",
    "arr_tolerance": "ARR tolerance",
    "max_workload": "maximum workload",
    "workload_tolerance": "workload tolerance",
    "max_high_risk": "maximum high-risk accounts",
}


def _forced(inst: Instance) -> list[list[int]]:
    """Accounts that must stay with each CSM (locked or in a renewal freeze)."""
    out: list[list[int]] = [[] for _ in inst.csms]
    for a, reason in enumerate(inst.fixed):
        current = inst.current[a]
        if reason is not None and current is not None:
            out[current].append(a)
    return out


def _csm_bounds(inst: Instance, c: int) -> tuple[float, str, float, str]:
    """The binding lower and upper ARR bound of a CSM, each with the rule that sets it."""
    lim = inst.limits[c]
    lows = [(0.0, "none")]
    highs = [(float("inf"), "none")]
    if lim.min_arr is not None:
        lows.append((lim.min_arr, "min_arr"))
    if lim.max_arr is not None:
        highs.append((lim.max_arr, "max_arr"))
    if lim.arr_window is not None:
        lows.append((lim.arr_window[0], "arr_tolerance"))
        highs.append((lim.arr_window[1], "arr_tolerance"))
    lo, lo_rule = max(lows)
    hi, hi_rule = min(highs)
    return lo, lo_rule, hi, hi_rule


def precheck(inst: Instance) -> list[Conflict]:
    """Cheap, certain reasons the scenario has no plan. Empty list: nothing obvious."""
    out: list[Conflict] = []
    rule = inst.scenario.constraints
    tolerance_text = "" if rule.arr_tolerance is None else f" (±{rule.arr_tolerance:.0%} of target)"

    for a, eligible in enumerate(inst.eligible):
        if eligible:
            continue
        account = inst.accounts[a]
        reasons = Counter(inst.exclusions[a].values())
        parts = []
        if reasons.get(SKILLS):
            parts.append(f"requires {', '.join(account.required_skills)}")
        if reasons.get(REGION):
            parts.append(f"is in region {account.region}")
        if reasons.get(LANGUAGE):
            parts.append(f"speaks {account.language}")
        why = " and ".join(parts) or "is excluded by every CSM"
        main = reasons.most_common(1)[0][0] if reasons else "assign"
        out.append(
            Conflict(main, account.id, f"No CSM may take account {account.label}: it {why}.")
        )

    forced = _forced(inst)
    # ARR each CSM could reach at all: per eligibility group, not per account x CSM.
    group_arr = [0.0] * len(inst.group_eligible)
    for a, g in enumerate(inst.group):
        group_arr[g] += inst.arr[a]
    reachable_arr = [0.0] * len(inst.csms)
    for g, eligible in enumerate(inst.group_eligible):
        for c in eligible:
            reachable_arr[c] += group_arr[g]
    for c, csm in enumerate(inst.csms):
        lim = inst.limits[c]
        mine = forced[c]
        kept = len(mine)
        kept_arr = sum(inst.arr[a] for a in mine)
        kept_work = sum(inst.pair_workload(a, c) for a in mine)
        kept_risk = sum(inst.high_risk[a] for a in mine)
        what = "locked or renewal-frozen with them"
        if lim.max_accounts is not None and kept > lim.max_accounts:
            out.append(
                Conflict(
                    "max_accounts",
                    csm.id,
                    f"CSM {csm.label} is locked to {kept} accounts ({what}) but may hold at most "
                    f"{lim.max_accounts} (max_accounts).",
                )
            )
        lo, lo_rule, hi, hi_rule = _csm_bounds(inst, c)
        if kept_arr > hi + 1e-6:
            out.append(
                Conflict(
                    hi_rule,
                    csm.id,
                    f"CSM {csm.label} keeps {money(kept_arr)} of ARR in accounts {what}, above their "
                    f"maximum of {money(hi)} ({hi_rule}{tolerance_text if hi_rule == 'arr_tolerance' else ''}).",
                )
            )
        if lo > hi + 1e-6:
            out.append(
                Conflict(
                    lo_rule,
                    csm.id,
                    f"CSM {csm.label} must hold at least {money(lo)} ({lo_rule}) but at most {money(hi)} ({hi_rule}).",
                )
            )
        reachable = reachable_arr[c]
        if lo > reachable + 1e-6:
            out.append(
                Conflict(
                    lo_rule,
                    csm.id,
                    f"CSM {csm.label} must hold at least {money(lo)} ({lo_rule}) but the accounts they may "
                    f"take add up to only {money(reachable)}.",
                )
            )
        if lim.max_workload is not None and kept_work > lim.max_workload + 1e-9:
            out.append(
                Conflict(
                    "max_workload",
                    csm.id,
                    f"CSM {csm.label} keeps {kept_work:,.1f} workload units in accounts {what}, above "
                    f"max_workload {lim.max_workload:,.1f}.",
                )
            )
        if lim.workload_window is not None and kept_work > lim.workload_window[1] + 1e-9:
            out.append(
                Conflict(
                    "workload_tolerance",
                    csm.id,
                    f"CSM {csm.label} keeps {kept_work:,.1f} workload units in accounts {what}, above the "
                    f"{lim.workload_window[1]:,.1f} allowed by workload_tolerance.",
                )
            )
        if lim.max_high_risk is not None and kept_risk > lim.max_high_risk:
            out.append(
                Conflict(
                    "max_high_risk",
                    csm.id,
                    f"CSM {csm.label} keeps {kept_risk} high-risk accounts ({what}) but may hold at most "
                    f"{lim.max_high_risk} (max_high_risk_per_csm).",
                )
            )

    lows = [_csm_bounds(inst, c)[0] for c in range(len(inst.csms))]
    highs = [_csm_bounds(inst, c)[2] for c in range(len(inst.csms))]
    if sum(lows) > inst.total_arr + 1e-6:
        out.append(
            Conflict(
                "min_arr",
                "team",
                f"The CSMs' minimum ARR adds up to {money(sum(lows))} but all accounts together are "
                f"worth {money(inst.total_arr)}.",
            )
        )
    if sum(highs) < inst.total_arr - 1e-6:
        out.append(
            Conflict(
                "max_arr",
                "team",
                f"The CSMs' maximum ARR adds up to {money(sum(highs))} but the accounts total "
                f"{money(inst.total_arr)}: someone would have to go over.",
            )
        )
    caps = [lim.max_accounts for lim in inst.limits]
    if all(cap is not None for cap in caps) and sum(c for c in caps if c is not None) < len(
        inst.accounts
    ):
        total_cap = sum(c for c in caps if c is not None)
        out.append(
            Conflict(
                "max_accounts",
                "team",
                f"The CSMs may hold {total_cap} accounts in all (max_accounts) but there are {len(inst.accounts)}.",
            )
        )
    forced_moves = sum(
        1 for a, c in enumerate(inst.current) if c is not None and c not in inst.eligible[a]
    )
    if rule.max_moves is not None and forced_moves > rule.max_moves:
        out.append(
            Conflict(
                "max_moves",
                "team",
                f"{forced_moves} accounts must leave their current CSM (skills, region or language rules) "
                f"but max_moves allows only {rule.max_moves}.",
            )
        )
    return out


# ------------------------------------------------------------------------ elastic relaxation


def find_conflicts(inst: Instance, settings: SolverSettings) -> Diagnosis:
    """Smallest set of rule groups to switch off to make the scenario feasible (by MIP)."""
    from .backends import get_backend  # local: the backends import the formulation

    built = build_model(inst, relax=frozenset(ELIGIBILITY_RULES))
    model = built.model
    model.objective = {}
    model.constant = 0.0
    switches: dict[Group, int] = {}

    def switch(group: Group) -> int:
        if group not in switches:
            switches[group] = model.add_var(f"relax[{group[0]},{group[1]}]", 0.0, 1.0, True)
            model.add_objective(switches[group], 1.0)
        return switches[group]

    rows = []
    for row in model.rows:
        if row.group is None or row.group[0] == "assign":
            rows.append(row)
            continue
        y = switch(row.group)
        spread = sum(abs(c) for c in row.coef)
        # lb <= a.x <= ub becomes a.x + M*y >= lb and a.x - M*y <= ub, one row per side.
        if row.lb > -float("inf"):
            big = abs(row.lb) + spread + 1.0
            rows.append(
                Row(
                    row.name + "_lo",
                    row.group,
                    [*row.index, y],
                    [*row.coef, big],
                    lb=row.lb,
                    steps=row.steps,
                )
            )
        if row.ub < float("inf"):
            big = abs(row.ub) + spread + 1.0
            rows.append(
                Row(
                    row.name + "_hi",
                    row.group,
                    [*row.index, y],
                    [*row.coef, -big],
                    ub=row.ub,
                    steps=row.steps,
                )
            )
    model.rows = rows
    for (a, c), var in built.x.items():
        reason = inst.exclusions[a].get(c)
        if reason is not None:
            y = switch((reason, inst.accounts[a].id))
            model.add_row(
                f"allow[{inst.accounts[a].id},{inst.csms[c].id}]",
                None,
                [var, y],
                [1.0, -1.0],
                ub=0.0,
            )

    hint = built.hint(inst.scenario.current_assignment())
    limit = SolverSettings(
        time_limit_s=min(30.0, settings.time_limit_s),
        gap=0.0,
        seed=settings.seed,
        threads=settings.threads,
    )
    raw = get_backend("highs").solve(model, limit, hint=hint)
    if raw.values is None:
        return Diagnosis(
            "relaxation",
            [],
            "No combination of rules could be identified within the time limit; check the pre-checks above "
            "and the team-wide totals.",
        )
    relaxed = [group for group, var in switches.items() if raw.values[var] > 0.5]
    assignment = built.assignment(raw.values)
    conflicts = [_describe(inst, group, assignment) for group in sorted(relaxed)]
    note = "Relaxing all of these together makes a plan possible" + (
        ""
        if raw.status is Status.OPTIMAL
        else " (the set may not be the smallest: the search hit its time limit)"
    )
    proven = raw.status is Status.OPTIMAL
    return Diagnosis("relaxation", conflicts, note + ".", proven=proven)


def _describe(inst: Instance, group: Group, assignment: dict[str, str]) -> Conflict:
    """A relaxed group in business words, with the numbers of the relaxed plan."""
    rule, subject = group
    if rule in (LOCKED, FREEZE, SKILLS, REGION, LANGUAGE):
        account = inst.scenario.account(subject)
        current = inst.scenario.csm(account.current_csm).label if account.current_csm else "none"
        text = {
            LOCKED: f"Account {account.label} is locked to CSM {current}; the other rules cannot all hold with it there.",
            FREEZE: f"Account {account.label} renews on {account.renewal_date} and is frozen with CSM {current}; "
            "the other rules cannot all hold with it there.",
            SKILLS: f"Account {account.label} requires {', '.join(account.required_skills)}; the CSMs who have "
            "these skills cannot take it under the other rules.",
            REGION: f"Account {account.label} must stay in region {account.region}; no CSM there can take it "
            "under the other rules.",
            LANGUAGE: f"Account {account.label} needs a CSM speaking {account.language}; none can take it "
            "under the other rules.",
        }[rule]
        return Conflict(rule, subject, text)
    if subject == "team":
        rule_text = inst.scenario.constraints
        if rule == "max_moves":
            return Conflict(
                rule,
                subject,
                f"The move budget (max_moves {rule_text.max_moves}) is too small for the other rules.",
            )
        return Conflict(
            rule,
            subject,
            f"The moved-ARR budget (max_moved_arr {money(rule_text.max_moved_arr or 0)}) is too small for the other rules.",
        )
    c = inst.csm_index[subject]
    csm = inst.csms[c]
    lim = inst.limits[c]
    mine = [a for a in range(len(inst.accounts)) if assignment.get(inst.accounts[a].id) == csm.id]
    kept = [a for a in mine if inst.fixed[a] is not None]
    arr = sum(inst.arr[a] for a in mine)
    if rule == "max_accounts":
        if len(kept) > (lim.max_accounts or 0):
            text = f"CSM {csm.label} is locked to {len(kept)} accounts but may hold at most {lim.max_accounts} (max_accounts)."
        else:
            text = f"CSM {csm.label} would need {len(mine)} accounts but may hold at most {lim.max_accounts} (max_accounts)."
        return Conflict(rule, subject, text)
    if rule in ("min_arr", "max_arr", "arr_tolerance"):
        bound = {
            "min_arr": f"at least {money(lim.min_arr or 0)}",
            "max_arr": f"at most {money(lim.max_arr or 0)}",
            "arr_tolerance": "between {} and {}".format(
                *(money(v) for v in (lim.arr_window or (0.0, 0.0)))
            ),
        }[rule]
        kept_arr = sum(inst.arr[a] for a in kept)
        extra = f" ({money(kept_arr)} of it locked or frozen)" if kept else ""
        return Conflict(
            rule,
            subject,
            f"CSM {csm.label} must hold {bound} of ARR ({rule}); the closest feasible plan gives them {money(arr)}{extra}.",
        )
    if rule in ("max_workload", "workload_tolerance"):
        work = sum(inst.pair_workload(a, c) for a in mine)
        return Conflict(
            rule,
            subject,
            f"CSM {csm.label}'s {_RULE_NAMES[rule]} cannot hold: the closest feasible plan gives them {work:,.1f} units.",
        )
    if rule == "max_high_risk":
        risky = sum(inst.high_risk[a] for a in mine)
        return Conflict(
            rule,
            subject,
            f"CSM {csm.label} may hold at most {lim.max_high_risk} high-risk accounts; the closest feasible plan gives them {risky}.",
        )
    return Conflict(
        rule, subject, f"Rule {rule} for {subject} cannot hold together with the others."
    )


def diagnose(inst: Instance, settings: SolverSettings) -> Diagnosis:
    """Pre-checks first; the relaxation search only if they find nothing."""
    found = precheck(inst)
    if found:
        return Diagnosis("precheck", found)
    return find_conflicts(inst, settings)
