"""The scenario contract: accounts, CSMs, objective weights, hard rules, solver settings.

A scenario is immutable and validated when it is built. Every problem found in the input is
collected and reported at once, each naming the account or CSM and the field, so an analyst can
fix a spreadsheet in one pass instead of one error per run.

Use :func:`load_scenario` for files (JSON, with accounts and CSMs inline or as CSV or XLSX
paths next to the scenario) and :meth:`Scenario.from_dict` for data already in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .issues import ScenarioError, ScenarioIssue
from .tables import (
    BOOL_WORDS,
    FRACTION,
    LEVEL,
    MONEY,
    NUMERIC_KINDS,
    field_kinds,
    plain_value,
    read_records,
    read_sheet,
    split_sheet,
)

#: Churn probability used for each named risk level (documented in docs/scenario-format.md).
RISK_LEVELS: dict[str, float] = {"low": 0.05, "medium": 0.2, "high": 0.5}
#: Expansion potential used for each named level.
POTENTIAL_LEVELS: dict[str, float] = {"low": 0.1, "medium": 0.4, "high": 0.8}

# What a table's cells of a field hold where the annotation cannot tell (optimizer/tables.py):
# money takes K/M/B suffixes, a share or a probability a percentage, a risk level a word too.
Probability = Annotated[float, Field(ge=0.0, le=1.0), FRACTION]
Share = Annotated[float, FRACTION]
Money = Annotated[float, MONEY]
#: Largest magnitude of any number in a scenario: sums over a whole team stay finite and well
#: inside what the solvers treat as a number (they read 1e20 and above as infinity).
MAX_NUMBER = 1e15
#: Smallest capacity: a book's targets are the team's totals divided by the capacities.
MIN_CAPACITY = 1e-6
Level = Literal["low", "medium", "high"]
RiskLevel = Annotated[Level | Probability, LEVEL]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )


class Csm(_Frozen):
    """A Customer Success Manager and what their book may hold.

    ``capacity`` is the share of a full-time book (1 = full time). ARR and workload targets,
    and the team-wide per-CSM limits in :class:`Constraints`, scale with it; the per-CSM limits
    given here (``max_accounts``, ``min_arr``, ``max_arr``, ``max_workload``) are absolute.
    """

    id: str = Field(min_length=1)
    name: str | None = None
    capacity: Share = Field(default=1.0, gt=0.0, le=10.0)
    max_accounts: int | None = Field(default=None, ge=0)
    min_arr: Money | None = Field(default=None, ge=0.0)
    max_arr: Money | None = Field(default=None, ge=0.0)
    max_workload: float | None = Field(default=None, ge=0.0)
    #: Hours a week this CSM has for their book (``None``: ``capacity`` times
    #: ``constraints.utilization.week_hours``).
    hours_per_week: float | None = Field(default=None, gt=0.0, le=168.0)
    industries: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    region: str | None = None
    languages: tuple[str, ...] = ()
    #: Where the CSM travels from: coordinates, or a name of ``travel.locations``.
    latitude: float | None = Field(default=None, ge=-90.0, le=90.0)
    longitude: float | None = Field(default=None, ge=-180.0, le=180.0)
    location: str | None = None
    retention_rate: Probability | None = None
    expansion_rate: Probability | None = None
    #: Coverage models (segments or tiers, see :class:`Segmentation`) this CSM serves; empty =
    #: any model with a named CSM. A CSM who serves only pooled models staffs the pool.
    segments: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


class Account(_Frozen):
    """A customer account. ``arr`` is annual recurring revenue in the scenario's currency.

    ``churn_risk`` and ``expansion_potential`` accept a level (``low``/``medium``/``high``) or a
    probability between 0 and 1. ``workload`` is the effort the account takes in workload units;
    when absent it is the account's ``complexity`` (1-5); ``workload_by_csm`` overrides it for
    given CSMs (e.g. a CSM new to the product needs more hours). ``preferences`` scores CSMs for
    this account (higher is better; unlisted CSMs score 0), for the ``preference`` objective term.
    """

    id: str = Field(min_length=1)
    name: str | None = None
    arr: Money = Field(ge=0.0)
    health_score: float | None = Field(default=None, ge=0.0, le=100.0)
    #: Net Promoter Score of the account's contacts (-100 to 100).
    nps: float | None = Field(default=None, ge=-100.0, le=100.0)
    #: Since when the current CSM has had the account (for ``months_with_csm`` in a protection).
    csm_since: dt.date | None = None
    churn_risk: RiskLevel = "low"
    industry: str | None = None
    complexity: int = Field(default=3, ge=1, le=5)
    workload: float | None = Field(default=None, ge=0.0)
    #: Hours a week the account takes (``None``: from its coverage model, else its workload;
    #: see :class:`Utilization`).
    effort_hours: float | None = Field(default=None, ge=0.0, le=168.0)
    renewal_date: dt.date | None = None
    expansion_potential: RiskLevel = "low"
    region: str | None = None
    language: str | None = None
    #: Where the account is met in person: coordinates, or a name of ``travel.locations``.
    latitude: float | None = Field(default=None, ge=-90.0, le=90.0)
    longitude: float | None = Field(default=None, ge=-180.0, le=180.0)
    location: str | None = None
    #: In-person visits a quarter (0: the account is served remotely).
    visits_per_quarter: float = Field(default=0.0, ge=0.0, le=100.0)
    required_skills: tuple[str, ...] = ()
    current_csm: str | None = None
    locked: bool = False
    workload_by_csm: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    preferences: dict[str, float] = Field(default_factory=dict)
    # Segmentation signals (coverage/segmentation.py); the assignment model does not read them.
    coverage: str | None = None
    potential_arr: Money | None = Field(default=None, ge=0.0)
    adoption: Probability | None = None
    seat_utilization: Share | None = Field(default=None, ge=0.0, le=10.0)
    growth: Share | None = Field(default=None, ge=-1.0, le=10.0)
    maturity: int | None = Field(default=None, ge=1, le=5)
    strategic: Probability | None = None
    competitive_risk: RiskLevel | None = None

    @field_validator("current_csm", "coverage")
    @classmethod
    def _blank_is_unassigned(cls, value: str | None) -> str | None:
        # An empty cell means "no current CSM", as in the CSV files and the cross-field checks.
        return value or None

    @property
    def churn_probability(self) -> float:
        risk = self.churn_risk
        return RISK_LEVELS[risk] if isinstance(risk, str) else float(risk)

    @property
    def expansion_score(self) -> float:
        potential = self.expansion_potential
        return POTENTIAL_LEVELS[potential] if isinstance(potential, str) else float(potential)

    @property
    def competitive_probability(self) -> float | None:
        risk = self.competitive_risk
        if risk is None:
            return None
        return RISK_LEVELS[risk] if isinstance(risk, str) else float(risk)

    @property
    def workload_units(self) -> float:
        return float(self.complexity) if self.workload is None else self.workload

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


class Objectives(_Frozen):
    """Non-negative weights of the eight objective terms; they are normalized to sum to 1.

    Every term is scaled to a share between 0 (ideal) and 1, so 40/30/20/10 means what it says:
    a point of churn-risk term is worth 4/3 of a point of balance term.
    """

    churn_risk: float = Field(default=0.4, ge=0.0)
    balance: float = Field(default=0.3, ge=0.0)
    expertise: float = Field(default=0.2, ge=0.0)
    expansion: float = Field(default=0.1, ge=0.0)
    continuity: float = Field(default=0.0, ge=0.0)
    preference: float = Field(default=0.0, ge=0.0)
    travel: float = Field(default=0.0, ge=0.0)
    soft_rules: float = Field(default=0.0, ge=0.0)

    def normalized(self) -> dict[str, float]:
        """Weights scaled to sum to 1 (the scenario validation rejects all-zero weights)."""
        raw = self.model_dump()
        total = sum(raw.values())
        return {name: value / total for name, value in raw.items()}


#: Account numbers a protection's condition may test (``at_least``, ``at_most``, ``equals``):
#: fields of the account, and two measured from ``as_of`` (``months_with_csm`` from
#: ``csm_since``, ``renewal_in_days`` to ``renewal_date``).
NumericConditionField = Literal[
    "health_score",
    "nps",
    "months_with_csm",
    "renewal_in_days",
    "arr",
    "potential_arr",
    "complexity",
    "maturity",
    "adoption",
    "growth",
    "seat_utilization",
    "strategic",
    "churn_probability",
]
#: Account words a condition may test (``equals``, ``one_of``).
TextConditionField = Literal[
    "industry",
    "region",
    "language",
    "coverage",
    "churn_risk",
    "expansion_potential",
    "competitive_risk",
]
ConditionField = Literal[NumericConditionField, TextConditionField]
NUMERIC_CONDITION_FIELDS: tuple[str, ...] = get_args(NumericConditionField)
TEXT_CONDITION_FIELDS: tuple[str, ...] = get_args(TextConditionField)


class Condition(_Frozen):
    """One test on an account: a number at least / at most / equal to a value, or a word equal
    to one value or one of several. An account without the field does not meet it."""

    field: ConditionField
    at_least: float | None = None
    at_most: float | None = None
    equals: float | str | None = None
    one_of: tuple[str, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        numeric = self.field in NUMERIC_CONDITION_FIELDS
        given = [
            k for k in ("at_least", "at_most", "equals", "one_of") if getattr(self, k) is not None
        ]
        if not given:
            raise ValueError("give a test: at_least, at_most, equals or one_of")
        if numeric:
            if self.one_of is not None or isinstance(self.equals, str):
                raise ValueError(
                    f"{self.field} is a number: test it with at_least, at_most or equals (a number)"
                )
            if self.equals is not None and (self.at_least is not None or self.at_most is not None):
                raise ValueError("equals cannot be combined with at_least or at_most")
            if (
                self.at_least is not None
                and self.at_most is not None
                and self.at_least > self.at_most
            ):
                raise ValueError(
                    f"at_least {self.at_least:g} is above at_most {self.at_most:g}: no account "
                    "meets it"
                )
        else:
            if self.at_least is not None or self.at_most is not None:
                raise ValueError(f"{self.field} is a word: test it with equals or one_of")
            if self.equals is not None and self.one_of is not None:
                raise ValueError("give equals or one_of, not both")
            if self.equals is not None and not isinstance(self.equals, str):
                raise ValueError(f"{self.field} is a word: equals takes a word")
        return self


class Protection(_Frozen):
    """A relationship the leader protects: an account that meets every condition of ``when``
    stays with its current CSM. ``name`` says why, in the plan's words."""

    name: str = Field(min_length=1)
    when: tuple[Condition, ...]
    #: A soft protection: moving such an account costs ``objectives.soft_rules`` (one account
    #: outside a soft rule) instead of being ruled out.
    soft: bool = False

    @model_validator(mode="after")
    def _some_condition(self) -> Protection:
        # Checked here, not as a length: a list whose only condition is bad would also be
        # reported as empty.
        if not self.when:
            raise ValueError("give at least one condition in when")
        return self


