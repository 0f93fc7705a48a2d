"""``territory monitor`` and ``territory route`` on the command line: exit codes and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import account, csm, scenario_dict

from cli import main


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def snapshot(**fields: Any) -> dict[str, Any]:
    accounts = [
        account(f"A{k}", 100_000, current_csm=f"C{(k - 1) // 2 + 1}", churn_risk=0.1)
        for k in range(1, 7)
    ]
    accounts[0].update(fields)
    return scenario_dict([csm("C1"), csm("C2"), csm("C3")], accounts)


def test_monitor_exits_3_only_when_asked_and_a_trigger_fired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calm = write(tmp_path / "calm.json", snapshot())
    assert main(["monitor", str(calm), "--fail-on-trigger"]) == 0
    assert "No trigger fired" in capsys.readouterr().out
    hot = write(tmp_path / "hot.json", snapshot(arr=400_000))
    assert main(["monitor", str(hot)]) == 0
    assert "arr_over" in capsys.readouterr().out
    out = tmp_path / "findings.json"
    assert main(["monitor", str(hot), "--fail-on-trigger", "--json", "--out", str(out)]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["fired"] is True
    assert {"trigger": "arr_over", "id": "C1"}.items() <= printed["findings"][0].items()


def test_monitor_since_an_earlier_snapshot_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    then = write(tmp_path / "q1.json", snapshot())
    data = snapshot(arr=170_000)
    data["as_of"] = "2026-04-01"
    now = write(tmp_path / "q2.json", data)
    assert main(["monitor", str(now), "--since", str(then), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["since_as_of"] == "2026-01-01"
    drift = [f for f in report["findings"] if f["trigger"] == "book_drift"]
    assert [(f["id"], round(f["figure"], 6)) for f in drift] == [("C1", 0.35)] * 2
    assert "ARR rose 35%" in drift[0]["message"] + drift[1]["message"]
    assert "ARR at risk rose 35%" in drift[0]["message"] + drift[1]["message"]


def test_monitor_names_the_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.json", snapshot())
    assert main(["monitor", str(good), "--since", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_the_report_carries_the_monitor_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hot = write(tmp_path / "hot.json", snapshot(arr=400_000))
    plan = tmp_path / "plan.json"
    assert main(["solve", str(hot), "--out", str(plan)]) == 0
    findings = tmp_path / "findings.json"
    assert main(["monitor", str(hot), "--out", str(findings)]) == 0
    report = tmp_path / "report.html"
    assert main(["report", str(plan), "--monitor", str(findings), "--out", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert '<table id="monitor">' in html
    assert "arr_over" in html and "x its fair share" in html
    assert main(["report", str(plan), "--out", str(report)]) == 0
    assert 'id="monitor"' not in report.read_text(encoding="utf-8")


def test_route_places_commits_and_names_what_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = snapshot()
    data["constraints"] = {"max_accounts_per_csm": 3}
    path = write(tmp_path / "snap.json", data)
    new = tmp_path / "new.csv"
    new.write_text("id,name,arr,churn_risk\nN1,Nova,50000,high\n", encoding="utf-8")
    after = tmp_path / "after.json"
    out = tmp_path / "routing.json"
    code = main(
        ["route", str(path), "--accounts", str(new), "--commit-to", str(after), "--out", str(out)]
    )
    assert code == 0
    placed = json.loads(out.read_text())["placements"][0]
    owners = {a["id"]: a.get("current_csm") for a in json.loads(after.read_text())["accounts"]}
    assert owners["N1"] == placed["csm_id"] is not None
    # Every book at three but one: two more accounts fill it, a third has nowhere to go.
    more = tmp_path / "more.json"
    more.write_text(json.dumps([{"id": f"M{k}", "arr": 1000} for k in (1, 2, 3)]))
    capsys.readouterr()
    assert main(["route", str(after), "--accounts", str(more), "--json"]) == 1
    routing = json.loads(capsys.readouterr().out)
    assert [p["placed"] for p in routing["placements"]].count(False) == 1
    assert main(["route", str(after), "--accounts", str(new)]) == 2  # N1 is there already
    assert "accounts[N1].id" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,arr\nB1,-4\n", encoding="utf-8")
    assert main(["route", str(path), "--accounts", str(bad)]) == 2
    assert "accounts[B1].arr" in capsys.readouterr().err


def test_outcomes_compares_and_writes_the_next_csm_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = snapshot()
    for c in data["csms"]:
        c["retention_rate"] = 0.8
    scenario = write(tmp_path / "q1.json", data)
    plan = tmp_path / "plan.json"
    assert main(["solve", str(scenario), "--out", str(plan)]) == 0
    capsys.readouterr()
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(
        "account_id,outcome,amount,date\nA1,churned,,2026-07-01\nA2,expanded,5000,2026-12-31\n"
        "A3,renewed,,2026-09-01\n",
        encoding="utf-8",
    )
    csms = tmp_path / "csms.csv"
    args = ["outcomes", str(plan), "--scenario", str(scenario), "--actuals", str(actuals)]
    assert main([*args, "--csms-out", str(csms), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accounts"] == 3 and report["total"]["churned"] == 1
    assert report["total"]["expansion_arr"] == 5000
    assert sorted(report["missing"]) == ["A4", "A5", "A6"]
    assert round(report["months"]) == 12
    header = csms.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "retention_rate" in header and "id" in header
    assert main(args) == 0
    assert "Calibration of the churn inputs" in capsys.readouterr().out
    actuals.write_text("account_id,outcome\nA1,gone\n", encoding="utf-8")
    assert main(args) == 2
    assert "actuals.csv row 2, column 'outcome'" in capsys.readouterr().err
