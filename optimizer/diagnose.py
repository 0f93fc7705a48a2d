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

from .formulation import Group, Row, build_model, full_tops, pair_rule_names
from .instance import Instance
from .rules import BookRule, PairRule, Quantity, TeamRule, quantities, window
from .scenario import SolverSettings
from .status import Status


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


#: What keeps an account with its CSM, in the pre-check's words.
LOCKED_WHAT = "locked or renewal-frozen with them"


def _forced(inst: Instance) -> list[list[int]]:
    """Accounts that must stay with each CSM (a keeping rule: locked, renewal freeze)."""
    out: list[list[int]] = [[] for _ in inst.csms]
    for a, reason in enumerate(inst.fixed):
        current = inst.current[a]
        if reason is not None and current is not None:
            out[current].append(a)
    return out


def precheck(inst: Instance) -> list[Conflict]:
    """Cheap, certain reasons the scenario has no plan. Empty list: nothing obvious.

    For every account: some CSM may take it. For every CSM and every quantity a book rule
    limits (optimizer/rules.py): the locked, frozen and protected accounts stay under its upper limit, its
    limits do not contradict each other, and the accounts it may take can reach its lower
    limit. For the team: the CSMs' limits can hold every account, and the accounts that must
    leave their CSM fit the move budgets.
    """
    out = _unplaceable(inst)
    forced = _forced(inst)
    tops = full_tops(inst)
    for quantity in quantities(inst):
        reachable = _reachable(inst, quantity, tops)
        for c in range(len(inst.csms)):
            out += _book_conflicts(inst, quantity, c, forced[c], reachable[c])
    out += _team_sums(inst)
    out += _forced_moves(inst)
    return out


def _unplaceable(inst: Instance) -> list[Conflict]:
    """Accounts every CSM is excluded for, each with the pair rules that exclude it."""
    out: list[Conflict] = []
    for a, eligible in enumerate(inst.eligible):
        if eligible:
            continue
        account = inst.accounts[a]
        reasons = Counter(inst.exclusions[a].values())
        parts = [
            rule.unplaceable(inst, a)
            for rule in inst.pair_rules
            if reasons.get(rule.name) and rule.unplaceable is not None
        ]
        why = " and ".join(parts) or "is excluded by every CSM"
        main = reasons.most_common(1)[0][0] if reasons else "assign"
        out.append(
            Conflict(main, account.id, f"No CSM may take account {account.label}: it {why}.")
        )
    return out


def _reachable(inst: Instance, quantity: Quantity, tops: dict[str, list[float]]) -> list[float]:
    """Per CSM, the most of ``quantity`` the accounts they may take can bring (``tops``: the
    loaded quantities' maxima in model units, :func:`full_tops`)."""
    if quantity.loaded:
        return [v * quantity.unit(inst) for v in tops[quantity.name]]
    amounts = inst.amounts(quantity)
    if quantity.signed:  # the most a book can reach leaves out every negative amount
        amounts = [max(v, 0.0) for v in amounts]
    per_group = [0.0] * len(inst.group_eligible)
    for a, g in enumerate(inst.group):
        per_group[g] += amounts[a]
    out = [0.0] * len(inst.csms)
    for g, eligible in enumerate(inst.group_eligible):
        for c in eligible:
            out[c] += per_group[g]
    return out


def _book_conflicts(
    inst: Instance, quantity: Quantity, c: int, forced: list[int], reachable: float
) -> list[Conflict]:
    """CSM ``c``'s limits on ``quantity`` against its locked and frozen accounts, against each
    other, and against what the accounts it may take can reach."""
    csm = inst.csms[c]
    lo, lo_rule, hi, hi_rule = window(inst, quantity, c)
    slack = quantity.slack(inst)
    kept = sum(inst.pair_amount(quantity, a, c) for a in forced)
    show = quantity.show
    out = []
    # A signed quantity's kept accounts can be offset by others: no certain conflict there.
    if hi_rule is not None and not quantity.signed and kept > hi + slack:
        if quantity.counted:
            text = (
                f"CSM {csm.label} is locked to {quantity.text(kept)} ({LOCKED_WHAT}) but may "
                f"hold at most {show(hi)} ({hi_rule})."
            )
        else:
            text = (
                f"CSM {csm.label} keeps {quantity.text(kept)} in accounts {LOCKED_WHAT}, above "
                f"their maximum of {show(hi)} ({hi_rule}{_share(inst, hi_rule)})."
            )
        out.append(Conflict(hi_rule, csm.id, text))
    if lo_rule is not None and hi_rule is not None and lo > hi + slack:
        text = (
            f"CSM {csm.label} must hold at least {show(lo)} ({lo_rule}) but at most {show(hi)} "
            f"({hi_rule})."
        )
        out.append(Conflict(lo_rule, csm.id, text))
    if lo_rule is not None and lo > reachable + slack:
        text = (
            f"CSM {csm.label} must hold at least {show(lo)} ({lo_rule}) but the accounts they "
            f"may take add up to only {show(reachable)}."
        )
        out.append(Conflict(lo_rule, csm.id, text))
    return out


