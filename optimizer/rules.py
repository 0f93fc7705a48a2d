"""The rules registry: every hard rule of the engine, defined once.

A hard rule is one of three kinds, by what it constrains:

- a **pair rule** says which CSMs an account may have at all (``locked``, ``renewal_freeze``,
  ``protected``, ``pinned``, ``forbidden``, ``required_skills``, ``match_region``, ``match_language``): the model has no variable for a
  pair it excludes;
- a **book rule** keeps a total of one CSM's book between limits (``max_accounts``, ``min_arr``,
  ``max_arr``, ``arr_tolerance``, ``max_workload``, ``workload_tolerance``, ``max_high_risk``);
  the total is a :class:`Quantity` (accounts, ARR, workload, high-risk accounts) summed over
  the accounts of the book;
- a **team rule** keeps a total over the accounts that change CSM under a budget
  (``max_moves``, ``max_moved_arr``).

Besides these, every account has exactly one CSM (``assign``, part of the model's structure).

Each rule carries its name, what it protects, the words a CS leader reads, and the functions
that measure an account, a book or the team against it. The formulation writes its rows from
these entries, the evaluator checks plans with them, the counterfactuals say what one change
would break with them, the diagnosis names conflicts with them, and the searches read their
limits from them: none of them can disagree. A new rule is one entry here (see
:func:`register`, and docs/architecture.md for the files that read the registry).

The objective terms (soft rules) are listed too, in :data:`TERMS`, with the words that explain
what a change costs; their scores are computed by :class:`~optimizer.instance.Instance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .units import money

if TYPE_CHECKING:
    from .instance import Instance

#: Relative tolerance for money and workload rules (solver arithmetic is floating point).
RULE_TOLERANCE = 1e-6
#: CP-SAT's resolution for money and workload rows: hundredths of a model unit (cents).
MONEY_STEPS = 100.0

Limits = tuple[float | None, float | None]


def _one(inst: Instance) -> float:
    return 1.0


@dataclass(frozen=True)
class Quantity:
    """What a book, or the team's moved accounts, adds up: a number per account, which a few
    (account, CSM) pairs may override (``per_pair``)."""

    name: str
    #: The unit in words: "accounts", "ARR", "workload units", "high-risk accounts".
    label: str
    #: The word before "band" in "the $1.2M edge of their ARR band".
    band: str
    #: The verb a book takes for it: ("has", "hold"), ("covers", "cover")...
    verbs: tuple[str, str]
    #: Per account, in the quantity's own units (currency, workload units, counts).
    per_account: Callable[[Instance], Sequence[float]]
    #: Per account, the CSMs for which the amount differs: {CSM position: amount}.
    per_pair: Callable[[Instance], Sequence[Mapping[int, float]]] | None = None
    #: The model's unit (a full-time book of it), so that coefficients stay near 1.
    unit: Callable[[Instance], float] = _one
    #: Whole units (counts): checked exactly, worded "may hold at most N".
    counted: bool = False
    #: Shown as money.
    is_money: bool = False
    #: The model keeps each book's total as a variable (the balance term reads it).
    loaded: bool = False
    #: Amounts may be negative (a share of the book: ``amount - share * book``), so a book's
    #: total is not the most its accounts can bring, nor the least its kept accounts give.
    signed: bool = False

    def show(self, value: float) -> str:
        if self.is_money:
            return money(value)
        return f"{value:.0f}" if self.counted else f"{value:,.1f}"

    def text(self, value: float) -> str:
        """``value`` with its unit: "$1.2M ARR", "12.5 workload units", "3 accounts"."""
        label = self.label
        if self.counted and round(value) == 1 and label.endswith("s"):
            label = label[:-1]  # "1 account", "1 high-risk account"
        return f"{self.show(value)} {label}"

    def slack(self, inst: Instance) -> float:
        """How far a plan may pass a limit before it counts as broken (floating point)."""
        return 0.0 if self.counted else RULE_TOLERANCE * max(self.unit(inst), 1.0)

    def steps(self, inst: Instance) -> float:
        """Integer steps per model unit for CP-SAT: 1 for counts, hundredths otherwise."""
        return 1.0 if self.counted else self.unit(inst) * MONEY_STEPS


# ------------------------------------------------------------------------------- quantities

ACCOUNTS = Quantity(
    "accounts",
    "accounts",
    "account",
    ("has", "hold"),
    per_account=lambda inst: [1.0] * len(inst.accounts),
    counted=True,
)
ARR = Quantity(
    "arr",
    "ARR",
    "ARR",
    ("covers", "cover"),
    per_account=lambda inst: inst.arr,
    unit=lambda inst: inst.arr_unit,
    is_money=True,
    loaded=True,
)
WORKLOAD = Quantity(
    "workload",
    "workload units",
    "workload",
    ("carries", "carry"),
    per_account=lambda inst: inst.workload,
    per_pair=lambda inst: inst.workload_with,
    unit=lambda inst: inst.workload_unit,
    loaded=True,
)
HIGH_RISK = Quantity(
    "high_risk",
    "high-risk accounts",
    "high-risk",
    ("has", "hold"),
    per_account=lambda inst: [float(h) for h in inst.high_risk],
    counted=True,
)
HOURS = Quantity(
    "hours",
    "hours a week",
    "hours",
    ("carries", "carry"),
    per_account=lambda inst: inst.effort_hours,
    unit=lambda inst: inst.hours_unit,
)
#: Team quantities: what each account that changes CSM adds to the move budget's totals.
MOVES = Quantity(
    "moves",
    "moves",
    "move",
    ("makes", "make"),
    per_account=lambda inst: [1.0] * len(inst.accounts),
    counted=True,
)
MOVED_ARR = Quantity(
    "moved_arr",
    "moved ARR",
    "moved-ARR",
    ("moves", "move"),
    per_account=lambda inst: inst.arr,
    unit=lambda inst: inst.arr_unit,
    is_money=True,
)


# -------------------------------------------------------------------------------- rule kinds


@dataclass(frozen=True)
class BookRule:
    """Hard: a total of each CSM's book (a :class:`Quantity`) stays within limits.

    ``limits(inst, c)`` gives CSM ``c``'s (lower, upper) limit in the quantity's own units
    (``None``: no limit on that side). ``side`` says how the rule is worded: a ``max``imum, a
    ``min``imum, or a ``band`` of ±``tolerance`` around the CSM's fair share (``target``).
    """

    name: str
    quantity: Quantity
    side: Literal["min", "max", "band"]
    #: What a CS leader calls it ("maximum ARR").
    words: str
    #: Where it is set ("max_arr_per_csm, csms[].max_arr").
    setting: str
    #: What the rule protects.
    protects: str
    limits: Callable[[Instance, int], Limits]
    #: Band rules: the ± share, and each CSM's target, for the words.
    tolerance: Callable[[Instance], float | None] | None = None
    target: Callable[[Instance, int], float] | None = None
    #: How a leader names what holds an account in place when this rule blocks a move.
    hold: str = "capacity"
    #: The pre-check also compares the team's sum of these limits with the team's total.
    team_sum: bool = False
    #: The change to the scenario's ``constraints`` that switches the rule off for the whole
    #: team (``None``: it is set per CSM only), for pricing it (``territory sensitivity``).
    off: Mapping[str, Any] | None = None
    hard: bool = True
    #: The family a scenario-defined rule belongs to (:class:`BookRuleFamily`), else ``None``.
    family: str | None = None
    #: Words of the rule's own, where the quantity's generic ones would not read well (a share
    #: of the book, hours against a band): the evaluator's ``(inst, c, value, limits)``, a
    #: counterfactual's ``(inst, c, value, limits, up)`` and the diagnosis's ``(inst, c, value)``.
    says: Callable[[Instance, int, float, Limits], str] | None = None
    would_say: Callable[[Instance, int, float, Limits, bool], str] | None = None
    conflict_say: Callable[[Instance, int, float], str] | None = None
    #: A share rule's (part, whole, share): the book's ``part`` over its ``whole`` is what a
    #: leader reads (the rule's own quantity is ``part - share * whole``).
    ratio: tuple[Quantity, Quantity, float] | None = None
    #: Whether the scenario makes this registered rule soft (the instance then keeps it with
    #: ``hard=False``): outside its limits it costs ``soft_rules`` instead of ruling out.
    soft_when: Callable[[Instance], bool] | None = None

    def excess(self, inst: Instance, value: float, limits: Limits) -> float:
        """How far ``value`` lies outside the limits, exactly (a soft rule's cost, in the
        quantity's own units)."""
        lo, hi = limits
        if hi is not None and value > hi:
            return value - hi
        if lo is not None and value < lo:
            return lo - value
        return 0.0

    def broken_by(self, inst: Instance, value: float, limits: Limits) -> float:
        """How far ``value`` lies beyond the limits (0 when the rule holds)."""
        lo, hi = limits
        slack = self.quantity.slack(inst)
        if hi is not None and value > hi + slack:
            return value - hi
        if lo is not None and value < lo - slack:
            return lo - value
        return 0.0

    def violation(self, inst: Instance, c: int, value: float, limits: Limits) -> str:
        """The evaluator's words for CSM ``c``'s book at ``value`` breaking the rule."""
        if self.says is not None:
            return self.says(inst, c, value, limits)
        q, (lo, hi) = self.quantity, limits
        head = f"CSM {inst.csms[c].label} {q.verbs[0]} "
        if self.side == "band" and lo is not None and hi is not None:
            share = self.tolerance(inst) if self.tolerance is not None else None
            target = self.target(inst, c) if self.target is not None else (lo + hi) / 2
            return head + (
                f"{q.text(value)}, outside ±{share or 0:.0%} of the {q.show(target)} target "
                f"({q.show(lo)} to {q.show(hi)})"
            )
        if hi is not None and value > hi:
            if q.counted:
                return f"{head}{q.show(value)} {q.label} but may hold at most {q.show(hi)}"
            return f"{head}{q.text(value)}, above the maximum {q.show(hi)}"
        floor = lo if lo is not None else 0.0
        if q.counted:
            return f"{head}{q.show(value)} {q.label} but must hold at least {q.show(floor)}"
        return f"{head}{q.text(value)}, below the minimum {q.show(floor)}"

    def would(self, inst: Instance, c: int, value: float, limits: Limits, up: bool) -> str:
        """A counterfactual's words: CSM ``c``'s book would reach ``value`` (``up``: by taking
        an account, else by giving one away) and break the rule."""
        if self.would_say is not None:
            return self.would_say(inst, c, value, limits, up)
        q, (lo, hi) = self.quantity, limits
        label = inst.csms[c].label
        if up:
            head = f"{label} would {q.verbs[1]} {q.text(value)}"
            if self.side == "band":
                return f"{head}, above the {q.show(hi or 0.0)} edge of their {q.band} band"
            return f"{head} (at most {q.show(hi or 0.0)})"
        head = f"{label} would drop to {q.text(value)}"
        if self.side == "band":
            return f"{head}, below the {q.show(lo or 0.0)} edge of their {q.band} band"
        return f"{head} (at least {q.show(lo or 0.0)})"

    def conflict(self, inst: Instance, c: int, value: float, kept: float) -> str:
        """The diagnosis's words when switching this rule off for CSM ``c`` makes a plan
        possible: the limits, and what the closest plan gives them (``kept``: of it, what
        locked or frozen accounts bring)."""
        if self.conflict_say is not None:
            return self.conflict_say(inst, c, value)
        q = self.quantity
        lo, hi = inst.rule_limits[self.name][c]
        if lo is not None and hi is not None:
            bound = f"between {q.show(lo)} and {q.show(hi)} {q.label}"
        elif hi is not None:
            bound = f"at most {q.show(hi)} {q.label}"
        else:
            bound = f"at least {q.show(lo or 0.0)} {q.label}"
        them = "them" if q.counted else "it"
        extra = f" ({q.show(kept)} of {them} locked or frozen)" if kept else ""
        return (
            f"CSM {inst.csms[c].label} must hold {bound} ({self.name}); the closest feasible "
            f"plan gives them {q.text(value)}{extra}."
        )


@dataclass(frozen=True)
class TeamRule:
    """Hard: a total over the accounts that change CSM stays within a budget."""

    name: str
    quantity: Quantity
    words: str
    setting: str
    protects: str
    budget: Callable[[Instance], float | None]
    hold: str = "move budget"
    #: The change to the scenario's ``constraints`` that switches the rule off.
    off: Mapping[str, Any] | None = None
    hard: bool = True

    def slack(self, inst: Instance, budget: float) -> float:
        """Money budgets allow a relative floating-point tolerance; counts are exact."""
        return 0.0 if self.quantity.counted else budget * RULE_TOLERANCE + 1e-6

    def broken_by(self, inst: Instance, value: float, budget: float) -> float:
        return value - budget if value > budget + self.slack(inst, budget) else 0.0

    def violation(self, inst: Instance, value: float, budget: float) -> str:
        q = self.quantity
        if q.counted:
            return f"{q.show(value)} accounts change CSM but {self.name} is {q.show(budget)}"
        return f"{q.show(value)} of ARR changes CSM but {self.name} is {q.show(budget)}"

    def would(self, inst: Instance, value: float, budget: float) -> str:
        """A counterfactual's words: one more move would take the total to ``value``."""
        q = self.quantity
        if q.counted:
            return f"the move budget is used up ({q.show(value - 1)} of {q.show(budget)} moves)"
        return f"the moved-ARR budget would be exceeded ({q.show(value)} of {q.show(budget)})"

    def conflict(self, inst: Instance, budget: float) -> str:
        q = self.quantity
        what = "move budget" if q.counted else "moved-ARR budget"
        return f"The {what} ({self.name} {q.show(budget)}) is too small for the other rules."

    def forced(self, inst: Instance, value: float, budget: float) -> str:
        """The pre-check's words: accounts that must leave today's CSM already pass it."""
        q = self.quantity
        what = f"{q.show(value)} accounts" if q.counted else f"Accounts worth {q.show(value)}"
        return (
            f"{what} must leave their current CSM (skills, region or language rules) but "
            f"{self.name} allows only {q.show(budget)}."
        )


@dataclass(frozen=True)
class PairRule:
    """Hard: which CSMs an account may have.

    A *keeping* rule (``keeps``) holds an account with today's CSM (every other CSM is
    excluded); an *excluding* rule (``excludes``) rules out single CSMs, decided by what
    ``key`` returns for the account (accounts with equal keys share their exclusions).
    """

    name: str
    words: str
    protects: str
    setting: str
    #: How a leader names what holds an account in place.
    hold: str
    #: The evaluator's words: account ``a`` placed with CSM ``c`` against the rule.
    violation: Callable[[Instance, int, int], str]
    #: A counterfactual's words: why ``a`` may not go to ``c``.
    would: Callable[[Instance, int, int], str]
    #: The diagnosis's words when the rule, for account ``a``, takes part in a conflict.
    conflict: Callable[[Instance, int], str]
    keeps: Callable[[Instance, int], bool] | None = None
    key: Callable[[Instance, int], Hashable] | None = None
    excludes: Callable[[Instance, int, int], bool] | None = None
    #: The pre-check's words for what makes ``a`` unplaceable ("requires sql").
    unplaceable: Callable[[Instance, int], str] | None = None
    #: A reason's words when ``a`` left its previous CSM ``c`` because of the rule.
    left: Callable[[Instance, int, int], str] | None = None
    #: A reason's words for an account the rule keeps in place.
    kept: Callable[[Instance, int], str] | None = None
    #: The change to the scenario's ``constraints`` that switches the rule off for every
    #: account (``None``: it is set per account, as locks are).
    off: Mapping[str, Any] | None = None
    hard: bool = True


@dataclass(frozen=True)
class Term:
    """Soft: an objective term (scored by :class:`~optimizer.instance.Instance`), with the
    words that say what a change costs on it."""

    name: str
    protects: str
    #: "more ARR at risk (a CSM who retains less)": what a worse value means.
    cost_words: str
    hard: bool = False


# ------------------------------------------------------------------------------- the limits


def _scaled(
    own: float | None, team: float | None, k: float, pick: Callable[..., float]
) -> float | None:
    """The stricter of a CSM's own limit and the team's full-time limit scaled by capacity."""
    values = [v for v in (own, None if team is None else team * k) if v is not None]
    return pick(values) if values else None


def _max_accounts(inst: Instance, c: int) -> Limits:
    csm = inst.csms[c]
    team = inst.scenario.constraints.max_accounts_per_csm
    most = _scaled(csm.max_accounts, team, csm.capacity, min)
    return None, None if most is None else math.floor(most + 1e-9)


def _min_arr(inst: Instance, c: int) -> Limits:
    csm = inst.csms[c]
    return _scaled(csm.min_arr, inst.scenario.constraints.min_arr_per_csm, csm.capacity, max), None


def _max_arr(inst: Instance, c: int) -> Limits:
    csm = inst.csms[c]
    return None, _scaled(csm.max_arr, inst.scenario.constraints.max_arr_per_csm, csm.capacity, min)


def _band(share: float | None, target: float) -> Limits:
    if share is None:
        return None, None
    return (1 - share) * target, (1 + share) * target


def _max_high_risk(inst: Instance, c: int) -> Limits:
    team = inst.scenario.constraints.max_high_risk_per_csm
    if team is None:
        return None, None
    return None, math.floor(team * inst.csms[c].capacity + 1e-9)


def _team(field: str) -> Callable[[Instance], float | None]:
    """The budget set by ``constraints.<field>`` (a count stays an integer)."""

    def budget(inst: Instance) -> float | None:
        value: float | None = getattr(inst.scenario.constraints, field)
        return value

    return budget


def _utilization(inst: Instance, c: int) -> Limits:
    band = inst.scenario.constraints.utilization
    if band is None:
        return None, None
    hours = inst.hours[c]
    return (
        None if band.at_least is None else band.at_least * hours,
        None if band.at_most is None else band.at_most * hours,
    )


def band_words(inst: Instance) -> str:
    """The utilization band in words: "75% to 85%", "at least 75%", "at most 85%"."""
    band = inst.scenario.constraints.utilization
    lo = None if band is None else band.at_least
    hi = None if band is None else band.at_most
    if lo is not None and hi is not None:
        return f"{lo:.0%} to {hi:.0%}"
    if lo is not None:
        return f"at least {lo:.0%}"
    return f"at most {hi or 0.0:.0%}"


def _used(inst: Instance, c: int, value: float) -> str:
    """ "33.5 hours a week, 84% of their 40 available" """
    hours = inst.hours[c]
    return f"{value:.1f} hours a week, {value / hours:.0%} of their {hours:g} available"


UTILIZATION = BookRule(
    "utilization",
    HOURS,
    "band",
    "utilization band",
    "constraints.utilization (at_least, at_most), csms[].hours_per_week, accounts[].effort_hours",
    "every CSM's week is full but not overfull",
    _utilization,
    off={"utilization": None},
    soft_when=lambda inst: bool(
        (band := inst.scenario.constraints.utilization) is not None and band.soft
    ),
    says=lambda inst, c, value, limits: (
        f"CSM {inst.csms[c].label} carries {_used(inst, c, value)}, outside the utilization "
        f"band {band_words(inst)}"
    ),
    would_say=lambda inst, c, value, limits, up: (
        f"{inst.csms[c].label} would {'carry' if up else 'drop to'} {_used(inst, c, value)} "
        f"(utilization band {band_words(inst)})"
    ),
    conflict_say=lambda inst, c, value: (
        f"CSM {inst.csms[c].label} must be utilized {band_words(inst)} of "
        f"{inst.hours[c]:g} hours a week (utilization); the closest feasible plan gives them "
        f"{_used(inst, c, value)}."
    ),
)


BOOK_RULES: tuple[BookRule, ...] = (
    BookRule(
        "max_accounts",
        ACCOUNTS,
        "max",
        "max accounts",
        "max_accounts_per_csm (scaled by capacity), csms[].max_accounts",
        "no CSM holds more relationships than they can look after",
        _max_accounts,
        team_sum=True,
        off={"max_accounts_per_csm": None},
    ),
    BookRule(
        "min_arr",
        ARR,
        "min",
        "minimum ARR",
        "min_arr_per_csm (scaled by capacity), csms[].min_arr",
        "every CSM carries a book worth their time",
        _min_arr,
        team_sum=True,
        off={"min_arr_per_csm": None},
    ),
    BookRule(
        "max_arr",
        ARR,
        "max",
        "maximum ARR",
        "max_arr_per_csm (scaled by capacity), csms[].max_arr",
        "no CSM holds more revenue than the company wants at stake on one person",
        _max_arr,
        team_sum=True,
        off={"max_arr_per_csm": None},
    ),
    BookRule(
        "arr_tolerance",
        ARR,
        "band",
        "ARR tolerance",
        "arr_tolerance",
        "books stay near each CSM's fair share of ARR",
        lambda inst, c: _band(inst.scenario.constraints.arr_tolerance, inst.arr_target[c]),
        tolerance=lambda inst: inst.scenario.constraints.arr_tolerance,
        target=lambda inst, c: inst.arr_target[c],
        off={"arr_tolerance": None},
    ),
    BookRule(
        "max_workload",
        WORKLOAD,
        "max",
        "maximum workload",
        "csms[].max_workload",
        "no CSM carries more effort than they have",
        lambda inst, c: (None, inst.csms[c].max_workload),
    ),
    BookRule(
        "workload_tolerance",
        WORKLOAD,
        "band",
        "workload tolerance",
        "workload_tolerance",
        "effort stays near each CSM's fair share",
        lambda inst, c: _band(
            inst.scenario.constraints.workload_tolerance, inst.workload_target[c]
        ),
        tolerance=lambda inst: inst.scenario.constraints.workload_tolerance,
        target=lambda inst, c: inst.workload_target[c],
        off={"workload_tolerance": None},
    ),
    BookRule(
        "max_high_risk",
        HIGH_RISK,
        "max",
        "maximum high-risk accounts",
        "max_high_risk_per_csm (scaled by capacity)",
        "no CSM is left with more accounts at risk than anyone can save",
        _max_high_risk,
        off={"max_high_risk_per_csm": None},
    ),
    UTILIZATION,
)


TEAM_RULES: tuple[TeamRule, ...] = (
    TeamRule(
        "max_moves",
        MOVES,
        "move budget",
        "max_moves",
        "customers keep their CSM unless a move is worth it: at most this many change",
        _team("max_moves"),
        off={"max_moves": None},
    ),
    TeamRule(
        "max_moved_arr",
        MOVED_ARR,
        "moved-ARR budget",
        "max_moved_arr",
        "at most this much revenue goes through a handoff",
        _team("max_moved_arr"),
        off={"max_moved_arr": None},
    ),
)


# ------------------------------------------------------------------ scenario-defined rules


@dataclass(frozen=True)
class BookRuleFamily:
    """Hard: book rules the scenario itself defines (one per goal, one per renewal period),
    made by ``build`` when an :class:`~optimizer.instance.Instance` is built. Each is a
    :class:`BookRule` on a quantity of its own, read by every part of the engine as the fixed
    ones are; ``off`` switches the whole family off."""

    name: str
    words: str
    setting: str
    protects: str
    build: Callable[[Instance], tuple[BookRule, ...]]
    off: Mapping[str, Any] | None = None
    hard: bool = True


def _limit_words(q: Quantity, value: float, limits: Limits) -> str:
    """ "at least 2" or "at most $1.2M": the side of ``limits`` that ``value`` breaks (or is
    nearest to)."""
    lo, hi = limits
    if lo is not None and (hi is None or value < lo):
        return f"at least {q.show(lo)}"
    return f"at most {q.show(hi or 0.0)}"


def _counted_rule(
    name: str, q: Quantity, limits: list[Limits], family: str, what: str, hold: str, hard: bool
) -> BookRule:
    """A book rule keeping a count or an amount within per-CSM ``limits``; ``what`` names the
    goal or setting in its words."""
    return BookRule(
        name,
        q,
        "max",
        what,
        family,
        what,
        lambda inst, c: limits[c],
        hold=hold,
        hard=hard,
        family=family,
        says=lambda inst, c, value, lim: (
            f"CSM {inst.csms[c].label} {q.verbs[0]} {q.text(value)}; {what} asks for "
            f"{_limit_words(q, value, lim)}"
        ),
        would_say=lambda inst, c, value, lim, up: (
            f"{inst.csms[c].label} would {q.verbs[1]} {q.text(value)} ({what}: "
            f"{_limit_words(q, value, lim)})"
        ),
        conflict_say=lambda inst, c, value: (
            f"CSM {inst.csms[c].label} cannot meet {what} ("
            f"{_limit_words(q, value, inst.rule_limits[name][c])}) under the other rules; the "
            f"closest feasible plan gives them {q.text(value)}."
        ),
    )


def _share_rule(
    name: str,
    q: Quantity,
    share: float,
    most: bool,
    members: list[bool],
    family: str,
    what: str,
    part: tuple[str, str],
    hold: str,
    ratio: tuple[Quantity, Quantity],
    hard: bool,
) -> BookRule:
    """A book rule keeping the part of a book that matches within ``share`` of the book
    (``most``: at most, else at least): ``q`` is ``amount * (match - share)``, kept at or below
    (at or above) zero for the CSMs in ``members``. ``part`` names what is counted and which
    of it: ("ARR", "renewing in 2027-Q1"), ("accounts", "with industry = retail")."""
    edge: Limits = (None, 0.0) if most else (0.0, None)
    thing, which = part
    more = "more" if most else "less"
    verb = "allows" if most else "asks for"

    def amount(value: float) -> str:
        return q.show(abs(value)) if q.is_money else f"{abs(value):.1f}"

    return BookRule(
        name,
        q,
        "max" if most else "min",
        what,
        family,
        what,
        lambda inst, c: edge if members[c] else (None, None),
        hold=hold,
        hard=hard,
        family=family,
        ratio=(*ratio, share),
        says=lambda inst, c, value, limits: (
            f"CSM {inst.csms[c].label} has {amount(value)} {more} {thing} {which} than the "
            f"{share:.0%} of their book's {thing} that {what} {verb}"
        ),
        would_say=lambda inst, c, value, limits, up: (
            f"{inst.csms[c].label} would have {more} than {share:.0%} of their {thing} {which} "
            f"({what})"
        ),
        conflict_say=lambda inst, c, value: (
            f"CSM {inst.csms[c].label} cannot keep their {thing} {which} "
            f"{'within' if most else 'up to'} {share:.0%} of their book ({what}) under the "
            f"other rules; the closest feasible plan gives them {amount(value)} {more}."
        ),
    )


def _part(name: str, label: str, hits: list[bool], share: float, money: bool) -> Quantity:
    """The quantity of a part of a book: per account, ``match - share`` (times its ARR for
    ``money``); with ``share`` 0 a count (or ARR) of the matching accounts, else signed."""
    ones = [float(x) for x in hits]

    def per_account(inst: Instance) -> list[float]:
        if money:
            return [(x - share) * v for x, v in zip(ones, inst.arr, strict=True)]
        return [x - share for x in ones]

    return Quantity(
        name,
        label,
        "goal",
        ("covers", "cover") if money else ("has", "hold"),
        per_account=per_account,
        unit=(lambda inst: inst.arr_unit) if money else _one,
        counted=not money and not share,
        is_money=money,
        signed=bool(share),
    )


def _goal_rules(inst: Instance) -> tuple[BookRule, ...]:
    """One book rule per goal of ``constraints.goals`` (per value of its ``each`` field, and
    per side of a share)."""
    out: list[BookRule] = []
    m = len(inst.csms)
    for goal in inst.scenario.constraints.goals:
        chosen = {inst.csm_index[i] for i in goal.csms}
        members = [not chosen or c in chosen for c in range(m)]
        money = goal.measure in ("arr", "arr_share")
        thing = "ARR" if money else "accounts"
        for value, hits in inst.goal_groups(goal):
            name = f"goal:{goal.name}" + ("" if value is None else f":{value}")
            what = f"goal '{goal.name}'" + ("" if value is None else f" ({goal.each} {value})")
            where = f"with {inst.goal_filter(goal, value)}"
            if not goal.measure.endswith("_share"):
                q = _part(name, f"{'ARR in ' if money else ''}accounts {where}", hits, 0.0, money)
                limits: list[Limits] = [
                    (goal.at_least, goal.at_most) if members[c] else (None, None) for c in range(m)
                ]
                out.append(_counted_rule(name, q, limits, "goals", what, "goal", not goal.soft))
                continue
            matched = _part(f"{name}:part", f"{thing} {where}", hits, 0.0, money)
            ratio = (matched, ARR if money else ACCOUNTS)
            for most, share in ((False, goal.at_least), (True, goal.at_most)):
                if share is None:
                    continue
                side = f"{name}:{'at_most' if most else 'at_least'}"
                label = f"{thing} {where} against {share:.0%} of the book"
                q = _part(side, label, hits, share, money)
                part = (thing, where)
                out.append(
                    _share_rule(
                        side,
                        q,
                        share,
                        most,
                        members,
                        "goals",
                        what,
                        part,
                        "goal",
                        ratio,
                        not goal.soft,
                    )
                )
    return tuple(out)


def _renewal_rules(inst: Instance) -> tuple[BookRule, ...]:
    """Per calendar period with renewals: at most ``max_renewals`` renewals per CSM (scaled by
    capacity) and at most ``max_arr_share`` of the book's ARR renewing in it."""
    load = inst.scenario.constraints.renewal_load
    if load is None:
        return ()
    out: list[BookRule] = []
    every = [True] * len(inst.csms)
    for period, hits in inst.renewal_periods():
        if load.max_renewals is not None:
            name = f"renewal_load[{period}]"
            q = _part(name, f"renewals in {period}", hits, 0.0, False)
            most = load.max_renewals
            limits: list[Limits] = [
                (None, math.floor(most * csm.capacity + 1e-9)) for csm in inst.csms
            ]
            what = f"renewal_load.max_renewals ({most} a {load.period} for a full-time CSM)"
            out.append(
                _counted_rule(name, q, limits, "renewal_load", what, "renewal load", not load.soft)
            )
        if load.max_arr_share is not None:
            name = f"renewal_arr[{period}]"
            share = load.max_arr_share
            q = _part(
                name, f"ARR renewing in {period} against {share:.0%} of the book", hits, share, True
            )
            what = "renewal_load.max_arr_share"
            part = ("ARR", f"renewing in {period}")
            renewing = _part(f"{name}:part", f"ARR renewing in {period}", hits, 0.0, True)
            out.append(
                _share_rule(
                    name,
                    q,
                    share,
                    True,
                    every,
                    "renewal_load",
                    what,
                    part,
                    "renewal load",
                    (renewing, ARR),
                    not load.soft,
                )
            )
    return tuple(out)


BOOK_RULE_FAMILIES: tuple[BookRuleFamily, ...] = (
    BookRuleFamily(
        "goals",
        "development and mix goals",
        "constraints.goals",
        "each CSM's book has the mix the leader asks for (development, concentration)",
        _goal_rules,
        off={"goals": ()},
    ),
    BookRuleFamily(
        "renewal_load",
        "renewal load",
        "constraints.renewal_load",
        "no CSM carries too many renewals in one quarter (or month)",
        _renewal_rules,
        off={"renewal_load": None},
    ),
)


# ------------------------------------------------------------------------------ pair rules


def _pin_label(inst: Instance, a: int) -> str:
    pin = inst.pins[a]
    return "its pinned CSM" if pin is None else inst.csms[pin[0]].label


def _pin_reason(inst: Instance, a: int) -> str:
    pin = inst.pins[a]
    return "" if pin is None else pin[1].reason


def _keeper(inst: Instance, a: int) -> str:
    current = inst.current[a]
    return inst.csms[current].label if current is not None else "its current CSM"


def _current_label(inst: Instance, a: int) -> str:
    account = inst.accounts[a]
    return inst.scenario.csm(account.current_csm).label if account.current_csm else "none"


def _missing_skills(inst: Instance, a: int, c: int) -> str:
    needed = set(inst.accounts[a].required_skills) - set(inst.csms[c].skills)
    return ", ".join(sorted(needed))


def _lacks_skills(inst: Instance, a: int, c: int) -> bool:
    account = inst.accounts[a]
    return (
        inst.scenario.constraints.required_skills
        and bool(account.required_skills)
        and not set(account.required_skills) <= set(inst.csms[c].skills)
    )


def _other_region(inst: Instance, a: int, c: int) -> bool:
    account, csm = inst.accounts[a], inst.csms[c]
    return bool(
        inst.scenario.constraints.match_region
        and account.region
        and csm.region
        and account.region != csm.region
    )


def _other_language(inst: Instance, a: int, c: int) -> bool:
    account, csm = inst.accounts[a], inst.csms[c]
    return bool(
        inst.scenario.constraints.match_language
        and account.language
        and csm.languages
        and account.language not in csm.languages
    )


def _km(inst: Instance, a: int, c: int) -> str:
    km = inst.distance_km(a, c)
    return "an unknown distance" if km is None else f"{km:,.0f} km"


PAIR_RULES: tuple[PairRule, ...] = (
    PairRule(
        "locked",
        "lock",
        "a relationship the leader decided to keep",
        "accounts[].locked",
        "lock",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} is locked to {_keeper(inst, a)} but is assigned "
            f"to {inst.csms[c].label}"
        ),
        would=lambda inst, a, c: "the account is locked to its CSM",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} is locked to CSM {_current_label(inst, a)}; the "
            "other rules cannot all hold with it there."
        ),
        keeps=lambda inst, a: inst.accounts[a].locked,
        kept=lambda inst, a: "locked: stays with its current CSM",
    ),
    PairRule(
        "renewal_freeze",
        "renewal freeze",
        "no new CSM in the weeks before a renewal",
        "renewal_freeze_days",
        "renewal freeze",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} renews on {inst.accounts[a].renewal_date} "
            f"(within renewal_freeze_days of {inst.scenario.as_of}) and must stay with "
            f"{_keeper(inst, a)}, not move to {inst.csms[c].label}"
        ),
        would=lambda inst, a, c: "the account renews inside the renewal freeze",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} renews on {inst.accounts[a].renewal_date} and is "
            f"frozen with CSM {_current_label(inst, a)}; the other rules cannot all hold with "
            "it there."
        ),
        keeps=lambda inst, a: inst.renewal_in_freeze(inst.accounts[a]),
        off={"renewal_freeze_days": None},
        kept=lambda inst, a: (
            f"renewal on {inst.accounts[a].renewal_date}: kept with its CSM through the renewal"
        ),
    ),
    PairRule(
        "protected",
        "protected relationship",
        "relationships the leader protects by condition (health, NPS, tenure, renewal, a field)",
        "protect",
        "protection",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} is a protected relationship "
            f"({inst.protected(a)}) and must stay with {_keeper(inst, a)}, not move to "
            f"{inst.csms[c].label}"
        ),
        would=lambda inst, a, c: f"the relationship is protected ({inst.protected(a)})",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} is a protected relationship "
            f"({inst.protected(a)}) with CSM {_current_label(inst, a)}; the other rules cannot "
            "all hold with it there."
        ),
        keeps=lambda inst, a: inst.protected(a) is not None,
        off={"protect": ()},
        kept=lambda inst, a: f"{inst.protected(a)}: kept with its CSM",
    ),
    PairRule(
        "pinned",
        "pin",
        "a leader's decision to give an account to one CSM, with its reason",
        "overrides",
        "override",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} is pinned to {_pin_label(inst, a)} "
            f"({_pin_reason(inst, a)}) but is assigned to {inst.csms[c].label}"
        ),
        would=lambda inst, a, c: (
            f"the account is pinned to {_pin_label(inst, a)}: {_pin_reason(inst, a)}"
        ),
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} is pinned to {_pin_label(inst, a)} "
            f"({_pin_reason(inst, a)}); the other rules cannot all hold with it there."
        ),
        key=lambda inst, a: None if (pin := inst.pins[a]) is None else pin[0],
        excludes=lambda inst, a, c: (pin := inst.pins[a]) is not None and c != pin[0],
        off={"overrides": ()},
        unplaceable=lambda inst, a: f"is pinned to {_pin_label(inst, a)}",
        left=lambda inst, a, c: f"pinned to {_pin_label(inst, a)}: {_pin_reason(inst, a)}",
    ),
    PairRule(
        "forbidden",
        "forbidden pair",
        "a leader's decision that an account must not go to a CSM, with its reason",
        "overrides",
        "override",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} may not go to {inst.csms[c].label} "
            f"({inst.forbids[a][c].reason}) but is assigned there"
        ),
        would=lambda inst, a, c: (
            f"{inst.csms[c].label} is forbidden for the account: {inst.forbids[a][c].reason}"
        ),
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} may not go to "
            f"{', '.join(inst.csms[c].label for c in sorted(inst.forbids[a]))}; the CSMs left "
            "cannot take it under the other rules."
        ),
        key=lambda inst, a: frozenset(inst.forbids[a]) or None,
        excludes=lambda inst, a, c: c in inst.forbids[a],
        off={"overrides": ()},
        unplaceable=lambda inst, a: (
            f"may not go to {', '.join(inst.csms[c].label for c in sorted(inst.forbids[a]))}"
        ),
        left=lambda inst, a, c: f"forbidden with its previous CSM: {inst.forbids[a][c].reason}",
    ),
    PairRule(
        "required_skills",
        "required skills",
        "an account that needs a skill gets a CSM who has it",
        "accounts[].required_skills, csms[].skills, required_skills",
        "eligibility",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} requires skill(s) {_missing_skills(inst, a, c)} "
            f"that CSM {inst.csms[c].label} lacks"
        ),
        would=lambda inst, a, c: f"{inst.csms[c].label} lacks a required skill",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} requires "
            f"{', '.join(inst.accounts[a].required_skills)}; the CSMs who have these skills "
            "cannot take it under the other rules."
        ),
        key=lambda inst, a: (
            frozenset(inst.accounts[a].required_skills)
            if inst.scenario.constraints.required_skills
            else None
        ),
        excludes=_lacks_skills,
        off={"required_skills": False},
        unplaceable=lambda inst, a: f"requires {', '.join(inst.accounts[a].required_skills)}",
        left=lambda inst, a, c: (
            f"previous CSM lacks required skill(s): {_missing_skills(inst, a, c)}"
        ),
    ),
    PairRule(
        "match_region",
        "same region",
        "an account is covered from its own region",
        "match_region",
        "eligibility",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} is in region {inst.accounts[a].region} but CSM "
            f"{inst.csms[c].label} covers {inst.csms[c].region}"
        ),
        would=lambda inst, a, c: f"{inst.csms[c].label} works in another region",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} must stay in region {inst.accounts[a].region}; "
            "no CSM there can take it under the other rules."
        ),
        key=lambda inst, a: (
            inst.accounts[a].region if inst.scenario.constraints.match_region else None
        ),
        excludes=_other_region,
        off={"match_region": False},
        unplaceable=lambda inst, a: f"is in region {inst.accounts[a].region}",
        left=lambda inst, a, c: f"previous CSM is outside region {inst.accounts[a].region}",
    ),
    PairRule(
        "match_language",
        "same language",
        "an account is served in its language",
        "match_language",
        "eligibility",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} speaks {inst.accounts[a].language}; CSM "
            f"{inst.csms[c].label} speaks {', '.join(inst.csms[c].languages)}"
        ),
        would=lambda inst, a, c: f"{inst.csms[c].label} does not speak the account's language",
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} needs a CSM speaking {inst.accounts[a].language}; "
            "none can take it under the other rules."
        ),
        key=lambda inst, a: (
            inst.accounts[a].language if inst.scenario.constraints.match_language else None
        ),
        excludes=_other_language,
        off={"match_language": False},
        unplaceable=lambda inst, a: f"speaks {inst.accounts[a].language}",
        left=lambda inst, a, c: f"previous CSM does not speak {inst.accounts[a].language}",
    ),
    PairRule(
        "max_travel",
        "maximum travel distance",
        "in-person accounts are met by a CSM within reach",
        "max_travel_km, accounts[].visits_per_quarter, places (latitude/longitude or location)",
        "eligibility",
        violation=lambda inst, a, c: (
            f"account {inst.accounts[a].label} is met in person and is {_km(inst, a, c)} from "
            f"CSM {inst.csms[c].label}, beyond max_travel_km "
            f"{inst.scenario.constraints.max_travel_km:,.0f}"
        ),
        would=lambda inst, a, c: (
            f"{inst.csms[c].label} is {_km(inst, a, c)} away (max_travel_km "
            f"{inst.scenario.constraints.max_travel_km:,.0f})"
        ),
        conflict=lambda inst, a: (
            f"Account {inst.accounts[a].label} is met in person; the CSMs within max_travel_km "
            "cannot take it under the other rules."
        ),
        key=lambda inst, a: (
            inst.account_place[a]
            if inst.scenario.constraints.max_travel_km is not None and inst.visits[a]
            else None
        ),
        excludes=lambda inst, a, c: inst.too_far(a, c),
        off={"max_travel_km": None},
        unplaceable=lambda inst, a: (
            f"is met in person, more than {inst.scenario.constraints.max_travel_km:,.0f} km "
            "from every CSM"
        ),
        left=lambda inst, a, c: f"previous CSM is {_km(inst, a, c)} away",
    ),
)

