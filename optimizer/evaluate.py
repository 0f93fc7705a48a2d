"""The one evaluator: objective terms, per-CSM books, KPIs and hard-rule violations of a plan.

The same code scores the current assignment, a plan a person wrote and the solver's output, so
"the solver's objective equals the evaluator's score of its plan" is a checkable promise.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .instance import FREEZE, LANGUAGE, LOCKED, REGION, SKILLS, TERMS, Instance
from .scenario import Scenario, ScenarioError, ScenarioIssue
from .units import money

Assignment = Mapping[str, str | None]

#: Relative tolerance for money and workload rules (solver arithmetic is floating point).
RULE_TOLERANCE = 1e-6


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
    risk_by = [0] * n_csms
    at_risk_by = [0.0] * n_csms
    industry_total = [0] * n_csms
    industry_hit = [0] * n_csms
    moves_in = [0] * n_csms
    moves_out = [0] * n_csms
    violations: list[Violation] = []
    mean_retention = (
        sum(r * c.capacity for r, c in zip(inst.retention, inst.csms, strict=True))
        / inst.total_capacity
    )
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
        risk_by[c] += inst.high_risk[a]
        at_risk_by[c] += inst.arr[a] * _adjusted_churn(
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
            violations.append(_eligibility_violation(inst, a, c, reason))

    terms["balance"] = inst.balance_excess(arr_by, work_by)
    tie_break = inst.tie_break * terms["continuity"]
    objective = sum(weights[name] * terms[name] for name in TERMS) + tie_break

    violations.extend(_book_violations(inst, arr_by, work_by, count_by, risk_by))
    rule = inst.scenario.constraints
    if rule.max_moves is not None and moves > rule.max_moves:
        violations.append(
            Violation(
                "max_moves",
                "team",
                f"{moves} accounts change CSM but max_moves is {rule.max_moves}",
                moves - rule.max_moves,
            )
        )
    if (
        rule.max_moved_arr is not None
        and moved_arr > rule.max_moved_arr * (1 + RULE_TOLERANCE) + 1e-6
    ):
        violations.append(
            Violation(
                "max_moved_arr",
                "team",
                f"{money(moved_arr)} of ARR changes CSM but max_moved_arr is {money(rule.max_moved_arr)}",
                moved_arr - rule.max_moved_arr,
            )
        )

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
            )
        )
    kpis = _kpis(
        inst, books, moves, moved_arr, sum(at_risk_by), expected_expansion, match_count, match_total
    )
    return Evaluation(objective, terms, weights, tie_break, books, kpis, violations)


def _ratio(value: float, target: float) -> float:
    return value / target if target > 0 else 0.0


def _adjusted_churn(p: float, retention: float, mean_retention: float) -> float:
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
    return {
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


def _eligibility_violation(inst: Instance, a: int, c: int, reason: str) -> Violation:
    account = inst.accounts[a]
    csm = inst.csms[c]
    current = inst.current[a]
    keeper = inst.csms[current].label if current is not None else "its current CSM"
    if reason == LOCKED:
        text = f"account {account.label} is locked to {keeper} but is assigned to {csm.label}"
    elif reason == FREEZE:
        text = (
            f"account {account.label} renews on {account.renewal_date} (within renewal_freeze_days of "
            f"{inst.scenario.as_of}) and must stay with {keeper}, not move to {csm.label}"
        )
    elif reason == SKILLS:
        missing = sorted(set(account.required_skills) - set(csm.skills))
        text = f"account {account.label} requires skill(s) {', '.join(missing)} that CSM {csm.label} lacks"
    elif reason == REGION:
        text = f"account {account.label} is in region {account.region} but CSM {csm.label} covers {csm.region}"
    elif reason == LANGUAGE:
        text = f"account {account.label} speaks {account.language}; CSM {csm.label} speaks {', '.join(csm.languages)}"
    else:  # pragma: no cover - every exclusion reason is listed above
        text = f"account {account.label} may not go to {csm.label} ({reason})"
    return Violation(reason, account.id, text)


def _book_violations(
    inst: Instance,
    arr_by: list[float],
    work_by: list[float],
    count_by: list[int],
    risk_by: list[int],
) -> list[Violation]:
    out: list[Violation] = []
    rule = inst.scenario.constraints
    for c, csm in enumerate(inst.csms):
        lim = inst.limits[c]
        arr, work = arr_by[c], work_by[c]
        slack_arr = RULE_TOLERANCE * max(inst.arr_unit, 1.0)
        slack_work = RULE_TOLERANCE * max(inst.workload_unit, 1.0)
        if lim.max_accounts is not None and count_by[c] > lim.max_accounts:
            out.append(
                Violation(
                    "max_accounts",
                    csm.id,
                    f"CSM {csm.label} has {count_by[c]} accounts but may hold at most {lim.max_accounts}",
                    count_by[c] - lim.max_accounts,
                )
            )
        if lim.min_arr is not None and arr < lim.min_arr - slack_arr:
            out.append(
                Violation(
                    "min_arr",
                    csm.id,
                    f"CSM {csm.label} covers {money(arr)} ARR, below the minimum {money(lim.min_arr)}",
                    lim.min_arr - arr,
                )
            )
        if lim.max_arr is not None and arr > lim.max_arr + slack_arr:
            out.append(
                Violation(
                    "max_arr",
                    csm.id,
                    f"CSM {csm.label} covers {money(arr)} ARR, above the maximum {money(lim.max_arr)}",
                    arr - lim.max_arr,
                )
            )
        if lim.arr_window is not None:
            lo, hi = lim.arr_window
            if not lo - slack_arr <= arr <= hi + slack_arr:
                out.append(
                    Violation(
                        "arr_tolerance",
                        csm.id,
                        f"CSM {csm.label} covers {money(arr)} ARR, outside ±{rule.arr_tolerance:.0%} of the "
                        f"{money(inst.arr_target[c])} target ({money(lo)} to {money(hi)})",
                        max(lo - arr, arr - hi),
                    )
                )
        if lim.max_workload is not None and work > lim.max_workload + slack_work:
            out.append(
                Violation(
                    "max_workload",
                    csm.id,
                    f"CSM {csm.label} carries {work:,.1f} workload units, above the maximum {lim.max_workload:,.1f}",
                    work - lim.max_workload,
                )
            )
        if lim.workload_window is not None:
            lo, hi = lim.workload_window
            if not lo - slack_work <= work <= hi + slack_work:
                out.append(
                    Violation(
                        "workload_tolerance",
                        csm.id,
                        f"CSM {csm.label} carries {work:,.1f} workload units, outside ±{rule.workload_tolerance:.0%} "
                        f"of the {inst.workload_target[c]:,.1f} target ({lo:,.1f} to {hi:,.1f})",
                        max(lo - work, work - hi),
                    )
                )
        if lim.max_high_risk is not None and risk_by[c] > lim.max_high_risk:
            out.append(
                Violation(
                    "max_high_risk",
                    csm.id,
                    f"CSM {csm.label} has {risk_by[c]} high-risk accounts but may hold at most {lim.max_high_risk}",
                    risk_by[c] - lim.max_high_risk,
                )
            )
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
