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


def full_team() -> dict[str, Any]:
    """C1 and C2 take two accounts each and hold them; C3 has room."""
    data = snapshot()
    data["constraints"] = {"max_accounts_per_csm": 2, "required_skills": True}
    data["csms"][0]["retention_rate"] = 0.95
    data["accounts"] = data["accounts"][:5]
    return data


def test_route_keeps_the_snapshot_warm_and_commits(client: TestClient) -> None:
    kept = client.post("/v1/snapshots", json=full_team())
    assert kept.status_code == 201
    key = kept.json()["snapshot_id"]
    assert kept.json()["accounts"] == 5 and kept.json()["unowned"] == []
    new = {"id": "N1", "arr": 50_000, "churn_risk": 0.5}
    first = client.post("/v1/route", json={"snapshot_id": key, "accounts": [new]})
    assert first.status_code == 200, first.text
    placed = first.json()["placements"][0]
    assert placed["csm_id"] == "C3" and first.json()["all_placed"] is True
    # The engine, on the same snapshot and account, says the same.
    from optimizer.placement import Router

    engine = Router(Scenario.from_dict(full_team())).route([new])
    assert engine.placements[0].csm_id == placed["csm_id"]
    assert engine.placements[0].cost == pytest.approx(placed["cost"])
    committed = client.post(
        "/v1/route", json={"snapshot_id": key, "accounts": [new], "commit": True}
    )
    assert committed.status_code == 200
    assert client.get(f"/v1/snapshots/{key}").json()["accounts"] == 6
    # C3 is full now: N2 cannot go anywhere, and the answer says why.
    blocked = client.post(
        "/v1/route", json={"snapshot_id": key, "accounts": [{"id": "N2", "arr": 10_000}]}
    ).json()
    assert blocked["all_placed"] is False
    rules = {c["csm_id"]: c["rules"] for c in blocked["placements"][0]["candidates"]}
    assert rules == {"C1": ["max_accounts"], "C2": ["max_accounts"], "C3": ["max_accounts"]}


def test_route_inline_answers_the_snapshot_id(client: TestClient) -> None:
    data = full_team()
    data["name"] = "inline"
    answer = client.post(
        "/v1/route", json={"snapshot": data, "accounts": [{"id": "N9", "arr": 1_000}]}
    )
    assert answer.status_code == 200
    key = answer.json()["snapshot_id"]
    assert client.get(f"/v1/snapshots/{key}").json()["name"] == "inline"


def test_route_names_bad_input(client: TestClient) -> None:
    key = client.post("/v1/snapshots", json=full_team()).json()["snapshot_id"]
    bad = client.post(
        "/v1/route",
        json={"snapshot_id": key, "accounts": [{"id": "A1", "arr": 5}, {"id": "N", "arr": -1}]},
    )
    assert bad.status_code == 422
    assert {i["path"] for i in bad.json()["issues"]} >= {"accounts[A1].id"}
    assert client.post("/v1/route", json={"snapshot_id": "nope", "accounts": []}).status_code == 404
    assert client.post("/v1/route", json={"accounts": []}).status_code == 422
    assert client.get("/v1/snapshots/nope").status_code == 404