TERMS: dict[str, Term] = {
    term.name: term
    for term in (
        Term(
            "churn_risk",
            "at-risk ARR with CSMs who retain",
            "more ARR at risk (a CSM who retains less)",
        ),
        Term("balance", "fair books", "books further from their targets"),
        Term("expertise", "industry know-how", "no industry match"),
        Term("expansion", "growth with CSMs who expand", "less expansion (a CSM who expands less)"),
        Term("continuity", "relationships", "one more move"),
        Term("preference", "requested relationships", "a CSM the account prefers less"),
        Term("travel", "time with customers, not on the road", "more hours on the road"),
        Term("soft_rules", "the leader's soft rules", "further outside a soft rule"),
    )
}


# ---------------------------------------------------------------------------- the registry

Rule = PairRule | BookRule | TeamRule | BookRuleFamily


class Registry:
    """The hard rules in effect, in the order the model writes them and the evaluator reports
    them. :class:`~optimizer.instance.Instance` takes the rules registered when it is built."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules: list[Rule] = list(rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(tuple(self._rules))

    @property
    def pair(self) -> tuple[PairRule, ...]:
        return tuple(r for r in self._rules if isinstance(r, PairRule))

    @property
    def book(self) -> tuple[BookRule, ...]:
        return tuple(r for r in self._rules if isinstance(r, BookRule))

    @property
    def team(self) -> tuple[TeamRule, ...]:
        return tuple(r for r in self._rules if isinstance(r, TeamRule))

    @property
    def book_families(self) -> tuple[BookRuleFamily, ...]:
        return tuple(r for r in self._rules if isinstance(r, BookRuleFamily))

    def add(self, rule: Rule) -> Rule:
        if any(r.name == rule.name for r in self._rules):
            raise ValueError(f"a rule named {rule.name!r} is already registered")
        self._rules.append(rule)
        return rule

    def remove(self, name: str) -> None:
        self._rules = [r for r in self._rules if r.name != name]

    @contextmanager
    def added(self, rule: Rule) -> Iterator[Rule]:
        """``rule`` registered for the duration of a ``with`` block."""
        self.add(rule)
        try:
            yield rule
        finally:
            self.remove(rule.name)


#: The engine's rules: pair rules first (the first that excludes a pair names it), then book
#: and team rules in the order of the model's rows.
RULES = Registry([*PAIR_RULES, *BOOK_RULES, *BOOK_RULE_FAMILIES, *TEAM_RULES])


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the engine's rules (see :data:`RULES`)."""
    return RULES.add(rule)


