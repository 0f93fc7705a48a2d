"""Derived data shared by the formulation and the evaluator.

An :class:`Instance` turns a validated scenario into the numbers both the solver and the
evaluator use: each CSM's targets and limits, each account's eligible CSMs (and, for the others,
the rule that excludes them), and the per-(account, CSM) cost of every objective term. Because
the solver's objective coefficients and the evaluator's scores come from the same functions here,
the solver's reported objective equals the evaluator's score of its plan.

Objective terms (0 = ideal, documented in docs/scenario-format.md):

- ``churn_risk``: expected ARR lost, ``arr * p_churn * (1 - retention_rate)``, above the best
  eligible CSM for each account, as a share of the range between the best and the worst.
- ``expansion``: expansion opportunity ``arr * expansion_potential * expansion_rate`` left on
  the table compared with the best eligible CSM, as a share of the best-to-worst range.
- ``expertise``: share of ARR (among accounts whose industry some eligible CSM covers) placed
  with a CSM who does not cover that industry.
- ``continuity``: share of accounts with a current CSM that change CSM.
- ``preference``: the account's preference score for its CSM (``Account.preferences``: a
  relationship, a customer's request, any per-pair score; 0 for CSMs not listed) below the best
  eligible CSM's, as a share of the best-to-worst range summed over accounts.
- ``balance``: deviation of each CSM's ARR (and workload) beyond a comfort band of
  ``balance_band`` around their target, summed over CSMs, as a share of the team total, divided
  by ``max(tolerance - balance_band, 0.01)`` so that 1 means "every book at the edge of its
  tolerance" (it can exceed 1 for books beyond it); the ARR and workload parts are averaged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .issues import ScenarioIssue
from .rules import RULES, BookRule, Limits, PairRule, Quantity, TeamRule
from .scenario import (
    TEXT_CONDITION_FIELDS,
    Account,
    Condition,
    Csm,
    Goal,
    Override,
    Scenario,
    Utilization,
)

TERMS = (
    "churn_risk",
    "balance",
    "expertise",
    "expansion",
    "continuity",
    "preference",
    "travel",
    "soft_rules",
)
#: Weight of the move-count tie-breaker added when the continuity weight is zero: among plans
#: that are otherwise equally good, the one with fewer moves wins.
TIE_BREAK_WEIGHT = 1e-3
#: Tolerance assumed for scaling the balance term when the scenario sets none.
DEFAULT_BALANCE_TOLERANCE = 0.30
#: Smallest imbalance reference, so a tolerance equal to the band does not divide by zero.
MIN_BALANCE_REFERENCE = 0.01


@dataclass
class Instance:
    """Numbers derived from a scenario, indexed by account position ``a`` and CSM position ``c``."""

    scenario: Scenario
    accounts: tuple[Account, ...] = field(init=False)
    csms: tuple[Csm, ...] = field(init=False)
    #: Score on this instance's scale (normalizers, ideal rates, balance reference) instead of
    #: our own: a variant that drops a rule is then comparable with its base (price of a rule).
    reference: Instance | None = None

    def __post_init__(self) -> None:
        self.accounts = self.scenario.accounts
        self.csms = self.scenario.csms
        self.csm_index = {c.id: i for i, c in enumerate(self.csms)}
        self.account_index = {a.id: i for i, a in enumerate(self.accounts)}
        s = self.scenario
        rule = s.constraints

        self.arr: list[float] = [a.arr for a in self.accounts]
        self.p_churn = [a.churn_probability for a in self.accounts]
        self.potential = [a.expansion_score for a in self.accounts]
        self.workload: list[float] = [a.workload_units for a in self.accounts]
        #: Effort with specific CSMs, where it differs from ``workload`` (account -> CSM -> units).
        self.workload_with: list[dict[int, float]] = [
            {self.csm_index[k]: float(v) for k, v in a.workload_by_csm.items()}
            for a in self.accounts
        ]
        self.preference: list[dict[int, float]] = [
            {self.csm_index[k]: float(v) for k, v in a.preferences.items()} for a in self.accounts
        ]
        self.high_risk: list[bool] = [p >= rule.high_risk_threshold for p in self.p_churn]
        self.current: list[int | None] = [
            None if a.current_csm is None else self.csm_index[a.current_csm] for a in self.accounts
        ]

        # CSM rates: missing values take the team mean of the given ones (neutral, documented).
        self.retention = _fill_mean([c.retention_rate for c in self.csms], default=0.9)
        self.expansion_rate = _fill_mean([c.expansion_rate for c in self.csms], default=0.2)

        capacity = [c.capacity for c in self.csms]
        self.total_capacity = sum(capacity)
        #: The team's capacity-weighted mean retention and expansion rate (the reference the
        #: at-risk ARR, the equity audit, expansion coverage and the projection measure against).
        self.mean_retention: float = (
            sum(r * k for r, k in zip(self.retention, capacity, strict=True)) / self.total_capacity
        )
        self.mean_expansion_rate: float = (
            sum(x * k for x, k in zip(self.expansion_rate, capacity, strict=True))
            / self.total_capacity
        )
        self.total_arr = sum(self.arr)
        self.total_workload = sum(self.workload)
        self.arr_target: list[float] = [self.total_arr * k / self.total_capacity for k in capacity]
        self.workload_target: list[float] = [
            self.total_workload * k / self.total_capacity for k in capacity
        ]
        #: One full-time book of ARR / workload: the unit the model expresses money and effort in.
        self.arr_unit: float = self.total_arr / self.total_capacity if self.total_arr > 0 else 1.0
        self.workload_unit: float = (
            self.total_workload / self.total_capacity if self.total_workload > 0 else 1.0
        )

        # Travel to in-person accounts (scenario.travel): where each account and CSM is.
        self.account_place: list[tuple[float, float] | None] = [
            self._place(a.latitude, a.longitude, a.location) for a in self.accounts
        ]
        self.csm_place: list[tuple[float, float] | None] = [
            self._place(c.latitude, c.longitude, c.location) for c in self.csms
        ]
        self.visits: list[float] = [a.visits_per_quarter for a in self.accounts]
        #: Whether the plan reports travel: some in-person account and some CSM have places.
        self.tracks_travel: bool = any(p is not None for p in self.csm_place) and any(
            v > 0 and p is not None for v, p in zip(self.visits, self.account_place, strict=True)
        )

        # Capacity in hours (constraints.utilization): each account's effort and each CSM's
        # available hours a week; the model's unit is a full-time book of effort.
        hours = rule.utilization or Utilization()
        self.effort_hours: list[float] = [self._effort(a, hours) for a in self.accounts]
        self.hours: list[float] = [
            c.hours_per_week if c.hours_per_week is not None else c.capacity * hours.week_hours
            for c in self.csms
        ]
        total_effort = sum(self.effort_hours)
        self.hours_unit: float = (
            total_effort / self.total_capacity if total_effort > 0 else hours.week_hours
        )
        #: Whether the plan reports utilization: a band is set or hours are given.
        self.tracks_hours: bool = (
            rule.utilization is not None
            or any(a.effort_hours is not None for a in self.accounts)
            or any(c.hours_per_week is not None for c in self.csms)
        )

        # The hard rules registered when the instance is built (optimizer/rules.py), and each
        # book rule's (lower, upper) limit per CSM; rule families (goals, renewal load) make
        # the scenario's own book rules here.
        self.pair_rules: tuple[PairRule, ...] = RULES.pair
        # A registered rule the scenario makes soft is kept with hard=False.
        registered = tuple(
            replace(r, hard=False) if r.soft_when is not None and r.soft_when(self) else r
            for r in RULES.book
        )
        self.book_rules: tuple[BookRule, ...] = registered + tuple(
            made for family in RULES.book_families for made in family.build(self)
        )
        self.team_rules: tuple[TeamRule, ...] = RULES.team
        self.rule_limits: dict[str, list[Limits]] = {
            rule.name: [rule.limits(self, c) for c in range(len(self.csms))]
            for rule in self.book_rules
        }
        self._amounts: dict[str, list[float]] = {}
        #: Why each account must keep its current CSM (the keeping rule's name), or ``None``.
        self.fixed: list[str | None] = [self._fixed_reason(a) for a in range(len(self.accounts))]
        # Accounts with the same eligibility key share one exclusion map and one eligible list
        # (read-only): a team of 1,000 CSMs and 250,000 accounts has a few hundred distinct ones.
        #: Per account: the index of its eligibility group in ``group_eligible``.
        self.group: list[int] = []
        #: Per group: its eligible CSMs (the same list object as ``eligible[a]`` of its accounts).
        self.group_eligible: list[list[int]] = []
        self.exclusions: list[dict[int, str]] = []
        self.eligible: list[list[int]] = []
        seen: dict[tuple[object, ...], int] = {}
        shared: list[dict[int, str]] = []
        for i in range(len(self.accounts)):
            key = self._eligibility_key(i)
            g = seen.get(key)
            if g is None:
                g = seen[key] = len(shared)
                shared.append(self._exclusions(i))
                self.group_eligible.append([c for c in range(len(self.csms)) if c not in shared[g]])
            self.group.append(g)
            self.exclusions.append(shared[g])
            self.eligible.append(self.group_eligible[g])
        self.accounts_with_current = sum(1 for c in self.current if c is not None)
        if self.reference is not None and [a.id for a in self.reference.accounts] != [
            a.id for a in self.accounts
        ]:
            raise ValueError("a reference instance must have the same accounts in the same order")

    # ------------------------------------------------------------------ rules
    def rule(self, name: str) -> PairRule | BookRule | TeamRule:
        """The hard rule called ``name`` among this instance's rules."""
        every: tuple[PairRule | BookRule | TeamRule, ...] = (
            *self.pair_rules,
            *self.book_rules,
            *self.team_rules,
        )
        for rule in every:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def pair_rule(self, name: str) -> PairRule:
        """The pair rule called ``name`` (an exclusion's reason)."""
        rule = self.rule(name)
        assert isinstance(rule, PairRule), name
        return rule

    def limits(self, rule: str, c: int) -> Limits:
        """CSM ``c``'s (lower, upper) limit of book rule ``rule`` (``None``: no limit)."""
        return self.rule_limits[rule][c]

    def amounts(self, quantity: Quantity) -> list[float]:
        """Each account's amount of ``quantity`` (before per-CSM exceptions), computed once."""
        out = self._amounts.get(quantity.name)
        if out is None:
            out = self._amounts[quantity.name] = [float(v) for v in quantity.per_account(self)]
        return out

    def pair_amount(self, quantity: Quantity, a: int, c: int) -> float:
        """What account ``a`` adds to CSM ``c``'s total of ``quantity``."""
        base = self.amounts(quantity)[a]
        if quantity.per_pair is None:
            return base
        return quantity.per_pair(self)[a].get(c, base)

    def _place(
        self, latitude: float | None, longitude: float | None, location: str | None
    ) -> tuple[float, float] | None:
        if latitude is not None and longitude is not None:
            return latitude, longitude
        if location is not None:
            place = self.scenario.travel.locations[location]
            return place.latitude, place.longitude
        return None

    def distance_km(self, a: int, c: int) -> float | None:
        """Great-circle kilometres between account ``a`` and CSM ``c`` (``None``: either has no
        place)."""
        here, there = self.account_place[a], self.csm_place[c]
        if here is None or there is None:
            return None
        return float(great_circle_km(here, there))

    def travel_hours(self, a: int, c: int) -> float:
        """Hours a quarter CSM ``c`` spends travelling to account ``a``'s visits (round trips at
        ``travel.speed_kmh``); 0 for a remote account or an unknown place."""
        row = self.travel_rows.get(a)
        return 0.0 if row is None else float(row[c])

    @cached_property
    def travel_rows(self) -> dict[int, np.ndarray]:
        """Per in-person account with a place: its travel hours a quarter with each CSM (0 for
        a CSM without a place)."""
        known = np.array([p is not None for p in self.csm_place])
        there = (
            np.array([p[0] if p is not None else 0.0 for p in self.csm_place]),
            np.array([p[1] if p is not None else 0.0 for p in self.csm_place]),
        )
        speed = self.scenario.travel.speed_kmh
        out: dict[int, np.ndarray] = {}
        for a, (visits, place) in enumerate(zip(self.visits, self.account_place, strict=True)):
            if not visits or place is None:
                continue
            km = great_circle_km(place, there)
            out[a] = np.where(known, visits * 2.0 * km / speed, 0.0)
        return out

    def too_far(self, a: int, c: int) -> bool:
        """Whether ``max_travel_km`` rules CSM ``c`` out for in-person account ``a``."""
        most = self.scenario.constraints.max_travel_km
        if most is None or not self.visits[a]:
            return False
        km = self.distance_km(a, c)
        return km is not None and km > most

    def _effort(self, account: Account, hours: Utilization) -> float:
        """Hours a week ``account`` takes (see :class:`~optimizer.scenario.Utilization`)."""
        if account.effort_hours is not None:
            return account.effort_hours
        if account.coverage is not None:
            try:
                model = self.scenario.segmentation.model(account.coverage)
            except KeyError:
                pass
            else:
                return model.fte_per_account * hours.week_hours
        return account.workload_units * hours.hours_per_unit

    def goal_groups(self, goal: Goal) -> list[tuple[str | None, list[bool]]]:
        """The accounts each rule of ``goal`` counts: per value of its ``each`` field (sorted;
        ``None`` without one), whether each account matches every condition and has that
        value."""
        as_of = self.scenario.as_of
        matches = [
            all(_condition_words(as_of, a, c) is not None for c in goal.where)
            for a in self.accounts
        ]
        if goal.each is None:
            return [(None, matches)]
        values = [condition_value(as_of, a, goal.each) for a in self.accounts]
        found = sorted({str(v) for v, hit in zip(values, matches, strict=True) if hit and v})
        return [
            (key, [hit and v == key for v, hit in zip(values, matches, strict=True)])
            for key in found
        ]

    def goal_filter(self, goal: Goal, value: str | None = None) -> str:
        """The accounts a goal counts, in words: "industry = Retail and arr >= 100,000"."""
        parts = [] if value is None or goal.each is None else [f"{goal.each} = {value}"]
        parts += [condition_text(c) for c in goal.where]
        return " and ".join(parts) if parts else "any profile"

    def renewal_periods(self) -> list[tuple[str, list[bool]]]:
        """Calendar periods (``constraints.renewal_load.period``) with a renewal between
        ``as_of`` and the horizon, each with the accounts renewing in it, in date order."""
        load = self.scenario.constraints.renewal_load
        if load is None:
            return []
        as_of = self.scenario.as_of
        keys: list[str | None] = []
        for account in self.accounts:
            renews = account.renewal_date
            if renews is None or not 0 <= (renews - as_of).days <= load.horizon_days:
                keys.append(None)
            elif load.period == "quarter":
                keys.append(f"{renews.year}-Q{(renews.month - 1) // 3 + 1}")
            else:
                keys.append(f"{renews.year}-{renews.month:02d}")
        return [(key, [k == key for k in keys]) for key in sorted({k for k in keys if k})]

    def renewal_in_freeze(self, account: Account) -> bool:
        days = self.scenario.constraints.renewal_freeze_days
        if days is None or account.renewal_date is None:
            return False
        delta = (account.renewal_date - self.scenario.as_of).days
        return 0 <= delta <= days

    @cached_property
    def pins(self) -> list[tuple[int, Override] | None]:
        """Per account, the CSM position an override pins it to, with the override."""
        out: list[tuple[int, Override] | None] = [None] * len(self.accounts)
        for override in self.scenario.constraints.overrides:
            if override.pin is not None:
                out[self.account_index[override.account]] = (
                    self.csm_index[override.pin],
                    override,
                )
        return out

    @cached_property
    def forbids(self) -> list[dict[int, Override]]:
        """Per account, the CSM positions overrides forbid, each with its override."""
        out: list[dict[int, Override]] = [{} for _ in self.accounts]
        for override in self.scenario.constraints.overrides:
            for csm_id in override.forbid:
                out[self.account_index[override.account]].setdefault(
                    self.csm_index[csm_id], override
                )
        return out

    def override_conflicts(self) -> list[ScenarioIssue]:
        """Overrides that break another hard rule: a pin to a CSM that another pair rule rules
        out (a lock elsewhere, a renewal freeze, a missing skill, ...), or a forbidden CSM that
        a keeping rule holds the account with. Named by the override's path."""
        issues: list[ScenarioIssue] = []
        others = [r for r in self.pair_rules if r.name not in ("pinned", "forbidden")]
        for i, override in enumerate(self.scenario.constraints.overrides):
            a = self.account_index[override.account]
            current = self.current[a]
            if override.pin is not None:
                c = self.csm_index[override.pin]
                for rule in others:
                    keeps = (
                        rule.keeps is not None and rule.keeps(self, a) and current not in (None, c)
                    )
                    excluded = rule.excludes is not None and rule.excludes(self, a, c)
                    if keeps or excluded:
                        issues.append(
                            ScenarioIssue(
                                path=f"constraints.overrides[{i}].pin",
                                message=(
                                    f"pins account {override.account} to {override.pin!r}, which "
                                    f"the {rule.words} rule does not allow: "
                                    f"{rule.would(self, a, c)}"
                                ),
                            )
                        )
                        break
            for k, csm_id in enumerate(override.forbid):
                c = self.csm_index[csm_id]
                for rule in others:
                    if rule.keeps is not None and rule.keeps(self, a) and current == c:
                        issues.append(
                            ScenarioIssue(
                                path=f"constraints.overrides[{i}].forbid[{k}]",
                                message=(
                                    f"forbids {csm_id!r} for account {override.account}, which "
                                    f"the {rule.words} rule keeps with {csm_id!r}"
                                ),
                            )
                        )
                        break
        return issues

    def protected(self, a: int) -> str | None:
        """Why account ``a`` is a protected relationship (``constraints.protect``, the hard
        protections): the first protection whose every condition it meets, in words ("healthy
        relationship: health_score 86 >= 80"), or ``None``."""
        return self._protections[False][a]

    def softly_protected(self, a: int) -> str | None:
        """As :meth:`protected`, for the soft protections (moving the account costs the
        ``soft_rules`` term); ``None`` when a hard protection holds it anyway."""
        return None if self.protected(a) is not None else self._protections[True][a]

    @cached_property
    def _protections(self) -> dict[bool, list[str | None]]:
        """Per softness, per account: the first protection of that kind it meets, in words."""
        protections = self.scenario.constraints.protect
        out: dict[bool, list[str | None]] = {False: [], True: []}
        for account in self.accounts:
            found: dict[bool, str | None] = {False: None, True: None}
            for protection in protections:
                if found[protection.soft] is not None:
                    continue
                met = [_condition_words(self.scenario.as_of, account, c) for c in protection.when]
                if all(w is not None for w in met):
                    words = f"{protection.name}: {' and '.join(w for w in met if w)}"
                    found[protection.soft] = words
            out[False].append(found[False])
            out[True].append(found[True])
        return out

    def soft_keep_cost(self, a: int, c: int) -> float:
        """The ``soft_rules`` term's part for account ``a`` with CSM ``c``: one account outside
        a soft rule (over the team's capacity) when a soft protection holds it with another
        CSM."""
        current = self.current[a]
        if current is None or current == c or self.softly_protected(a) is None:
            return 0.0
        return 1.0 / self.total_capacity

    def _fixed_reason(self, a: int) -> str | None:
        """The keeping rule that holds account ``a`` with its current CSM (``None``: it may
        move). The first such rule in registry order names it."""
        if self.current[a] is None:
            return None
        for rule in self.pair_rules:
            if rule.keeps is not None and rule.keeps(self, a):
                return rule.name
        return None

    def _eligibility_key(self, a: int) -> tuple[Hashable, ...]:
        """What decides an account's exclusions: accounts with equal keys have equal ones."""
        if self.fixed[a] is not None:
            return ("fixed", self.fixed[a], self.current[a])
        return ("free", *(r.key(self, a) for r in self.pair_rules if r.key is not None))

    def _exclusions(self, a: int) -> dict[int, str]:
        """CSMs the account may not go to, each with the (first) rule that excludes it."""
        reason = self.fixed[a]
        if reason is not None:
            keep = self.current[a]
            return {c: reason for c in range(len(self.csms)) if c != keep}
        excluding = [r for r in self.pair_rules if r.excludes is not None]
        out: dict[int, str] = {}
        for c in range(len(self.csms)):
            for rule in excluding:
                assert rule.excludes is not None
                if rule.excludes(self, a, c):
                    out[c] = rule.name
                    break
        return out

    def freeze_until(self, account: Account) -> dt.date | None:
        if not self.renewal_in_freeze(account):
            return None
        return account.renewal_date

    def pair_workload(self, a: int, c: int) -> float:
        """The workload units account ``a`` takes with CSM ``c``."""
        return self.workload_with[a].get(c, self.workload[a])

    # ------------------------------------------------------------------ objective costs
    def industry_match(self, a: int, c: int) -> bool:
        industry = self.accounts[a].industry
        return industry is not None and industry in self.csms[c].industries

    @cached_property
    def _churn_norm(self) -> float:
        if self.reference is not None:
            return self.reference._churn_norm
        spread = _group_spread(self.group_eligible, self.retention)
        return sum(self.arr[a] * self.p_churn[a] * spread[g] for a, g in enumerate(self.group))

    @cached_property
    def _expansion_norm(self) -> float:
        if self.reference is not None:
            return self.reference._expansion_norm
        spread = _group_spread(self.group_eligible, self.expansion_rate)
        return sum(self.arr[a] * self.potential[a] * spread[g] for a, g in enumerate(self.group))

    @cached_property
    def _expertise_norm(self) -> float:
        if self.reference is not None:
            return self.reference._expertise_norm
        return sum(self.arr[a] for a in range(len(self.accounts)) if self._expertise_counts(a))

    def _expertise_counts(self, a: int) -> bool:
        """An account counts for expertise when some eligible CSM covers its industry."""
        industry = self.accounts[a].industry
        return industry is not None and industry in self._group_industries[self.group[a]]

    @cached_property
    def _group_industries(self) -> list[set[str]]:
        """Per eligibility group: the industries some eligible CSM covers."""
        return [{i for c in cs for i in self.csms[c].industries} for cs in self.group_eligible]

    @cached_property
    def _best_retention(self) -> list[float]:
        if self.reference is not None:
            return self.reference._best_retention
        best = [max((self.retention[c] for c in cs), default=0.0) for cs in self.group_eligible]
        return [best[g] for g in self.group]

    @cached_property
    def _best_expansion(self) -> list[float]:
        if self.reference is not None:
            return self.reference._best_expansion
        best = [
            max((self.expansion_rate[c] for c in cs), default=0.0) for cs in self.group_eligible
        ]
        return [best[g] for g in self.group]

    @cached_property
    def _best_preference(self) -> list[float]:
        if self.reference is not None:
            return self.reference._best_preference
        return [
            _best_score(self.preference[a], cs, len(self.csms))
            for a, cs in enumerate(self.eligible)
        ]

    @cached_property
    def _preference_norm(self) -> float:
        if self.reference is not None:
            return self.reference._preference_norm
        total = 0.0
        for a, cs in enumerate(self.eligible):
            if cs and self.preference[a]:
                scores = [self.preference[a].get(c, 0.0) for c in cs]
                total += max(scores) - min(scores)
        return total

    @cached_property
    def _best_travel(self) -> dict[int, float]:
        """Per in-person account: its fewest travel hours with an eligible CSM."""
        if self.reference is not None:
            return self.reference._best_travel
        return {
            a: float(row[self.eligible[a]].min()) if self.eligible[a] else 0.0
            for a, row in self.travel_rows.items()
        }

    @cached_property
    def _travel_norm(self) -> float:
        """The travel term's scale: the sum over in-person accounts of the spread of their
        travel hours over their eligible CSMs."""
        if self.reference is not None:
            return self.reference._travel_norm
        return float(
            sum(
                row[self.eligible[a]].max() - row[self.eligible[a]].min()
                for a, row in self.travel_rows.items()
                if self.eligible[a]
            )
        )

    @cached_property
    def _expertise_flags(self) -> list[bool]:
        if self.reference is not None:
            return self.reference._expertise_flags
        return [self._expertise_counts(a) for a in range(len(self.accounts))]

    def pair_costs(self, a: int, c: int) -> dict[str, float]:
        """The per-assignment part of each objective term for account ``a`` with CSM ``c``."""
        return {
            "churn_risk": self.churn_cost(a, c),
            "expertise": self.expertise_cost(a, c),
            "expansion": self.expansion_cost(a, c),
            "continuity": self.continuity_cost(a, c),
            "preference": self.preference_cost(a, c),
            "travel": self.travel_cost(a, c),
            "soft_rules": self.soft_keep_cost(a, c),
        }

    def travel_cost(self, a: int, c: int) -> float:
        """Travel hours above the account's best eligible CSM, over the team's spread."""
        row = self.travel_rows.get(a)
        norm = self._travel_norm
        if row is None or norm <= 0:
            return 0.0
        return (float(row[c]) - self._best_travel.get(a, 0.0)) / norm

    def churn_cost(self, a: int, c: int) -> float:
        norm = self._churn_norm
        if norm <= 0:
            return 0.0
        return self.arr[a] * self.p_churn[a] * (self._best_retention[a] - self.retention[c]) / norm

    def expansion_cost(self, a: int, c: int) -> float:
        norm = self._expansion_norm
        if norm <= 0:
            return 0.0
        return (
            self.arr[a]
            * self.potential[a]
            * (self._best_expansion[a] - self.expansion_rate[c])
            / norm
        )

    def expertise_cost(self, a: int, c: int) -> float:
        norm = self._expertise_norm
        if norm <= 0 or not self._expertise_flags[a] or self.industry_match(a, c):
            return 0.0
        return self.arr[a] / norm

    def preference_cost(self, a: int, c: int) -> float:
        norm = self._preference_norm
        if norm <= 0:
            return 0.0
        return (self._best_preference[a] - self.preference[a].get(c, 0.0)) / norm

    def continuity_cost(self, a: int, c: int) -> float:
        current = self.current[a]
        if current is None or current == c or self.accounts_with_current == 0:
            return 0.0
        return 1.0 / self.accounts_with_current

    # ------------------------------------------------------------------ balance
    @property
    def balances_workload(self) -> bool:
        return self.total_workload > 0

    def balance_excess(self, arr_by_csm: list[float], workload_by_csm: list[float]) -> float:
        """The balance term for given per-CSM totals (see module docstring)."""
        band = self.scenario.constraints.balance_band
        parts = [_excess_share(arr_by_csm, self.arr_target, band) / self.balance_reference("arr")]
        if self.balances_workload:
            parts.append(
                _excess_share(workload_by_csm, self.workload_target, band)
                / self.balance_reference("workload")
            )
        return sum(parts) / len(parts)

    def balance_reference(self, kind: str) -> float:
        """The imbalance that scores 1: every book at the edge of its tolerance.

        That is ``tolerance - balance_band`` (as a share of the team total); without a tolerance
        for ``kind`` the ARR tolerance is used, and without either, 30%.
        """
        if self.reference is not None:
            return self.reference.balance_reference(kind)
        rule = self.scenario.constraints
        tolerance = rule.workload_tolerance if kind == "workload" else None
        if tolerance is None:
            tolerance = (
                rule.arr_tolerance if rule.arr_tolerance is not None else DEFAULT_BALANCE_TOLERANCE
            )
        return max(tolerance - rule.balance_band, MIN_BALANCE_REFERENCE)

    def weights(self) -> dict[str, float]:
        return self.scenario.objectives.normalized()

    @property
    def tie_break(self) -> float:
        """Weight of the move-count tie-breaker (zero when continuity already has a weight)."""
        return TIE_BREAK_WEIGHT if self.weights()["continuity"] == 0 else 0.0