class Override(_Frozen):
    """A leader's decision on one account, with its reason: ``pin`` it to a CSM, or ``forbid``
    some CSMs for it. ``author`` and ``date`` say who decided and when (optional)."""

    account: str = Field(min_length=1)
    pin: str | None = Field(default=None, min_length=1)
    forbid: tuple[str, ...] = ()
    reason: str = Field(min_length=1)
    author: str | None = None
    date: dt.date | None = None

    @model_validator(mode="after")
    def _one_decision(self) -> Override:
        if (self.pin is None) == (not self.forbid):
            raise ValueError("give either pin (one CSM id) or forbid (CSM ids), not both or none")
        return self


class Utilization(_Frozen):
    """Capacity in hours: each account's effort against each CSM's available hours.

    An account's effort (hours a week) is its ``effort_hours``; else, when it names its coverage
    model (``accounts[].coverage``), that model's share of a full-time person
    (``people / accounts_per_csm``) times ``week_hours``; else its workload units times
    ``hours_per_unit``. A CSM has ``hours_per_week``, else ``capacity * week_hours``.
    Utilization is effort / hours; ``at_least`` / ``at_most`` keep every CSM's inside a band.
    """

    at_least: float | None = Field(default=None, ge=0.0, le=10.0)
    at_most: float | None = Field(default=None, gt=0.0, le=10.0)
    week_hours: float = Field(default=40.0, gt=0.0, le=168.0)
    hours_per_unit: float = Field(default=1.0, ge=0.0, le=168.0)
    #: A soft band: hours outside it cost (``objectives.soft_rules``) instead of ruling out.
    soft: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Utilization:
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(
                f"at_least {self.at_least:g} is above at_most {self.at_most:g}: no CSM fits "
                "the band"
            )
        return self


GoalMeasure = Literal["accounts", "arr", "account_share", "arr_share"]


class Goal(_Frozen):
    """A development or mix goal: per CSM (``csms``; empty = every CSM), at least / at most
    so much of the book matching ``where`` (every condition; empty = every account).

    ``measure``: ``accounts`` (a count), ``arr`` (money), ``account_share`` or ``arr_share``
    (a share of the CSM's own book, 0-1). ``each`` (a word field such as ``industry``) makes one
    goal per value of that field: "no CSM holds more than 40% of their ARR in one industry".
    """

    name: str = Field(min_length=1)
    csms: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    each: TextConditionField | None = None
    measure: GoalMeasure = "accounts"
    at_least: float | None = Field(default=None, ge=0.0)
    at_most: float | None = Field(default=None, ge=0.0)
    #: A soft goal: a shortfall or excess costs (``objectives.soft_rules``) instead of ruling out.
    soft: bool = False

    @model_validator(mode="after")
    def _limits(self) -> Goal:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(
                f"at_least {self.at_least:g} is above at_most {self.at_most:g}: no book meets it"
            )
        if self.measure.endswith("_share"):
            for key in ("at_least", "at_most"):
                value = getattr(self, key)
                if value is not None and value > 1.0:
                    raise ValueError(
                        f"{key} {value:g} is a share of the book: give it between 0 and 1"
                    )
        return self


