"""Robustness: the gap at the time limit over team shapes the synthetic generator keeps fixed.

``benchmarks/generator.py`` always gives the same kind of team: full-time CSMs, books within
about ±15% of the mean, the largest 4% of accounts locked, every account with a CSM, ARR
log-normal, two regions nobody has to match. This suite starts from its accounts and CSMs and
changes what it keeps fixed, one property per shape (``worst`` combines several):

==============  ==============================================================================
shape           what changes
==============  ==============================================================================
balanced        nothing: today's books are a balanced deal with 6% of the accounts moved at
                random (the baseline)
skewed          today's books are badly skewed: a fifth of the CSMs hold 2-3x their fair
                share of ARR, another fifth are near empty (only accounts frozen by a renewal
                left)
part_time       a third of the CSMs work part time (capacity 0.5-0.8)
no_budget       no move budget (neither ``max_moves`` nor ``max_moved_arr``)
tight           ARR within ±5% (balance band 2%), workload within ±20%; where the generator's
                enterprise accounts (which only half the CSMs may hold) carry more than half
                the ARR, ±5% cannot hold and the tolerance is widened (see below)
loose           ARR within ±30% but at most 1.25 full-time books, 1.6x the mean number of
                accounts, 5x the high-risk accounts, 35% of the accounts may move
whales          a few accounts (1.5%, at least 2) with 20-40x the median ARR; the tolerance,
                account limit and ARR ceiling are widened until one plan fits, as an analyst
                would, and the whales are not locked
locked          15% of the accounts locked to today's CSM (instead of the largest 4%)
new_accounts    20% of the accounts have no CSM yet
few_eligible    regions of 2-3 CSMs that accounts must match, enterprise accounts with 2 of
                them: every free account has 2 or 3 eligible CSMs
worst           skewed + part_time + no_budget, and continuity weighs 0.05 (so moves cost
                something and the move tie-break is off)
==============  ==============================================================================

Every shape keeps the generator's other rules: weights 40/30/20/10, ARR within ±15% (unless
the shape says otherwise), at most 1.32x the mean number of accounts, at least 0.715 of a mean
book, at most 1.25 mean books, at most 3x the mean number of high-risk accounts, at most 20%
of the accounts and 25% of the ARR move, renewals within 30 days frozen, required skills.

Every scenario is feasible by construction: a *witness* plan is dealt first (largest account
first to the eligible CSM furthest under target, within the account and high-risk limits,
then balanced by single moves and exchanges), today's books are made from it by the shape's
perturbation, and each locked account or frozen renewal keeps the witness's CSM. A limit the witness
breaks is widened to what the witness needs (the widening is listed in the scenario's
description). The witness is checked by ``optimizer.evaluate`` and by :func:`check_plan`
before the scenario is used; generation is deterministic per (shape, size, seed).

:func:`check_plan` checks a plan against every hard rule of docs/scenario-format.md, computed
here from the scenario's data, without the engine's evaluator or rules registry.

Each solve runs in its own process (a crash or a memory blow-up ends that run only) with one
solver thread and the engine's default settings otherwise::

    python -m benchmarks.robustness --sizes 120x6,400x12 --seeds 1,2 --time-limit 30
    python -m benchmarks.robustness --sizes 2000x20 --shapes worst,skewed --seeds 1

Default time limits: 30 s up to 1,000 accounts, 60 s up to 5,000, 120 s above
(``--time-limit`` sets one for every size). Writes ``results/robustness.json`` (one record per
run) and ``results/robustness.md`` (per size and per shape: median and worst gap at the time
limit, proven count, median time to proof).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.generator import generate

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = (
    "balanced",
    "skewed",
    "part_time",
    "no_budget",
    "tight",
    "loose",
    "whales",
    "locked",
    "new_accounts",
    "few_eligible",
    "worst",
)
DEFAULT_SIZES = ("120x6", "400x12", "2000x20")
#: The requested gap: a plan is proven when the engine reaches it (its default).
REQUESTED_GAP = 1e-4
#: Days before a renewal in which an account stays with its CSM (the generator's rule).
FREEZE_DAYS = 30


# ------------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Settings:
    """What a shape sets; the defaults are the generator's rules (the ``balanced`` shape)."""

    skewed: bool = False
    part_time: bool = False
    budget: bool = True
    arr_tolerance: float = 0.15
    workload_tolerance: float | None = None
    balance_band: float = 0.05
    #: Limits per full-time CSM, as multiples of the team's mean (per unit of capacity).
    accounts_factor: float = 1.32
    high_risk_factor: float = 3.0
    min_arr_factor: float = 0.715
    max_arr_factor: float = 1.25
    #: Move budgets: shares of the accounts and of the ARR.
    move_share: float = 0.2
    moved_arr_share: float = 0.25
    #: Share of the accounts moved at random between today's books and the witness.
    noise: float = 0.06
    whales: bool = False
    #: Share of the accounts locked (the largest first; ``random_locks``: drawn at random).
    lock_share: float = 0.04
    random_locks: bool = False
    new_share: float = 0.0
    few_eligible: bool = False
    continuity: float = 0.0


SETTINGS: dict[str, Settings] = {
    "balanced": Settings(),
    "skewed": Settings(skewed=True),
    "part_time": Settings(part_time=True),
    "no_budget": Settings(budget=False),
    "tight": Settings(arr_tolerance=0.05, workload_tolerance=0.20, balance_band=0.02),
    "loose": Settings(
        arr_tolerance=0.30,
        accounts_factor=1.6,
        high_risk_factor=5.0,
        min_arr_factor=0.5,
        move_share=0.35,
        moved_arr_share=0.4,
    ),
    "whales": Settings(whales=True),
    "locked": Settings(lock_share=0.15, random_locks=True),
    "new_accounts": Settings(new_share=0.2),
    "few_eligible": Settings(few_eligible=True),
    "worst": Settings(skewed=True, part_time=True, budget=False, continuity=0.05),
}