def _excess_share(values: list[float], targets: list[float], band: float) -> float:
    total = sum(targets)
    if total <= 0:
        return 0.0
    excess = sum(max(0.0, abs(v - t) - band * t) for v, t in zip(values, targets, strict=True))
    return excess / total


def _group_spread(groups: list[list[int]], rates: list[float]) -> list[float]:
    """Per eligibility group: best minus worst rate among its CSMs (0 for an empty group)."""
    out = []
    for cs in groups:
        values = [rates[c] for c in cs]
        out.append(max(values) - min(values) if values else 0.0)
    return out


def _best_score(scores: dict[int, float], eligible: list[int], n_csms: int) -> float:
    """The best of ``scores`` (0 for CSMs not listed) over ``eligible``; 0 when none are."""
    if not eligible:
        return 0.0
    best = max((v for c, v in scores.items() if c in eligible), default=0.0)
    if len(eligible) > sum(1 for c in scores if c in eligible):
        best = max(best, 0.0)  # some eligible CSM is not listed: it scores 0
    return best


def _fill_mean(values: list[float | None], default: float) -> list[float]:
    given = [v for v in values if v is not None]
    mean = sum(given) / len(given) if given else default
    return [mean if v is None else v for v in values]


def condition_value(as_of: dt.date, account: Account, name: str) -> float | str | None:
    """The value a protection's condition tests (``None``: the account does not have it)."""
    if name == "months_with_csm":
        since = account.csm_since
        return None if since is None else (as_of - since).days * 12 / 365.25
    if name == "renewal_in_days":
        renews = account.renewal_date
        return None if renews is None else float((renews - as_of).days)
    if name == "churn_probability":
        return account.churn_probability
    value = getattr(account, name)
    if name in TEXT_CONDITION_FIELDS:
        return value if isinstance(value, str) else None
    return None if value is None else float(value)


