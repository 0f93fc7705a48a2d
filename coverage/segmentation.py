"""Coverage segmentation and capacity planning: who needs which kind of attention.

Before accounts are assigned to people, each account gets three scores between 0 and 1, each a
weighted sum of dimensions scaled to 0-1 (the weights are the scenario's ``segmentation``
block, normalized to sum to 1, and every factor's contribution is reported):

- a **value** score (what the account is worth and could be worth) that places it in a value
  tier (Tier 1 strategic / Tier 2 growth / Tier 3 retention / Digital);
- a **need** score (what the customer needs, whatever it pays: complexity, risk, maturity,
  adoption) that places it in a coverage segment (Task Force / Sync / Async / Inbound);
- an **expansion** score that ranks expansion conversations.

Each tier and segment carries a coverage model (accounts per person, people per account,
workload units, cadence, named CSM or pool). :func:`segment` compares the recommended coverage
with today's (misalignment), derives the headcount each model needs and each CSM's utilization
(capacity planning), ranks expansion and lists tier migrations with their exceptions;
:func:`route` turns the result into an assignment scenario for :func:`optimizer.solve` (segment
workload units, pooled accounts routed to the pool). The formulas are in docs/segmentation.md.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from optimizer.scenario import DIMENSIONS, Account, CoverageModel, Scenario

from .capacity import Capacity, plan_capacity

#: Value of a dimension whose signal is missing (listed in the factor as ``missing``).
NEUTRAL = 0.5
#: Dimensions that count as 0, not as the midpoint, when missing: nobody flagged them.
ZERO_WHEN_MISSING = ("strategic", "competitive_risk")
#: Accounts listed as the highest-impact changes.
TOP = 10


@dataclass(frozen=True)
class Factor:
    """One dimension's part in a score: ``contribution = weight * value``."""

    dimension: str
    value: float
    weight: float
    contribution: float
    missing: bool = False


@dataclass(frozen=True)
class Score:
    score: float
    factors: tuple[Factor, ...]

    def top(self) -> Factor | None:
        present = [f for f in self.factors if not f.missing and f.contribution > 0]
        return max(present, key=lambda f: (f.contribution, f.dimension), default=None)


@dataclass(frozen=True)
class AccountSegment:
    """One account's scores, tier, segment and coverage today vs recommended."""

    account_id: str
    name: str | None
    arr: float
    current_csm: str | None
    value: Score
    tier: str
    need: Score
    segment: str
    expansion: Score
    #: Coverage today and recommended, in the scheme that drives coverage (``scheme``).
    current: str
    current_given: bool
    recommended: str
    #: Intensity of the recommended coverage minus today's: > 0 under-served, < 0 over-served.
    levels: int
    alignment: str
    arr_at_risk: float
    headroom: float
    #: Expected impact of changing this account's coverage, in currency (docs/segmentation.md).
    impact: float
    #: Full-time people the account takes today and with the recommended coverage.
    fte_current: float
    fte_recommended: float


@dataclass(frozen=True)
class Misalignment:
    accounts: int
    misaligned: int
    under_served: int
    over_served: int
    arr: float
    misaligned_arr: float
    under_served_arr: float
    over_served_arr: float
    #: Full-time people the under-served accounts need in addition, and the over-served free.
    fte_needed: float
    fte_freed: float
    top: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.misaligned / self.accounts if self.accounts else 0.0

    @property
    def arr_share(self) -> float:
        return self.misaligned_arr / self.arr if self.arr else 0.0


@dataclass(frozen=True)
class ExpansionRow:
    rank: int
    account_id: str
    name: str | None
    arr: float
    headroom: float
    score: float
    trigger: str
    owner: str
    current_csm: str | None


@dataclass(frozen=True)
class Migration:
    account_id: str
    name: str | None
    direction: str  # "up" (more attention) or "down"
    from_model: str
    to_model: str
    arr: float
    current_csm: str | None
    renewal_date: str | None
    days_to_renewal: int | None
    churn_risk: float
    notes: tuple[str, ...]
    timing: str

    @property
    def exception(self) -> bool:
        return bool(self.notes)


