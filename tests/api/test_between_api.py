"""``POST /v1/monitor`` (and the routing of new accounts): the same answers as the engine,
bad input named, never a 500."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import account, csm, scenario_dict
from fastapi.testclient import TestClient

from api import Settings, create_app
from optimizer import Scenario, solve


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("between")
    settings = Settings(database_url=f"sqlite:///{folder / 'jobs.db'}", workers=1)
    with TestClient(create_app(settings)) as c:
        yield c


def snapshot(as_of: str = "2026-01-01", **fields: Any) -> dict[str, Any]:
    accounts = [
        account(f"A{k}", 100_000, current_csm=f"C{(k - 1) // 2 + 1}", churn_risk=0.1)
        for k in range(1, 7)
    ]
    accounts[0].update(fields)
    return scenario_dict([csm("C1"), csm("C2"), csm("C3")], accounts, as_of=as_of)


def test_monitor_answers_the_findings(client: TestClient) -> None:
    calm = client.post("/v1/monitor", json={"snapshot": snapshot()})
    assert calm.status_code == 200
    assert calm.json()["fired"] is False
    hot = client.post(
        "/v1/monitor",
        json={"snapshot": snapshot("2026-04-01", arr=170_000), "since": snapshot()},
    ).json()
    triggers = {(f["trigger"], f["id"]) for f in hot["findings"]}
    assert ("book_drift", "C1") in triggers
    assert hot["since_as_of"] == "2026-01-01"


def test_monitor_since_a_plan_reports_accounts_off_plan(client: TestClient) -> None:
    data = snapshot()
    data["objectives"] = {"balance": 1}
    data["accounts"][2]["current_csm"] = "C1"
    plan = solve(Scenario.from_dict(data))
    document = plan.to_dict()
    moved = {a["account_id"] for a in document["assignments"] if a["moved"]}
    later = copy.deepcopy(data)
    later["as_of"] = "2026-02-01"
    found = client.post("/v1/monitor", json={"snapshot": later, "since": document}).json()
    assert {f["id"] for f in found["findings"] if f["trigger"] == "off_plan"} == moved


def test_monitor_names_bad_input(client: TestClient) -> None:
    bad = snapshot()
    bad["accounts"][0]["arr"] = -1
    answer = client.post("/v1/monitor", json={"snapshot": bad})
    assert answer.status_code == 422
    assert answer.json()["issues"][0]["path"] == "snapshot.accounts[A1].arr"
    later = client.post(
        "/v1/monitor", json={"snapshot": snapshot(), "since": snapshot("2026-06-01")}
    )
    assert later.status_code == 422
    assert "dated after" in later.text
