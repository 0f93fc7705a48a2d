"""Counterfactuals: what the objective and the rules would say if one account went elsewhere.

For a plan and one account, :class:`MoveScorer` prices the alternative "this account with CSM
``c`` instead, everything else unchanged": the change of each objective term (the pair terms
from the same per-pair costs the model uses, the balance term from the two books that change)
and the hard rules that single change would break. Explanations use it to say why an account
went to its CSM and not to the runner-up, why a move beats staying, and which rule holds an
account that the objective would rather move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from ..evaluate import book_totals
from ..formulation import soft_rule_cost
from ..instance import TERMS, Instance
from ..rules import ACCOUNTS, ARR, HIGH_RISK, WORKLOAD, active, quantities
from ..rules import TERMS as TERM_RULES

#: Term names in business words, for "mostly <words>".
TERM_WORDS = {name: term.cost_words for name, term in TERM_RULES.items()}
TERM_WORDS["tie_break"] = TERM_RULES["continuity"].cost_words


@dataclass(frozen=True)
class Alternative:
    """Account ``a`` with CSM ``csm`` instead of its planned one, all else unchanged."""

    csm: int
    #: Objective change (positive = worse than the plan).
    delta: float
    #: Each term's weighted change (``tie_break`` included when it moves).
    terms: dict[str, float] = field(default_factory=dict)
    #: Hard rules the change would break, in words (empty = allowed).
    broken: tuple[str, ...] = ()
    #: The rule names behind ``broken`` (lock, renewal_freeze, max_accounts, max_moves, ...).
    rules: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.broken

    def main_term(self) -> str | None:
        """The term that costs the most in this alternative (``None`` if none costs)."""
        worst = max(self.terms.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        return None if worst is None or worst[1] <= 1e-12 else worst[0]


class MoveScorer:
    """Prices single-account changes to one plan (``chosen[a]`` = CSM index or ``None``)."""

    def __init__(self, inst: Instance, chosen: list[int | None]):
        self.inst = inst
        self.chosen = chosen
        n = len(inst.csms)
        self.arr = [0.0] * n
        self.work = [0.0] * n
        self.count = [0] * n
        self.risk = [0] * n
        for a, c in enumerate(chosen):
            if c is None:
                continue
            self.arr[c] += inst.arr[a]
            self.work[c] += inst.pair_workload(a, c)
            self.count[c] += 1
            self.risk[c] += inst.high_risk[a]
        # Each book's total of every quantity a rule limits, and the team's totals over the
        # accounts that changed CSM (as the evaluator counts them).
        given: dict[str, Sequence[float]] = {ACCOUNTS.name: self.count, ARR.name: self.arr}
        given[WORKLOAD.name], given[HIGH_RISK.name] = self.work, self.risk
        self.totals = book_totals(inst, chosen, given)
        self.moved = [
            inst.current[a] is not None and inst.current[a] != c for a, c in enumerate(chosen)
        ]
        self.team = {
            rule.name: sum(
                inst.amounts(rule.quantity)[a] for a, moved in enumerate(self.moved) if moved
            )
            for rule in inst.team_rules
        }
        # Per quantity a book rule limits: each account's amount, the per-CSM exceptions, and
        # its rules with their limits per CSM (one amount per quantity and book per change).
        self.checks = [
            (
                quantity,
                inst.amounts(quantity),
                None if quantity.per_pair is None else quantity.per_pair(inst),
                [
                    (r, inst.rule_limits[r.name])
                    for r in inst.book_rules
                    if r.quantity is quantity and r.hard
                ],
            )
            for quantity in quantities(inst)
        ]
        #: Soft rules: a change outside them costs the soft_rules term (see formulation).
        self.soft = [r for r in inst.book_rules if not r.hard and active(inst, r)]
        self.soft_cost = soft_rule_cost(inst, inst.weights()["soft_rules"])
        self.weights = inst.weights()
        self.tie_break = inst.tie_break
        self.band = inst.scenario.constraints.balance_band
        self.parts = 2 if inst.balances_workload else 1
        self.arr_total = sum(inst.arr_target)
        self.work_total = sum(inst.workload_target)
        self.arr_ref = inst.balance_reference("arr")
        self.work_ref = inst.balance_reference("workload")

    def place(self, a: int, c: int | None) -> None:
        """Make "account ``a`` with CSM ``c``" (``None``: with nobody) the plan priced from
        now on: every book total, the team's move totals and ``chosen`` (the list given to
        the scorer) follow."""
        inst = self.inst
        old = self.chosen[a]
        if old == c:
            return
        given = {ACCOUNTS.name, ARR.name, WORKLOAD.name, HIGH_RISK.name}
        others = [q for q in quantities(inst) if q.name not in given]
        for book, sign in ((old, -1.0), (c, 1.0)):
            if book is None:
                continue
            self.arr[book] += sign * inst.arr[a]
            self.work[book] += sign * inst.pair_workload(a, book)
            self.count[book] += int(sign)
            self.risk[book] += int(sign) * inst.high_risk[a]
            for quantity in others:
                totals = cast(list[float], self.totals[quantity.name])
                totals[book] += sign * inst.pair_amount(quantity, a, book)
        self.chosen[a] = c
        moved = inst.current[a] is not None and inst.current[a] != c
        if moved != self.moved[a]:
            step = 1.0 if moved else -1.0
            for rule in inst.team_rules:
                self.team[rule.name] += step * inst.amounts(rule.quantity)[a]
            self.moved[a] = moved

    # ------------------------------------------------------------------ objective
    def _balance_delta(self, a: int, old: int | None, new: int) -> float:
        inst = self.inst
        band = self.band
        delta_arr = 0.0
        delta_work = 0.0
        changes = [(new, inst.arr[a], inst.pair_workload(a, new))]
        if old is not None:
            changes.append((old, -inst.arr[a], -inst.pair_workload(a, old)))
        for c, d_arr, d_work in changes:
            t = inst.arr_target[c]
            v = self.arr[c]
            delta_arr += max(0.0, abs(v + d_arr - t) - band * t) - max(0.0, abs(v - t) - band * t)
            t = inst.workload_target[c]
            v = self.work[c]
            delta_work += max(0.0, abs(v + d_work - t) - band * t) - max(0.0, abs(v - t) - band * t)
        value = delta_arr / self.arr_total / self.arr_ref if self.arr_total > 0 else 0.0
        if self.parts == 2:
            value += delta_work / self.work_total / self.work_ref if self.work_total > 0 else 0.0
        return value / self.parts

    def _soft_delta(self, a: int, old: int | None, new: int) -> float:
        """The change of the soft_rules term's contribution when account ``a`` moves from
        ``old`` to ``new`` (both books' excess over every soft rule, before and after)."""
        inst = self.inst
        total = 0.0
        for rule in self.soft:
            q = rule.quantity
            unit = q.unit(inst)
            for book, sign in ((new, 1.0), (old, -1.0)):
                if book is None:
                    continue
                amount = inst.pair_amount(q, a, book)
                if not amount:
                    continue
                value = self.totals[q.name][book]
                limits = inst.rule_limits[rule.name][book]
                after = rule.excess(inst, value + sign * amount, limits)
                total += (after - rule.excess(inst, value, limits)) / unit
        return total * self.soft_cost

    def alternative(self, a: int, c: int) -> Alternative:
        """Account ``a`` with CSM ``c`` instead of ``chosen[a]``."""
        inst = self.inst
        old = self.chosen[a]
        new_costs = inst.pair_costs(a, c)
        old_costs = inst.pair_costs(a, old) if old is not None else dict.fromkeys(new_costs, 0.0)
        terms: dict[str, float] = {}
        for name in TERMS:
            if name == "balance":
                continue
            diff = new_costs.get(name, 0.0) - old_costs.get(name, 0.0)
            if diff:
                terms[name] = self.weights[name] * diff
        balance = self._balance_delta(a, old, c)
        if balance:
            terms["balance"] = self.weights["balance"] * balance
        soft = self._soft_delta(a, old, c)
        if soft:
            terms["soft_rules"] = terms.get("soft_rules", 0.0) + soft
        continuity = new_costs.get("continuity", 0.0) - old_costs.get("continuity", 0.0)
        if continuity and self.tie_break:
            terms["tie_break"] = self.tie_break * continuity
        broken, rules = self._broken(a, old, c)
        return Alternative(c, sum(terms.values()), terms, broken, rules)

    def alternatives(self, a: int) -> list[Alternative]:
        """Every other CSM for account ``a``, best first (allowed ones before broken ones at
        equal cost; ties by CSM position)."""
        out = [self.alternative(a, c) for c in range(len(self.inst.csms)) if c != self.chosen[a]]
        out.sort(key=lambda alt: (alt.delta, not alt.allowed, alt.csm))
        return out

    # ------------------------------------------------------------------ rules
    def _broken(self, a: int, old: int | None, c: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The hard rules that account ``a`` moving from ``old`` to ``c`` would break, in words
        and by name: the pair rule excluding ``c``, then each book rule the receiving book
        would pass (or pass further) and each one the giving book would, then the team's."""
        inst = self.inst
        words: list[str] = []
        rules: list[str] = []
        reason = inst.exclusions[a].get(c)
        if reason is not None:
            rules.append(reason)
            words.append(inst.pair_rule(reason).would(inst, a, c))
        books = [(c, 1.0)] if old is None else [(c, 1.0), (old, -1.0)]
        for book, sign in books:
            for quantity, amounts, overrides, limited in self.checks:
                amount = amounts[a] if overrides is None else overrides[a].get(book, amounts[a])
                if not amount:
                    continue
                change = sign * amount
                value = self.totals[quantity.name][book] + change
                for rule, limits in limited:
                    # Past the raw limit on the side the change moves to (cheap, and needed
                    # for the rule's own measure, which has the final word) makes it break.
                    lo, hi = limits[book]
                    up = change > 0 and hi is not None and value > hi
                    down = change < 0 and lo is not None and value < lo
                    if (up or down) and rule.broken_by(inst, value, limits[book]) > 0:
                        rules.append(rule.name)
                        words.append(rule.would(inst, book, value, limits[book], up=up))
        current = inst.current[a]
        was = self.moved[a]
        will = current is not None and c != current
        for team in inst.team_rules:
            budget = team.budget(inst)
            change = (will - was) * inst.amounts(team.quantity)[a]
            if budget is None or change <= 0:
                continue
            value = self.team[team.name] + change
            if team.broken_by(inst, value, budget) > 0:
                rules.append(team.name)
                words.append(team.would(inst, value, budget))
        return tuple(words), tuple(rules)


def describe_cost(alt: Alternative, top: int = 2) -> str:
    """The largest costs of an alternative in words: "books further from their targets
    (+0.0012), more ARR at risk (+0.0004)"."""
    costs = sorted(((v, k) for k, v in alt.terms.items() if v > 1e-9), reverse=True)[:top]
    return ", ".join(f"{TERM_WORDS[k]} (+{v:.4f})" for v, k in costs) or "no term is worse"
