"""The one evaluator: objective terms, per-CSM books, KPIs and hard-rule violations of a plan.

The same code scores the current assignment, a plan a person wrote and the solver's output, so
"the solver's objective equals the evaluator's score of its plan" is a checkable promise.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .instance import TERMS, Instance
from .rules import (
    ACCOUNTS,
    ARR,
    HIGH_RISK,
    HOURS,
    RULE_TOLERANCE,
    WORKLOAD,
    Quantity,
    active,
    quantities,
)
from .scenario import Scenario, ScenarioError, ScenarioIssue

Assignment = Mapping[str, str | None]

__all__ = ["RULE_TOLERANCE", "Assignment", "Book", "Evaluation", "Violation", "evaluate"]


@dataclass(frozen=True)
class Violation:
    """A broken hard rule: which rule, whose (CSM or account id, or ``team``), and what happened."""

    rule: str
    subject: str
    message: str
    amount: float = 0.0


@dataclass(frozen=True)
class Book:
    """One CSM's book of business under a plan."""

    csm_id: str
    name: str | None
    capacity: float
    accounts: int
    arr: float
    arr_target: float
    arr_vs_target: float
    workload: float
    workload_target: float
    workload_vs_target: float
    high_risk: int
    arr_at_risk: float
    expertise_match_rate: float | None
    moves_in: int
    moves_out: int
    #: Capacity in hours (when the scenario tracks it): effort of the book, the CSM's hours a
    #: week, and their ratio.
    hours: float | None = None
    hours_available: float | None = None
    utilization: float | None = None
    #: Hours a quarter spent travelling to in-person accounts (when the scenario tracks it).
    travel_hours: float | None = None


@dataclass(frozen=True)
class Evaluation:
    """The score of one assignment; ``objective`` is ``sum(weights * terms) + tie_break``."""

    objective: float
    terms: dict[str, float]
    weights: dict[str, float]
    tie_break: float
    books: list[Book]
    kpis: dict[str, float | int | None]
    violations: list[Violation] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    def contributions(self) -> dict[str, float]:
        return {name: self.weights[name] * self.terms[name] for name in TERMS}

    def objective_dict(self, before: Evaluation | None = None) -> dict[str, Any]:
        """Total, tie-break and each term's value, weight and contribution (and ``before``'s)."""
        terms: dict[str, Any] = {}
        for name in TERMS:
            terms[name] = {
                "value": self.terms[name],
                "weight": self.weights[name],
                "contribution": self.weights[name] * self.terms[name],
            }
            if before is not None:
                terms[name]["before"] = before.terms[name]
        out: dict[str, Any] = {"total": self.objective, "tie_break": self.tie_break, "terms": terms}
        if before is not None:
            out["before"] = before.objective
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective_dict(),
            "kpis": self.kpis,
            "csms": [asdict(book) for book in self.books],
            "violations": [asdict(v) for v in self.violations],
            "feasible": self.feasible,
        }


def evaluate(scenario: Scenario | Instance, assignment: Assignment | None = None) -> Evaluation:
    """Score ``assignment`` (account id -> CSM id; default: each account's ``current_csm``).

    Accounts missing from ``assignment`` or mapped to ``None`` are reported as unassigned.
    Unknown account or CSM ids raise :class:`ScenarioError` naming them.
    """
    inst = scenario if isinstance(scenario, Instance) else Instance(scenario)
    if assignment is None:
        assignment = inst.scenario.current_assignment()
    chosen = _resolve(inst, assignment)
    return _score(inst, chosen)


def _resolve(inst: Instance, assignment: Assignment) -> list[int | None]:
    issues = []
    for account_id, csm_id in assignment.items():
        if account_id not in inst.account_index:
            issues.append(
                ScenarioIssue(path=f"plan.assignments[{account_id}]", message="unknown account id")
            )
        elif csm_id is not None and csm_id not in inst.csm_index:
            issues.append(
                ScenarioIssue(
                    path=f"plan.assignments[{account_id}].csm_id",
                    message=f"unknown CSM id {csm_id!r}",
                )
            )
    if issues:
        raise ScenarioError(issues)
    out: list[int | None] = []
    for account in inst.accounts:
        csm_id = assignment.get(account.id)
        out.append(None if csm_id is None else inst.csm_index[csm_id])
    return out


