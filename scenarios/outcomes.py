"""Learning from what happened: a plan's predictions against the actual renewals, churn,
contraction and expansion (docs/monitor.md, "Outcomes").

``territory outcomes PLAN --scenario SCENARIO --actuals actuals.csv`` compares, per CSM, per
segment and for moved against kept accounts, the churn and expansion the plan's model expected
over the period with what the actuals say; checks the calibration of the churn inputs
(predicted probability bands against observed churn); and re-estimates each CSM's retention and
expansion rate the way the model uses them, with a 95% interval and the number of accounts
behind each, written as a CSM table the next scenario can read.

The model (optimizer/explain/projection.py): an account with CSM ``c`` churns within ``m``
months with probability ``1 - (1 - p_c)^(m/12)``, ``p_c = churn x (1 - retention_c) / (1 -
mean retention)``, a moved account's ``p`` raised by ``handoff_churn`` for its handoff quarter;
its expected expansion is ``arr x potential x expansion_rate_c x m/12 x survival``.

Re-estimates: the multiplier ``k_c`` of the CSM's accounts' churn inputs for which the model
expects as many churned accounts as happened (the risk mix is accounted for), so
``retention_c = 1 - k_c (1 - mean retention)``; ``expansion_rate_c = actual expansion / sum(arr
x potential x m/12)`` over the accounts that stayed. Intervals (95%): for retention, the
multipliers at which the churned count is at the 2.5% tails of its exact distribution (a
Clopper-Pearson interval for a sum of unequal probabilities); for expansion,
1,000 bootstrap resamples of the CSM's accounts (seeded: the same input gives the same table).
A CSM with fewer than ``min_accounts`` accounts keeps the input rate.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optimizer import Scenario, ScenarioError, ScenarioIssue
from optimizer.evaluate import adjusted_churn
from optimizer.instance import Instance
from optimizer.tables import field_kinds, plain_value, read_records, read_sheet

Outcome = Literal["renewed", "churned", "contracted", "expanded"]

#: Probability bands of the calibration table (of churn within the period).
BANDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
#: Bootstrap resamples of each CSM's accounts.
RESAMPLES = 1000
#: z of a 95% interval.
Z95 = 1.959964


class Actual(BaseModel):
    """One account's outcome over the period: ``amount`` is the ARR lost (churned,
    contracted; default for churned: the account's ARR) or gained (expanded)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account_id: str = Field(min_length=1)
    outcome: Outcome
    amount: float | None = Field(default=None, ge=0.0)
    date: dt.date | None = None
    #: Who actually owned the account (default: the plan's CSM).
    csm_id: str | None = None


def read_actuals(path: str | Path) -> list[Actual]:
    """The actuals table (CSV or XLSX): every bad cell or row named by file, row and column."""
    table = read_sheet(path)
    kinds = field_kinds(Actual)
    fields = {i: (h, kinds.get(h)) for i, h in enumerate(table.headers) if h}
    issues = [
        ScenarioIssue(path=table.where(table.header_row, h), message="unknown column")
        for h in table.headers
        if h and h not in kinds
    ]
    issues += [
        ScenarioIssue(path=table.label, message=f"missing column {name!r}")
        for name in ("account_id", "outcome")
        if name not in table.headers
    ]
    if issues:
        raise ScenarioError(issues)
    read = read_records(table, {i: f for i, f in fields.items()}, plain_value)
    issues = [issue for _, issue in read.problems]
    out: list[Actual] = []
    seen: dict[str, int] = {}
    for position, record in enumerate(read.records):
        row = table.row_numbers[position]
        if any(p == position for p, _ in read.bad):
            continue
        try:
            actual = Actual.model_validate(record)
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else None
                issues.append(ScenarioIssue(path=table.where(row, column), message=error["msg"]))
            continue
        if actual.account_id in seen:
            issues.append(
                ScenarioIssue(
                    path=table.where(row, "account_id"),
                    message=f"account {actual.account_id} again (first on row "
                    f"{seen[actual.account_id]})",
                )
            )
            continue
        seen[actual.account_id] = row
        out.append(actual)
    if issues:
        raise ScenarioError(issues)
    return out