class RenewalLoad(_Frozen):
    """Renewals spread over the year: per CSM and calendar ``period``, at most ``max_renewals``
    renewals (scaled by capacity, as ``max_accounts_per_csm``) and at most ``max_arr_share`` of
    the book's ARR renewing. Counted from ``renewal_date`` between ``as_of`` and
    ``horizon_days`` later."""

    period: Literal["quarter", "month"] = "quarter"
    max_renewals: int | None = Field(default=None, ge=0)
    max_arr_share: float | None = Field(default=None, gt=0.0, le=1.0)
    horizon_days: int = Field(default=365, ge=1, le=3660)
    #: Soft: renewals past the limits cost (``objectives.soft_rules``) instead of ruling out.
    soft: bool = False

    @model_validator(mode="after")
    def _some_limit(self) -> RenewalLoad:
        if self.max_renewals is None and self.max_arr_share is None:
            raise ValueError("give max_renewals, max_arr_share or both")
        return self


class Constraints(_Frozen):
    """Hard rules. ``None`` switches a rule off.

    Team-wide per-CSM limits (``max_accounts_per_csm``, ``min_arr_per_csm``,
    ``max_arr_per_csm``, ``max_high_risk_per_csm``) are for a full-time CSM and scale with the
    CSM's ``capacity``; a CSM's own limit, when given, applies too (the stricter one binds).
    """

    arr_tolerance: float | None = Field(default=None, ge=0.0, le=1.0)
    workload_tolerance: float | None = Field(default=None, ge=0.0, le=1.0)
    balance_band: float = Field(default=0.05, ge=0.0, le=1.0)
    max_accounts_per_csm: int | None = Field(default=None, ge=0)
    min_arr_per_csm: float | None = Field(default=None, ge=0.0)
    max_arr_per_csm: float | None = Field(default=None, ge=0.0)
    max_high_risk_per_csm: int | None = Field(default=None, ge=0)
    high_risk_threshold: Probability = 0.5
    max_moves: int | None = Field(default=None, ge=0)
    max_moved_arr: float | None = Field(default=None, ge=0.0)
    renewal_freeze_days: int | None = Field(default=None, ge=0)
    #: In-person accounts (``visits_per_quarter`` > 0) go to a CSM at most this far away (km).
    max_travel_km: float | None = Field(default=None, gt=0.0)
    #: Protected relationships: an account meeting every condition of any one of them keeps
    #: its current CSM (the first one met names it).
    protect: tuple[Protection, ...] = ()
    #: Pins and forbidden pairs, each with its reason (the account and CSM ids must exist).
    overrides: tuple[Override, ...] = ()
    #: Capacity in hours and a utilization band (``None``: not tracked unless hours are given).
    utilization: Utilization | None = None
    #: Development and mix goals per CSM.
    goals: tuple[Goal, ...] = ()
    #: At most so many renewals (or so much ARR renewing) per CSM per quarter or month.
    renewal_load: RenewalLoad | None = None
    match_region: bool = False
    match_language: bool = False
    required_skills: bool = True


#: Dimensions a segmentation score may weigh; each is scaled to 0-1 (docs/segmentation.md).
DIMENSIONS: dict[str, str] = {
    "arr": "ARR, as its percentile rank in the portfolio",
    "expansion": "headroom to potential_arr as a share of it (expansion_potential without it)",
    "strategic": "strategic importance (strategic)",
    "competitive_risk": "competitive risk (competitive_risk)",
    "renewal": "renewal proximity: 1 within renewal_window_days, 0 from a year out",
    "churn_risk": "churn probability (churn_risk)",
    "complexity": "use-case complexity (complexity 1-5)",
    "immaturity": "how little the customer can do alone (maturity 5 = 0, 1 = 1)",
    "adoption_gap": "feature adoption not yet reached (1 - adoption)",
    "health_gap": "engagement health missing (1 - health_score / 100)",
    "adoption": "feature adoption breadth (adoption)",
    "seat_utilization": "seats in use, 1 = every licensed seat (capped at 1)",
    "growth": "organizational growth (growth, capped at 1 = doubling)",
    "health": "engagement health (health_score / 100)",
}


class CoverageModel(_Frozen):
    """One segment or tier and how it is covered.

    An account enters the first model (in the order given) whose ``min_score`` its score
    reaches; the last model must have ``min_score`` 0. One full-time person covers
    ``accounts_per_csm`` accounts of this model; ``people`` work on each account, so an account
    takes ``people / accounts_per_csm`` of a full-time person. ``workload`` is the effort the
    assignment engine balances for each account of this model.
    """

    name: str = Field(min_length=1)
    min_score: Probability
    accounts_per_csm: float = Field(gt=0.0, le=100_000.0)
    people: int = Field(default=1, ge=1, le=50)
    workload: float = Field(ge=0.0, le=1_000.0)
    cadence: str = ""
    named: bool = True

    @property
    def fte_per_account(self) -> float:
        return self.people / self.accounts_per_csm


def _models(*rows: tuple[str, float, float, int, float, str, bool]) -> tuple[CoverageModel, ...]:
    return tuple(
        CoverageModel(
            name=n,
            min_score=s,
            accounts_per_csm=a,
            people=p,
            workload=w,
            cadence=c,
            named=named,
        )
        for n, s, a, p, w, c, named in rows
    )


DEFAULT_TIERS = _models(
    ("Tier 1", 0.6, 10, 1, 8.0, "weekly meetings, quarterly executive business reviews", True),
    ("Tier 2", 0.4, 25, 1, 4.0, "bi-weekly meetings, semi-annual business reviews", True),
    ("Tier 3", 0.2, 60, 1, 2.0, "monthly check-ins, renewal-led", True),
    ("Digital", 0.0, 400, 1, 0.25, "automated journeys and webinars, no named CSM", False),
)
DEFAULT_SEGMENTS = _models(
    ("Task Force", 0.6, 6, 3, 12.0, "weekly working sessions with several specialists", True),
    ("Sync", 0.4, 20, 1, 5.0, "bi-weekly live meetings, async in between", True),
    ("Async", 0.2, 50, 1, 2.0, "email, chat and video; live meetings on request", True),
    ("Inbound", 0.0, 300, 1, 0.5, "a pool of experts on request, no named CSM", False),
)


