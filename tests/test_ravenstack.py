"""The RavenStack example: rebuilt from the raw data, it matches the committed files; its
derived numbers agree with an independent reading of the raw CSV files; it loads."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from optimizer import load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ravenstack"
DATA = ROOT / "examples" / "data"
RAVEN = DATA / "ravenstack-saas"
MAVEN = DATA / "maven-crm"
AS_OF = dt.date(2025, 1, 1)
#: The figures examples/ravenstack/README.md quotes.
KEPT_ACCOUNTS = 500
TOTAL_ARR = 121_915_296
COVERAGE_COUNTS = {"Task Force": 14, "Sync": 171, "Async": 280, "Inbound": 35}
NEW_HIRES = {"carl-lin", "carol-thompson", "elizabeth-anderson", "mei-mei-johns", "natalya-ivanova"}


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ravenstack_build", EXAMPLE / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return _load_build()


@pytest.fixture(scope="module")
def built(builder: ModuleType) -> tuple[list[dict[str, str]], list[dict[str, str]], dict]:
    return builder.build(DATA)


@pytest.fixture(scope="module")
def accounts(built) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in built[0]}


@pytest.fixture(scope="module")
def csms(built) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in built[1]}


def _raw(name: str) -> list[dict[str, str]]:
    with (RAVEN / f"ravenstack_{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# The raw copies


@pytest.mark.parametrize("folder", [RAVEN, MAVEN])
def test_raw_copies_are_the_files_sources_md_names(folder: Path) -> None:
    """Every CSV in the folder is byte-for-byte the file SOURCES.md lists (git blob hash)."""
    table = re.findall(
        r"^\| (\S+\.csv) \| [\d,]+ \| \d+ \|.*\| ([0-9a-f]{8}) \|$",
        (folder / "SOURCES.md").read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    blobs = dict(table)
    present = sorted(p.name for p in folder.glob("*.csv"))
    assert present and set(present) <= set(blobs)
    for name in present:
        content = (folder / name).read_bytes()
        blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        assert blob.startswith(blobs[name]), name
    assert "River @ Rivalytics" in (RAVEN / "SOURCES.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Determinism and the committed files


def test_build_twice_gives_the_same_output(builder: ModuleType, built) -> None:
    assert builder.build(DATA) == built


def test_committed_files_are_what_build_produces(builder: ModuleType, tmp_path: Path) -> None:
    written = builder.write(tmp_path, DATA)
    for path in written:
        committed = EXAMPLE / path.name
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run python examples/ravenstack/build.py"
        )


def test_command_line_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, str(EXAMPLE / "build.py"), "--data", str(DATA), "--out", str(out)],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {"accounts.csv", "csms.csv", "scenario.json"}


def test_committed_csv_rows_equal_build_rows(built) -> None:
    accounts, csms, scenario = built
    assert _read_csv(EXAMPLE / "accounts.csv") == accounts
    assert _read_csv(EXAMPLE / "csms.csv") == csms
    assert json.loads((EXAMPLE / "scenario.json").read_text(encoding="utf-8")) == scenario


# ---------------------------------------------------------------------------------------------
# The scenario loads


def test_scenario_loads() -> None:
    scenario = load_scenario(EXAMPLE / "scenario.json")
    assert (len(scenario.accounts), len(scenario.csms)) == (KEPT_ACCOUNTS, 35)
    assert scenario.name == "ravenstack"
    assert scenario.as_of == AS_OF
    assert scenario.constraints.arr_tolerance == 0.25
    assert scenario.constraints.workload_tolerance == 0.3
    assert sum(a.arr for a in scenario.accounts) == TOTAL_ARR
    assert all(a.seat_utilization is None for a in scenario.accounts)  # not in the data
    raw = json.loads((EXAMPLE / "scenario.json").read_text(encoding="utf-8"))
    assert "segmentation" not in raw  # the defaults apply
    assert (raw["accounts"], raw["csms"]) == ("accounts.csv", "csms.csv")


# ---------------------------------------------------------------------------------------------
# Independent recomputation from the raw files


def _active_paid(subscription: dict[str, str]) -> bool:
    started = dt.date.fromisoformat(subscription["start_date"]) <= AS_OF
    end = subscription["end_date"]
    running = end == "" or dt.date.fromisoformat(end) > AS_OF
    return subscription["is_trial"] == "False" and started and running


def test_arr_and_accounts_kept_match_the_raw_subscriptions(accounts) -> None:
    arr: Counter[str] = Counter()
    for subscription in _raw("subscriptions"):
        if _active_paid(subscription):
            arr[subscription["account_id"]] += int(subscription["arr_amount"])
    expected = {account_id: value for account_id, value in arr.items() if value > 0}
    assert len(expected) == KEPT_ACCOUNTS == len(accounts)
    assert sum(expected.values()) == TOTAL_ARR
    assert {a: int(row["arr"]) for a, row in accounts.items()} == expected
    names = {row["account_id"]: row["account_name"] for row in _raw("accounts")}
    assert all(row["name"] == names[a] for a, row in accounts.items())


def test_one_account_by_hand(accounts) -> None:
    """Company_274 (A-ef84cf), the worked example in README.md."""
    account_id = "A-ef84cf"
    subs = [s for s in _raw("subscriptions") if s["account_id"] == account_id]
    active = [s for s in subs if _active_paid(s)]
    assert sorted(s["subscription_id"] for s in active) == ["S-1ffdd8", "S-763d33", "S-d5ac8c"]
    arr = sum(int(s["arr_amount"]) for s in active)
    assert arr == 88_260

    events = [e for e in _raw("churn_events") if e["account_id"] == account_id]
    year_ago = AS_OF - dt.timedelta(days=365)
    tickets = [
        t
        for t in _raw("support_tickets")
        if t["account_id"] == account_id
        and year_ago <= dt.date.fromisoformat(t["submitted_at"]) < AS_OF
    ]
    scores = [float(t["satisfaction_score"]) for t in tickets if t["satisfaction_score"]]
    satisfaction = (sum(scores) / len(scores) - 1) / 4
    escalated = sum(t["escalation_flag"] == "True" for t in tickets) / len(tickets)
    manual = sum(int(s["arr_amount"]) for s in active if s["auto_renew_flag"] == "False") / arr
    downgraded = any(s["downgrade_flag"] == "True" for s in active)
    assert (len(events), len(tickets), scores, downgraded) == (3, 3, [4.0, 5.0], True)
    churn = (
        0.04
        + 0.06 * min(len(events), 3)
        + 0.08 * downgraded
        + 0.15 * manual
        + 0.40 * (1 - satisfaction)
        + 0.20 * escalated
    )
    price = {"Basic": 49, "Pro": 199, "Enterprise": 199}  # one plan up, per seat and month
    potential = sum(12 * int(s["seats"]) * price[s["plan_tier"]] for s in active)

    row = accounts[account_id]
    assert row["name"] == "Company_274"
    assert int(row["arr"]) == arr
    assert float(row["churn_risk"]) == pytest.approx(churn, abs=5e-5)
    assert float(row["churn_risk"]) == pytest.approx(0.4256, abs=1e-9)
    assert int(row["potential_arr"]) == potential == 99_420
    assert float(row["expansion_potential"]) == pytest.approx(
        (potential - arr) / potential, abs=5e-5
    )
    assert row["renewal_date"] == "2025-07-25"  # S-763d33, the latest active annual start
    assert row["coverage"] == "Async"
    assert row["competitive_risk"] == "0.4000"  # one event says "switched to competitor"
    assert float(row["strategic"]) == pytest.approx(0.6 * 81_192 / arr + 0.4, abs=5e-5)


def test_adoption_counts_distinct_features_of_the_last_180_days(accounts) -> None:
    account_of = {s["subscription_id"]: s["account_id"] for s in _raw("subscriptions")}
    start = AS_OF - dt.timedelta(days=180)
    features: dict[str, set[str]] = {}
    for record in _raw("feature_usage"):
        if start <= dt.date.fromisoformat(record["usage_date"]) < AS_OF:
            features.setdefault(account_of[record["subscription_id"]], set()).add(
                record["feature_name"]
            )
    for account_id, row in accounts.items():
        assert float(row["adoption"]) == pytest.approx(
            len(features.get(account_id, ())) / 40, abs=5e-5
        )


def test_csm_rates_follow_the_pipeline(csms) -> None:
    won: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for deal in _read_csv(MAVEN / "sales_pipeline.csv"):
        won[deal["sales_agent"]] += deal["deal_stage"] == "Won"
        lost[deal["sales_agent"]] += deal["deal_stage"] == "Lost"
    rate = {
        agent: won[agent] / (won[agent] + lost[agent]) for agent in won if won[agent] + lost[agent]
    }
    by_name = {row["name"]: row for row in csms.values()}
    best, worst = max(rate, key=rate.__getitem__), min(rate, key=rate.__getitem__)
    assert float(by_name[best]["expansion_rate"]) == pytest.approx(0.35)
    assert float(by_name[worst]["expansion_rate"]) == pytest.approx(0.10)
    ordered = sorted(rate, key=rate.__getitem__)
    rates = [float(by_name[agent]["expansion_rate"]) for agent in ordered]
    assert rates == sorted(rates)  # the scaling keeps the order of the win rates
    assert {row["id"] for row in csms.values() if row["expansion_rate"] == ""} == NEW_HIRES
    assert {row["id"] for row in csms.values() if row["retention_rate"] == ""} == NEW_HIRES


# ---------------------------------------------------------------------------------------------
# Books, roster and ranges


def test_current_books(accounts, csms) -> None:
    assert len(csms) == 35
    for row in accounts.values():
        if row["coverage"] == "Inbound":
            assert row["current_csm"] == ""
        else:
            assert row["current_csm"] in csms
    books = Counter(row["current_csm"] for row in accounts.values() if row["current_csm"])
    assert len(books) == 30 and not NEW_HIRES & set(books)
    assert max(books.values()) - min(books.values()) <= 1  # round-robin
    assert Counter(row["coverage"] for row in accounts.values()) == COVERAGE_COUNTS


def test_coverage_follows_the_arr_bands(accounts) -> None:
    for row in accounts.values():
        arr = int(row["arr"])
        band = (
            "Task Force"
            if arr >= 750_000
            else "Sync"
            if arr >= 250_000
            else "Async"
            if arr >= 50_000
            else "Inbound"
        )
        assert row["coverage"] == band, row["id"]


def test_roster_comes_from_sales_teams(csms) -> None:
    teams = _read_csv(MAVEN / "sales_teams.csv")
    assert sorted(row["name"] for row in csms.values()) == sorted(t["sales_agent"] for t in teams)
    region = {t["sales_agent"]: t["regional_office"] for t in teams}
    for row in csms.values():
        assert row["region"] == region[row["name"]]
        assert row["capacity"] == "1.0"
        assert row["industries"]
    covered = {i for row in csms.values() for i in row["industries"].split(";")}
    assert covered == {"DevTools", "FinTech", "Cybersecurity", "HealthTech", "EdTech"}


def test_fields_are_in_range(accounts) -> None:
    for row in accounts.values():
        assert 0 <= int(row["health_score"]) <= 100
        assert 0.02 <= float(row["churn_risk"]) <= 0.9
        assert 1 <= int(row["complexity"]) <= 5 and 1 <= int(row["maturity"]) <= 5
        assert int(row["potential_arr"]) >= int(row["arr"])
        for key in ("expansion_potential", "adoption", "strategic", "competitive_risk"):
            assert 0 <= float(row[key]) <= 1, key
        assert -1 <= float(row["growth"]) <= 10
        renewal = dt.date.fromisoformat(row["renewal_date"])
        assert AS_OF < renewal <= AS_OF + dt.timedelta(days=366)