@dataclass(frozen=True)
class Comparison:
    """Predicted against actual for one group of accounts."""

    group: str
    accounts: int
    predicted_churned: float
    churned: int
    predicted_churned_arr: float
    churned_arr: float
    contracted_arr: float
    predicted_expansion_arr: float
    expansion_arr: float


@dataclass(frozen=True)
class Band:
    """Accounts whose predicted churn over the period falls in ``[low, high)``."""

    low: float
    high: float
    accounts: int
    predicted: float
    observed: float
    interval: tuple[float, float]

    @property
    def consistent(self) -> bool:
        return self.interval[0] <= self.predicted <= self.interval[1]


@dataclass(frozen=True)
class Estimate:
    """One CSM's rates re-estimated from the outcomes."""

    csm_id: str
    name: str | None
    accounts: int
    churned: int
    retention_input: float
    retention: float | None
    retention_interval: tuple[float, float] | None
    expansion_input: float
    expansion_rate: float | None
    expansion_interval: tuple[float, float] | None
    note: str = ""


@dataclass(frozen=True)
class OutcomeReport:
    scenario: str
    plan_as_of: dt.date
    months: float
    accounts: int
    missing: tuple[str, ...]
    by_csm: tuple[Comparison, ...]
    by_segment: tuple[Comparison, ...]
    by_move: tuple[Comparison, ...]
    total: Comparison
    calibration: tuple[Band, ...]
    estimates: tuple[Estimate, ...]
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["plan_as_of"] = self.plan_as_of.isoformat()
        for band, row in zip(self.calibration, out["calibration"], strict=True):
            row["consistent"] = band.consistent
        return out


@dataclass
class _Row:
    """One account's prediction and outcome."""

    account: int
    csm: int
    moved: bool
    p_input: float
    p_period: float
    expansion_basis: float
    predicted_expansion: float
    churned: bool
    churned_arr: float
    contracted_arr: float
    expansion_arr: float


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _compare(group: str, rows: Sequence[_Row], arr: Sequence[float]) -> Comparison:
    return Comparison(
        group=group,
        accounts=len(rows),
        predicted_churned=sum(r.p_period for r in rows),
        churned=sum(r.churned for r in rows),
        predicted_churned_arr=sum(arr[r.account] * r.p_period for r in rows),
        churned_arr=sum(r.churned_arr for r in rows),
        contracted_arr=sum(r.contracted_arr for r in rows),
        predicted_expansion_arr=sum(r.predicted_expansion for r in rows),
        expansion_arr=sum(r.expansion_arr for r in rows),
    )


