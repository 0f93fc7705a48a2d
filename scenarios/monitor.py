"""Monitoring between re-plans: what today's books break, where they drift and who will
outgrow their owner (docs/monitor.md).

A *snapshot* is a scenario whose ``current_csm`` columns are today's owners (what
``territory import`` makes of a CRM export). :func:`monitor` scores it with the one evaluator
and raises a :class:`Finding` for every figure past its threshold in the scenario's ``monitor``
section; with an earlier snapshot or plan it also measures each book's drift and each
account's trajectory. Every finding names its CSM or account, the figure, the threshold and the
suggested action, so that a scheduler can act on the JSON and a person on the table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from optimizer import Scenario, ScenarioError, evaluate
from optimizer.evaluate import Book, Evaluation
from optimizer.instance import Instance
from optimizer.scenario import Account, Monitor, ScenarioIssue, read_json
from optimizer.units import money

from .variants import load_variant

Action = Literal["rebalance", "route", "re-segment", "review"]
Subject = Literal["csm", "account", "team"]

#: The triggers in the order findings are listed, each with what it watches.
TRIGGERS: dict[str, str] = {
    "rule_broken": "a hard rule today's books break",
    "unowned": "an account without an owner",
    "utilization_over": "a CSM's utilization above the ceiling",
    "utilization_under": "a CSM's utilization below the floor",
    "arr_over": "a book's ARR above its fair share",
    "arr_under": "a book's ARR below its fair share",
    "workload_over": "a book's workload above its fair share",
    "workload_under": "a book's workload below its fair share",
    "accounts_over": "a book's account count above its fair share",
    "accounts_under": "a book's account count below its fair share",
    "risk_concentration": "one CSM holding too much of the team's ARR at risk",
    "single_point": "a skill the team's accounts need that too few CSMs hold",
    "renewal_pileup": "too many renewals on one desk in one quarter",
    "book_drift": "a book that changed too much since the earlier snapshot",
    "off_plan": "an account not with the owner the plan gave it",
    "arr_growth": "an account growing out of its coverage",
    "arr_contraction": "an account shrinking fast",
    "health_decline": "an account whose health will fall below the floor",
    "risk_rise": "an account whose churn risk rose",
    "complexity_rise": "an account that became more complex",
    "tier_change": "an account whose coverage tier changed",
    "book_outgrowing": "a book that will pass its fair share as its accounts grow",
}


@dataclass(frozen=True)
class Finding:
    """One trigger that fired: on whom, the figure against its threshold, and what to do."""

    trigger: str
    subject: Subject
    #: The CSM's or account's id (``team`` for the team).
    id: str
    label: str
    figure: float
    threshold: float
    message: str
    action: Action
    #: The related CSM (an account's owner) or accounts (a CSM's), when there is one.
    csm: str | None = None
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class BookWatch:
    """One CSM's book today, the figures the triggers read (and their change since)."""

    csm_id: str
    name: str | None
    accounts: int
    arr: float
    arr_load: float
    workload: float
    workload_load: float
    accounts_load: float
    arr_at_risk: float
    risk_share: float
    complexity: float
    utilization: float | None
    renewals_next_quarter: int
    change: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorReport:
    """Everything ``territory monitor`` found on a snapshot."""

    scenario: str
    as_of: dt.date
    since: str | None
    since_as_of: dt.date | None
    settings: Monitor
    books: tuple[BookWatch, ...]
    findings: tuple[Finding, ...]

    @property
    def fired(self) -> bool:
        return bool(self.findings)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for finding in self.findings:
            out[finding.trigger] = out.get(finding.trigger, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "as_of": self.as_of.isoformat(),
            "since": self.since,
            "since_as_of": None if self.since_as_of is None else self.since_as_of.isoformat(),
            "fired": self.fired,
            "counts": self.counts(),
            "settings": self.settings.model_dump(mode="json"),
            "findings": [{**asdict(f), "accounts": list(f.accounts)} for f in self.findings],
            "books": [asdict(b) for b in self.books],
        }


# ------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class _Reference:
    """What the earlier snapshot (or plan) says: its date, each CSM's book figures and each
    account's figures and owner."""

    name: str
    as_of: dt.date
    books: dict[str, dict[str, float]]
    accounts: dict[str, dict[str, Any]]
    is_plan: bool


