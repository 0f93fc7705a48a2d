"""Counterfactuals: what the objective and the rules would say if one account went elsewhere.

For a plan and one account, :class:`MoveScorer` prices the alternative "this account with CSM
``c`` instead, everything else unchanged": the change of each objective term (the pair terms
from the same per-pair costs the model uses, the balance term from the two books that change)
and the hard rules that single change would break. Explanations use it to say why an account
went to its CSM and not to the runner-up, why a move beats staying, and which rule holds an
account that the objective would rather move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..evaluate import RULE_TOLERANCE
from ..instance import FREEZE, LANGUAGE, LOCKED, REGION, SKILLS, TERMS, Instance
from ..units import money

#: Term names in business words, for "mostly <words>".
TERM_WORDS = {
    "churn_risk": "more ARR at risk (a CSM who retains less)",
    "balance": "books further from their targets",
    "expertise": "no industry match",
    "expansion": "less expansion (a CSM who expands less)",
    "continuity": "one more move",
    "preference": "a CSM the account prefers less",
    "tie_break": "one more move",
}
#: Words for the eligibility rules.
RULE_WORDS = {
    LOCKED: "the account is locked to its CSM",
    FREEZE: "the account renews inside the renewal freeze",
    SKILLS: "lacks a required skill",
    REGION: "works in another region",
    LANGUAGE: "does not speak the account's language",
}


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
        self.moves = 0
        self.moved_arr = 0.0
        for a, c in enumerate(chosen):
            if c is None:
                continue
            self.arr[c] += inst.arr[a]
            self.work[c] += inst.pair_workload(a, c)
            self.count[c] += 1
            self.risk[c] += inst.high_risk[a]
            if inst.current[a] is not None and inst.current[a] != c:
                self.moves += 1
                self.moved_arr += inst.arr[a]
        self.weights = inst.weights()
        self.tie_break = inst.tie_break
        self.band = inst.scenario.constraints.balance_band
        self.parts = 2 if inst.balances_workload else 1
        self.arr_total = sum(inst.arr_target)
        self.work_total = sum(inst.workload_target)
        self.arr_ref = inst.balance_reference("arr")
        self.work_ref = inst.balance_reference("workload")

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
        inst = self.inst
        csm = inst.csms[c]
        words: list[str] = []
        rules: list[str] = []
        reason = inst.exclusions[a].get(c)
        if reason is not None:
            rules.append(reason)
            if reason in (LOCKED, FREEZE):
                words.append(RULE_WORDS[reason])
            else:
                words.append(f"{csm.label} {RULE_WORDS.get(reason, reason)}")
        lim = inst.limits[c]
        arr = self.arr[c] + inst.arr[a]
        work = self.work[c] + inst.pair_workload(a, c)
        slack_arr = RULE_TOLERANCE * max(inst.arr_unit, 1.0)
        slack_work = RULE_TOLERANCE * max(inst.workload_unit, 1.0)
        if lim.max_accounts is not None and self.count[c] + 1 > lim.max_accounts:
            rules.append("max_accounts")
            words.append(
                f"{csm.label} would hold {self.count[c] + 1} accounts (at most {lim.max_accounts})"
            )
        if lim.max_arr is not None and arr > lim.max_arr + slack_arr:
            rules.append("max_arr")
            words.append(f"{csm.label} would cover {money(arr)} ARR (at most {money(lim.max_arr)})")
        if lim.arr_window is not None and arr > lim.arr_window[1] + slack_arr:
            rules.append("arr_tolerance")
            words.append(
                f"{csm.label} would cover {money(arr)} ARR, above the {money(lim.arr_window[1])} "
                "edge of their ARR band"
            )
        if lim.max_workload is not None and work > lim.max_workload + slack_work:
            rules.append("max_workload")
            words.append(
                f"{csm.label} would carry {work:,.1f} workload units (at most {lim.max_workload:,.1f})"
            )
        if lim.workload_window is not None and work > lim.workload_window[1] + slack_work:
            rules.append("workload_tolerance")
            words.append(
                f"{csm.label} would carry {work:,.1f} workload units, above the "
                f"{lim.workload_window[1]:,.1f} edge of their workload band"
            )
        if (
            lim.max_high_risk is not None
            and inst.high_risk[a]
            and self.risk[c] + 1 > lim.max_high_risk
        ):
            rules.append("max_high_risk")
            words.append(
                f"{csm.label} would hold {self.risk[c] + 1} high-risk accounts (at most {lim.max_high_risk})"
            )
        if old is not None:
            left = inst.csms[old]
            lim_old = inst.limits[old]
            arr_old = self.arr[old] - inst.arr[a]
            work_old = self.work[old] - inst.pair_workload(a, old)
            if lim_old.min_arr is not None and arr_old < lim_old.min_arr - slack_arr:
                rules.append("min_arr")
                words.append(
                    f"{left.label} would drop to {money(arr_old)} ARR (at least {money(lim_old.min_arr)})"
                )
            if lim_old.arr_window is not None and arr_old < lim_old.arr_window[0] - slack_arr:
                rules.append("arr_tolerance")
                words.append(
                    f"{left.label} would drop to {money(arr_old)} ARR, below the "
                    f"{money(lim_old.arr_window[0])} edge of their ARR band"
                )
            if (
                lim_old.workload_window is not None
                and work_old < lim_old.workload_window[0] - slack_work
            ):
                rules.append("workload_tolerance")
                words.append(
                    f"{left.label} would drop to {work_old:,.1f} workload units, below the "
                    f"{lim_old.workload_window[0]:,.1f} edge of their workload band"
                )
        current = inst.current[a]
        extra_move = current is not None and old == current and c != current
        rule = inst.scenario.constraints
        if extra_move and rule.max_moves is not None and self.moves + 1 > rule.max_moves:
            rules.append("max_moves")
            words.append(f"the move budget is used up ({self.moves} of {rule.max_moves} moves)")
        if (
            extra_move
            and rule.max_moved_arr is not None
            and self.moved_arr + inst.arr[a] > rule.max_moved_arr * (1 + RULE_TOLERANCE) + 1e-6
        ):
            rules.append("max_moved_arr")
            words.append(
                f"the moved-ARR budget would be exceeded ({money(self.moved_arr + inst.arr[a])} "
                f"of {money(rule.max_moved_arr)})"
            )
        return tuple(words), tuple(rules)


def describe_cost(alt: Alternative, top: int = 2) -> str:
    """The largest costs of an alternative in words: "books further from their targets
    (+0.0012), more ARR at risk (+0.0004)"."""
    costs = sorted(((v, k) for k, v in alt.terms.items() if v > 1e-9), reverse=True)[:top]
    return ", ".join(f"{TERM_WORDS[k]} (+{v:.4f})" for v, k in costs) or "no term is worse"