class Segmentation(_Frozen):
    """Scores, segments and coverage models (coverage/segmentation.py, docs/segmentation.md).

    Two schemes are built in: value ``tiers`` scored by ``value_weights`` (what the account is
    worth and could be worth) and need-based coverage ``segments`` scored by ``need_weights``
    (what the customer needs, whatever it pays). ``scheme`` picks the one that drives coverage,
    capacity planning, migrations and the workload fed to the assignment engine.
    """

    value_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "arr": 0.35,
            "expansion": 0.25,
            "strategic": 0.2,
            "competitive_risk": 0.1,
            "renewal": 0.1,
        }
    )
    need_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "complexity": 0.3,
            "churn_risk": 0.25,
            "immaturity": 0.2,
            "adoption_gap": 0.15,
            "competitive_risk": 0.1,
        }
    )
    expansion_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "expansion": 0.4,
            "adoption": 0.2,
            "seat_utilization": 0.2,
            "growth": 0.1,
            "health": 0.1,
        }
    )
    tiers: tuple[CoverageModel, ...] = DEFAULT_TIERS
    segments: tuple[CoverageModel, ...] = DEFAULT_SEGMENTS
    scheme: Literal["segments", "tiers"] = "segments"
    #: How ARR becomes a 0-1 dimension: its percentile ``rank`` in the portfolio, or its
    #: position between the smallest and largest ARR on a ``log`` or linear (``minmax``) scale.
    arr_scale: Literal["rank", "log", "minmax"] = "rank"
    renewal_window_days: int = Field(default=90, ge=0, le=365)
    #: A migration of an account renewing within this many days is flagged as an exception.
    exception_days: int = Field(default=90, ge=0, le=3650)
    #: Expansion with less headroom than this is for CS alone; from ``sales_headroom`` up,
    #: Sales leads; in between, both.
    cs_headroom: float = Field(default=25_000.0, ge=0.0)
    sales_headroom: float = Field(default=100_000.0, ge=0.0)
    #: Capacity planning: a CSM whose recommended utilization (1 = a full book) is above
    #: ``overloaded_above`` is overloaded; below ``idle_below`` has room.
    overloaded_above: float = Field(default=1.1, gt=0.0, le=10.0)
    idle_below: float = Field(default=0.7, ge=0.0, le=10.0)

    def models(self, scheme: str | None = None) -> tuple[CoverageModel, ...]:
        return self.segments if (scheme or self.scheme) == "segments" else self.tiers

    def model(self, name: str) -> CoverageModel:
        for model in self.models():
            if model.name == name:
                return model
        raise KeyError(name)


class Transition(_Frozen):
    """How a plan's moves are phased (optimizer/explain/transition.py): ``weeks`` waves of a week each
    from ``start`` (default: the Monday after ``as_of``), at most ``max_handoffs_per_week``
    handoffs per CSM per week (giving and receiving both count), and no handoff within
    ``renewal_buffer_days`` before an account's renewal (it moves after the renewal)."""

    weeks: int = Field(default=6, ge=1, le=52)
    max_handoffs_per_week: int = Field(default=3, ge=1, le=1000)
    start: dt.date | None = None
    renewal_buffer_days: int = Field(default=30, ge=0, le=365)
    #: Outcome projection: a moved account's annual churn probability rises by this much for
    #: the quarter of its handoff (optimizer/explain/projection.py).
    handoff_churn: Probability = 0.05
    #: The months the projection looks ahead.
    projection_months: tuple[Annotated[int, Field(ge=1, le=36)], ...] = (6, 12)


Backend = Literal["auto", "highs", "cpsat", "cbc"]