def _book_figures(book: Book, complexity: float | None) -> dict[str, float]:
    figures = {
        "arr": book.arr,
        "arr_at_risk": book.arr_at_risk,
        "workload": book.workload,
        "accounts": float(book.accounts),
    }
    if complexity is not None:
        figures["complexity"] = complexity
    return figures


def _complexities(scenario: Scenario) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for account in scenario.accounts:
        if account.current_csm:
            out[account.current_csm] += account.complexity
    return out


def _account_figures(account: Account) -> dict[str, Any]:
    return {
        "arr": account.arr,
        "health_score": account.health_score,
        "churn_probability": account.churn_probability,
        "complexity": account.complexity,
        "coverage": account.coverage,
        "owner": account.current_csm,
    }


def _snapshot_reference(scenario: Scenario, evaluation: Evaluation) -> _Reference:
    complexity = _complexities(scenario)
    return _Reference(
        name=scenario.name,
        as_of=scenario.as_of,
        books={b.csm_id: _book_figures(b, complexity.get(b.csm_id, 0.0)) for b in evaluation.books},
        accounts={a.id: _account_figures(a) for a in scenario.accounts},
        is_plan=False,
    )


def _plan_reference(plan: Mapping[str, Any]) -> _Reference:
    """A plan document (``territory solve --out``) as the reference: its books after the plan
    and the owner and ARR it gave each account."""
    issues: list[ScenarioIssue] = []
    try:
        as_of = dt.date.fromisoformat(str(plan.get("as_of")))
    except ValueError:
        issues.append(ScenarioIssue(path="since.as_of", message="the plan has no as_of date"))
        as_of = dt.date.min
    books: dict[str, dict[str, float]] = {}
    for i, row in enumerate(plan.get("csms") or []):
        after = row.get("after") if isinstance(row, Mapping) else None
        if not isinstance(after, Mapping) or "csm_id" not in row:
            issues.append(ScenarioIssue(path=f"since.csms[{i}]", message="no book after the plan"))
            continue
        books[str(row["csm_id"])] = {
            k: float(after[k]) for k in ("arr", "arr_at_risk", "workload", "accounts") if k in after
        }
    accounts: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(plan.get("assignments") or []):
        if not isinstance(row, Mapping) or "account_id" not in row:
            issues.append(ScenarioIssue(path=f"since.assignments[{i}]", message="no account_id"))
            continue
        accounts[str(row["account_id"])] = {"arr": row.get("arr"), "owner": row.get("csm_id")}
    if not books and not accounts:
        issues.append(ScenarioIssue(path="since", message="neither books nor assignments"))
    if issues:
        raise ScenarioError(issues)
    return _Reference(str(plan.get("scenario") or "plan"), as_of, books, accounts, is_plan=True)


