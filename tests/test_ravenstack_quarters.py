"""The two-quarter RavenStack story (examples/ravenstack/quarters.py, ``make story``): its
snapshots and actuals agree with an independent reading of the raw subscriptions, and the
monitor, routing and outcomes run on them as the README tells."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from cli import main
from optimizer import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "ravenstack" / "quarters.py"
RAW = ROOT / "examples" / "data" / "ravenstack-saas" / "ravenstack_subscriptions.csv"
Q1, Q2, END = dt.date(2024, 7, 1), dt.date(2024, 10, 1), dt.date(2025, 1, 1)


def paid_arr(on: dt.date) -> dict[str, float]:
    """Each account's ARR of paid subscriptions running on ``on``, read here from the raw file."""
    out: dict[str, float] = defaultdict(float)
    with RAW.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["is_trial"].strip().lower() == "true":
                continue
            start = dt.date.fromisoformat(row["start_date"])
            end = row["end_date"].strip()
            if start <= on and (not end or dt.date.fromisoformat(end) > on):
                out[row["account_id"]] += float(row["arr_amount"])
    return {k: v for k, v in out.items() if v > 0}


def run(*args: str) -> None:
    subprocess.run([sys.executable, str(SCRIPT), *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("story")
    run("q1", "--out", str(out))
    run("actuals", "--out", str(out))
    # The plan carried out: here, simply today's owners (a real plan comes from territory solve).
    q1 = load_scenario(out / "q1" / "scenario.json")
    plan = {
        "as_of": q1.as_of.isoformat(),
        "assignments": [
            {"account_id": a.id, "csm_id": a.current_csm or "zane-levy", "arr": a.arr}
            for a in q1.accounts
        ],
    }
    (out / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    run("q2", "--plan", str(out / "plan.json"), "--out", str(out))
    return out


def test_the_snapshots_hold_the_accounts_paying_on_their_dates(story: Path) -> None:
    q1 = load_scenario(story / "q1" / "scenario.json")
    q2 = load_scenario(story / "q2" / "scenario.json")
    assert q1.as_of == Q1 and q2.as_of == Q2
    for scenario, day in ((q1, Q1), (q2, Q2)):
        expected = paid_arr(day)
        assert {a.id: a.arr for a in scenario.accounts} == pytest.approx(expected)
    new = {a.id for a in q2.accounts} - {a.id for a in q1.accounts}
    assert new and all(not q2.account(i).current_csm for i in new)
    assert all(a.current_csm for a in q2.accounts if a.id not in new)


def test_the_actuals_follow_the_subscriptions(story: Path) -> None:
    start, end = paid_arr(Q1), paid_arr(END)
    with (story / "actuals.csv").open(newline="", encoding="utf-8") as handle:
        rows = {r["account_id"]: r for r in csv.DictReader(handle)}
    assert rows.keys() == start.keys()
    for account_id, before in start.items():
        after = end.get(account_id, 0.0)
        row = rows[account_id]
        if after == 0:
            assert row["outcome"] == "churned"
        elif after > before:
            assert (row["outcome"], float(row["amount"])) == ("expanded", after - before)
        elif after < before:
            assert (row["outcome"], float(row["amount"])) == ("contracted", before - after)
        else:
            assert row["outcome"] == "renewed"


def test_monitor_route_and_outcomes_run_on_the_story(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    q2 = story / "q2" / "scenario.json"
    found = story / "monitor.json"
    assert (
        main(
            ["monitor", str(q2), "--since", str(story / "plan.json"), "--out", str(found), "--json"]
        )
        == 0
    )
    report = json.loads(found.read_text())
    scenario = load_scenario(q2)
    new = {a.id for a in scenario.accounts if not a.current_csm}
    assert {f["id"] for f in report["findings"] if f["trigger"] == "unowned"} == new
    routed = story / "routed.json"
    assert main(["route", str(q2), "--commit-to", str(routed), "--json"]) == 0
    after = load_scenario(routed)
    assert all(a.current_csm for a in after.accounts)
    args = ["outcomes", str(story / "plan.json"), "--scenario", str(story / "q1" / "scenario.json")]
    assert main([*args, "--actuals", str(story / "actuals.csv"), "--json"]) == 0
    capsys.readouterr()