def outcomes(
    scenario: Scenario,
    plan: Mapping[str, Any],
    actuals: Sequence[Actual],
    *,
    months: float | None = None,
    min_accounts: int = 10,
    seed: int = 0,
) -> OutcomeReport:
    """Compare ``plan`` (a plan document of ``scenario``) with ``actuals`` over ``months``
    (default: from the plan's ``as_of`` to the last actual's date, else 12)."""
    inst = Instance(scenario)
    issues: list[ScenarioIssue] = []
    owner: dict[str, str] = {}
    for row in plan.get("assignments") or []:
        if isinstance(row, Mapping) and row.get("account_id") and row.get("csm_id"):
            owner[str(row["account_id"])] = str(row["csm_id"])
    if not owner:
        issues.append(ScenarioIssue(path="plan.assignments", message="the plan assigns nobody"))
    try:
        as_of = dt.date.fromisoformat(str(plan.get("as_of")))
    except ValueError:
        issues.append(ScenarioIssue(path="plan.as_of", message="the plan has no as_of date"))
        as_of = scenario.as_of
    for account_id in owner:
        if account_id not in inst.account_index:
            issues.append(
                ScenarioIssue(
                    path=f"plan.assignments[{account_id}]",
                    message="not an account of the scenario: is it the plan's scenario?",
                )
            )
    by_id = {a.account_id: a for a in actuals}
    for actual in actuals:
        if actual.account_id not in inst.account_index:
            issues.append(
                ScenarioIssue(path=f"actuals[{actual.account_id}]", message="unknown account id")
            )
        if actual.csm_id is not None and actual.csm_id not in inst.csm_index:
            issues.append(
                ScenarioIssue(
                    path=f"actuals[{actual.account_id}].csm_id",
                    message=f"unknown CSM id {actual.csm_id!r}",
                )
            )
        if actual.date is not None and actual.date < as_of:
            issues.append(
                ScenarioIssue(
                    path=f"actuals[{actual.account_id}].date",
                    message=f"{actual.date} is before the plan ({as_of})",
                )
            )
        if actual.outcome in ("contracted", "expanded") and actual.amount is None:
            issues.append(
                ScenarioIssue(
                    path=f"actuals[{actual.account_id}].amount",
                    message=f"a {actual.outcome} account needs the amount of ARR it "
                    f"{'lost' if actual.outcome == 'contracted' else 'gained'}",
                )
            )
    if issues:
        raise ScenarioError(issues)
    if months is None:
        last = max((a.date for a in actuals if a.date is not None), default=None)
        months = 12.0 if last is None else max(1.0, (last - as_of).days / (365.25 / 12))
    bump = scenario.transition.handoff_churn
    rows: list[_Row] = []
    missing: list[str] = []
    for account_id, csm_id in owner.items():
        a = inst.account_index[account_id]
        found = by_id.get(account_id)
        if found is None:
            missing.append(account_id)
            continue
        c = inst.csm_index[found.csm_id or csm_id]
        current = inst.current[a]
        moved = current is not None and current != inst.csm_index[csm_id]
        p_input = inst.p_churn[a]
        p = adjusted_churn(p_input, inst.retention[c], inst.mean_retention)
        exact_alive = _survival(p, months, bump if moved else 0.0)
        churned = found.outcome == "churned"
        # The rate's basis: the ARR that stayed to expand (the model's rate is per surviving
        # ARR: expected expansion = ARR x potential x rate x months/12 x survival).
        basis = 0.0 if churned else inst.arr[a] * inst.potential[a] * months / 12
        amount = found.amount
        rows.append(
            _Row(
                account=a,
                csm=c,
                moved=moved,
                p_input=p_input,
                p_period=1.0 - exact_alive,
                expansion_basis=basis,
                predicted_expansion=inst.arr[a]
                * inst.potential[a]
                * months
                / 12
                * exact_alive
                * inst.expansion_rate[c],
                churned=churned,
                churned_arr=(inst.arr[a] if amount is None else amount) if churned else 0.0,
                contracted_arr=(amount or 0.0) if found.outcome == "contracted" else 0.0,
                expansion_arr=(amount or 0.0) if found.outcome == "expanded" else 0.0,
            )
        )
    arr = inst.arr
    by_csm = []
    groups: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        groups[r.csm].append(r)
    for c, csm in enumerate(inst.csms):
        if groups.get(c):
            by_csm.append(_compare(csm.label, groups[c], arr))
    segments: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        account = inst.accounts[r.account]
        segments[account.coverage or account.region or "(none)"].append(r)
    by_segment = [_compare(name, segments[name], arr) for name in sorted(segments)]
    by_move = [
        _compare(name, [r for r in rows if r.moved is flag], arr)
        for name, flag in (("moved", True), ("kept", False))
        if any(r.moved is flag for r in rows)
    ]
    return OutcomeReport(
        scenario=scenario.name,
        plan_as_of=as_of,
        months=months,
        accounts=len(rows),
        missing=tuple(missing),
        by_csm=tuple(by_csm),
        by_segment=tuple(by_segment),
        by_move=tuple(by_move),
        total=_compare("all", rows, arr),
        calibration=tuple(_calibration(rows)),
        estimates=tuple(_estimates(inst, groups, min_accounts, seed, months, bump)),
        assumptions=(
            f"Period: {months:.1f} months from the plan's as_of ({as_of}).",
            "Predicted churn within the period: 1 - (1 - p)^(months/12), p the churn input "
            "scaled by the CSM's retention against the team's mean; a moved account's p "
            f"raised by {bump:.0%} (transition.handoff_churn) for its handoff quarter.",
            "Predicted expansion: ARR x expansion_potential x the CSM's expansion_rate x "
            "months/12 x survival; actual expansion: the expanded amounts.",
            "Each account counts with the CSM who owned it (actuals csm_id, else the plan's).",
            f"Intervals: 95%; Wilson for the calibration bands; the churned "
            f"count's exact tails for retention; {RESAMPLES} bootstrap resamples of each CSM's "
            f"accounts for expansion; fewer than {min_accounts} accounts keep the input rate.",
        ),
    )


