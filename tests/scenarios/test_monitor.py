"""``territory monitor``: each trigger fires on a snapshot made to break it, with the figure
computed here by hand, and stays silent on a near miss made not to."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import account, csm, scenario_dict

from optimizer import Scenario, ScenarioError, solve
from scenarios.monitor import TRIGGERS, monitor

Data = dict[str, Any]


def base() -> Data:
    """Four full-time CSMs, two accounts each, every figure equal: nothing fires."""
    csms = [csm(f"C{k}", skills=["sap"]) for k in range(1, 5)]
    accounts = [
        account(
            f"A{k}",
            100_000,
            current_csm=f"C{(k - 1) // 2 + 1}",
            churn_risk=0.1,
            health_score=80,
            complexity=3,
        )
        for k in range(1, 9)
    ]
    return scenario_dict(csms, accounts)


def fired(data: Data, trigger: str, since: Any = None) -> dict[str, float]:
    """The subjects ``trigger`` fired on, each with its figure."""
    report = monitor(Scenario.from_dict(data), since)
    return {f.id: f.figure for f in report.findings if f.trigger == trigger}


def edit(data: Data, account_id: str, **fields: Any) -> Data:
    out = copy.deepcopy(data)
    for a in out["accounts"]:
        if a["id"] == account_id:
            a.update(fields)
    return out


def test_the_balanced_team_fires_nothing() -> None:
    report = monitor(Scenario.from_dict(base()))
    assert report.findings == ()
    assert not report.fired
    assert [b.arr_load for b in report.books] == [1.0] * 4


@pytest.mark.parametrize("arr, fires", [(190_000, True), (150_000, False)])
def test_arr_over_its_fair_share(arr: float, fires: bool) -> None:
    data = edit(base(), "A1", arr=arr)
    load = (100_000 + arr) / ((700_000 + arr) / 4)  # C1's book over a quarter of the team's
    assert (load > 1.25) is fires
    assert fired(data, "arr_over") == ({"C1": pytest.approx(load)} if fires else {})


@pytest.mark.parametrize("arr, fires", [(20_000, True), (75_000, False)])
def test_arr_under_its_fair_share(arr: float, fires: bool) -> None:
    data = edit(edit(base(), "A1", arr=arr), "A2", arr=arr)
    load = 2 * arr / ((600_000 + 2 * arr) / 4)
    assert (load < 0.75) is fires
    assert fired(data, "arr_under") == ({"C1": pytest.approx(load)} if fires else {})


def test_workload_and_account_count_over_and_under() -> None:
    data = edit(base(), "A3", current_csm="C1")  # C1 three accounts, C2 one
    assert fired(data, "accounts_over") == {"C1": pytest.approx(1.5)}
    assert fired(data, "accounts_under") == {"C2": pytest.approx(0.5)}
    assert fired(data, "workload_over") == {"C1": pytest.approx(1.5)}
    assert fired(data, "workload_under") == {"C2": pytest.approx(0.5)}
    heavier = edit(base(), "A1", complexity=4)  # 7 of 25 units: 1.12 x, inside 1.25
    assert fired(heavier, "workload_over") == {}


@pytest.mark.parametrize("hours, fires", [(38, True), (34, False)])
def test_utilization_over_the_ceiling(hours: float, fires: bool) -> None:
    data = base()
    for a in data["accounts"]:
        a["effort_hours"] = 10
    data = edit(data, "A1", effort_hours=hours - 10)
    for c in data["csms"]:
        c["hours_per_week"] = 40
    assert ((hours) / 40 > 0.9) is fires
    assert fired(data, "utilization_over") == ({"C1": pytest.approx(hours / 40)} if fires else {})
    # 20 of 40 hours is exactly the floor: silent; 18 is below it.
    assert fired(data, "utilization_under") == {}
    lower = edit(data, "A3", effort_hours=8)
    assert fired(lower, "utilization_under") == {"C2": pytest.approx(18 / 40)}


def test_risk_concentration() -> None:
    data = edit(edit(base(), "A1", churn_risk=0.9), "A2", churn_risk=0.9)
    shares = fired(data, "risk_concentration")
    # 180K of 240K at risk on C1: 75%, three times its fair quarter (limit 2 x 25%).
    assert shares == {"C1": pytest.approx(180_000 / 240_000)}
    milder = edit(base(), "A1", churn_risk=0.5)  # 60K of 120K: 50%, exactly the limit
    assert fired(milder, "risk_concentration") == {}
    absolute = copy.deepcopy(milder)
    absolute["monitor"] = {"risk_share_max": 0.33}
    assert fired(absolute, "risk_concentration") == {"C1": pytest.approx(0.5)}


def test_single_point_of_failure() -> None:
    data = base()
    for c in data["csms"]:
        c["skills"] = []
    data["csms"][2]["skills"] = ["hipaa"]
    data = edit(data, "A1", required_skills=["hipaa"])
    report = monitor(Scenario.from_dict(data))
    (finding,) = [f for f in report.findings if f.trigger == "single_point"]
    assert finding.id == "C3" and finding.accounts == ("A1",)
    data["csms"][3]["skills"] = ["hipaa"]  # a second holder
    assert fired(data, "single_point") == {}


def test_renewal_pileup() -> None:
    data = base()
    day = dt.date(2026, 2, 15).isoformat()
    for k in (1, 2):
        data = edit(data, f"A{k}", renewal_date=day)
    data = edit(data, "A3", renewal_date=day, current_csm="C1")
    # 3 of the quarter's 3 renewals on C1: over renewals_min 3 and over 2 x 0.75.
    assert fired(data, "renewal_pileup") == {"C1": 3.0}
    spread = edit(data, "A3", current_csm="C2")  # 2 on C1: under renewals_min
    assert fired(spread, "renewal_pileup") == {}


def test_rules_broken_and_unowned_accounts() -> None:
    data = base()
    data["constraints"] = {"max_accounts_per_csm": 1}
    broken = fired(data, "rule_broken")
    assert set(broken) == {"C1", "C2", "C3", "C4"}
    data["constraints"] = {"max_accounts_per_csm": 2}
    assert fired(data, "rule_broken") == {}
    assert fired(edit(base(), "A8", current_csm=None), "unowned").keys() == {"A8"}


def later(data: Data, months: int = 3) -> Data:
    out = copy.deepcopy(data)
    as_of = dt.date.fromisoformat(out["as_of"])
    out["as_of"] = (as_of + dt.timedelta(days=round(months * 365.25 / 12))).isoformat()
    return out


@pytest.mark.parametrize("arr, fires", [(170_000, True), (150_000, False)])
def test_book_drift_since_an_earlier_snapshot(arr: float, fires: bool) -> None:
    then = Scenario.from_dict(base())
    now = edit(later(base()), "A1", arr=arr)
    change = (100_000 + arr) / 200_000 - 1
    assert (change > 0.3) is fires
    drift = fired(now, "book_drift", then)
    assert drift == ({"C1": pytest.approx(change)} if fires else {})


def test_arr_growth_and_contraction_are_extrapolated() -> None:
    then = Scenario.from_dict(base())
    # About three months: A1 gained 40K, so six months on it has 40K x 6/3 more (linear).
    now = edit(edit(later(base()), "A1", arr=140_000), "A2", arr=80_000)
    months = (dt.date.fromisoformat(now["as_of"]) - then.as_of).days / (365.25 / 12)
    growth = fired(now, "arr_growth", then)
    assert growth.keys() == {"A1"}
    assert growth["A1"] == pytest.approx((140_000 + 40_000 * 6 / months) / 140_000 - 1)
    contraction = fired(now, "arr_contraction", then)  # about -50%
    assert contraction["A2"] == pytest.approx((80_000 - 20_000 * 6 / months) / 80_000 - 1)
    slower = edit(edit(later(base()), "A1", arr=115_000), "A2", arr=90_000)
    assert fired(slower, "arr_growth", then) == {}  # about +26%
    assert fired(slower, "arr_contraction", then) == {}  # about -22%


def test_growth_without_an_earlier_snapshot_reads_the_growth_field() -> None:
    data = edit(base(), "A1", growth=1.5)  # +150% a year: +75% in six months
    assert fired(data, "arr_growth") == {"A1": pytest.approx(0.75)}
    assert fired(edit(base(), "A1", growth=0.9), "arr_growth") == {}  # +45%


def test_health_risk_complexity_and_tier_changes() -> None:
    then_data = edit(base(), "A4", coverage="Async")
    then = Scenario.from_dict(then_data)
    now = later(then_data)
    now = edit(now, "A1", health_score=65)  # -15 in 3 months: 35 in 6 more, below 50
    now = edit(now, "A2", health_score=75)  # -5: 65 in 6 more, above the floor
    now = edit(now, "A3", churn_risk=0.35, complexity=4)
    now = edit(now, "A4", coverage="Sync")
    health = fired(now, "health_decline", then)
    assert health.keys() == {"A1"}
    assert health["A1"] == pytest.approx(65 - 15 / 3 * 6, abs=0.5)
    assert fired(now, "risk_rise", then) == {"A3": pytest.approx(0.25)}
    assert fired(now, "complexity_rise", then) == {"A3": 1.0}
    assert fired(now, "tier_change", then).keys() == {"A4"}
    calm = edit(later(then_data), "A3", churn_risk=0.25)  # +0.15, under 0.2
    assert fired(calm, "risk_rise", then) == {}


def test_off_plan_and_drift_against_a_plan() -> None:
    data = base()
    data["objectives"] = {"balance": 1}
    data = edit(data, "A3", current_csm="C1")  # C1 has 3 accounts, C2 one
    scenario = Scenario.from_dict(data)
    plan = solve(scenario)
    assert plan.status == "optimal"
    document = plan.to_dict()
    moved = [a for a in document["assignments"] if a["moved"]]
    assert moved, "the plan rebalances"
    # Nobody carried the plan out: every moved account is off plan.
    report = monitor(Scenario.from_dict(later(data)), document)
    off = {f.id for f in report.findings if f.trigger == "off_plan"}
    assert off == {a["account_id"] for a in moved}
    carried = later(data)
    for row in moved:
        carried = edit(carried, row["account_id"], current_csm=row["csm_id"])
    assert fired(carried, "off_plan", document) == {}


def test_book_outgrowing_its_share() -> None:
    data = edit(edit(base(), "A1", growth=1.0), "A2", growth=1.0)  # C1 doubles in a year
    # Six months: C1 at 300K of 900K, against a quarter of it.
    assert fired(data, "book_outgrowing") == {"C1": pytest.approx(300_000 / (900_000 / 4))}
    slow = edit(edit(base(), "A1", growth=0.2), "A2", growth=0.2)  # 220K of 820K: 1.07
    assert fired(slow, "book_outgrowing") == {}


def test_every_trigger_is_tested_here() -> None:
    tested = {
        name
        for name, value in globals().items()
        if isinstance(value, Callable) and name.startswith("test_")  # type: ignore[arg-type]
    }
    assert len(tested) >= 14
    source = Path(__file__).read_text(encoding="utf-8")
    assert [t for t in TRIGGERS if f'"{t}"' not in source] == []


def test_an_earlier_snapshot_dated_after_this_one_is_refused() -> None:
    with pytest.raises(ScenarioError, match="dated after"):
        monitor(Scenario.from_dict(base()), Scenario.from_dict(later(base())))


def test_a_plan_without_books_is_refused() -> None:
    with pytest.raises(ScenarioError, match="neither books nor assignments"):
        monitor(Scenario.from_dict(base()), {"as_of": "2026-01-01", "assignments": []})


def test_a_trajectory_says_when_it_passes_its_threshold() -> None:
    data = edit(base(), "A1", growth=1.5)  # +12.5% a month of today's ARR: +50% in 4 months
    (finding,) = [
        f for f in monitor(Scenario.from_dict(data)).findings if f.trigger == "arr_growth"
    ]
    assert "+50% in about 4.0 months" in finding.message
