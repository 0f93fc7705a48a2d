"""The equity audit (optimizer/explain/equity.py) on hand-computed teams.

C1 (NA, retention 0.95) and C2 (EMEA, retention 0.60 or 0.95) each hold the accounts of their
region (``match_region``), every account high risk (churn probability 0.5 >= 0.2), ARR 100K and
workload 1, in the software industry that only C1 covers. The team's capacity-weighted mean
retention is 0.775 (0.95 with two good CSMs): C1 is a high-retention CSM, C2 only when it
retains 0.95."""

from __future__ import annotations

from typing import Any

from conftest import account, csm, make, solve_ok, weights
from rich.console import Console

from cli.render.plans import print_equity
from documents.report import render_html
from optimizer import Scenario


def _team(emea: int, c2_retention: float) -> Scenario:
    accounts = [
        account(
            f"{region}{k}",
            100_000,
            churn_risk="high",
            workload=1,
            industry="software",
            region=region,
            current_csm="C1" if region == "NA" else "C2",
        )
        for region, count in (("NA", 6), ("EU", emea))
        for k in range(count)
    ]
    return make(
        [
            csm("C1", retention_rate=0.95, region="NA", industries=["software"]),
            csm("C2", retention_rate=c2_retention, region="EU", industries=[]),
        ],
        accounts,
        objectives=weights(churn_risk=1),
        constraints={"match_region": True},
    )


def _group(equity: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in equity["groups"] if g["group"] == name)


def test_a_region_served_by_a_weaker_csm_is_named_with_both_figures() -> None:
    plan = solve_ok(_team(6, 0.60))
    equity = plan.equity
    assert equity is not None
    na, eu = _group(equity, "NA"), _group(equity, "EU")
    assert (na["accounts"], eu["accounts"]) == (6, 6)
    assert eu["at_risk_covered"] == {"before": 0.0, "after": 0.0, "rest_after": 1.0}
    assert na["at_risk_covered"] == {"before": 1.0, "after": 1.0, "rest_after": 0.0}
    # No EU account can have an industry match (no eligible CSM covers software): not counted.
    assert eu["expertise_match"]["after"] is None and na["expertise_match"]["after"] == 1.0
    # Equal books: every CSM at its workload target.
    assert eu["load"]["after"] == 1.0 and na["load"]["after"] == 1.0
    assert equity["findings"] == [
        "EU (region): 0% of its at-risk ARR is with a high-retention CSM, against 100% for the "
        "rest; today 0%"
    ]
    # Equal ARR: a single band holding every account, with no rest to compare with.
    (band,) = [g for g in equity["groups"] if g["dimension"] == "arr_band"]
    assert band["accounts"] == 12 and band["at_risk_covered"]["rest_after"] is None
    console = Console(width=200, record=True)
    print_equity(console, equity)
    assert "EU (region): 0% of its at-risk ARR" in console.export_text()
    html = render_html(plan.to_dict())
    assert 'id="equity-findings"' in html and "EU (region): 0% of its at-risk ARR" in html


def test_equal_service_or_a_small_group_is_not_named_and_a_heavy_load_is() -> None:
    fair = solve_ok(_team(6, 0.95)).equity
    assert fair is not None and fair["findings"] == []
    assert _group(fair, "EU")["at_risk_covered"]["after"] == 1.0
    # EU with four accounts: 0% against 100%, but below the five accounts a finding needs. NA's
    # six accounts now make C1's book 6 / 5 = 120% of its workload target (C2: 4 / 5 = 80%).
    small = solve_ok(_team(4, 0.60)).equity
    assert small is not None
    assert _group(small, "EU")["at_risk_covered"]["after"] == 0.0
    assert small["findings"] == [
        "NA (region): its CSMs carry 120% of their workload target on average, against 80% for "
        "the rest; today 120%"
    ]