class SolverSettings(_Frozen):
    """How to solve: backend, limits, gap, seed and threads (``None`` = backend default)."""

    backend: Backend = "auto"
    #: At least 0.01 s: a shorter limit is no solve at all.
    time_limit_s: float = Field(default=60.0, ge=0.01)
    gap: float = Field(default=1e-4, ge=0.0, le=1.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    threads: int | None = Field(default=None, ge=1, le=256)
    #: HiGHS only: when branch and bound has not proven the plan by half the time limit, spend
    #: the other half improving the plan by large-neighbourhood search (optimizer/strategies/lns.py); with
    #: no plan at all by then, the decomposition's repair-first search looks for one first.
    lns: bool = True
    #: ``full``: one model with every eligible pair; ``columns``: column generation chooses the
    #: pairs (optimizer/strategies/columns.py); ``lagrangian``: prices and local search, no linear program
    #: (optimizer/strategies/lagrangian.py); ``auto``: columns above 100,000 eligible pairs, lagrangian above
    #: 5,000,000.
    strategy: Literal["auto", "full", "columns", "lagrangian"] = "auto"


class Place(_Frozen):
    """A point on the map (degrees)."""

    latitude: float = Field(ge=-90.0, le=90.0)
    longitude: float = Field(ge=-180.0, le=180.0)


class Travel(_Frozen):
    """Travel to in-person accounts: distances are great-circle kilometres between the account
    and its CSM (``latitude``/``longitude``, or a ``location`` looked up in ``locations``, a
    table the user supplies: no network look-up), driven at ``speed_kmh``; each visit is a
    round trip. ``travel`` hours per quarter = visits_per_quarter x 2 x km / speed_kmh."""

    speed_kmh: float = Field(default=60.0, gt=0.0, le=1000.0)
    locations: dict[str, Place] = Field(default_factory=dict)


class Monitor(_Frozen):
    """The triggers of ``territory monitor`` (scenarios/monitor.py, docs/monitor.md): each
    finding fires when a figure passes its threshold here. ``None`` turns a check off."""

    #: A CSM's utilization (hours of their book over their hours, when the scenario tracks
    #: hours) above ``utilization_max`` or below ``utilization_min``.
    utilization_max: float | None = Field(default=0.9, gt=0.0, le=10.0)
    utilization_min: float | None = Field(default=0.5, ge=0.0, le=10.0)
    #: A book's ARR, workload or account count against its capacity's fair share of the team's
    #: (1 = exactly its share): above ``load_max`` or below ``load_min``.
    load_max: float | None = Field(default=1.25, gt=0.0, le=100.0)
    load_min: float | None = Field(default=0.75, ge=0.0, le=100.0)
    #: Risk concentration: a CSM holding more than ``risk_share_max`` of the team's ARR at risk,
    #: or more than ``risk_ratio_max`` times their capacity's fair share of it.
    risk_share_max: float | None = Field(default=None, gt=0.0, le=1.0)
    risk_ratio_max: float | None = Field(default=2.0, gt=0.0, le=100.0)
    #: Renewal pile-up: a CSM with at least ``renewals_min`` renewals in one calendar quarter
    #: within ``renewal_horizon_days`` and more than ``renewal_ratio_max`` times their fair
    #: share of that quarter's renewals.
    renewals_min: int = Field(default=3, ge=1)
    renewal_ratio_max: float | None = Field(default=2.0, gt=0.0, le=100.0)
    renewal_horizon_days: int = Field(default=365, ge=1, le=3660)
    #: Drift since the earlier snapshot or plan: a book whose ARR, ARR at risk, workload or
    #: complexity changed by more than this share.
    drift_max: float | None = Field(default=0.3, gt=0.0, le=100.0)
    #: Trajectories, extrapolated ``horizon_months`` ahead from the change since the earlier
    #: snapshot (else from the account's ``growth``): ARR growing by more than ``growth_max``
    #: or shrinking by more than ``contraction_max``, health falling below ``health_floor``,
    #: churn probability up by ``risk_rise_max`` or more, complexity up by ``complexity_rise``.
    horizon_months: int = Field(default=6, ge=1, le=36)
    growth_max: float | None = Field(default=0.5, gt=0.0, le=100.0)
    contraction_max: float | None = Field(default=0.3, gt=0.0, le=1.0)
    health_floor: float | None = Field(default=50.0, ge=0.0, le=100.0)
    risk_rise_max: float | None = Field(default=0.2, gt=0.0, le=1.0)
    complexity_rise: int | None = Field(default=1, ge=1, le=4)
    #: Single points of failure: a required skill only this many CSMs hold (or fewer).
    skill_holders_min: int | None = Field(default=1, ge=1, le=1000)


class Scenario(_Frozen):
    """A complete assignment problem: who, what, which goals, which rules, how to solve."""

    name: str = "scenario"
    description: str | None = None
    as_of: dt.date = Field(default_factory=dt.date.today)
    # At least one of each (the cross-field checks say so in words; the schema says it too).
    csms: tuple[Csm, ...] = Field(json_schema_extra={"minItems": 1})
    accounts: tuple[Account, ...] = Field(json_schema_extra={"minItems": 1})
    objectives: Objectives = Objectives()
    constraints: Constraints = Constraints()
    solver: SolverSettings = SolverSettings()
    segmentation: Segmentation = Segmentation()
    transition: Transition = Transition()
    travel: Travel = Travel()
    monitor: Monitor = Monitor()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Validate ``data`` and build a scenario, or raise :class:`ScenarioError` with every issue."""
        issues = _cross_field_issues(data)
        try:
            scenario = cls.model_validate(data)
        except ValidationError as exc:
            found = _pydantic_issues(exc, data)
            # One issue per field: the model's own message first.
            reported = {issue.path for issue in found}
            raise ScenarioError(found + [i for i in issues if i.path not in reported]) from None
        if issues:
            raise ScenarioError(issues)
        return scenario

    def replace(self, **changes: Any) -> Scenario:
        """A validated copy with some top-level fields replaced."""
        data = self.model_dump(mode="json")
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        return Scenario.from_dict(data)

    # Convenience look-ups -------------------------------------------------------------
    def csm(self, csm_id: str) -> Csm:
        for csm in self.csms:
            if csm.id == csm_id:
                return csm
        raise KeyError(csm_id)

    def account(self, account_id: str) -> Account:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def current_assignment(self) -> dict[str, str | None]:
        return {a.id: a.current_csm for a in self.accounts}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario contract, generated from the models."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Territory scenario"
    return schema


# ----------------------------------------------------------------------------------------
# Validation helpers


def _label(items: Any, index: Any, kind: str) -> str:
    """``accounts[acme]`` when the item has an id, else ``accounts[3]``."""
    if isinstance(items, list | tuple) and isinstance(index, int) and 0 <= index < len(items):
        item = items[index]
        if isinstance(item, Mapping) and item.get("id") not in (None, ""):
            return f"{kind}[{item['id']}]"
    return f"{kind}[{index}]"


_LEVEL_FIELDS = tuple(name for name, kind in field_kinds(Account).items() if kind == "level")
_LEVEL_MESSAGE = "must be 'low', 'medium', 'high' or a probability between 0 and 1"


def _pydantic_issues(exc: ValidationError, data: Mapping[str, Any]) -> list[ScenarioIssue]:
    """Field errors as issues whose path names the account or CSM id (``accounts[A7].arr``)."""
    issues: list[ScenarioIssue] = []
    seen: set[str] = set()
    for error in exc.errors():
        loc = list(error["loc"])
        parts: list[str] = []
        i = 0
        while i < len(loc):
            key = loc[i]
            if key in ("accounts", "csms") and i + 1 < len(loc) and isinstance(loc[i + 1], int):
                parts.append(_label(data.get(str(key)), loc[i + 1], str(key)))
                i += 2
                continue
            if isinstance(key, int) and parts:
                parts[-1] = f"{parts[-1]}[{key}]"  # a list's item: constraints.protect[0]
                i += 1
                continue
            parts.append(str(key))
            if key in _LEVEL_FIELDS:
                break  # the union's branches ("literal[...]", "constrained-float") are one field
            i += 1
        path = ".".join(parts)
        if path in seen:
            continue
        seen.add(path)
        if parts and parts[-1] in _LEVEL_FIELDS:
            message = _LEVEL_MESSAGE
        elif error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling against docs/scenario-format.md)"
        else:
            message = error["msg"]
        value = error.get("input")
        if error["type"] not in ("missing", "extra_forbidden") and not isinstance(
            value, dict | list
        ):
            message = f"{message} (got {value!r})"
        issues.append(ScenarioIssue(path=path, message=message))
    return issues


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _override_issues(
    data: Mapping[str, Any], csms: set[str], accounts: set[str]
) -> list[ScenarioIssue]:
    """Overrides naming an account or CSM that does not exist, an account pinned twice, or a
    CSM both pinned and forbidden for one account."""
    constraints = data.get("constraints")
    overrides = constraints.get("overrides") if isinstance(constraints, Mapping) else None
    if not isinstance(overrides, list | tuple):
        return []
    issues: list[ScenarioIssue] = []
    pinned: dict[str, str] = {}
    forbidden: dict[str, set[str]] = {}
    for i, override in enumerate(overrides):
        if not isinstance(override, Mapping):
            continue
        where = f"constraints.overrides[{i}]"
        account = _stripped(override.get("account"))
        if account not in (None, "") and str(account) not in accounts:
            issues.append(
                ScenarioIssue(path=f"{where}.account", message=f"unknown account id {account!r}")
            )
        pin = _stripped(override.get("pin"))
        if pin not in (None, "") and str(pin) not in csms:
            issues.append(ScenarioIssue(path=f"{where}.pin", message=f"unknown CSM id {pin!r}"))
        forbid = override.get("forbid")
        for k, csm_id in enumerate(forbid if isinstance(forbid, list | tuple) else []):
            if _stripped(csm_id) not in csms:
                issues.append(
                    ScenarioIssue(path=f"{where}.forbid[{k}]", message=f"unknown CSM id {csm_id!r}")
                )
        if account in (None, ""):
            continue
        key = str(account)
        if pin not in (None, ""):
            if key in pinned and pinned[key] != str(pin):
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.pin",
                        message=f"account {key} is already pinned to {pinned[key]!r}",
                    )
                )
            pinned.setdefault(key, str(pin))
        if isinstance(forbid, list | tuple):
            forbidden.setdefault(key, set()).update(str(_stripped(c)) for c in forbid)
    for i, override in enumerate(overrides):
        if not isinstance(override, Mapping):
            continue
        account, pin = _stripped(override.get("account")), _stripped(override.get("pin"))
        if account and pin and str(pin) in forbidden.get(str(account), set()):
            issues.append(
                ScenarioIssue(
                    path=f"constraints.overrides[{i}].pin",
                    message=f"account {account} is pinned to {pin!r} and also forbidden from it",
                )
            )
    return issues


def _soft_issues(data: Mapping[str, Any]) -> list[ScenarioIssue]:
    """A rule made soft while ``objectives.soft_rules`` is 0 would cost nothing: refused."""
    constraints = data.get("constraints")
    if not isinstance(constraints, Mapping):
        return []
    soft: list[str] = []
    for key in ("utilization", "renewal_load"):
        value = constraints.get(key)
        if isinstance(value, Mapping) and value.get("soft") is True:
            soft.append(f"constraints.{key}.soft")
    for key in ("goals", "protect"):
        items = constraints.get(key)
        for i, item in enumerate(items if isinstance(items, list | tuple) else []):
            if isinstance(item, Mapping) and item.get("soft") is True:
                soft.append(f"constraints.{key}[{i}].soft")
    objectives = data.get("objectives")
    weight = objectives.get("soft_rules") if isinstance(objectives, Mapping) else None
    if not soft or (isinstance(weight, int | float) and weight > 0):
        return []
    return [
        ScenarioIssue(
            path="objectives.soft_rules",
            message=f"{', '.join(soft)} makes a rule soft, but a soft rule costs "
            "objectives.soft_rules, which is 0: give it a positive weight",
        )
    ]


def _place_issues(data: Mapping[str, Any], csms: Any, accounts: Any) -> list[ScenarioIssue]:
    """Coordinates given half (a latitude without its longitude) and location names the
    scenario's ``travel.locations`` does not hold."""
    travel = data.get("travel")
    places = travel.get("locations") if isinstance(travel, Mapping) else None
    known = set(places) if isinstance(places, Mapping) else set()
    objectives = data.get("objectives")
    weight = objectives.get("travel") if isinstance(objectives, Mapping) else None
    weighed = isinstance(weight, int | float) and weight > 0
    issues: list[ScenarioIssue] = []
    for kind, records in (("csms", csms), ("accounts", accounts)):
        for index, record in enumerate(records):
            if not isinstance(record, Mapping):
                continue
            where = _label(records, index, kind)
            lat, lon = record.get("latitude"), record.get("longitude")
            placed = lat not in (None, "") or record.get("location") not in (None, "")
            visits = record.get("visits_per_quarter")
            needs = kind == "csms" or (isinstance(visits, int | float) and visits > 0)
            if weighed and needs and not placed:
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.location",
                        message="travel is weighed (objectives.travel): give latitude and "
                        "longitude, or a location",
                    )
                )
            if (lat in (None, "")) != (lon in (None, "")):
                missing = "longitude" if lon in (None, "") else "latitude"
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.{missing}",
                        message="give both latitude and longitude (only the other is given)",
                    )
                )
            name = _stripped(record.get("location"))
            if name not in (None, "") and str(name) not in known:
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.location",
                        message=f"unknown location {name!r}: add it to travel.locations",
                    )
                )
    return issues