def _score(inst: Instance, chosen: list[int | None]) -> Evaluation:
    n_csms = len(inst.csms)
    weights = inst.weights()
    terms = dict.fromkeys(TERMS, 0.0)
    arr_by = [0.0] * n_csms
    work_by = [0.0] * n_csms
    count_by = [0] * n_csms
    hours_by = [0.0] * n_csms
    travel_by = [0.0] * n_csms
    risk_by = [0] * n_csms
    at_risk_by = [0.0] * n_csms
    industry_total = [0] * n_csms
    industry_hit = [0] * n_csms
    moves_in = [0] * n_csms
    moves_out = [0] * n_csms
    violations: list[Violation] = []
    mean_retention = inst.mean_retention
    moves = 0
    moved_arr = 0.0
    expected_expansion = 0.0
    match_count = match_total = 0

    for a, c in enumerate(chosen):
        account = inst.accounts[a]
        current = inst.current[a]
        if c is None:
            violations.append(
                Violation(
                    "assign", account.id, f"account {account.label} is not assigned to any CSM"
                )
            )
            if current is not None:  # it left its CSM: a move for continuity's sake
                terms["continuity"] += 1.0 / inst.accounts_with_current
                moves += 1
                moved_arr += inst.arr[a]
                moves_out[current] += 1
            continue
        for name, value in inst.pair_costs(a, c).items():
            terms[name] += value
        arr_by[c] += inst.arr[a]
        work_by[c] += inst.pair_workload(a, c)
        count_by[c] += 1
        hours_by[c] += inst.effort_hours[a]
        if inst.visits[a]:
            travel_by[c] += inst.travel_hours(a, c)
        risk_by[c] += inst.high_risk[a]
        at_risk_by[c] += inst.arr[a] * adjusted_churn(
            inst.p_churn[a], inst.retention[c], mean_retention
        )
        expected_expansion += inst.arr[a] * inst.potential[a] * inst.expansion_rate[c]
        if account.industry is not None:
            industry_total[c] += 1
            match_total += 1
            if inst.industry_match(a, c):
                industry_hit[c] += 1
                match_count += 1
        if current is not None and current != c:
            moves += 1
            moved_arr += inst.arr[a]
            moves_in[c] += 1
            moves_out[current] += 1
        reason = inst.exclusions[a].get(c)
        if reason is not None:
            text = inst.pair_rule(reason).violation(inst, a, c)
            violations.append(Violation(reason, account.id, text))

    terms["balance"] = inst.balance_excess(arr_by, work_by)
    # Every book and team rule of the registry, measured by the rule itself; a soft one adds
    # its excess to the soft_rules term instead.
    totals: dict[str, Sequence[float]] = {ACCOUNTS.name: count_by, ARR.name: arr_by}
    totals[WORKLOAD.name], totals[HIGH_RISK.name] = work_by, risk_by
    totals[HOURS.name] = hours_by
    terms["soft_rules"] += soft_rules_term(inst, chosen, totals)  # soft protections: above
    tie_break = inst.tie_break * terms["continuity"]
    objective = sum(weights[name] * terms[name] for name in TERMS) + tie_break
    violations.extend(book_violations(inst, chosen, totals))
    violations.extend(team_violations(inst, chosen, {"moves": moves, "moved_arr": moved_arr}))

    books = []
    for c, csm in enumerate(inst.csms):
        books.append(
            Book(
                csm_id=csm.id,
                name=csm.name,
                capacity=csm.capacity,
                accounts=count_by[c],
                arr=arr_by[c],
                arr_target=inst.arr_target[c],
                arr_vs_target=_ratio(arr_by[c], inst.arr_target[c]),
                workload=work_by[c],
                workload_target=inst.workload_target[c],
                workload_vs_target=_ratio(work_by[c], inst.workload_target[c]),
                high_risk=risk_by[c],
                arr_at_risk=at_risk_by[c],
                expertise_match_rate=None
                if industry_total[c] == 0
                else industry_hit[c] / industry_total[c],
                moves_in=moves_in[c],
                moves_out=moves_out[c],
                **_hours(inst, c, hours_by[c]),
                travel_hours=travel_by[c] if inst.tracks_travel else None,
            )
        )
    kpis = _kpis(
        inst, books, moves, moved_arr, sum(at_risk_by), expected_expansion, match_count, match_total
    )
    return Evaluation(objective, terms, weights, tie_break, books, kpis, violations)