def is_plan_document(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is a plan (``territory solve --out``) rather than a scenario."""
    return "assignments" in data and "accounts" not in data


# ------------------------------------------------------------------------------ the checks


def _quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _money(value: float) -> str:
    return money(value)


class _Monitor:
    def __init__(self, scenario: Scenario, reference: _Reference | None):
        self.scenario = scenario
        self.settings = scenario.monitor
        self.inst = Instance(scenario)
        self.evaluation = evaluate(self.inst)
        self.reference = reference
        self.findings: list[Finding] = []
        csms = scenario.csms
        self.total_capacity = sum(c.capacity for c in csms)
        self.fair = {c.id: c.capacity / self.total_capacity for c in csms}
        self.labels = {c.id: c.label for c in csms}
        self.books = {b.csm_id: b for b in self.evaluation.books}
        self.by_csm: dict[str, list[Account]] = defaultdict(list)
        for account in scenario.accounts:
            if account.current_csm:
                self.by_csm[account.current_csm].append(account)
        self.total_risk = sum(b.arr_at_risk for b in self.evaluation.books)
        self.months = (
            None
            if reference is None
            else max(0.0, (scenario.as_of - reference.as_of).days / (365.25 / 12))
        )

    def add(
        self,
        trigger: str,
        subject: Subject,
        id_: str,
        label: str,
        figure: float,
        threshold: float,
        message: str,
        action: Action,
        csm: str | None = None,
        accounts: Iterable[str] = (),
    ) -> None:
        self.findings.append(
            Finding(
                trigger,
                subject,
                id_,
                label,
                figure,
                threshold,
                message,
                action,
                csm,
                tuple(accounts),
            )
        )

    # -- today's books
    def rules(self) -> None:
        for v in self.evaluation.violations:
            subject: Subject = (
                "csm" if v.subject in self.labels else "team" if v.subject == "team" else "account"
            )
            label = self.labels.get(v.subject) or (
                self.scenario.account(v.subject).label if subject == "account" else "the team"
            )
            action: Action = "route" if v.rule == "assign" else "rebalance"
            trigger = "unowned" if v.rule == "assign" else "rule_broken"
            message = v.message if trigger == "unowned" else f"{v.rule}: {v.message}"
            self.add(trigger, subject, v.subject, label, v.amount, 0.0, message, action)

    def loads(self) -> None:
        s = self.settings
        team = self.evaluation
        total_accounts = sum(b.accounts for b in team.books)
        for book in team.books:
            label = self.labels[book.csm_id]
            ids = [a.id for a in self.by_csm[book.csm_id]]
            if book.utilization is not None:
                if s.utilization_max is not None and book.utilization > s.utilization_max:
                    self.add(
                        "utilization_over",
                        "csm",
                        book.csm_id,
                        label,
                        book.utilization,
                        s.utilization_max,
                        f"{label} is at {_pct(book.utilization)} utilization "
                        f"({book.hours:.1f} of {book.hours_available:.1f} hours a week), "
                        f"above {_pct(s.utilization_max)}",
                        "rebalance",
                        accounts=ids,
                    )
                if s.utilization_min is not None and book.utilization < s.utilization_min:
                    self.add(
                        "utilization_under",
                        "csm",
                        book.csm_id,
                        label,
                        book.utilization,
                        s.utilization_min,
                        f"{label} is at {_pct(book.utilization)} utilization, "
                        f"below {_pct(s.utilization_min)}: room for new accounts",
                        "route",
                        accounts=ids,
                    )
            fair_accounts = total_accounts * self.fair[book.csm_id]
            loads = (
                ("arr", book.arr_vs_target, f"ARR {_money(book.arr)} vs {_money(book.arr_target)}"),
                (
                    "workload",
                    book.workload_vs_target,
                    f"workload {book.workload:.1f} vs {book.workload_target:.1f}",
                ),
                (
                    "accounts",
                    book.accounts / fair_accounts if fair_accounts else 0.0,
                    f"{book.accounts} accounts vs {fair_accounts:.1f}",
                ),
            )
            for what, load, words in loads:
                if s.load_max is not None and load > s.load_max:
                    self.add(
                        f"{what}_over",
                        "csm",
                        book.csm_id,
                        label,
                        load,
                        s.load_max,
                        f"{label}'s book is at {load:.2f} x its fair share ({words}), "
                        f"above {s.load_max:.2f}",
                        "rebalance",
                        accounts=ids,
                    )
                if s.load_min is not None and load < s.load_min:
                    self.add(
                        f"{what}_under",
                        "csm",
                        book.csm_id,
                        label,
                        load,
                        s.load_min,
                        f"{label}'s book is at {load:.2f} x its fair share ({words}), "
                        f"below {s.load_min:.2f}: room to take accounts",
                        "route",
                        accounts=ids,
                    )

    def risk(self) -> None:
        s = self.settings
        if self.total_risk <= 0:
            return
        for book in self.evaluation.books:
            share = book.arr_at_risk / self.total_risk
            fair = self.fair[book.csm_id]
            label = self.labels[book.csm_id]
            limits = []
            if s.risk_share_max is not None:
                limits.append(s.risk_share_max)
            if s.risk_ratio_max is not None and len(self.books) > 1:
                limits.append(s.risk_ratio_max * fair)
            if not limits or share <= min(limits):
                continue
            limit = min(limits)
            risky = sorted(self.by_csm[book.csm_id], key=lambda a: -a.arr * a.churn_probability)
            self.add(
                "risk_concentration",
                "csm",
                book.csm_id,
                label,
                share,
                limit,
                f"{label} holds {share:.1%} of the team's ARR at risk "
                f"({_money(book.arr_at_risk)} of {_money(self.total_risk)}; a fair share "
                f"is {fair:.1%}), above {limit:.1%}",
                "rebalance",
                accounts=[a.id for a in risky[:5]],
            )

    def single_points(self) -> None:
        limit = self.settings.skill_holders_min
        if limit is None:
            return
        needing: dict[str, list[Account]] = defaultdict(list)
        for account in self.scenario.accounts:
            for skill in account.required_skills:
                needing[skill].append(account)
        for skill, accounts in sorted(needing.items()):
            holders = [c for c in self.scenario.csms if skill in c.skills]
            if len(holders) > limit:
                continue
            arr = sum(a.arr for a in accounts)
            who = ", ".join(c.label for c in holders) or "no CSM"
            subject: Subject = "csm" if len(holders) == 1 else "team"
            self.add(
                "single_point",
                subject,
                holders[0].id if len(holders) == 1 else "team",
                who,
                float(len(holders)),
                float(limit),
                f"{len(accounts)} accounts ({_money(arr)} ARR) need {skill!r}, which only "
                f"{who} {'holds' if len(holders) == 1 else 'hold'}: train or hire a second",
                "review",
                accounts=[a.id for a in accounts],
            )

    def renewals(self) -> None:
        s = self.settings
        if s.renewal_ratio_max is None:
            return
        as_of = self.scenario.as_of
        counts: dict[str, dict[str, list[Account]]] = defaultdict(lambda: defaultdict(list))
        team: dict[str, int] = defaultdict(int)
        for account in self.scenario.accounts:
            day = account.renewal_date
            if day is None or not 0 <= (day - as_of).days <= s.renewal_horizon_days:
                continue
            quarter = _quarter(day)
            team[quarter] += 1
            if account.current_csm:
                counts[account.current_csm][quarter].append(account)
        for csm_id, quarters in counts.items():
            for quarter, accounts in sorted(quarters.items()):
                fair = team[quarter] * self.fair[csm_id]
                limit = max(s.renewals_min - 1e-9, s.renewal_ratio_max * fair)
                if len(accounts) < s.renewals_min or len(accounts) <= limit:
                    continue
                label = self.labels[csm_id]
                arr = sum(a.arr for a in accounts)
                self.add(
                    "renewal_pileup",
                    "csm",
                    csm_id,
                    label,
                    float(len(accounts)),
                    limit,
                    f"{label} has {len(accounts)} renewals in {quarter} "
                    f"({_money(arr)} ARR; a fair share of the team's {team[quarter]} is "
                    f"{fair:.1f}), above {limit:.1f}",
                    "rebalance",
                    accounts=[a.id for a in accounts],
                )

    # -- since the reference
    def drift(self) -> None:
        ref, s = self.reference, self.settings
        if ref is None or s.drift_max is None:
            return
        complexity = _complexities(self.scenario)
        for book in self.evaluation.books:
            before = ref.books.get(book.csm_id)
            label = self.labels[book.csm_id]
            if before is None:
                continue
            now = _book_figures(book, complexity.get(book.csm_id, 0.0))
            for what, value in now.items():
                if what == "accounts" or what not in before:
                    continue
                then = before[what]
                if then <= 0:
                    continue
                change = value / then - 1
                if abs(change) > s.drift_max:
                    words = {"arr": "ARR", "arr_at_risk": "ARR at risk"}.get(what, what)
                    self.add(
                        "book_drift",
                        "csm",
                        book.csm_id,
                        label,
                        change,
                        s.drift_max,
                        f"{label}'s {words} {'rose' if change > 0 else 'fell'} "
                        f"{_pct(abs(change))} since {ref.name} "
                        f"({_fmt(what, then)} -> {_fmt(what, value)})",
                        "rebalance",
                    )

    def off_plan(self) -> None:
        ref = self.reference
        if ref is None or not ref.is_plan:
            return
        for account in self.scenario.accounts:
            planned = (ref.accounts.get(account.id) or {}).get("owner")
            if planned and account.current_csm and planned != account.current_csm:
                planned_label = self.labels.get(planned, planned)
                self.add(
                    "off_plan",
                    "account",
                    account.id,
                    account.label,
                    1.0,
                    0.0,
                    f"{account.label} is with {self.labels.get(account.current_csm)} but "
                    f"the plan gave it to {planned_label}",
                    "review",
                    csm=account.current_csm,
                )

    def _growth(self, account: Account, then: Mapping[str, Any] | None) -> float | None:
        """ARR change a month, in money: the change since the reference when the account is in
        both, else the account's yearly ``growth`` share of today's ARR. Linear: a quarter's
        change is not compounded (a small account that grew tenfold would project absurdly)."""
        months = self.months
        before = None if then is None else then.get("arr")
        if before is not None and months and months > 0:
            return (account.arr - float(before)) / months
        if account.growth is not None:
            return account.arr * account.growth / 12
        return None

    def trajectories(self) -> None:
        s = self.settings
        ref = self.reference
        h = s.horizon_months
        projected_book: dict[str, float] = defaultdict(float)
        for account in self.scenario.accounts:
            then = None if ref is None else ref.accounts.get(account.id)
            owner = account.current_csm
            owner_words = f" (owner {self.labels[owner]})" if owner else ""
            rate = self._growth(account, then)
            projected = account.arr if rate is None else max(0.0, account.arr + rate * h)
            if owner:
                projected_book[owner] += projected
            if rate is not None and account.arr > 0:
                change = projected / account.arr - 1
                if s.growth_max is not None and change > s.growth_max:
                    self.add(
                        "arr_growth",
                        "account",
                        account.id,
                        account.label,
                        change,
                        s.growth_max,
                        f"{account.label}{owner_words} is on course for "
                        f"{_money(projected)} ARR in {h} months (+{_pct(change)}; "
                        f"+{_pct(s.growth_max)} in about "
                        f"{s.growth_max * account.arr / rate:.1f} months): "
                        "check its coverage tier and its owner's book",
                        "re-segment",
                        csm=owner,
                    )
                if s.contraction_max is not None and change < -s.contraction_max:
                    self.add(
                        "arr_contraction",
                        "account",
                        account.id,
                        account.label,
                        change,
                        -s.contraction_max,
                        f"{account.label}{owner_words} is on course for "
                        f"{_money(projected)} ARR in {h} months ({_pct(change)}; "
                        f"-{_pct(s.contraction_max)} in about "
                        f"{s.contraction_max * account.arr / -rate:.1f} months)",
                        "review",
                        csm=owner,
                    )
            if then is None or ref is None or ref.is_plan:
                continue
            self._account_changes(account, then, owner, owner_words)
        self._books_outgrowing(projected_book)

    def _account_changes(
        self, account: Account, then: Mapping[str, Any], owner: str | None, owner_words: str
    ) -> None:
        s = self.settings
        h = s.horizon_months
        health, before = account.health_score, then.get("health_score")
        if s.health_floor is not None and health is not None and before is not None:
            months = self.months or 0.0
            slope = (health - before) / months if months > 0 else 0.0
            projected = max(0.0, health + slope * h)
            if slope < 0 and health >= s.health_floor > projected:
                self.add(
                    "health_decline",
                    "account",
                    account.id,
                    account.label,
                    projected,
                    s.health_floor,
                    f"{account.label}{owner_words}: health {before:.0f} -> {health:.0f} "
                    f"since {self.reference.name if self.reference else ''}, on course "
                    f"for {projected:.0f} in {h} months (floor {s.health_floor:.0f})",
                    "review",
                    csm=owner,
                )
        rise = account.churn_probability - float(then["churn_probability"])
        if s.risk_rise_max is not None and rise >= s.risk_rise_max:
            self.add(
                "risk_rise",
                "account",
                account.id,
                account.label,
                rise,
                s.risk_rise_max,
                f"{account.label}{owner_words}: churn probability "
                f"{then['churn_probability']:.0%} -> {account.churn_probability:.0%}",
                "review",
                csm=owner,
            )
        up = account.complexity - int(then["complexity"])
        if s.complexity_rise is not None and up >= s.complexity_rise:
            self.add(
                "complexity_rise",
                "account",
                account.id,
                account.label,
                float(up),
                float(s.complexity_rise),
                f"{account.label}{owner_words}: complexity {then['complexity']} -> "
                f"{account.complexity}",
                "rebalance",
                csm=owner,
            )
        if then.get("coverage") and account.coverage and then["coverage"] != account.coverage:
            self.add(
                "tier_change",
                "account",
                account.id,
                account.label,
                1.0,
                0.0,
                f"{account.label}{owner_words} moved from {then['coverage']} to "
                f"{account.coverage} coverage: route it to that tier's team",
                "route",
                csm=owner,
            )

    def _books_outgrowing(self, projected_book: Mapping[str, float]) -> None:
        s = self.settings
        if s.load_max is None:
            return
        total = sum(projected_book.values())
        if total <= 0:
            return
        for book in self.evaluation.books:
            target = total * self.fair[book.csm_id]
            load = projected_book.get(book.csm_id, 0.0) / target if target else 0.0
            if load > s.load_max >= book.arr_vs_target:
                label = self.labels[book.csm_id]
                self.add(
                    "book_outgrowing",
                    "csm",
                    book.csm_id,
                    label,
                    load,
                    s.load_max,
                    f"{label}'s book is on course for {load:.2f} x its fair share of ARR "
                    f"in {s.horizon_months} months (today {book.arr_vs_target:.2f})",
                    "rebalance",
                )

    # -- the table
    def watch(self) -> tuple[BookWatch, ...]:
        complexity = _complexities(self.scenario)
        total_accounts = sum(b.accounts for b in self.evaluation.books)
        as_of = self.scenario.as_of
        next_quarter = _quarter(as_of)
        rows = []
        for book in self.evaluation.books:
            fair_accounts = total_accounts * self.fair[book.csm_id]
            change: dict[str, float | None] = {}
            before = None if self.reference is None else self.reference.books.get(book.csm_id)
            if before is not None:
                now = _book_figures(book, complexity.get(book.csm_id, 0.0))
                for what, value in now.items():
                    then = before.get(what)
                    change[what] = None if not then else value / then - 1
            renewals = sum(
                1
                for a in self.by_csm[book.csm_id]
                if a.renewal_date is not None
                and a.renewal_date >= as_of
                and _quarter(a.renewal_date) == next_quarter
            )
            rows.append(
                BookWatch(
                    csm_id=book.csm_id,
                    name=book.name,
                    accounts=book.accounts,
                    arr=book.arr,
                    arr_load=book.arr_vs_target,
                    workload=book.workload,
                    workload_load=book.workload_vs_target,
                    accounts_load=book.accounts / fair_accounts if fair_accounts else 0.0,
                    arr_at_risk=book.arr_at_risk,
                    risk_share=book.arr_at_risk / self.total_risk if self.total_risk else 0.0,
                    complexity=complexity.get(book.csm_id, 0.0),
                    utilization=book.utilization,
                    renewals_next_quarter=renewals,
                    change=change,
                )
            )
        return tuple(rows)


def _fmt(what: str, value: float) -> str:
    return _money(value) if what in ("arr", "arr_at_risk") else f"{value:,.1f}"


def monitor(snapshot: Scenario, since: Scenario | Mapping[str, Any] | None = None) -> MonitorReport:
    """Every trigger of ``snapshot.monitor`` on today's books, and with ``since`` (an earlier
    snapshot, or a plan document) the drift and trajectories since then.

    Raises :class:`ScenarioError` when ``since`` is a plan document without books or dates.
    """
    if since is None:
        reference = None
    elif isinstance(since, Scenario):
        reference = _snapshot_reference(since, evaluate(since))
    else:
        reference = _plan_reference(since)
    if reference is not None and reference.as_of > snapshot.as_of:
        raise ScenarioError(
            [
                ScenarioIssue(
                    path="since.as_of",
                    message=f"the earlier snapshot ({reference.as_of}) is dated after this one "
                    f"({snapshot.as_of})",
                )
            ]
        )
    m = _Monitor(snapshot, reference)
    m.rules()
    m.loads()
    m.risk()
    m.single_points()
    m.renewals()
    m.drift()
    m.off_plan()
    m.trajectories()
    order = {name: i for i, name in enumerate(TRIGGERS)}
    findings = sorted(
        m.findings, key=lambda f: (order[f.trigger], -abs(f.figure - f.threshold), f.id)
    )
    return MonitorReport(
        scenario=snapshot.name,
        as_of=snapshot.as_of,
        since=None if reference is None else reference.name,
        since_as_of=None if reference is None else reference.as_of,
        settings=snapshot.monitor,
        books=m.watch(),
        findings=tuple(findings),
    )


def load_reference(path: str | Path) -> Scenario | dict[str, Any]:
    """An earlier snapshot (a scenario file) or a plan file, by what the file holds."""
    data = read_json(path)
    return data if is_plan_document(data) else load_variant(path)


__all__ = [
    "TRIGGERS",
    "BookWatch",
    "Finding",
    "MonitorReport",
    "is_plan_document",
    "load_reference",
    "monitor",
]