def _survival(p: float, months: float, bump: float) -> float:
    """``survival`` for fractional months."""
    p = min(max(p, 0.0), 1.0)
    first = min(months, 3.0) if bump else 0.0
    raised = min(p + bump, 1.0)
    return (1.0 - raised) ** (first / 12) * (1.0 - p) ** ((months - first) / 12)


def _calibration(rows: Sequence[_Row]) -> list[Band]:
    out = []
    for low, high in itertools.pairwise(BANDS):
        inside = [r for r in rows if low <= r.p_period < high or (high == 1.0 and r.p_period == 1)]
        if not inside:
            continue
        churned = sum(r.churned for r in inside)
        out.append(
            Band(
                low=low,
                high=high,
                accounts=len(inside),
                predicted=sum(r.p_period for r in inside) / len(inside),
                observed=churned / len(inside),
                interval=_wilson(churned, len(inside)),
            )
        )
    return out


def _churn_probabilities(
    k: np.ndarray, p: np.ndarray, bump: np.ndarray, months: float
) -> np.ndarray:
    """Churn within ``months`` of accounts with annual probabilities ``k x p`` (``k`` one per
    row; ``p``, ``bump`` one per account or per row and account), a handoff ``bump`` added for
    the first quarter."""
    q = np.minimum(k[:, None] * p, 1.0)
    if not (bump > 0).any():  # the common case, without a power when the period is a year
        alive = 1 - q if months == 12 else (1 - q) ** (months / 12)
    else:
        first = np.where(bump > 0, min(months, 3.0), 0.0)
        raised = np.minimum(q + bump, 1.0)
        alive = (1 - raised) ** (first / 12) * (1 - q) ** ((months - first) / 12)
    return np.asarray(1 - alive)


def _top(p: np.ndarray) -> float:
    positive = p[p > 0]
    return min(1.0 / positive.min() if positive.size else 1.0, 1e6)


def _multiplier(p: np.ndarray, bump: np.ndarray, months: float, churned: np.ndarray) -> np.ndarray:
    """Per row of ``p`` (samples x accounts): the ``k`` for which the model's expected churn
    within ``months``, each account at ``k x p`` (plus its handoff ``bump`` for the first
    quarter), equals ``churned`` (bisection; the expectation rises with ``k``)."""
    low = np.zeros(churned.shape)
    high = np.full(churned.shape, _top(p))
    for _ in range(40):
        mid = (low + high) / 2
        over = _churn_probabilities(mid, p, bump, months).sum(axis=1) > churned
        high = np.where(over, mid, high)
        low = np.where(over, low, mid)
    return (low + high) / 2


def _at_most(count: int, q: np.ndarray) -> np.ndarray:
    """Per row of ``q`` (candidates x accounts, each account's churn probability): the
    probability that at most ``count`` accounts churn (the Poisson-binomial distribution)."""
    pmf = np.zeros((q.shape[0], count + 1))
    pmf[:, 0] = 1.0
    for i in range(q.shape[1]):
        qi = q[:, i : i + 1]
        pmf[:, 1:] = pmf[:, 1:] * (1 - qi) + pmf[:, :-1] * qi
        pmf[:, :1] *= 1 - qi
    return np.asarray(pmf.sum(axis=1))


def _exact_bounds(
    p: np.ndarray, bump: np.ndarray, months: float, churned: int
) -> tuple[float, float]:
    """The 95% interval of the multiplier ``k`` by inverting the exact distribution of the
    churned count (as Clopper-Pearson does for one rate): the ``k`` at which seeing
    ``churned`` or fewer (upper bound), or ``churned`` or more (lower), has 2.5%."""

    def solve(count: int, target: float) -> float:
        # P(X <= count | k) falls as k rises: three rounds of a 64-point grid.
        low, high = 0.0, _top(p)
        for _ in range(3):
            ks = np.linspace(low, high, 65)
            below = np.nonzero(
                _at_most(count, _churn_probabilities(ks, p, bump, months)) <= target
            )[0]
            if below.size == 0:
                return high
            first = int(below[0])
            if first == 0:
                return low
            low, high = float(ks[first - 1]), float(ks[first])
        return (low + high) / 2

    lower = 0.0 if churned == 0 else solve(churned - 1, 0.975)
    return lower, solve(churned, 0.025)