def _goal_issues(data: Mapping[str, Any], csms: set[str]) -> list[ScenarioIssue]:
    """Goals naming a CSM that does not exist, and two goals with one name (a goal's name
    names its rules)."""
    constraints = data.get("constraints")
    goals = constraints.get("goals") if isinstance(constraints, Mapping) else None
    if not isinstance(goals, list | tuple):
        return []
    issues: list[ScenarioIssue] = []
    names: set[str] = set()
    for i, goal in enumerate(goals):
        if not isinstance(goal, Mapping):
            continue
        listed = goal.get("csms")
        for k, csm_id in enumerate(listed if isinstance(listed, list | tuple) else []):
            if _stripped(csm_id) not in csms:
                issues.append(
                    ScenarioIssue(
                        path=f"constraints.goals[{i}].csms[{k}]",
                        message=f"unknown CSM id {csm_id!r}",
                    )
                )
        name = goal.get("name")
        if isinstance(name, str) and name:
            if name in names:
                issues.append(
                    ScenarioIssue(
                        path=f"constraints.goals[{i}].name",
                        message=f"another goal is already named {name!r}",
                    )
                )
            names.add(name)
    return issues


def _cross_field_issues(data: Mapping[str, Any]) -> list[ScenarioIssue]:
    """Checks that span records: duplicate ids, unknown references, contradictory limits."""
    issues: list[ScenarioIssue] = []
    csms = data.get("csms")
    accounts = data.get("accounts")
    if not isinstance(csms, list | tuple) or not csms:
        issues.append(ScenarioIssue(path="csms", message="at least one CSM is required"))
        csms = []
    if not isinstance(accounts, list | tuple) or not accounts:
        issues.append(ScenarioIssue(path="accounts", message="at least one account is required"))
        accounts = []

    # Ids are compared as the models keep them: surrounding whitespace stripped.
    csm_ids = [_stripped(c.get("id")) for c in csms if isinstance(c, Mapping)]
    for csm_id, count in Counter(csm_ids).items():
        if csm_id not in (None, "") and count > 1:
            issues.append(
                ScenarioIssue(
                    path=f"csms[{csm_id}].id", message=f"duplicate CSM id (appears {count} times)"
                )
            )
    account_ids = [_stripped(a.get("id")) for a in accounts if isinstance(a, Mapping)]
    for account_id, count in Counter(account_ids).items():
        if account_id not in (None, "") and count > 1:
            issues.append(
                ScenarioIssue(
                    path=f"accounts[{account_id}].id",
                    message=f"duplicate account id (appears {count} times)",
                )
            )

    known = {str(c) for c in csm_ids if c not in (None, "")}
    issues.extend(_override_issues(data, known, {str(a) for a in account_ids if a}))
    issues.extend(_goal_issues(data, known))
    issues.extend(_place_issues(data, csms, accounts))
    issues.extend(_soft_issues(data))
    for index, account in enumerate(accounts):
        if not isinstance(account, Mapping):
            continue
        where = _label(accounts, index, "accounts")
        current = _stripped(account.get("current_csm"))
        if current not in (None, "") and str(current) not in known:
            issues.append(
                ScenarioIssue(path=f"{where}.current_csm", message=f"unknown CSM id {current!r}")
            )
        locked = account.get("locked")
        if isinstance(locked, str):
            locked = BOOL_WORDS.get(locked.strip().lower(), False)
        if locked is True and current in (None, ""):
            issues.append(
                ScenarioIssue(
                    path=f"{where}.locked",
                    message="a locked account needs a current_csm to stay with",
                )
            )
        for key in ("workload_by_csm", "preferences"):
            per_csm = account.get(key)
            if isinstance(per_csm, Mapping):
                for csm_id in per_csm:
                    if _stripped(csm_id) not in known:
                        issues.append(
                            ScenarioIssue(
                                path=f"{where}.{key}.{csm_id}", message=f"unknown CSM id {csm_id!r}"
                            )
                        )

    for index, csm in enumerate(csms):
        if not isinstance(csm, Mapping):
            continue
        where = _label(csms, index, "csms")
        low, high = csm.get("min_arr"), csm.get("max_arr")
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            issues.append(
                ScenarioIssue(
                    path=f"{where}.min_arr",
                    message=f"min_arr {low:,.0f} is above max_arr {high:,.0f}",
                )
            )

    issues += _number_issues(data)
    issues += _segmentation_issues(data)
    objectives = data.get("objectives")
    if isinstance(objectives, Mapping):
        defaults = Objectives().model_dump()
        weights = {**defaults, **objectives}
        values = [v for v in weights.values() if isinstance(v, int | float)]
        if len(values) == len(weights) and all(v == 0 for v in values):
            issues.append(
                ScenarioIssue(
                    path="objectives",
                    message="all weights are zero (unset weights default to 0 only for continuity, preference, travel and soft_rules): "
                    "at least one must be positive",
                )
            )
    constraints = data.get("constraints")
    if isinstance(constraints, Mapping):
        low, high = constraints.get("min_arr_per_csm"), constraints.get("max_arr_per_csm")
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            issues.append(
                ScenarioIssue(
                    path="constraints.min_arr_per_csm",
                    message=f"min_arr_per_csm {low:,.0f} is above max_arr_per_csm {high:,.0f}",
                )
            )
    return issues