def _hours(inst: Instance, c: int, hours: float) -> dict[str, float]:
    """A book's hours, available hours and utilization, when the scenario tracks hours."""
    if not inst.tracks_hours:
        return {}
    available = inst.hours[c]
    return {"hours": hours, "hours_available": available, "utilization": hours / available}


def _ratio(value: float, target: float) -> float:
    return value / target if target > 0 else 0.0


def adjusted_churn(p: float, retention: float, mean_retention: float) -> float:
    """Churn probability adjusted by the CSM's retention relative to the team (capped at 1)."""
    if mean_retention >= 1.0:
        return p
    return min(1.0, p * (1.0 - retention) / (1.0 - mean_retention))


def _kpis(
    inst: Instance,
    books: list[Book],
    moves: int,
    moved_arr: float,
    arr_at_risk: float,
    expected_expansion: float,
    match_count: int,
    match_total: int,
) -> dict[str, float | int | None]:
    ratios = [b.arr_vs_target for b in books]
    per_fte = [b.workload / b.capacity for b in books]
    mean_load = sum(per_fte) / len(per_fte)
    variance = sum((w - mean_load) ** 2 for w in per_fte) / len(per_fte)
    out: dict[str, float | int | None] = {
        "accounts": len(inst.accounts),
        "total_arr": inst.total_arr,
        "arr_spread": max(ratios) - min(ratios),
        "arr_max_deviation": max(abs(r - 1.0) for r in ratios),
        "workload_variance": variance,
        "workload_cv": (variance**0.5 / mean_load) if mean_load > 0 else 0.0,
        "expertise_match": None if match_total == 0 else match_count / match_total,
        "arr_at_risk": arr_at_risk,
        "arr_at_risk_share": arr_at_risk / inst.total_arr if inst.total_arr > 0 else 0.0,
        "expected_expansion_arr": expected_expansion,
        "max_high_risk_per_csm": max(b.high_risk for b in books),
        "moves": moves,
        "moved_arr": moved_arr,
    }
    if inst.tracks_travel:
        out["travel_hours"] = sum(b.travel_hours or 0.0 for b in books)
    used = [b.utilization for b in books if b.utilization is not None]
    if used:
        out["utilization_min"], out["utilization_max"] = min(used), max(used)
    return out


def book_totals(
    inst: Instance, chosen: list[int | None], given: Mapping[str, Sequence[float]]
) -> dict[str, Sequence[float]]:
    """Each CSM's total of every quantity a book rule limits (``given``: totals already
    summed, by quantity name)."""
    out = dict(given)
    for quantity in quantities(inst):
        if quantity.name not in out:
            out[quantity.name] = quantity_totals(inst, quantity, chosen)
    return out


def quantity_totals(inst: Instance, quantity: Quantity, chosen: list[int | None]) -> list[float]:
    """Each CSM's total of ``quantity`` under ``chosen``."""
    total = [0.0] * len(inst.csms)
    for a, c in enumerate(chosen):
        if c is not None:
            total[c] += inst.pair_amount(quantity, a, c)
    return total