def _ratio(gained: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Expansion rates: what was gained over what the model's rate multiplies."""
    return np.divide(gained, basis, out=np.zeros_like(gained), where=basis > 0)


def _estimates(
    inst: Instance,
    groups: Mapping[int, Sequence[_Row]],
    min_accounts: int,
    seed: int,
    months: float,
    bump: float,
) -> list[Estimate]:
    rng = np.random.default_rng(seed)
    mean = inst.mean_retention
    out = []
    for c, csm in enumerate(inst.csms):
        rows = groups.get(c, ())
        n = len(rows)
        churned = int(sum(r.churned for r in rows))
        if n < min_accounts:
            out.append(
                Estimate(
                    csm.id,
                    csm.name,
                    n,
                    churned,
                    inst.retention[c],
                    None,
                    None,
                    inst.expansion_rate[c],
                    None,
                    None,
                    f"{n} accounts: too few to re-estimate; the input stays",
                )
            )
            continue
        hits = np.array([r.churned for r in rows], dtype=float)
        p = np.array([r.p_input for r in rows])
        bumps = np.array([bump if r.moved else 0.0 for r in rows])
        gained = np.array([r.expansion_arr for r in rows])
        basis = np.array([r.expansion_basis for r in rows])
        picks = rng.integers(0, n, size=(RESAMPLES, n))

        everyone = np.arange(n)[None, :]
        k = _multiplier(p[everyone], bumps[everyone], months, hits.sum(keepdims=True))
        r_hat = float(np.clip(1.0 - k[0] * (1.0 - mean), 0.0, 1.0))
        k_bounds = np.array(_exact_bounds(p, bumps, months, churned))
        r_interval = tuple(float(v) for v in np.clip(1.0 - k_bounds[::-1] * (1.0 - mean), 0.0, 1.0))
        x_hat = _ratio(gained.sum(keepdims=True), basis.sum(keepdims=True))[0]
        x_boot = _ratio(gained[picks].sum(axis=1), basis[picks].sum(axis=1))
        notes = []
        if mean >= 1.0:
            notes.append("the team's mean retention is 1: retention not identified")
        if basis.sum() > 0 and x_hat > 1.0:
            notes.append(
                f"expansion {x_hat:.2f} per ARR-potential-year, above 1 (the most a "
                "scenario's expansion_rate takes): the CSM table gets 1"
            )
        note = "; ".join(notes)
        out.append(
            Estimate(
                csm.id,
                csm.name,
                n,
                churned,
                inst.retention[c],
                r_hat,
                (r_interval[0], r_interval[1]),
                inst.expansion_rate[c],
                float(x_hat) if basis.sum() > 0 else None,
                (float(np.quantile(x_boot, 0.025)), float(np.quantile(x_boot, 0.975)))
                if basis.sum() > 0
                else None,
                note,
            )
        )
    return out


def write_csm_table(scenario: Scenario, report: OutcomeReport, path: str | Path) -> None:
    """The scenario's CSMs as a csms.csv with the re-estimated rates (the input rate where
    there were too few accounts): a file the next scenario can name as its ``csms``."""
    estimates = {e.csm_id: e for e in report.estimates}
    rows = []
    for csm in scenario.csms:
        data = csm.model_dump(mode="json", exclude_none=True)
        estimate = estimates.get(csm.id)
        if estimate is not None and estimate.retention is not None:
            data["retention_rate"] = round(estimate.retention, 4)
        if estimate is not None and estimate.expansion_rate is not None:
            data["expansion_rate"] = round(min(1.0, estimate.expansion_rate), 4)
        rows.append(
            {
                k: ";".join(map(str, v)) if isinstance(v, list) else v
                for k, v in data.items()
                if v not in ({}, [])
            }
        )
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


__all__ = ["Actual", "OutcomeReport", "outcomes", "read_actuals", "write_csm_table"]