def families(rules: Sequence[BookRule]) -> list[tuple[Quantity, list[BookRule]]]:
    """Consecutive rules on one quantity, grouped: the model writes each group CSM by CSM
    (all ARR rules of one CSM together)."""
    out: list[tuple[Quantity, list[BookRule]]] = []
    for rule in rules:
        if out and out[-1][0] is rule.quantity:
            out[-1][1].append(rule)
        else:
            out.append((rule.quantity, [rule]))
    return out


def window(
    inst: Instance, quantity: Quantity, c: int
) -> tuple[float, str | None, float, str | None]:
    """CSM ``c``'s combined range for ``quantity`` over every hard book rule on it: the highest
    lower limit and the lowest upper limit, each with the rule that sets it (``0, None`` and
    ``inf, None`` when no rule limits that side)."""
    lo, lo_rule, hi, hi_rule = 0.0, None, math.inf, None
    for rule in inst.book_rules:
        if rule.quantity is not quantity or not rule.hard:
            continue
        low, high = inst.rule_limits[rule.name][c]
        if low is not None and (lo_rule is None or low > lo):
            lo, lo_rule = low, rule.name
        if high is not None and (hi_rule is None or high < hi):
            hi, hi_rule = high, rule.name
    return lo, lo_rule, hi, hi_rule


#: The engine's own book quantities, in the one order every reader uses.
BOOK_QUANTITIES = (ACCOUNTS, ARR, WORKLOAD, HIGH_RISK)


def active(inst: Instance, rule: BookRule) -> bool:
    """Whether ``rule`` limits some CSM's book in ``inst`` (a rule set by nothing in the
    scenario, as the utilization band without a band, limits none)."""
    return any(lo is not None or hi is not None for lo, hi in inst.rule_limits[rule.name])


def quantities(inst: Instance) -> list[Quantity]:
    """The book quantities some rule of ``inst`` limits: the engine's own in
    :data:`BOOK_QUANTITIES` order, then any other that an active rule limits, in registry
    order."""
    used: list[Quantity] = []
    for rule in inst.book_rules:
        if rule.quantity not in used:
            used.append(rule.quantity)
    others = [
        q
        for q in used
        if q not in BOOK_QUANTITIES
        and any(r.quantity is q and active(inst, r) for r in inst.book_rules)
    ]
    return [q for q in BOOK_QUANTITIES if q in used] + others