def soft_rules_term(
    inst: Instance, chosen: list[int | None], given: Mapping[str, Sequence[float]]
) -> float:
    """The soft_rules term: every soft rule's excess per CSM, in full-time books of its
    quantity, summed and divided by the team's capacity (0 without soft rules)."""
    soft = [r for r in inst.book_rules if not r.hard and active(inst, r)]
    if not soft:
        return 0.0
    totals = book_totals(inst, chosen, given)
    excess = 0.0
    for rule in soft:
        unit = rule.quantity.unit(inst)
        values = totals[rule.quantity.name]
        for c in range(len(inst.csms)):
            excess += rule.excess(inst, values[c], inst.rule_limits[rule.name][c]) / unit
    return excess / inst.total_capacity


def book_violations(
    inst: Instance, chosen: list[int | None], given: Mapping[str, Sequence[float]]
) -> list[Violation]:
    """Every hard book rule each CSM's book breaks, CSM by CSM in registry order."""
    totals = book_totals(inst, chosen, given)
    out: list[Violation] = []
    for c, csm in enumerate(inst.csms):
        for rule in inst.book_rules:
            if not rule.hard:
                continue
            limits = inst.rule_limits[rule.name][c]
            value = totals[rule.quantity.name][c]
            amount = rule.broken_by(inst, value, limits)
            if amount > 0:
                text = rule.violation(inst, c, value, limits)
                out.append(Violation(rule.name, csm.id, text, amount))
    return out


def team_violations(
    inst: Instance, chosen: list[int | None], given: Mapping[str, float]
) -> list[Violation]:
    """Every team rule the plan's moves break (``given``: totals over the moved accounts
    already summed, by quantity name)."""
    totals = dict(given)
    moved = [
        a for a, c in enumerate(chosen) if inst.current[a] is not None and c != inst.current[a]
    ]
    for rule in inst.team_rules:
        if rule.quantity.name not in totals:
            amounts = inst.amounts(rule.quantity)
            totals[rule.quantity.name] = sum(amounts[a] for a in moved)
    out: list[Violation] = []
    for rule in inst.team_rules:
        budget = rule.budget(inst)
        if budget is None:
            continue
        value = totals[rule.quantity.name]
        amount = rule.broken_by(inst, value, budget)
        if amount > 0:
            out.append(Violation(rule.name, "team", rule.violation(inst, value, budget), amount))
    return out


# ------------------------------------------------------------------------------- plan files


def load_assignment(path: str | Path) -> dict[str, str | None]:
    """Read a plan: JSON with ``assignments: [{account_id, csm_id}]`` or a CSV with those columns."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([ScenarioIssue(path=str(path), message="plan file not found")])
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"account_id", "csm_id"} - set(reader.fieldnames or [])
            if missing:
                raise ScenarioError(
                    [
                        ScenarioIssue(
                            path=path.name,
                            message=f"missing column(s): {', '.join(sorted(missing))}",
                        )
                    ]
                )
            rows: list[Any] = [
                {"account_id": r["account_id"], "csm_id": r["csm_id"]} for r in reader
            ]
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                [ScenarioIssue(path=path.name, message=f"not valid JSON: {exc.msg}")]
            ) from None
        listed = data.get("assignments") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise ScenarioError(
                [ScenarioIssue(path=path.name, message="expected an 'assignments' list")]
            )
        rows = listed
    return assignment_from_rows(rows, source=path.name)


def assignment_from_rows(rows: list[Any], source: str = "plan") -> dict[str, str | None]:
    """``[{account_id, csm_id}, ...]`` -> ``{account_id: csm_id}``, rejecting duplicates."""
    out: dict[str, str | None] = {}
    issues = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or "account_id" not in row:
            issues.append(
                ScenarioIssue(
                    path=f"{source}.assignments[{i}]", message="needs account_id and csm_id"
                )
            )
            continue
        account_id = str(row["account_id"])
        csm_id = row.get("csm_id")
        if account_id in out:
            issues.append(
                ScenarioIssue(
                    path=f"{source}.assignments[{account_id}]", message="account listed twice"
                )
            )
        out[account_id] = None if csm_id in (None, "") else str(csm_id)
    if issues:
        raise ScenarioError(issues)
    return out