def _share(inst: Instance, name: str) -> str:
    """ " (±10% of target)" for a band rule, else nothing."""
    rule = inst.rule(name)
    if isinstance(rule, BookRule) and rule.tolerance is not None:
        share = rule.tolerance(inst)
        if share is not None:
            return f" (±{share:.0%} of target)"
    return ""


def _team_sums(inst: Instance) -> list[Conflict]:
    """The CSMs' limits against the team's total, for rules that ask for it (``team_sum``):
    minimums adding up to more than every account brings, maximums to less."""
    out: list[Conflict] = []
    for rule in inst.book_rules:
        q = rule.quantity
        if not rule.team_sum or not rule.hard or q.per_pair is not None:
            continue
        total = sum(inst.amounts(q))
        windows = [window(inst, q, c) for c in range(len(inst.csms))]
        if rule.side == "min":
            lows = sum(w[0] for w in windows)
            if lows > total + q.slack(inst):
                worth = f"are worth {q.show(total)}" if q.is_money else f"are {q.show(total)}"
                text = (
                    f"The CSMs' {rule.words} adds up to {q.show(lows)} but all accounts "
                    f"together {worth}."
                )
                out.append(Conflict(rule.name, "team", text))
            continue
        highs = sum(w[2] for w in windows)
        if highs < total - q.slack(inst):
            if q.counted:
                text = (
                    f"The CSMs may hold {q.text(highs)} in all ({rule.name}) but there are "
                    f"{q.show(total)}."
                )
            else:
                text = (
                    f"The CSMs' {rule.words} adds up to {q.show(highs)} but the accounts total "
                    f"{q.show(total)}: someone would have to go over."
                )
            out.append(Conflict(rule.name, "team", text))
    return out


def _forced_moves(inst: Instance) -> list[Conflict]:
    """Accounts whose current CSM they may no longer have, against each move budget."""
    leaving = [a for a, c in enumerate(inst.current) if c is not None and c not in inst.eligible[a]]
    out: list[Conflict] = []
    for rule in inst.team_rules:
        budget = rule.budget(inst)
        if budget is None:
            continue
        amounts = inst.amounts(rule.quantity)
        value = sum(amounts[a] for a in leaving)
        if rule.broken_by(inst, value, budget) > 0:
            out.append(Conflict(rule.name, "team", rule.forced(inst, value, budget)))
    return out


# ------------------------------------------------------------------------ elastic relaxation


def find_conflicts(inst: Instance, settings: SolverSettings) -> Diagnosis:
    """Smallest set of rule groups to switch off to make the scenario feasible (by MIP)."""
    from .backends import get_backend  # local: the backends import the formulation

    built = build_model(inst, relax=pair_rule_names(inst))
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
    name, subject = group
    rule = inst.rule(name)
    if isinstance(rule, PairRule):
        return Conflict(name, subject, rule.conflict(inst, inst.account_index[subject]))
    if isinstance(rule, TeamRule):
        return Conflict(name, subject, rule.conflict(inst, rule.budget(inst) or 0.0))
    c = inst.csm_index[subject]
    csm = inst.csms[c]
    q = rule.quantity
    mine = [a for a in range(len(inst.accounts)) if assignment.get(inst.accounts[a].id) == csm.id]
    value = sum(inst.pair_amount(q, a, c) for a in mine)
    kept = sum(inst.pair_amount(q, a, c) for a in mine if inst.fixed[a] is not None)
    return Conflict(name, subject, rule.conflict(inst, c, value, kept))


def diagnose(inst: Instance, settings: SolverSettings) -> Diagnosis:
    """Pre-checks first; the relaxation search only if they find nothing."""
    found = precheck(inst)
    if found:
        return Diagnosis("precheck", found)
    return find_conflicts(inst, settings)