@dataclass(frozen=True)
class SegmentationReport:
    scenario: str
    as_of: str
    scheme: str
    accounts: tuple[AccountSegment, ...]
    misalignment: Misalignment
    capacity: Capacity
    expansion: tuple[ExpansionRow, ...]
    migrations: tuple[Migration, ...]
    models: tuple[CoverageModel, ...] = field(default=())

    def account(self, account_id: str) -> AccountSegment:
        for row in self.accounts:
            if row.account_id == account_id:
                return row
        raise KeyError(account_id)

    def counts(self, attribute: str = "recommended") -> dict[str, int]:
        """Accounts per model name (``recommended``, ``current``, ``tier`` or ``segment``)."""
        out: dict[str, int] = defaultdict(int)
        for row in self.accounts:
            out[getattr(row, attribute)] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        with paused_gc():
            data: dict[str, Any] = plain(self)
        data["models"] = [m.model_dump() for m in self.models]
        data["misalignment"]["share"] = self.misalignment.share
        data["misalignment"]["arr_share"] = self.misalignment.arr_share
        for row, model in zip(data["capacity"]["models"], self.capacity.models, strict=True):
            row["gap"] = model.gap
        for row, migration in zip(data["migrations"], self.migrations, strict=True):
            row["exception"] = migration.exception
        return data