def _segmentation_issues(data: Mapping[str, Any]) -> list[ScenarioIssue]:
    """Weights over known dimensions, models an account always lands in, and coverage names
    (``accounts[].coverage``, ``csms[].segments``) that the chosen scheme defines."""
    raw = data.get("segmentation")
    raw = raw if isinstance(raw, Mapping) else {}
    issues: list[ScenarioIssue] = []
    for key in ("value_weights", "need_weights", "expansion_weights"):
        weights = raw.get(key)
        if not isinstance(weights, Mapping):
            continue
        where = f"segmentation.{key}"
        for name, weight in weights.items():
            if name not in DIMENSIONS:
                known = ", ".join(DIMENSIONS)
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.{name}", message=f"unknown dimension (known: {known})"
                    )
                )
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not 0 <= weight <= 1e6
            ):
                issues.append(
                    ScenarioIssue(
                        path=f"{where}.{name}",
                        message=f"a weight is a number from 0 to 1e6 (got {weight!r})",
                    )
                )
        numbers = [w for w in weights.values() if isinstance(w, int | float)]
        if len(numbers) == len(weights) and not any(w > 0 for w in numbers):
            issues.append(ScenarioIssue(path=where, message="at least one weight must be positive"))
    scheme = raw.get("scheme", "segments")
    for key in ("tiers", "segments"):
        models = raw.get(key)
        if not isinstance(models, list | tuple):
            continue
        where = f"segmentation.{key}"
        if not models:
            issues.append(ScenarioIssue(path=where, message="at least one model is required"))
            continue
        rows = [m for m in models if isinstance(m, Mapping)]
        names = [_stripped(m.get("name")) for m in rows]
        for name, count in Counter(names).items():
            if name not in (None, "") and count > 1:
                issues.append(
                    ScenarioIssue(path=f"{where}[{name}].name", message="duplicate model name")
                )
        scores: list[float] = [
            float(m["min_score"]) for m in rows if isinstance(m.get("min_score"), int | float)
        ]
        if len(scores) == len(models):
            if any(a <= b for a, b in itertools.pairwise(scores)):
                issues.append(
                    ScenarioIssue(
                        path=where,
                        message="list the models from the highest min_score down, each "
                        "strictly below the one before",
                    )
                )
            if scores[-1] != 0:
                last = names[-1] or len(models) - 1
                issues.append(
                    ScenarioIssue(
                        path=f"{where}[{last}].min_score",
                        message="the last model must have min_score 0 so every account lands somewhere",
                    )
                )
        if rows and all(m.get("named") is False for m in rows):
            issues.append(ScenarioIssue(path=where, message="at least one model needs a named CSM"))
    low, high = raw.get("cs_headroom"), raw.get("sales_headroom")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        issues.append(
            ScenarioIssue(
                path="segmentation.cs_headroom",
                message=f"cs_headroom {low:,.0f} is above sales_headroom {high:,.0f}",
            )
        )
    idle = raw.get("idle_below")
    over = raw.get("overloaded_above", Segmentation.model_fields["overloaded_above"].default)
    if isinstance(idle, int | float) and isinstance(over, int | float) and idle >= over:
        issues.append(
            ScenarioIssue(
                path="segmentation.idle_below",
                message=f"idle_below {idle:g} is not below overloaded_above {over:g}",
            )
        )

    models = raw.get(scheme if scheme in ("tiers", "segments") else "segments")
    if models is None:
        models = [
            m.model_dump() for m in (DEFAULT_TIERS if scheme == "tiers" else DEFAULT_SEGMENTS)
        ]
    if not isinstance(models, list | tuple):
        return issues
    ordered = [_stripped(m.get("name")) for m in models if isinstance(m, Mapping)]
    known_names = set(ordered)
    shown = ", ".join(repr(n) for n in ordered if isinstance(n, str))
    for kind, field in (("accounts", "coverage"), ("csms", "segments")):
        items = data.get(kind)
        if not isinstance(items, list | tuple):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            value = item.get(field)
            given = list(value) if isinstance(value, list | tuple) else [value]
            for name in given:
                name = _stripped(name)
                if isinstance(name, str) and name and name not in known_names:
                    issues.append(
                        ScenarioIssue(
                            path=f"{_label(items, index, kind)}.{field}",
                            message=f"unknown {scheme[:-1]} {name!r} (the {scheme} are {shown})",
                        )
                    )
    return issues


@functools.cache
def _numeric_fields(model: type[BaseModel]) -> dict[str, bool]:
    """The model's numeric fields, each with whether it holds an integer (cached: a large
    scenario asks once per record). The per-CSM mappings hold numbers too, though no table
    cell holds them."""
    numeric = {
        name: kind == "integer"
        for name, kind in field_kinds(model).items()
        if kind in NUMERIC_KINDS
    }
    return numeric | {name: False for name in _PER_CSM_FIELDS if name in model.model_fields}


def _out_of_range(key: str, value: Any, integer: bool) -> str | None:
    """Why a number (or numeric text) is too large or, for a capacity, too small; ``None`` if
    it is neither (or is not a number at all: the field's own validation reports that)."""
    if isinstance(value, bool):
        wanted = _LEVEL_MESSAGE if key in _LEVEL_FIELDS else "must be a number"
        return f"{wanted}, not {str(value).lower()}"
    if not isinstance(value, int | float | str):
        return None
    shown = repr(value) if len(repr(value)) <= 24 else repr(value)[:20] + "..."
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float: only an int field takes it
        if not integer:
            return None
        number = math.inf
    except ValueError:
        return None
    else:
        if not math.isfinite(number):
            return None  # inf or nan: the model refuses them itself
    if number > MAX_NUMBER:  # (negative numbers are refused by the fields themselves)
        return f"must be at most {MAX_NUMBER:.0e} (got {shown})"
    if key == "capacity" and 0 < number < MIN_CAPACITY:
        return f"must be at least {MIN_CAPACITY:g} (got {shown})"
    return None