@dataclass
class Built:
    """A generated scenario (inline, as a dict), a plan known to keep every rule, and what
    was widened for that plan to fit."""

    shape: str
    scenario: dict[str, Any]
    witness: dict[str, str]
    notes: list[str] = field(default_factory=list)


def parse_size(size: str) -> tuple[int, int]:
    n, m = (int(v) for v in size.lower().split("x"))
    return n, m


def build(shape: str, n_accounts: int, n_csms: int, seed: int = 1) -> Built:
    """The scenario of ``shape`` with ``n_accounts`` x ``n_csms`` (same arguments, same
    scenario), with its witness plan. Raises ``RuntimeError`` if the witness breaks a rule."""
    if shape not in SETTINGS:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    s = SETTINGS[shape]
    rng = random.Random(f"robustness/{shape}/{n_accounts}x{n_csms}/{seed}")
    base = generate(n_accounts, n_csms, seed=seed)
    csms: list[dict[str, Any]] = base["csms"]
    accounts: list[dict[str, Any]] = base["accounts"]
    as_of = dt.date.fromisoformat(base["as_of"])
    for account in accounts:
        account["current_csm"] = None
        account["locked"] = False

    if s.part_time:
        for c in rng.sample(range(n_csms), max(1, n_csms // 3)):
            csms[c]["capacity"] = round(rng.uniform(0.5, 0.8), 2)
    whales: set[int] = set()
    if s.whales:
        median = statistics.median(a["arr"] for a in accounts)
        for a in rng.sample(range(n_accounts), max(2, round(0.015 * n_accounts))):
            accounts[a]["arr"] = round(median * rng.uniform(20.0, 40.0), -2)
            accounts[a]["required_skills"] = ["enterprise"]
            whales.add(a)
    if s.few_eligible:
        _few_eligible(accounts, csms)

    constraints = _constraints(s, accounts, csms)
    objectives = {
        "churn_risk": 0.4,
        "balance": 0.3,
        "expertise": 0.2,
        "expansion": 0.1,
        "continuity": s.continuity,
    }
    book = _Books(accounts, csms, constraints)
    witness = _deal(book, s, rng)

    # Today's books: the witness, perturbed by the shape. Accounts renewing inside the freeze
    # keep the witness's CSM (the freeze would hold them there).
    frozen = {a for a, acc in enumerate(accounts) if _in_freeze(acc.get("renewal_date"), as_of)}
    current: list[int | None] = list(witness)
    movable = [a for a in range(n_accounts) if a not in frozen]
    if s.skewed:
        _skew(rng, book, current, movable)
    else:
        for a in rng.sample(movable, round(s.noise * n_accounts)):
            others = [c for c in book.eligible[a] if c != current[a]]
            if others:
                current[a] = rng.choice(others)
    if s.new_share:
        for a in rng.sample(movable, round(s.new_share * n_accounts)):
            current[a] = None
    _follow(rng, book, witness, current, s)

    # Locks: accounts that keep today's CSM in the witness.
    keep = [a for a in range(n_accounts) if current[a] is not None and current[a] == witness[a]]
    want = round(s.lock_share * n_accounts) if s.random_locks else max(1, n_accounts // 25)
    if s.random_locks:
        locks = rng.sample(keep, min(want, len(keep)))
    else:
        largest = sorted((a for a in keep if a not in whales), key=lambda a: -accounts[a]["arr"])
        locks = largest[:want]
    for a in locks:
        accounts[a]["locked"] = True
    for a, owner in enumerate(current):
        accounts[a]["current_csm"] = None if owner is None else csms[owner]["id"]

    notes = _fit(constraints, book, witness, current)
    description = (
        f"Robustness shape {shape}: {n_csms} CSMs, {n_accounts} accounts (seed {seed})."
        + (f" Widened for a plan to exist: {'; '.join(notes)}." if notes else "")
    )
    scenario: dict[str, Any] = {
        "name": f"robust_{shape}_{n_accounts}x{n_csms}_seed{seed}",
        "description": description,
        "as_of": base["as_of"],
        "csms": csms,
        "accounts": accounts,
        "objectives": objectives,
        "constraints": {k: v for k, v in constraints.items() if v is not None},
        "solver": {"backend": "auto", "time_limit_s": 30, "gap": REQUESTED_GAP, "seed": 0},
    }
    plan = {accounts[a]["id"]: csms[c]["id"] for a, c in enumerate(witness)}
    _verify(shape, scenario, plan)
    return Built(shape, scenario, plan, notes)


def _verify(shape: str, scenario: dict[str, Any], plan: dict[str, str]) -> None:
    """The witness keeps every rule, by this module's check and by the engine's evaluator."""
    from optimizer import Scenario, evaluate

    breaches = check_plan(scenario, plan)
    scored = evaluate(Scenario.from_dict(scenario), plan)
    if breaches or not scored.feasible:
        raise RuntimeError(
            f"{scenario['name']}: the witness plan breaks rules: "
            f"{[str(b) for b in breaches[:3]]} {[v.message for v in scored.violations[:3]]}"
        )


def _in_freeze(date: str | None, as_of: dt.date) -> bool:
    return bool(date) and 0 <= (dt.date.fromisoformat(str(date)) - as_of).days <= FREEZE_DAYS


def _constraints(
    s: Settings, accounts: Sequence[Mapping[str, Any]], csms: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    capacity = sum(c.get("capacity", 1.0) for c in csms)
    total = sum(a["arr"] for a in accounts)
    high_risk = sum(1 for a in accounts if _churn(a) >= 0.5)
    mean_book = total / capacity
    return {
        "arr_tolerance": s.arr_tolerance,
        "workload_tolerance": s.workload_tolerance,
        "balance_band": s.balance_band,
        "max_accounts_per_csm": math.ceil(len(accounts) / capacity * s.accounts_factor),
        "min_arr_per_csm": round(mean_book * s.min_arr_factor, -3),
        "max_arr_per_csm": round(mean_book * s.max_arr_factor, -3),
        "max_high_risk_per_csm": max(3, math.ceil(s.high_risk_factor * high_risk / capacity)),
        "max_moves": math.ceil(s.move_share * len(accounts)) if s.budget else None,
        "max_moved_arr": round(s.moved_arr_share * total, -3) if s.budget else None,
        "renewal_freeze_days": FREEZE_DAYS,
        "required_skills": True,
        "match_region": s.few_eligible,
    }


def _few_eligible(accounts: list[dict[str, Any]], csms: list[dict[str, Any]]) -> None:
    """Regions of 2-3 CSMs; in each, the first two have the enterprise skill; accounts are
    spread over the regions by ARR (largest first, to the region furthest under its share)."""
    n_regions = math.ceil(len(csms) / 3)
    members: list[list[int]] = [[] for _ in range(n_regions)]
    for c, csm in enumerate(csms):
        r = c % n_regions
        csm["region"] = f"R{r + 1}"
        csm["skills"] = (
            ["enterprise", "technical"]
            if not members[r]
            else ["enterprise"]
            if len(members[r]) == 1
            else ["mid-market"]
        )
        members[r].append(c)
    capacity = [sum(csms[c].get("capacity", 1.0) for c in group) for group in members]
    total = sum(a["arr"] for a in accounts)
    share = [total * k / sum(capacity) for k in capacity]
    load = [0.0] * n_regions
    order = sorted(range(len(accounts)), key=lambda a: (-accounts[a]["arr"], a))
    for a in order:
        r = max(range(n_regions), key=lambda r: ((share[r] - load[r]) / share[r], -r))
        accounts[a]["region"] = f"R{r + 1}"
        accounts[a]["required_skills"] = (
            ["enterprise"] if "enterprise" in accounts[a]["required_skills"] else []
        )
        load[r] += accounts[a]["arr"]


class _Books:
    """The quantities the rules limit, per account and per CSM, for building the witness."""

    def __init__(
        self,
        accounts: Sequence[Mapping[str, Any]],
        csms: Sequence[Mapping[str, Any]],
        constraints: Mapping[str, Any],
    ) -> None:
        self.accounts, self.csms, self.constraints = accounts, csms, constraints
        self.n, self.m = len(accounts), len(csms)
        self.arr = [float(a["arr"]) for a in accounts]
        self.work = [_workload(a) for a in accounts]
        self.risky = [_churn(a) >= constraints.get("high_risk_threshold", 0.5) for a in accounts]
        self.capacity = [float(c.get("capacity", 1.0)) for c in csms]
        share = [k / sum(self.capacity) for k in self.capacity]
        self.arr_target = [sum(self.arr) * k for k in share]
        self.work_target = [sum(self.work) * k for k in share]
        self.eligible = [
            [c for c in range(self.m) if _eligible(accounts[a], csms[c], constraints)]
            for a in range(self.n)
        ]
        if any(not cs for cs in self.eligible):
            raise RuntimeError("an account has no eligible CSM")

    def max_accounts(self, c: int) -> int:
        return _floor(self.constraints["max_accounts_per_csm"] * self.capacity[c])

    def max_high_risk(self, c: int) -> int:
        return _floor(self.constraints["max_high_risk_per_csm"] * self.capacity[c])


def _deal(book: _Books, s: Settings, rng: random.Random) -> list[int]:
    """The witness: largest account first to the eligible CSM furthest under its ARR target
    with room under the account and high-risk limits, then balanced by :func:`_polish`."""
    load = [0.0] * book.m
    count = [0] * book.m
    risk = [0] * book.m
    plan = [0] * book.n
    for a in sorted(range(book.n), key=lambda a: (-book.arr[a], a)):
        room = [
            c
            for c in book.eligible[a]
            if count[c] < book.max_accounts(c)
            and (not book.risky[a] or risk[c] < book.max_high_risk(c))
        ] or book.eligible[a]
        c = max(
            room,
            key=lambda c: (
                (book.arr_target[c] - load[c]) / book.arr_target[c],
                -count[c] / book.capacity[c],
                -c,
            ),
        )
        plan[a] = c
        load[c] += book.arr[a]
        count[c] += 1
        risk[c] += book.risky[a]
    _polish(book, plan, s, rng)
    return plan


def _polish(book: _Books, plan: list[int], s: Settings, rng: random.Random) -> None:
    """Single moves and exchanges between the CSM furthest from its targets and the five
    furthest the other way, each lowering the sum of squared deviations (as shares of the
    tolerance), until every book is within 60% of its tolerances or nothing helps."""
    tol_arr = s.arr_tolerance
    tol_work = s.workload_tolerance or 0.5
    load = [0.0] * book.m
    work = [0.0] * book.m
    count = [0] * book.m
    risk = [0] * book.m
    members: list[list[int]] = [[] for _ in range(book.m)]
    for a, c in enumerate(plan):
        load[c] += book.arr[a]
        work[c] += book.work[a]
        count[c] += 1
        risk[c] += book.risky[a]
        members[c].append(a)

    def dev(c: int, d_arr: float = 0.0, d_work: float = 0.0) -> float:
        x = (load[c] + d_arr - book.arr_target[c]) / book.arr_target[c] / tol_arr
        y = (work[c] + d_work - book.work_target[c]) / book.work_target[c] / tol_work
        return x * x + y * y

    def fits(c: int, d_count: int, d_risk: int) -> bool:
        return count[c] + d_count <= book.max_accounts(c) and risk[
            c
        ] + d_risk <= book.max_high_risk(c)

    stuck: set[int] = set()
    for _ in range(20 * book.m + 200):
        free = [c for c in range(book.m) if c not in stuck]
        if not free:
            break
        w = max(free, key=lambda c: (dev(c), -c))
        if dev(w) <= 0.36:
            break
        over = load[w] > book.arr_target[w]
        partners = sorted(
            (c for c in range(book.m) if c != w),
            key=lambda c: (
                (load[c] - book.arr_target[c]) / book.arr_target[c] * (1 if over else -1),
                c,
            ),
        )[:5]
        best: tuple[float, int, int | None, int] | None = None  # (delta, a, b, partner)
        mine = members[w] if len(members[w]) <= 40 else rng.sample(members[w], 40)
        for p in partners:
            base = dev(w) + dev(p)
            theirs = members[p] if len(members[p]) <= 40 else rng.sample(members[p], 40)
            for a in mine:
                if p in book.eligible[a] and fits(p, 1, book.risky[a]):
                    delta = (
                        dev(w, -book.arr[a], -book.work[a])
                        + dev(p, book.arr[a], book.work[a])
                        - base
                    )
                    if best is None or delta < best[0]:
                        best = (delta, a, None, p)
                for b in theirs:
                    if w not in book.eligible[b] or p not in book.eligible[a]:
                        continue
                    d_risk = book.risky[a] - book.risky[b]
                    if not (fits(p, 0, d_risk) and fits(w, 0, -d_risk)):
                        continue
                    d_arr = book.arr[a] - book.arr[b]
                    d_work = book.work[a] - book.work[b]
                    delta = dev(w, -d_arr, -d_work) + dev(p, d_arr, d_work) - base
                    if best is None or delta < best[0]:
                        best = (delta, a, b, p)
        if best is None or best[0] >= -1e-12:
            stuck.add(w)
            continue
        stuck.clear()
        _, out, back, p = best
        for x, src, dst in ((out, w, p), (back, p, w)):
            if x is None:
                continue
            plan[x] = dst
            members[src].remove(x)
            members[dst].append(x)
            load[src] -= book.arr[x]
            load[dst] += book.arr[x]
            work[src] -= book.work[x]
            work[dst] += book.work[x]
            count[src] -= 1
            count[dst] += 1
            risk[src] -= book.risky[x]
            risk[dst] += book.risky[x]


def _skew(rng: random.Random, book: _Books, current: list[int | None], movable: list[int]) -> None:
    """Today's books skewed: a fifth of the CSMs (those with the most skills first) hoard 2-3x
    their fair share of ARR; another fifth hand every account they may to them (or, where no
    hoarder may take it, to the least loaded other CSM) and end near empty."""
    k = max(1, book.m // 5)
    skilled = sorted(range(book.m), key=lambda c: (-len(book.csms[c]["skills"]), rng.random()))
    hoarders = skilled[:k]
    rest = [c for c in range(book.m) if c not in hoarders]
    rng.shuffle(rest)
    empties, donors = rest[:k], rest[k:]
    goal = {h: rng.uniform(2.0, 3.0) * book.arr_target[h] for h in hoarders}
    load = [0.0] * book.m
    for a, c in enumerate(current):
        if c is not None:
            load[c] += book.arr[a]
    can_move = set(movable)

    def give(a: int, fallback: bool) -> None:
        src = current[a]
        assert src is not None
        takers = [h for h in hoarders if h in book.eligible[a] and load[h] < goal[h]]
        if takers:
            dst = max(takers, key=lambda h: (goal[h] - load[h]) / book.arr_target[h])
        elif fallback:
            others = [c for c in book.eligible[a] if c not in empties]
            if not others:
                return
            dst = min(others, key=lambda c: load[c] / book.arr_target[c])
        else:
            return
        current[a] = dst
        load[src] -= book.arr[a]
        load[dst] += book.arr[a]

    for e in empties:
        for a in [a for a, c in enumerate(current) if c == e and a in can_move]:
            give(a, fallback=True)
    pool = [a for a, c in enumerate(current) if c in donors and a in can_move]
    rng.shuffle(pool)
    for a in pool:
        if all(load[h] >= goal[h] for h in hoarders):
            break
        give(a, fallback=False)


def _follow(
    rng: random.Random,
    book: _Books,
    witness: list[int],
    current: list[int | None],
    s: Settings,
) -> None:
    """Fewer moves in the witness: accounts go back to today's CSM wherever every book stays
    within 90% of its tolerances and under the other limits (random order)."""
    c_ = book.constraints
    load, work, count, risk = _totals(book, witness)

    def within(c: int, d_arr: float, d_work: float, d_count: int, d_risk: int) -> bool:
        t, k = book.arr_target[c], book.capacity[c]
        arr = load[c] + d_arr
        if abs(arr - t) > 0.9 * s.arr_tolerance * t:
            return False
        if not (c_["min_arr_per_csm"] * k <= arr <= 0.99 * c_["max_arr_per_csm"] * k):
            return False
        if s.workload_tolerance is not None:
            wt = book.work_target[c]
            if abs(work[c] + d_work - wt) > 0.9 * s.workload_tolerance * wt:
                return False
        return count[c] + d_count <= book.max_accounts(c) and risk[
            c
        ] + d_risk <= book.max_high_risk(c)

    away = [a for a in range(book.n) if current[a] is not None and current[a] != witness[a]]
    rng.shuffle(away)
    for a in away:
        src, dst = witness[a], current[a]
        assert dst is not None
        if dst not in book.eligible[a]:
            continue
        arr, wl, r = book.arr[a], book.work[a], int(book.risky[a])
        if within(src, -arr, -wl, -1, -r) and within(dst, arr, wl, 1, r):
            witness[a] = dst
            for c, sign in ((src, -1), (dst, 1)):
                load[c] += sign * arr
                work[c] += sign * wl
                count[c] += sign
                risk[c] += sign * r


def _totals(
    book: _Books, witness: list[int]
) -> tuple[list[float], list[float], list[int], list[int]]:
    """Each book's ARR, workload, accounts and high-risk accounts in ``witness``."""
    load = [0.0] * book.m
    work = [0.0] * book.m
    count = [0] * book.m
    risk = [0] * book.m
    for a, c in enumerate(witness):
        load[c] += book.arr[a]
        work[c] += book.work[a]
        count[c] += 1
        risk[c] += int(book.risky[a])
    return load, work, count, risk


def _fit(
    constraints: dict[str, Any], book: _Books, witness: list[int], current: list[int | None]
) -> list[str]:
    """Widen every limit the witness breaks to what it needs; say what was widened."""
    notes: list[str] = []
    load, work, count, risk = _totals(book, witness)
    for key, mine, target in (
        ("arr_tolerance", load, book.arr_target),
        ("workload_tolerance", work, book.work_target),
    ):
        tol = constraints[key]
        if tol is None:
            continue
        need = max(abs(v - t) / t for v, t in zip(mine, target, strict=True))
        if need > tol * (1 - 1e-6):
            constraints[key] = min(1.0, math.ceil(need * 100 + 0.5) / 100)
            notes.append(f"{key} {tol:g} -> {constraints[key]:g}")
    per = [(load[c] / book.capacity[c], c) for c in range(book.m)]
    if min(per)[0] < constraints["min_arr_per_csm"]:
        old = constraints["min_arr_per_csm"]
        constraints["min_arr_per_csm"] = math.floor(min(per)[0] * 0.99 / 1000) * 1000.0
        notes.append(f"min_arr_per_csm {old:,.0f} -> {constraints['min_arr_per_csm']:,.0f}")
    if max(per)[0] > constraints["max_arr_per_csm"]:
        old = constraints["max_arr_per_csm"]
        constraints["max_arr_per_csm"] = math.ceil(max(per)[0] * 1.01 / 1000) * 1000.0
        notes.append(f"max_arr_per_csm {old:,.0f} -> {constraints['max_arr_per_csm']:,.0f}")
    for key, used in (("max_accounts_per_csm", count), ("max_high_risk_per_csm", risk)):
        old = constraints[key]
        while any(used[c] > _floor(constraints[key] * book.capacity[c]) for c in range(book.m)):
            constraints[key] += 1
        if constraints[key] != old:
            notes.append(f"{key} {old} -> {constraints[key]}")
    moved = [a for a in range(book.n) if current[a] is not None and current[a] != witness[a]]
    if constraints["max_moves"] is not None and len(moved) > constraints["max_moves"]:
        notes.append(f"max_moves {constraints['max_moves']} -> {len(moved)}")
        constraints["max_moves"] = len(moved)
    moved_arr = sum(book.arr[a] for a in moved)
    if constraints["max_moved_arr"] is not None and moved_arr > constraints["max_moved_arr"]:
        old = constraints["max_moved_arr"]
        constraints["max_moved_arr"] = math.ceil(moved_arr / 1000) * 1000.0
        notes.append(f"max_moved_arr {old:,.0f} -> {constraints['max_moved_arr']:,.0f}")
    return notes


# ------------------------------------------------------------------ the independent checker

#: Churn probability of each named level (docs/scenario-format.md, "Levels").
RISK_LEVELS = {"low": 0.05, "medium": 0.2, "high": 0.5}
#: Money and workload rules pass within this share of one full-time book
#: (docs/scenario-format.md, notes under "The hard rules"); counts are exact.
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Breach:
    """A hard rule a plan breaks: the rule's name (as in docs/scenario-format.md), whose
    (account or CSM id, or ``team``), and what was found."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule} [{self.subject}]: {self.detail}"


def _churn(account: Mapping[str, Any]) -> float:
    risk = account.get("churn_risk", "low")
    return RISK_LEVELS[risk] if isinstance(risk, str) else float(risk)


def _workload(account: Mapping[str, Any]) -> float:
    value = account.get("workload")
    return float(account.get("complexity", 3)) if value is None else float(value)


def _floor(value: float) -> int:
    """Rounded down, after the product of a limit and a capacity is rounded to 9 decimals
    (0.7 x 20 is 13.999999999999998 in floating point: the rule means 14)."""
    return math.floor(round(value, 9))


def _eligible(
    account: Mapping[str, Any], csm: Mapping[str, Any], constraints: Mapping[str, Any]
) -> bool:
    """The skills, region and language rules (locked and frozen accounts are exempt)."""
    needed = set(account.get("required_skills") or ())
    if constraints.get("required_skills", True) and not needed <= set(csm.get("skills") or ()):
        return False
    region, home = account.get("region"), csm.get("region")
    if constraints.get("match_region", False) and region and home and region != home:
        return False
    language, spoken = account.get("language"), csm.get("languages") or ()
    return not (
        constraints.get("match_language", False) and language and spoken and language not in spoken
    )


def check_plan(scenario: Mapping[str, Any], assignment: Mapping[str, str | None]) -> list[Breach]:
    """Every hard rule ``assignment`` (account id -> CSM id) breaks in ``scenario`` (a scenario
    dict with its CSMs and accounts inline), computed from docs/scenario-format.md.

    Rules: ``assign`` (every account exactly one existing CSM, nothing else assigned),
    ``locked``, ``renewal_freeze``, ``required_skills``, ``match_region``, ``match_language``,
    ``max_accounts``, ``min_arr``, ``max_arr``, ``arr_tolerance``, ``max_workload``,
    ``workload_tolerance``, ``max_high_risk``, ``max_moves``, ``max_moved_arr``.
    """
    csms = scenario["csms"]
    accounts = scenario["accounts"]
    if isinstance(csms, str) or isinstance(accounts, str):
        raise ValueError("check_plan reads inline CSMs and accounts only")
    rules: Mapping[str, Any] = scenario.get("constraints") or {}
    as_of = dt.date.fromisoformat(str(scenario.get("as_of") or dt.date.today().isoformat()))
    by_id = {str(c["id"]).strip(): c for c in csms}
    out: list[Breach] = []

    known = {str(a["id"]).strip() for a in accounts}
    for account_id in assignment:
        if account_id not in known:
            out.append(Breach("assign", str(account_id), "not an account of the scenario"))

    capacity = {i: float(c.get("capacity", 1.0)) for i, c in by_id.items()}
    total_capacity = sum(capacity.values())
    total_arr = sum(float(a["arr"]) for a in accounts)
    total_work = sum(_workload(a) for a in accounts)
    arr_unit = total_arr / total_capacity if total_arr > 0 else 1.0
    work_unit = total_work / total_capacity if total_work > 0 else 1.0
    threshold = float(rules.get("high_risk_threshold", 0.5))
    freeze = rules.get("renewal_freeze_days")

    books: dict[str, dict[str, float]] = {
        i: {"accounts": 0, "arr": 0.0, "workload": 0.0, "high_risk": 0} for i in by_id
    }
    moves, moved_arr = 0, 0.0
    for account in accounts:
        aid = str(account["id"]).strip()
        chosen = assignment.get(aid)
        current = (account.get("current_csm") or "").strip() or None
        arr = float(account["arr"])
        if chosen is None or chosen not in by_id:
            out.append(
                Breach(
                    "assign",
                    aid,
                    "no CSM" if chosen is None else f"assigned to unknown CSM {chosen!r}",
                )
            )
            if current is not None:
                moves, moved_arr = moves + 1, moved_arr + arr
            continue
        if current is not None and chosen != current:
            moves, moved_arr = moves + 1, moved_arr + arr
        locked = bool(account.get("locked", False))
        renewal = account.get("renewal_date")
        frozen = (
            not locked
            and current is not None
            and freeze is not None
            and bool(renewal)
            and 0 <= (dt.date.fromisoformat(str(renewal)) - as_of).days <= freeze
        )
        if locked and chosen != current:
            out.append(Breach("locked", aid, f"locked to {current}, assigned to {chosen}"))
        elif frozen and chosen != current:
            out.append(
                Breach(
                    "renewal_freeze", aid, f"renews {renewal}: stays with {current}, not {chosen}"
                )
            )
        elif not locked and not frozen:
            csm = by_id[chosen]
            needed = set(account.get("required_skills") or ())
            if rules.get("required_skills", True) and not needed <= set(csm.get("skills") or ()):
                out.append(Breach("required_skills", aid, f"{chosen} lacks {sorted(needed)}"))
            region, home = account.get("region"), csm.get("region")
            if rules.get("match_region", False) and region and home and region != home:
                out.append(Breach("match_region", aid, f"region {region}, {chosen} in {home}"))
            language, spoken = account.get("language"), csm.get("languages") or ()
            if (
                rules.get("match_language", False)
                and language
                and spoken
                and language not in spoken
            ):
                out.append(Breach("match_language", aid, f"speaks {language}, {chosen} does not"))
        book = books[chosen]
        book["accounts"] += 1
        book["arr"] += arr
        book["workload"] += float(
            (account.get("workload_by_csm") or {}).get(chosen, _workload(account))
        )
        book["high_risk"] += _churn(account) >= threshold

    def smaller(*values: float | None) -> float | None:
        given = [v for v in values if v is not None]
        return min(given) if given else None

    def larger(*values: float | None) -> float | None:
        given = [v for v in values if v is not None]
        return max(given) if given else None

    def scaled(key: str, k: float) -> float | None:
        value = rules.get(key)
        return None if value is None else float(value) * k

    money_slack = TOLERANCE * max(arr_unit, 1.0)
    work_slack = TOLERANCE * max(work_unit, 1.0)
    for cid, csm in by_id.items():
        k = capacity[cid]
        book = books[cid]
        arr_target = total_arr * k / total_capacity
        work_target = total_work * k / total_capacity
        most = smaller(csm.get("max_accounts"), scaled("max_accounts_per_csm", k))
        if most is not None and book["accounts"] > _floor(most):
            out.append(
                Breach("max_accounts", cid, f"{book['accounts']:.0f} accounts > {_floor(most)}")
            )
        floor_arr = larger(csm.get("min_arr"), scaled("min_arr_per_csm", k))
        if floor_arr is not None and book["arr"] < floor_arr - money_slack:
            out.append(Breach("min_arr", cid, f"ARR {book['arr']:,.2f} < {floor_arr:,.2f}"))
        ceiling = smaller(csm.get("max_arr"), scaled("max_arr_per_csm", k))
        if ceiling is not None and book["arr"] > ceiling + money_slack:
            out.append(Breach("max_arr", cid, f"ARR {book['arr']:,.2f} > {ceiling:,.2f}"))
        for rule, value, target, slack in (
            ("arr_tolerance", book["arr"], arr_target, money_slack),
            ("workload_tolerance", book["workload"], work_target, work_slack),
        ):
            tol = rules.get(rule)
            if tol is not None and abs(value - target) > tol * target + slack:
                out.append(
                    Breach(rule, cid, f"{value:,.2f} outside {target:,.2f} ± {float(tol):.0%}")
                )
        most_work = csm.get("max_workload")
        if most_work is not None and book["workload"] > most_work + work_slack:
            out.append(
                Breach("max_workload", cid, f"workload {book['workload']:,.2f} > {most_work}")
            )
        risky = scaled("max_high_risk_per_csm", k)
        if risky is not None and book["high_risk"] > _floor(risky):
            out.append(
                Breach("max_high_risk", cid, f"{book['high_risk']:.0f} high-risk > {_floor(risky)}")
            )
    budget = rules.get("max_moves")
    if budget is not None and moves > budget:
        out.append(Breach("max_moves", "team", f"{moves} moves > {budget}"))
    arr_budget = rules.get("max_moved_arr")
    if arr_budget is not None and moved_arr > arr_budget + arr_budget * TOLERANCE + 1e-6:
        out.append(Breach("max_moved_arr", "team", f"{moved_arr:,.2f} moved > {arr_budget:,.2f}"))
    return out


# ------------------------------------------------------------------------------- the runs


def default_limit(n_accounts: int) -> float:
    """30 s up to 1,000 accounts, 60 s up to 5,000, 120 s above."""
    return 30.0 if n_accounts <= 1_000 else 60.0 if n_accounts <= 5_000 else 120.0


def run_one(
    shape: str, size: str, seed: int, limit: float, threads: int, backend: str = "auto"
) -> dict[str, Any]:
    """Generate, solve and check one scenario (in the calling process)."""
    from optimizer import Progress, Scenario, evaluate, solve

    n, m = parse_size(size)
    began = time.perf_counter()
    built = build(shape, n, m, seed)
    data = built.scenario
    data["solver"] = {
        "backend": backend,
        "time_limit_s": limit,
        "gap": REQUESTED_GAP,
        "seed": 0,
        "threads": threads,
    }
    scenario = Scenario.from_dict(data)
    setup = time.perf_counter() - began
    today = evaluate(scenario)
    firsts: dict[float, float] = {}

    def watch(p: Progress) -> None:
        if p.gap is not None and p.gap <= 0.01 and 0.01 not in firsts:
            firsts[0.01] = p.elapsed_s

    start = time.perf_counter()
    plan = solve(scenario, progress=watch)
    seconds = time.perf_counter() - start
    record: dict[str, Any] = {
        "shape": shape,
        "size": size,
        "seed": seed,
        "backend": backend,
        "time_limit_s": limit,
        "status": str(plan.status),
        "termination": str(plan.termination),
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "seconds": round(seconds, 2),
        "time_to_proof_s": round(seconds, 2) if plan.status == "optimal" else None,
        "time_to_1pct_s": None if 0.01 not in firsts else round(firsts[0.01], 2),
        "setup_s": round(setup, 2),
        "today_feasible": today.feasible,
        "today_objective": today.objective,
        "widened": built.notes,
        "message": plan.message,
        "evaluator_feasible": None,
        "evaluator_violations": [],
        "check_ok": None,
        "check_breaches": [],
        "moves": None,
    }
    if plan.has_plan:
        assignment = plan.assignment()
        scored = evaluate(scenario, assignment)
        breaches = check_plan(data, assignment)
        record.update(
            evaluator_feasible=scored.feasible,
            evaluator_violations=[f"{v.rule}: {v.message}" for v in scored.violations][:10],
            check_ok=not breaches,
            check_breaches=[str(b) for b in breaches][:10],
            moves=scored.kpis.get("moves"),
            plan_violations=len(plan.after.violations) if plan.after else None,
        )
        if plan.gap is not None and plan.gap <= 0.01 and 0.01 not in firsts:
            record["time_to_1pct_s"] = round(seconds, 2)
    return record


def _child(
    shape: str, size: str, seed: int, limit: float, threads: int, backend: str, out: Any
) -> None:
    out.put(run_one(shape, size, seed, limit, threads, backend))


def run_isolated(
    shape: str,
    size: str,
    seed: int,
    limit: float,
    threads: int,
    wall: float,
    backend: str = "auto",
) -> dict[str, Any]:
    """:func:`run_one` in a fresh process, stopped after ``wall`` seconds."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=_child, args=(shape, size, seed, limit, threads, backend, queue)
    )
    began = time.perf_counter()
    process.start()
    try:
        record: dict[str, Any] = queue.get(timeout=wall)
    except Exception:
        alive = process.is_alive()
        if alive:
            process.kill()
        waited = time.perf_counter() - began
        record = {
            "shape": shape,
            "size": size,
            "seed": seed,
            "backend": backend,
            "time_limit_s": limit,
            "status": f"no answer after {waited:.0f} s (stopped)" if alive else "crashed",
            "exitcode": process.exitcode,
            "seconds": round(waited, 2),
        }
    process.join()
    return record


def _gap(record: Mapping[str, Any]) -> float:
    """A run's gap; a run without a plan (or without a bound) counts as infinitely far."""
    gap = record.get("gap")
    has_plan = record.get("status") in ("optimal", "feasible")
    return float(gap) if has_plan and gap is not None else math.inf


def _pct(value: float) -> str:
    return "no plan" if math.isinf(value) else f"{100 * value:.3f}%"


def _secs(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def _row(runs: Sequence[Mapping[str, Any]], with_shape: bool) -> list[str]:
    gaps = [_gap(r) for r in runs]
    worst = max(runs, key=lambda r: (_gap(r), r["shape"], r["seed"]))
    proofs = [r["time_to_proof_s"] for r in runs if r.get("time_to_proof_s") is not None]
    median = statistics.median(gaps)
    broken = sum(
        1 for r in runs if r.get("evaluator_feasible") is False or r.get("check_ok") is False
    )
    where = f" ({worst['shape']}, seed {worst['seed']})" if with_shape else ""
    return [
        str(len(runs)),
        _pct(median),
        _pct(_gap(worst)) + where,
        f"{len(proofs)}/{len(runs)}",
        _secs(proofs),
        str(sum(1 for r in runs if math.isinf(_gap(r)))),
        str(broken),
    ]


def markdown(records: Sequence[Mapping[str, Any]], header: str) -> str:
    """The per-size table, then the per-shape table (one row per shape and size)."""
    sizes = list(dict.fromkeys(r["size"] for r in records))
    shapes = [s for s in SHAPES if any(r["shape"] == s for r in records)]
    cols = "| runs | median gap | worst gap | proven | median time to proof s | no plan | rule broken |"
    lines = [header, "", "| accounts x CSMs " + cols, "|---" * 8 + "|"]
    for size in sizes:
        runs = [r for r in records if r["size"] == size]
        lines.append(f"| {size} | " + " | ".join(_row(runs, True)) + " |")
    lines += ["", "| shape | accounts x CSMs " + cols, "|---" * 9 + "|"]
    for shape in shapes:
        for size in sizes:
            runs = [r for r in records if r["size"] == size and r["shape"] == shape]
            if runs:
                lines.append(f"| {shape} | {size} | " + " | ".join(_row(runs, False)) + " |")
    return "\n".join(lines) + "\n"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _ordered(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """By size (fewest accounts first), shape (in :data:`SHAPES` order), then seed."""
    return sorted(
        records,
        key=lambda r: (
            parse_size(r["size"]),
            SHAPES.index(r["shape"]) if r["shape"] in SHAPES else len(SHAPES),
            r["seed"],
        ),
    )


def _mean_load(records: Sequence[Mapping[str, Any]]) -> str:
    loads = [r["load_1min"] for r in records if r.get("load_1min") is not None]
    return f"{statistics.mean(loads):.2f}" if loads else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help="e.g. 120x6,400x12")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--seeds", default="1", help="comma-separated, e.g. 1,2,3")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per solve for every size (default: 30 s up to 1,000 accounts, "
        "60 s up to 5,000, 120 s above)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "highs", "cbc", "cpsat"),
        help="the solver every run uses (default: auto, the engine's default)",
    )
    parser.add_argument(
        "--wall",
        type=float,
        default=0.0,
        help="stop a run after this many seconds (0: 3 x limit + 120)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "robustness")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the runs already in --out's JSON, replacing those run again",
    )
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    started = dt.datetime.now()
    load_before = _load()
    kept: list[dict[str, Any]] = []
    if args.update and args.out.with_suffix(".json").exists():
        again = {(size, shape, seed) for size in sizes for shape in shapes for seed in seeds}
        kept = [
            r
            for r in json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))["runs"]
            if (r["size"], r["shape"], r["seed"]) not in again
        ]
    records: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        n, _ = parse_size(size)
        limit = args.time_limit if args.time_limit is not None else default_limit(n)
        for shape in shapes:
            for seed in seeds:
                record = run_isolated(
                    shape,
                    size,
                    seed,
                    limit,
                    args.threads,
                    args.wall or 3 * limit + 120,
                    args.backend,
                )
                record["load_1min"] = round(os.getloadavg()[0], 2)
                records.append(record)
                flag = ""
                if record.get("evaluator_feasible") is False or record.get("check_ok") is False:
                    flag = "  RULE BROKEN: " + "; ".join(
                        record.get("evaluator_violations", []) + record.get("check_breaches", [])
                    )
                print(
                    f"{size:>10} {shape:>12} seed {seed} {record['status']:>11} "
                    f"gap {_pct(_gap(record))} {record['seconds']:.1f} s{flag}",
                    flush=True,
                )
                args.out.with_suffix(".json").write_text(
                    json.dumps({"runs": _ordered(kept + records)}, indent=1) + "\n",
                    encoding="utf-8",
                )
    everything = _ordered(kept + records)
    limits = sorted({r["time_limit_s"] for r in everything})
    seeds = sorted({r["seed"] for r in everything})
    header = (
        f"Robustness, {started.date().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; backend {args.backend}, "
        f"{args.threads} solver thread(s), time limit "
        f"{'/'.join(f'{v:g}' for v in limits)} s, requested gap {REQUESTED_GAP:.2%}, seeds "
        f"{', '.join(map(str, seeds))}; {load_before} at the start, {_load()} at the end, "
        f"{_mean_load(everything)} after each run on average. "
        "Gap = (plan - bound) / plan at the end of the solve; a run without a plan counts as "
        "the worst. Time to proof: seconds of the whole solve for runs proven optimal."
    )
    if kept:
        header += (
            f" {len(records)} of the {len(everything)} runs were run again on "
            f"{started.date().isoformat()} (--update); the others are from the earlier run."
        )
    table = markdown(everything, header)
    args.out.with_suffix(".json").write_text(
        json.dumps({"header": header, "runs": everything}, indent=1) + "\n", encoding="utf-8"
    )
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print()
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