def plain(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists (``dataclasses.asdict`` without its deep
    copies of every number, which take seconds on a large portfolio)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that hold no
    cycles: its full passes over a large scenario would double the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ----------------------------------------------------------------------------------------
# Scores


class _Portfolio:
    """What dimensions need beyond the account itself: ARR ranks, the as-of date."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.window = scenario.segmentation.renewal_window_days
        values = sorted(a.arr for a in scenario.accounts)
        n = len(values)
        scale = scenario.segmentation.arr_scale
        self.arr_scaled: dict[float, float] = {}
        low, high = values[0], values[-1]
        for arr in set(values):
            if scale == "rank":
                below = bisect.bisect_left(values, arr)
                equal = bisect.bisect_right(values, arr) - below
                self.arr_scaled[arr] = 0.5 if n == 1 else (below + (equal - 1) / 2) / (n - 1)
            elif high == low:
                self.arr_scaled[arr] = 0.5
            elif scale == "log":
                self.arr_scaled[arr] = (math.log1p(arr) - math.log1p(low)) / (
                    math.log1p(high) - math.log1p(low)
                )
            else:
                self.arr_scaled[arr] = (arr - low) / (high - low)

    def dimension(self, name: str, a: Account) -> float | None:
        """The dimension's value for account ``a``, from 0 to 1; ``None`` if its signal is missing."""
        if name == "arr":
            return self.arr_scaled[a.arr]
        if name == "expansion":
            if a.potential_arr is not None:
                return _headroom(a) / a.potential_arr if a.potential_arr > 0 else 0.0
            return a.expansion_score
        if name == "strategic":
            return a.strategic
        if name == "competitive_risk":
            return a.competitive_probability
        if name == "renewal":
            days = _days_to_renewal(a, self.scenario)
            if days is None:
                return None
            if days <= self.window:
                return 1.0
            return max(0.0, (365 - days) / (365 - self.window))
        if name == "churn_risk":
            return a.churn_probability
        if name == "complexity":
            return (a.complexity - 1) / 4
        if name == "immaturity":
            return None if a.maturity is None else (5 - a.maturity) / 4
        if name == "adoption_gap":
            return None if a.adoption is None else 1 - a.adoption
        if name == "adoption":
            return a.adoption
        if name == "health_gap":
            return None if a.health_score is None else 1 - a.health_score / 100
        if name == "health":
            return None if a.health_score is None else a.health_score / 100
        if name == "seat_utilization":
            return None if a.seat_utilization is None else min(a.seat_utilization, 1.0)
        if name == "growth":
            return None if a.growth is None else min(max(a.growth, 0.0), 1.0)
        raise KeyError(name)  # the scenario validation only lets DIMENSIONS through

    def score(self, weights: Mapping[str, float], a: Account) -> Score:
        factors = []
        total = 0.0
        for name, weight in _normalized(weights):
            raw = self.dimension(name, a)
            value = (0.0 if name in ZERO_WHEN_MISSING else NEUTRAL) if raw is None else raw
            contribution = weight * value
            total += contribution
            factors.append(Factor(name, value, weight, contribution, raw is None))
        return Score(min(1.0, total), tuple(factors))


def _normalized(weights: Mapping[str, float]) -> list[tuple[str, float]]:
    """The weights in the order of DIMENSIONS, scaled to sum to 1."""
    key = tuple(sorted(weights.items()))
    if key not in _NORMALIZED:
        total = sum(weights.values())
        _NORMALIZED[key] = [(name, weights[name] / total) for name in DIMENSIONS if name in weights]
    return _NORMALIZED[key]


_NORMALIZED: dict[tuple[tuple[str, float], ...], list[tuple[str, float]]] = {}


def _headroom(a: Account) -> float:
    """ARR the account could still add: up to ``potential_arr``, else ARR x expansion potential."""
    if a.potential_arr is not None:
        return max(a.potential_arr - a.arr, 0.0)
    return a.arr * a.expansion_score


def _days_to_renewal(a: Account, scenario: Scenario) -> int | None:
    return None if a.renewal_date is None else (a.renewal_date - scenario.as_of).days


def _place(score: float, models: tuple[CoverageModel, ...]) -> CoverageModel:
    for model in models:
        if score >= model.min_score - 1e-12:
            return model
    return models[-1]


def _intensity(models: tuple[CoverageModel, ...]) -> dict[str, int]:
    """Higher for more attention: the first model (highest score) is the most intensive."""
    return {m.name: len(models) - 1 - i for i, m in enumerate(models)}


def _default_current(a: Account, models: tuple[CoverageModel, ...]) -> CoverageModel:
    """Today's coverage when the account does not say: the least intensive named model if it
    has a CSM, else the least intensive model (the pool, when there is one)."""
    if a.current_csm is None:
        return models[-1]
    return [m for m in models if m.named][-1]


# ----------------------------------------------------------------------------------------
# The report


def segment(scenario: Scenario) -> SegmentationReport:
    """Score, segment and plan coverage for every account of ``scenario``."""
    with paused_gc():
        return _segment(scenario)


def _segment(scenario: Scenario) -> SegmentationReport:
    config = scenario.segmentation
    portfolio = _Portfolio(scenario)
    models = config.models()
    by_name = {m.name: m for m in models}
    intensity = _intensity(models)

    rows: list[AccountSegment] = []
    for a in scenario.accounts:
        value = portfolio.score(config.value_weights, a)
        need = portfolio.score(config.need_weights, a)
        expansion = portfolio.score(config.expansion_weights, a)
        tier = _place(value.score, config.tiers)
        seg = _place(need.score, config.segments)
        recommended = seg if config.scheme == "segments" else tier
        current = by_name[a.coverage] if a.coverage is not None else _default_current(a, models)
        levels = intensity[recommended.name] - intensity[current.name]
        rows.append(
            AccountSegment(
                account_id=a.id,
                name=a.name,
                arr=a.arr,
                current_csm=a.current_csm,
                value=value,
                tier=tier.name,
                need=need,
                segment=seg.name,
                expansion=expansion,
                current=current.name,
                current_given=a.coverage is not None,
                recommended=recommended.name,
                levels=levels,
                alignment="aligned"
                if levels == 0
                else ("under-served" if levels > 0 else "over-served"),
                arr_at_risk=a.arr * a.churn_probability,
                headroom=_headroom(a),
                impact=0.0,
                fte_current=current.fte_per_account,
                fte_recommended=recommended.fte_per_account,
            )
        )
    rows = _with_impact(rows)
    misalignment = _misalignment(rows)
    capacity = plan_capacity(scenario, rows, models)
    return SegmentationReport(
        scenario=scenario.name,
        as_of=scenario.as_of.isoformat(),
        scheme=config.scheme,
        accounts=tuple(rows),
        misalignment=misalignment,
        capacity=capacity,
        expansion=_expansion(scenario, rows),
        migrations=_migrations(scenario, rows),
        models=models,
    )


def _with_impact(rows: list[AccountSegment]) -> list[AccountSegment]:
    """Under-served: the ARR at stake (ARR at risk + expansion headroom) times the levels of
    attention missing. Over-served: the people freed, valued at the portfolio's ARR at stake per
    person of recommended coverage (what that time is worth where it is needed)."""
    at_stake = sum(r.arr_at_risk + r.headroom for r in rows)
    people = sum(r.fte_recommended for r in rows)
    per_fte = at_stake / people if people > 0 else 0.0
    out = []
    for r in rows:
        if r.levels > 0:
            impact = (r.arr_at_risk + r.headroom) * r.levels
        elif r.levels < 0:
            impact = (r.fte_current - r.fte_recommended) * per_fte
        else:
            impact = 0.0
        out.append(replace(r, impact=impact))
    return out


def _misalignment(rows: list[AccountSegment]) -> Misalignment:
    under = [r for r in rows if r.levels > 0]
    over = [r for r in rows if r.levels < 0]
    ranked = sorted(under + over, key=lambda r: (-r.impact, r.account_id))
    return Misalignment(
        accounts=len(rows),
        misaligned=len(under) + len(over),
        under_served=len(under),
        over_served=len(over),
        arr=sum(r.arr for r in rows),
        misaligned_arr=sum(r.arr for r in under + over),
        under_served_arr=sum(r.arr for r in under),
        over_served_arr=sum(r.arr for r in over),
        fte_needed=sum(r.fte_recommended - r.fte_current for r in under),
        fte_freed=sum(r.fte_current - r.fte_recommended for r in over),
        top=tuple(r.account_id for r in ranked[:TOP]),
    )


# ----------------------------------------------------------------------------------------
# Expansion and migrations


TRIGGERS = {
    "expansion": "{headroom} between today's ARR and its estimated potential",
    "adoption": "uses {adoption} of the product's features: ready for the next tier or module",
    "seat_utilization": "{seats} of licensed seats in use: close to the seat limit",
    "growth": "the organization grew {growth}: new teams to bring on",
    "health": "healthy (score {health}): a good moment for a commercial conversation",
}


def _trigger(a: Account, row: AccountSegment) -> str:
    factor = row.expansion.top()
    if factor is None or factor.dimension not in TRIGGERS:
        return "no strong signal"
    return TRIGGERS[factor.dimension].format(
        headroom=f"${row.headroom:,.0f}",
        adoption=f"{(a.adoption or 0):.0%}",
        seats=f"{(a.seat_utilization or 0):.0%}",
        growth=f"{(a.growth or 0):.0%}",
        health=f"{(a.health_score or 0):.0f}",
    )


def _owner(scenario: Scenario, a: Account, headroom: float) -> str:
    """At-risk accounts stay with CS (stabilize before selling); small headroom is a CS upsell,
    large headroom is Sales-led, in between both work it."""
    config = scenario.segmentation
    if a.churn_probability >= scenario.constraints.high_risk_threshold:
        return "CS"
    if headroom < config.cs_headroom:
        return "CS"
    if headroom >= config.sales_headroom:
        return "Sales"
    return "CS + Sales"


def _expansion(scenario: Scenario, rows: list[AccountSegment]) -> tuple[ExpansionRow, ...]:
    accounts = {a.id: a for a in scenario.accounts}
    ranked = sorted(rows, key=lambda r: (-r.expansion.score, -r.headroom, r.account_id))
    return tuple(
        ExpansionRow(
            rank=i + 1,
            account_id=r.account_id,
            name=r.name,
            arr=r.arr,
            headroom=r.headroom,
            score=r.expansion.score,
            trigger=_trigger(accounts[r.account_id], r),
            owner=_owner(scenario, accounts[r.account_id], r.headroom),
            current_csm=r.current_csm,
        )
        for i, r in enumerate(ranked)
    )


def _migrations(scenario: Scenario, rows: list[AccountSegment]) -> tuple[Migration, ...]:
    config = scenario.segmentation
    accounts = {a.id: a for a in scenario.accounts}
    named = {m.name: m.named for m in config.models()}
    out = []
    for r in sorted(rows, key=lambda r: (-abs(r.levels), -r.arr, r.account_id)):
        if r.levels == 0:
            continue
        a = accounts[r.account_id]
        days = _days_to_renewal(a, scenario)
        up = r.levels > 0
        notes = []
        if days is not None and days <= config.exception_days:
            notes.append(f"renews in {days} days: change coverage after the renewal")
        if not up and a.churn_probability >= scenario.constraints.high_risk_threshold:
            notes.append(
                f"churn risk {a.churn_probability:.0%}: keep today's coverage until it is addressed"
            )
        competitive = a.competitive_probability
        if not up and competitive is not None and competitive >= 0.5:
            notes.append(f"competitive risk {competitive:.0%}: a competitor is working the account")
        if a.locked and not named[r.recommended]:
            notes.append("locked to its CSM: stays with a named CSM")
        timing = "hold" if notes else "next wave"
        if notes and days is not None and days <= config.exception_days and len(notes) == 1:
            timing = "after renewal"
        out.append(
            Migration(
                account_id=r.account_id,
                name=r.name,
                direction="up" if up else "down",
                from_model=r.current,
                to_model=r.recommended,
                arr=r.arr,
                current_csm=r.current_csm,
                renewal_date=None if a.renewal_date is None else a.renewal_date.isoformat(),
                days_to_renewal=days,
                churn_risk=a.churn_probability,
                notes=tuple(notes),
                timing=timing,
            )
        )
    return tuple(out)


# ----------------------------------------------------------------------------------------
# Feeding the assignment engine
