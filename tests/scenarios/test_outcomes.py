"""Learning from what happened: predictions against a hand-computed case, calibration on a
history drawn from the model itself, and rates recovered from a history with known rates."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from conftest import account, csm, make, weights

from optimizer import Scenario, ScenarioError
from scenarios.outcomes import Actual, outcomes, read_actuals, write_csm_table


def plan_of(scenario: Scenario, owners: dict[str, str] | None = None) -> dict[str, Any]:
    """A plan document keeping (or giving ``owners``) every account."""
    rows = []
    for a in scenario.accounts:
        owner = (owners or {}).get(a.id, a.current_csm)
        rows.append({"account_id": a.id, "csm_id": owner, "arr": a.arr})
    return {"as_of": scenario.as_of.isoformat(), "assignments": rows}


def test_predicted_against_actual_by_hand() -> None:
    team = [csm("C1", retention_rate=0.8, expansion_rate=0.2)]
    scenario = make(
        team,
        [
            account("A1", 100_000, current_csm="C1", churn_risk=0.1, expansion_potential=0.5),
            account("A2", 300_000, current_csm="C1", churn_risk=0.4, expansion_potential=1.0),
        ],
        objectives=weights(churn_risk=1),
    )
    actuals = [
        Actual(account_id="A1", outcome="expanded", amount=12_000),
        Actual(account_id="A2", outcome="churned"),
    ]
    report = outcomes(scenario, plan_of(scenario), actuals, months=12)
    total = report.total
    # One CSM: their retention is the team's mean, so each p is the input as given.
    assert total.predicted_churned == pytest.approx(0.1 + 0.4)
    assert total.churned == 1 and total.churned_arr == 300_000
    assert total.predicted_churned_arr == pytest.approx(100_000 * 0.1 + 300_000 * 0.4)
    expected_expansion = 100_000 * 0.5 * 0.2 * 0.9 + 300_000 * 1.0 * 0.2 * 0.6
    assert total.predicted_expansion_arr == pytest.approx(expected_expansion)
    assert total.expansion_arr == 12_000
    # Six months: 1 - (1 - p)^(1/2).
    half = outcomes(scenario, plan_of(scenario), actuals, months=6).total
    assert half.predicted_churned == pytest.approx(2 - 0.9**0.5 - 0.6**0.5)


def history(
    true_retention: list[float], true_expansion: list[float], per_csm: int, seed: int
) -> tuple[Scenario, list[Actual]]:
    """CSMs with input retention 0.85 and expansion 0.2 whose accounts really churn and expand
    at ``true_*``, drawn from the model over 12 months."""
    rng = random.Random(seed)
    team = [csm(f"C{k}", retention_rate=0.85, expansion_rate=0.2) for k in range(1, 5)]
    accounts = []
    actuals = []
    for c, (retention, rate) in enumerate(zip(true_retention, true_expansion, strict=True)):
        for i in range(per_csm):
            p = rng.choice((0.05, 0.1, 0.2, 0.3, 0.5))
            potential = rng.choice((0.2, 0.5, 1.0))
            arr = rng.choice((20_000, 50_000, 100_000))
            account_id = f"A{c}_{i}"
            accounts.append(
                account(
                    account_id,
                    arr,
                    current_csm=f"C{c + 1}",
                    churn_risk=p,
                    expansion_potential=potential,
                )
            )
            if rng.random() < min(1.0, p * (1 - retention) / (1 - 0.85)):
                actuals.append(Actual(account_id=account_id, outcome="churned"))
            else:
                gained = arr * potential * rate * rng.uniform(0.5, 1.5)
                actuals.append(Actual(account_id=account_id, outcome="expanded", amount=gained))
    return make(team, accounts, objectives=weights(churn_risk=1)), actuals


def test_known_rates_are_recovered_within_the_stated_uncertainty(tmp_path: Path) -> None:
    true_retention = [0.95, 0.85, 0.75, 0.65]
    true_expansion = [0.3, 0.2, 0.1, 0.05]
    # Twelve histories: each 95% interval should hold the true rate about 95% of the time
    # (96 intervals: about 5 misses expected; more than 12 has a chance under 0.5%).
    misses = 0
    errors = []
    for seed in range(12):
        scenario, actuals = history(true_retention, true_expansion, 200, seed=seed)
        report = outcomes(scenario, plan_of(scenario), actuals, months=12)
        for estimate, retention, rate in zip(
            report.estimates, true_retention, true_expansion, strict=True
        ):
            assert estimate.accounts == 200
            for interval, truth, value in (
                (estimate.retention_interval, retention, estimate.retention),
                (estimate.expansion_interval, rate, estimate.expansion_rate),
            ):
                assert interval is not None and value is not None
                misses += not interval[0] <= truth <= interval[1]
                errors.append(abs(value - truth))
            low, high = estimate.retention_interval or (0, 0)
            assert high - low < 0.15  # 200 accounts say something
    assert misses <= 12, misses
    assert sum(errors) / len(errors) < 0.02
    # The table the next scenario reads carries the estimates.
    path = tmp_path / "csms.csv"
    write_csm_table(scenario, report, path)
    nxt = make(
        [dict(row) for row in _rows(path)],
        [account("X", 1, current_csm="C1")],
        objectives=weights(churn_risk=1),
    )
    assert [c.retention_rate for c in nxt.csms] == [
        round(e.retention or 0, 4) for e in report.estimates
    ]


def _rows(path: Path) -> list[dict[str, Any]]:
    import csv

    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("retention_rate", "expansion_rate", "capacity"):
            if row.get(key):
                row[key] = float(row[key])
    return rows


def test_inputs_that_were_right_are_calibrated() -> None:
    scenario, actuals = history([0.85] * 4, [0.2] * 4, 300, seed=5)
    report = outcomes(scenario, plan_of(scenario), actuals, months=12)
    assert report.calibration
    assert all(band.consistent for band in report.calibration), report.calibration
    # Wrong inputs: the churn is twice the input for everyone, and the bands say so.
    doubled = [
        a.model_copy(update={"churn_risk": a.churn_probability / 2}) for a in scenario.accounts
    ]
    wrong = scenario.model_copy(update={"accounts": tuple(doubled)})
    bands = outcomes(wrong, plan_of(wrong), actuals, months=12).calibration
    assert any(not band.consistent and band.observed > band.predicted for band in bands)


def test_few_accounts_keep_the_input_rate_and_moved_accounts_are_split() -> None:
    scenario, actuals = history([0.85] * 4, [0.2] * 4, 5, seed=3)
    moved = {scenario.accounts[0].id: "C2"}
    report = outcomes(scenario, plan_of(scenario, moved), actuals, months=12)
    assert all(e.retention is None and "too few" in e.note for e in report.estimates)
    assert [row.group for row in report.by_move] == ["moved", "kept"]
    assert report.by_move[0].accounts == 1


def test_bad_actuals_are_named_by_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(
        "account_id,outcome,amount,date\nA1,churned,,2026-05-01\nA2,exploded,,\nA3,expanded,-5,\n"
        "A1,renewed,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        read_actuals(path)
    paths = [issue.path for issue in caught.value.issues]
    assert "actuals.csv row 3, column 'outcome'" in paths
    assert "actuals.csv row 4, column 'amount'" in paths
    assert "actuals.csv row 5, column 'account_id'" in paths
    scenario, _ = history([0.85] * 4, [0.2] * 4, 2, seed=1)
    with pytest.raises(ScenarioError) as caught:
        outcomes(
            scenario,
            plan_of(scenario),
            [
                Actual(account_id="nope", outcome="churned"),
                Actual(account_id="A0_0", outcome="expanded"),
            ],
        )
    assert {i.path for i in caught.value.issues} == {"actuals[nope]", "actuals[A0_0].amount"}