def _number_issues(data: Mapping[str, Any]) -> list[ScenarioIssue]:
    """Numbers the solvers cannot work with, each named by its path: true/false in a numeric
    field (which would read as 1/0), and numbers so large, or capacities so small, that the
    model's sums and targets would overflow."""
    records: list[tuple[str, Any, type[BaseModel]]] = [
        (key, data.get(key), model)
        for key, model in (
            ("objectives", Objectives),
            ("constraints", Constraints),
            ("solver", SolverSettings),
        )
    ]
    for kind, record_model in (("csms", Csm), ("accounts", Account)):
        items = data.get(kind)
        if isinstance(items, list | tuple):
            records += [
                (_label(items, i, kind), item, record_model) for i, item in enumerate(items)
            ]
    issues = []
    for where, record, model in records:
        if not isinstance(record, Mapping):
            continue
        numeric = _numeric_fields(model)
        for key in sorted(k for k in record if k in numeric):
            value = record[key]
            if key in _PER_CSM_FIELDS:
                if isinstance(value, Mapping):
                    for csm_id, number in value.items():
                        # Preferences may be negative (a cost): their size is what matters.
                        if isinstance(number, int | float) and not isinstance(number, bool):
                            number = abs(number)
                        problem = _out_of_range(key, number, False)
                        if problem is not None:
                            issues.append(
                                ScenarioIssue(path=f"{where}.{key}.{csm_id}", message=problem)
                            )
                continue
            problem = _out_of_range(key, value, numeric[key])
            if problem is not None:
                issues.append(ScenarioIssue(path=f"{where}.{key}", message=problem))
    return issues


#: Account fields that map CSM ids to numbers.
_PER_CSM_FIELDS = ("workload_by_csm", "preferences")


# ----------------------------------------------------------------------------------------
# Files


_RECORD_MODELS: dict[str, type[BaseModel]] = {"accounts": Account, "csms": Csm}


def _csv_records(path: Path, kind: str) -> tuple[list[dict[str, Any]], list[ScenarioIssue]]:
    """Read a CSV of accounts or CSMs (or a workbook's sheet, ``book.xlsx#Sheet``): empty cells
    are absent, cells are read as plain values (:func:`optimizer.tables.plain_value`).

    Returns the records and the problems with the file's shape; a bad value stays in its record
    so validation reports it, with the account or CSM id, together with everything else.
    """
    if not split_sheet(path)[0].is_file():
        raise ScenarioError([ScenarioIssue(path=kind, message=f"file not found: {path}")])
    table = read_sheet(path, allow_empty=True)
    kinds = field_kinds(_RECORD_MODELS[kind])
    # Of two columns with the same header, the last one is read, empty cells and all.
    last = {header: i for i, header in enumerate(table.headers) if header}
    fields = {i: (header, kinds.get(header)) for header, i in last.items()}
    read = read_records(table, fields, plain_value)
    unnamed = [i for i, header in enumerate(table.headers) if not header]
    extra = sorted({row for i in unnamed for row in table.filled(i)})
    issues = [
        ScenarioIssue(path=f"{table.label}:{row}", message="more cells than header columns")
        for row in extra
    ]
    return [record for record in read.records if record], issues


def read_json(path: str | Path) -> dict[str, Any]:
    """A scenario file's JSON object, or a :class:`ScenarioError` saying what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(path=str(path), message="file not found")]) from None
    except json.JSONDecodeError as exc:
        text = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise ScenarioError([ScenarioIssue(path=str(path), message=text)]) from None
    if not isinstance(data, dict):
        raise ScenarioError([ScenarioIssue(path=str(path), message="a scenario is a JSON object")])
    return data


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario JSON file. ``accounts`` and ``csms`` may be inline or CSV file paths."""
    path = Path(path)
    data = read_json(path)
    data, file_issues = read_files(data, path.parent)
    try:
        scenario = Scenario.from_dict(data)
    except ScenarioError as exc:
        raise ScenarioError(file_issues + exc.issues) from None
    if file_issues:
        raise ScenarioError(file_issues)
    return scenario


def resolve_files(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Replace ``accounts``/``csms`` given as CSV paths (relative to ``base``) by their rows."""
    resolved, issues = read_files(data, base)
    if issues:
        raise ScenarioError(issues)
    return resolved


def read_files(data: dict[str, Any], base: Path) -> tuple[dict[str, Any], list[ScenarioIssue]]:
    """``accounts``/``csms`` given as CSV paths (relative to ``base``) replaced by their rows, and
    the problems with the files' shape (a missing file raises :class:`ScenarioError`)."""
    data = dict(data)
    issues: list[ScenarioIssue] = []
    missing: list[ScenarioIssue] = []
    for kind in ("accounts", "csms"):
        value = data.get(kind)
        if isinstance(value, str):
            try:
                data[kind], found = _csv_records(base / value, kind)
            except ScenarioError as exc:
                missing.extend(exc.issues)
                continue
            issues.extend(found)
    travel = data.get("travel")
    if isinstance(travel, Mapping) and isinstance(travel.get("locations"), str):
        try:
            places, found = _location_records(base / travel["locations"])
        except ScenarioError as exc:
            missing.extend(exc.issues)
        else:
            data["travel"] = {**travel, "locations": places}
            issues.extend(found)
    if missing:
        raise ScenarioError(missing + issues)
    return data, issues


#: The columns of a locations table (``travel.locations`` as a CSV or XLSX path).
LOCATION_COLUMNS = ("location", "latitude", "longitude")


def _location_records(path: Path) -> tuple[dict[str, Any], list[ScenarioIssue]]:
    """A table of named places: one row per ``location`` with its ``latitude`` and
    ``longitude`` in degrees. A bad or missing number, a coordinate out of range or a name
    given twice is named by file, row and column."""
    if not split_sheet(path)[0].is_file():
        raise ScenarioError(
            [ScenarioIssue(path="travel.locations", message=f"file not found: {path}")]
        )
    table = read_sheet(path, allow_empty=True)
    columns = {h.strip().lower(): j for j, h in enumerate(table.headers) if h}
    absent = [c for c in LOCATION_COLUMNS if c not in columns]
    if absent:
        raise ScenarioError(
            [
                ScenarioIssue(
                    path="travel.locations",
                    message=f"{table.label} needs the columns {', '.join(LOCATION_COLUMNS)} "
                    f"(missing: {', '.join(absent)})",
                )
            ]
        )
    places: dict[str, Any] = {}
    issues: list[ScenarioIssue] = []
    for i, row in enumerate(table.row_numbers):
        name = table.columns[columns["location"]][i]
        if name in (None, ""):
            issues.append(ScenarioIssue(path=table.where(row, "location"), message="empty name"))
            continue
        point: dict[str, float] = {}
        for key, most in (("latitude", 90.0), ("longitude", 180.0)):
            header = table.headers[columns[key]]
            cell = table.columns[columns[key]][i]
            try:
                value = float(str(cell).replace(",", "."))
            except ValueError:
                value = math.nan
            if not -most <= value <= most:
                issues.append(
                    ScenarioIssue(
                        path=table.where(row, header),
                        message=f"{key} must be a number from {-most:g} to {most:g} (got {cell!r})",
                    )
                )
                continue
            point[key] = value
        if str(name) in places:
            issues.append(
                ScenarioIssue(
                    path=table.where(row, table.headers[columns["location"]]),
                    message=f"location {name!r} is given twice",
                )
            )
        elif len(point) == 2:
            places[str(name)] = point
    return places, issues