def _shown(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


#: The Earth's mean radius (km), for great-circle distances.
EARTH_KM = 6371.0


def great_circle_km(here: tuple[float, float], there: tuple[Any, Any]) -> Any:
    """The haversine distance from a (latitude, longitude) point to another, or to arrays of
    latitudes and longitudes (one distance each), in kilometres."""
    lat1, lon1 = np.radians(here[0]), np.radians(here[1])
    lat2, lon2 = np.radians(there[0]), np.radians(there[1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def condition_text(condition: Condition) -> str:
    """A condition in words, without an account: "arr >= 100,000", "industry in Retail, Media"."""
    name = condition.field
    if condition.one_of is not None:
        return f"{name} in {', '.join(condition.one_of)}"
    if condition.equals is not None:
        return f"{name} = {_shown(condition.equals)}"
    parts = []
    if condition.at_least is not None:
        parts.append(f"{name} >= {_shown(condition.at_least)}")
    if condition.at_most is not None:
        parts.append(f"{name} <= {_shown(condition.at_most)}")
    return " and ".join(parts)


def _condition_words(as_of: dt.date, account: Account, condition: Condition) -> str | None:
    """``condition`` in words with the account's value when the account meets it, else
    ``None`` ("health_score 86 >= 80")."""
    value = condition_value(as_of, account, condition.field)
    if value is None:
        return None
    name = condition.field
    if isinstance(value, str):
        if condition.equals is not None:
            return f"{name} {value}" if value == condition.equals else None
        assert condition.one_of is not None
        if value not in condition.one_of:
            return None
        return f"{name} {value} (one of {', '.join(condition.one_of)})"
    parts = []
    if condition.equals is not None:
        assert not isinstance(condition.equals, str)
        if abs(value - condition.equals) > 1e-9:
            return None
        parts.append(f"= {_shown(condition.equals)}")
    if condition.at_least is not None:
        if value < condition.at_least - 1e-9:
            return None
        parts.append(f">= {_shown(condition.at_least)}")
    if condition.at_most is not None:
        if value > condition.at_most + 1e-9:
            return None
        parts.append(f"<= {_shown(condition.at_most)}")
    return f"{name} {_shown(value)} {' and '.join(parts)}"
