"""Routing new accounts between re-plans: place the accounts without an owner, move nobody else.

The objective and the hard rules are the plan's own (:class:`~optimizer.instance.Instance`,
the rules registry); prices come from the counterfactual scorer
(:class:`~optimizer.explain.counterfactual.MoveScorer`): placing account ``a`` with CSM ``c``
changes only ``c``'s book, so its cost is exact, and the best allowed CSM for one account is
where the full solve with every other account locked would put it.

A batch is placed largest first, then improved by re-placing each of its accounts while that
lowers the objective (a local optimum over the batch); ``exact=True`` also solves the model
with every other account locked, warm-started from that placement, and keeps the better.

When no CSM may take an account, every candidate says which rule blocks it, and the cheapest
single move of another account out of a blocked book that makes room is priced.

:class:`Router` keeps a snapshot validated between calls (the HTTP server keeps one per
snapshot), so that one account into a 20,000 x 100 book is answered in a fraction of a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .explain.counterfactual import Alternative, MoveScorer
from .instance import Instance
from .rules import RULES
from .scenario import Account, Scenario, ScenarioError, ScenarioIssue

#: How many candidates a placement lists (best first), besides the blocked ones it explains.
CANDIDATES = 5
#: How many of the cheapest blocked CSMs the rebalance search tries.
REBALANCE_CANDIDATES = 3
#: Re-placement passes over a batch at most (each pass that changes nothing ends the search).
PASSES = 20

Method = Literal["single", "batch", "solve"]


@dataclass(frozen=True)
class Candidate:
    """One CSM for the account: the objective change of placing it there and what blocks it."""

    csm_id: str
    csm_name: str | None
    cost: float
    allowed: bool
    broken: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Rebalance:
    """Room made for an account no CSM can take: ``account_id`` leaves ``from_csm`` for
    ``to_csm``, and the new account goes to ``from_csm``."""

    account_id: str
    from_csm: str
    to_csm: str
    cost: float
    text: str


@dataclass(frozen=True)
class Placement:
    """Where one account without an owner goes, why, and the alternatives."""

    account_id: str
    account_name: str | None
    csm_id: str | None
    csm_name: str | None
    #: The objective change of this placement (given the batch's other placements).
    cost: float | None
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    rebalance: Rebalance | None = None

    @property
    def placed(self) -> bool:
        return self.csm_id is not None


@dataclass(frozen=True)
class Routing:
    """The placements of one routing request."""

    scenario: str
    method: Method
    placements: tuple[Placement, ...]
    #: The objective change of all placements together (placed accounts only).
    cost: float
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def all_placed(self) -> bool:
        return all(p.placed for p in self.placements)

    def assignment(self) -> dict[str, str | None]:
        return {p.account_id: p.csm_id for p in self.placements}

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "method": self.method,
            "all_placed": self.all_placed,
            "cost": self.cost,
            "seconds": self.seconds,
            "notes": list(self.notes),
            "placements": [
                {
                    **asdict(p),
                    "placed": p.placed,
                    "reasons": list(p.reasons),
                    "candidates": [
                        {**asdict(c), "broken": list(c.broken), "rules": list(c.rules)}
                        for c in p.candidates
                    ],
                }
                for p in self.placements
            ],
        }


class Router:
    """A snapshot kept ready for routing: its scenario, validated once.

    ``route`` places new accounts (without any, the snapshot's own accounts without an owner);
    with
    ``commit=True`` the placed accounts join the snapshot with their new owners, so that the
    next request sees them.
    """

    def __init__(self, snapshot: Scenario):
        self.snapshot = snapshot
        self._ids = {a.id for a in snapshot.accounts}
        settings = snapshot.model_dump(mode="json", exclude={"accounts"})
        # Overrides name the snapshot's accounts: the new ones are checked without them.
        settings["constraints"].pop("overrides", None)
        self._settings = settings

    # ------------------------------------------------------------------ input
    def new_accounts(self, rows: Iterable[Mapping[str, Any] | Account]) -> tuple[Account, ...]:
        """Validate new accounts against the snapshot: every field, references to its CSMs
        and locations, ids unique; no owner yet. Raises :class:`ScenarioError` naming each
        account and field."""
        data = [
            r.model_dump(mode="json", exclude_defaults=True) if isinstance(r, Account) else r
            for r in rows
        ]
        issues: list[ScenarioIssue] = []
        if not data:
            issues.append(ScenarioIssue(path="accounts", message="no account to route"))
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                issues.append(ScenarioIssue(path=f"accounts[{i}]", message="not an object"))
                continue
            key = str(row.get("id") or i).strip()
            if key in self._ids:
                issues.append(
                    ScenarioIssue(
                        path=f"accounts[{key}].id",
                        message="the snapshot already has an account with this id",
                    )
                )
            if row.get("current_csm") or row.get("locked") is True:
                issues.append(
                    ScenarioIssue(
                        path=f"accounts[{key}].current_csm",
                        message="an account to route has no owner yet (leave current_csm empty)",
                    )
                )
        checked: Scenario | None = None
        try:
            checked = Scenario.from_dict({**self._settings, "accounts": data}) if data else None
        except ScenarioError as exc:
            issues.extend(exc.issues)
        if issues or checked is None:
            raise ScenarioError(issues)
        return checked.accounts

    # ------------------------------------------------------------------ routing
    def route(
        self,
        rows: Iterable[Mapping[str, Any] | Account] = (),
        *,
        commit: bool = False,
        exact: bool = False,
        time_limit_s: float | None = None,
    ) -> Routing:
        """Place ``rows`` (new accounts); without rows, the snapshot's accounts without an
        owner. Other accounts without an owner stay so (in no book)."""
        start = time.perf_counter()
        rows = list(rows)
        new = self.new_accounts(rows) if rows else ()
        combined = self.snapshot
        if new:
            combined = self.snapshot.model_copy(
                update={"accounts": (*self.snapshot.accounts, *new)}
            )
        only = [a.id for a in new] if new else None
        routing = route_accounts(
            combined, only=only, exact=exact, time_limit_s=time_limit_s, start=start
        )
        if commit:
            self.commit(combined, routing)
        return routing

    def commit(self, combined: Scenario, routing: Routing) -> None:
        """Keep ``combined`` with the placed accounts owned by their CSMs."""
        owners = {p.account_id: p.csm_id for p in routing.placements if p.placed}
        accounts = tuple(
            a.model_copy(update={"current_csm": owners[a.id]}) if a.id in owners else a
            for a in combined.accounts
        )
        self.snapshot = combined.model_copy(update={"accounts": accounts})
        self._ids = {a.id for a in accounts}


def route_accounts(
    scenario: Scenario,
    *,
    only: Iterable[str] | None = None,
    exact: bool = False,
    time_limit_s: float | None = None,
    start: float | None = None,
) -> Routing:
    """Place the accounts of ``scenario`` without a ``current_csm`` (``only``: just these of
    them; the others stay without an owner, in no book); nobody else moves."""
    start = time.perf_counter() if start is None else start
    inst = Instance(scenario)
    unowned = [a for a, c in enumerate(inst.current) if c is None]
    wanted = None if only is None else set(only)
    targets = [a for a in unowned if wanted is None or inst.accounts[a].id in wanted]
    if not targets:
        raise ScenarioError(
            [ScenarioIssue(path="accounts", message="every account has an owner: none to route")]
        )
    chosen: list[int | None] = list(inst.current)
    scorer = MoveScorer(inst, chosen)
    order = sorted(targets, key=lambda a: (-inst.arr[a], inst.accounts[a].id))
    for a in order:
        best = _best_allowed(scorer, a)
        if best is not None:
            scorer.place(a, best.csm)
    method: Method = "single" if len(targets) == 1 else "batch"
    notes: list[str] = []
    if len(targets) > 1:
        _improve(scorer, order)
    if exact and len(targets) > 1:
        if len(unowned) > len(targets):
            notes.append(
                f"no joint solve: {len(unowned) - len(targets)} other accounts of the snapshot "
                "have no owner, and the solve would place them too (route them first); the "
                "local placement stands"
            )
        else:
            method = "solve"
            notes.append(_solve_locked(scenario, inst, scorer, targets, time_limit_s))
    placements = tuple(_placement(inst, scorer, a) for a in order)
    past = _books_past_rules(inst, scorer)
    if past:
        notes.append(
            "books past a hard rule as they stand (rules relative to the team's average move "
            "with its ARR; a routed account never goes to a book it would push past a rule): "
            + "; ".join(past)
        )
    cost = sum(p.cost for p in placements if p.cost is not None)
    seconds = time.perf_counter() - start
    return Routing(scenario.name, method, placements, cost, seconds, tuple(notes))


def _best_allowed(scorer: MoveScorer, a: int) -> Alternative | None:
    return next((alt for alt in scorer.alternatives(a) if alt.allowed), None)


def _improve(scorer: MoveScorer, batch: Sequence[int]) -> None:
    """Re-place each account of the batch with its best allowed CSM while that lowers the
    objective; an unplaced one is placed as soon as a CSM may take it."""
    for _ in range(PASSES):
        changed = False
        for a in batch:
            best = _best_allowed(scorer, a)
            if best is None:
                continue
            if scorer.chosen[a] is None or best.delta < -1e-12:
                scorer.place(a, best.csm)
                changed = True
        if not changed:
            return


def _solve_locked(
    scenario: Scenario,
    inst: Instance,
    scorer: MoveScorer,
    targets: Sequence[int],
    time_limit_s: float | None,
) -> str:
    """Solve the batch jointly with every other account locked, from the local optimum; keep
    the solver's placement when it is better. Returns a note saying what happened."""
    from .evaluate import evaluate
    from .solve import solve

    keep = set(targets)
    locked = scenario.model_copy(
        update={
            "accounts": tuple(
                a if i in keep else a.model_copy(update={"locked": True})
                for i, a in enumerate(scenario.accounts)
            )
        }
    )
    start_plan = {inst.accounts[a].id: _csm_id(inst, scorer.chosen[a]) for a in targets}
    plan = solve(locked, time_limit_s=time_limit_s, warm_start=start_plan, score_like=scenario)
    if not plan.has_plan:
        return (
            f"the solve with every other account locked found no plan ({plan.status}): "
            "today's books may break a hard rule; the local placement stands"
        )
    assignment = plan.assignment()
    ours = evaluate(inst, {**scenario.current_assignment(), **start_plan}).objective
    theirs = evaluate(inst, assignment).objective
    gap = "" if plan.gap is None else f", gap {plan.gap:.3%}"
    if theirs < ours - 1e-12:
        for a in targets:
            scorer.place(a, None)
        for a in targets:
            scorer.place(a, inst.csm_index[str(assignment[inst.accounts[a].id])])
        return f"solved with every other account locked ({plan.status}{gap}): {ours - theirs:.6f} better than the local placement"
    return f"solved with every other account locked ({plan.status}{gap}): the local placement is as good"


def _csm_id(inst: Instance, c: int | None) -> str | None:
    return None if c is None else inst.csms[c].id


def _candidate(inst: Instance, alt: Alternative) -> Candidate:
    csm = inst.csms[alt.csm]
    return Candidate(csm.id, csm.name, alt.delta, alt.allowed, alt.broken, alt.rules, alt.terms)


def _placement(inst: Instance, scorer: MoveScorer, a: int) -> Placement:
    account = inst.accounts[a]
    c = scorer.chosen[a]
    if c is None:
        options = scorer.alternatives(a)
        candidates = tuple(_candidate(inst, alt) for alt in options)
        rebalance = _rebalance(inst, scorer, a, options)
        reasons = ["no CSM can take the account under the rules"]
        if rebalance is not None:
            reasons.append(rebalance.text)
        return Placement(
            account.id, account.name, None, None, None, tuple(reasons), candidates, rebalance
        )
    # Every CSM priced as if the account had none yet (the batch's others where they are).
    scorer.place(a, None)
    options = scorer.alternatives(a)
    scorer.place(a, c)
    here = next(alt for alt in options if alt.csm == c)
    candidates = tuple(_candidate(inst, alt) for alt in options[:CANDIDATES])
    blocked = [alt for alt in options[CANDIDATES:] if not alt.allowed and alt.delta < here.delta]
    candidates += tuple(_candidate(inst, alt) for alt in blocked)
    return Placement(
        account.id,
        account.name,
        inst.csms[c].id,
        inst.csms[c].name,
        here.delta,
        tuple(_reasons(inst, a, c, here, options)),
        candidates,
    )


def _reasons(
    inst: Instance, a: int, c: int, here: Alternative, options: Sequence[Alternative]
) -> list[str]:
    account = inst.accounts[a]
    allowed = [alt for alt in options if alt.allowed]
    out = [
        f"the lowest objective change of the {len(allowed)} CSMs the rules allow "
        f"({here.delta:+.5f}{_terms_text(here)})"
    ]
    if inst.industry_match(a, c) and account.industry:
        out.append(f"industry match: {account.industry}")
    if account.required_skills:
        out.append(f"has the required skills: {', '.join(account.required_skills)}")
    runner = next((alt for alt in allowed if alt.csm != c), None)
    if runner is not None:
        out.append(
            f"runner-up {inst.csms[runner.csm].label}: {runner.delta - here.delta:.5f} worse"
        )
    better = next((alt for alt in options if not alt.allowed and alt.delta < here.delta), None)
    if better is not None:
        out.append(f"{inst.csms[better.csm].label} would cost less but {better.broken[0]}")
    return out


def _terms_text(alt: Alternative, top: int = 3) -> str:
    """The terms that move the most, signed: ": balance -0.00859, churn_risk +0.00120"."""
    moves = sorted(alt.terms.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:top]
    moves = [(k, v) for k, v in moves if abs(v) > 5e-6]
    return (": " + ", ".join(f"{k} {v:+.5f}" for k, v in moves)) if moves else ""


def _rules_broken(inst: Instance, scorer: MoveScorer, c: int) -> list[str]:
    """The hard book rules book ``c`` breaks as the scorer's plan stands."""
    out = []
    for quantity, _, _, limited in scorer.checks:
        value = scorer.totals[quantity.name][c]
        for rule, limits in limited:
            if rule.broken_by(inst, value, limits[c]) > 0:
                out.append(rule.name)
    return out


def _book_broken(inst: Instance, scorer: MoveScorer, c: int) -> bool:
    return bool(_rules_broken(inst, scorer, c))


def _books_past_rules(inst: Instance, scorer: MoveScorer) -> list[str]:
    out = []
    for c, csm in enumerate(inst.csms):
        rules = _rules_broken(inst, scorer, c)
        if rules:
            out.append(f"{csm.label} ({', '.join(rules)})")
    return out


def _rebalance(
    inst: Instance, scorer: MoveScorer, a: int, options: Sequence[Alternative]
) -> Rebalance | None:
    """The cheapest single move of another account out of a book that only its book rules
    close to ``a``, after which ``a`` fits there."""
    pair_rules = {rule.name for rule in RULES.pair}
    blocked = [
        alt
        for alt in options
        if alt.rules and not (set(alt.rules) & pair_rules) and not _team_only(inst, alt)
    ][:REBALANCE_CANDIDATES]
    best: Rebalance | None = None
    for alt in blocked:
        c = alt.csm
        scorer.place(a, c)
        for b, holder in enumerate(scorer.chosen):
            if holder != c or b == a or inst.current[b] is None:
                continue
            scorer.place(b, None)
            fixed = not _book_broken(inst, scorer, c)
            scorer.place(b, c)
            if not fixed:
                continue
            move = _best_allowed(scorer, b)
            if move is None:
                continue
            cost = alt.delta + move.delta
            if best is None or cost < best.cost - 1e-12:
                giver, taker = inst.csms[c], inst.csms[move.csm]
                text = (
                    f"cheapest room: move {inst.accounts[b].label} from {giver.label} to "
                    f"{taker.label}, then {inst.accounts[a].label} fits with {giver.label} "
                    f"(objective {cost:+.5f}; today {alt.broken[0]})"
                )
                best = Rebalance(inst.accounts[b].id, giver.id, taker.id, cost, text)
        scorer.place(a, None)
    return best


def _team_only(inst: Instance, alt: Alternative) -> bool:
    team = {rule.name for rule in inst.team_rules}
    return set(alt.rules) <= team


__all__ = [
    "Candidate",
    "Placement",
    "Rebalance",
    "Router",
    "Routing",
    "route_accounts",
]
