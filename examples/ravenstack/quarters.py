"""Two quarters of RavenStack between re-plans: snapshot, plan, drift, new accounts, outcomes.

The RavenStack data run to December 2024, so the story is told inside them, each snapshot
built by the rules of ``build.py`` on its own date:

- ``q1``: the accounts on 2024-07-01, owners dealt as in the main example (round-robin by
  signup over the CSMs with deals; Inbound accounts in the pool). The team is the same 35 CSMs.
- (``territory solve`` plans Q1.)
- ``q2 --plan PLAN``: the accounts on 2024-10-01 with the plan's owners (the plan was carried
  out); accounts signed since Q1 have no owner yet; every figure (ARR, health, churn, renewal,
  complexity) is recomputed on the new date from the data: the drift is the data's.
- ``actuals``: what happened to each Q1 account by 2025-01-01, from the subscriptions: no paid
  ARR left (``churned``, dated by its last churn event or subscription end), less ARR
  (``contracted``), more (``expanded``), the same (``renewed``).

    python examples/ravenstack/quarters.py q1 --out build/quarters
    python examples/ravenstack/quarters.py q2 --plan build/quarters/q1-plan.json --out build/quarters
    python examples/ravenstack/quarters.py actuals --out build/quarters

``make story`` runs the whole story (docs/monitor.md). Standard library only; deterministic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build

Q1 = dt.date(2024, 7, 1)
Q2 = dt.date(2024, 10, 1)
END = dt.date(2025, 1, 1)


def _team(data: Path) -> list[build._Csm]:
    """The 35 CSMs, their industries split by the Q1 accounts' ARR (the same team both
    quarters)."""
    industry_arr: dict[str, float] = defaultdict(float)
    for account in build._accounts(data, Q1):
        industry_arr[account.industry] += account.arr
    return build._csms(data, industry_arr)


def _scenario(name: str, as_of: dt.date, description: str) -> dict[str, object]:
    scenario = build.scenario_dict()
    scenario.update(
        name=name,
        as_of=as_of.isoformat(),
        description=description,
        solver={"time_limit_s": 20, "threads": 1},
    )
    return scenario


def _write(
    out: Path,
    folder: str,
    accounts: Sequence[build._Account],
    csms: Sequence[build._Csm],
    scenario: dict[str, object],
) -> Path:
    where = out / folder
    where.mkdir(parents=True, exist_ok=True)
    build._write_csv(where / "accounts.csv", build.ACCOUNT_COLUMNS, [a.row() for a in accounts])
    build._write_csv(where / "csms.csv", build.CSM_COLUMNS, [c.row() for c in csms])
    path = where / "scenario.json"
    path.write_text(build.scenario_text(scenario), encoding="utf-8", newline="\n")
    return path


def q1(out: Path, data: Path) -> Path:
    accounts = build._accounts(data, Q1)
    csms = _team(data)
    build._deal_books(accounts, csms)
    text = f"RavenStack on {Q1}: {len(accounts)} accounts, today's owners (dealt round-robin)."
    return _write(out, "q1", accounts, csms, _scenario("ravenstack-q1", Q1, text))


def q2(out: Path, data: Path, plan: Path) -> Path:
    owners = {
        row["account_id"]: row["csm_id"]
        for row in json.loads(plan.read_text(encoding="utf-8"))["assignments"]
        if row.get("csm_id")
    }
    accounts = build._accounts(data, Q2)
    for account in accounts:
        account.current_csm = owners.get(account.id, "")
    new = sum(1 for a in accounts if a.id not in owners)
    text = (
        f"RavenStack on {Q2}: {len(accounts)} accounts with the Q1 plan's owners; {new} signed "
        "since Q1 have no owner yet."
    )
    return _write(out, "q2", accounts, _team(data), _scenario("ravenstack-q2", Q2, text))


def actuals(out: Path, data: Path) -> Path:
    base = data / build.RAVENSTACK
    subscriptions = build._read(base / "ravenstack_subscriptions.csv")
    events = build._read(base / "ravenstack_churn_events.csv")
    end_arr: dict[str, float] = defaultdict(float)
    last_end: dict[str, dt.date] = {}
    for sub in subscriptions:
        if build.is_active(sub, END):
            end_arr[sub["account_id"]] += float(sub["arr_amount"])
        if sub["end_date"].strip():
            day = build._date(sub["end_date"])
            if Q1 < day <= END:
                last_end[sub["account_id"]] = max(day, last_end.get(sub["account_id"], day))
    churned_on: dict[str, dt.date] = {}
    for event in events:
        day = build._date(event["churn_date"])
        if Q1 < day <= END:
            churned_on[event["account_id"]] = max(day, churned_on.get(event["account_id"], day))
    rows = []
    for account in build._accounts(data, Q1):
        now = end_arr.get(account.id, 0.0)
        if now <= 0:
            outcome, amount = "churned", account.arr
            day = churned_on.get(account.id) or last_end.get(account.id) or END
        else:
            change = now - account.arr
            outcome = "expanded" if change > 0.5 else "contracted" if change < -0.5 else "renewed"
            amount, day = abs(change), END
        rows.append(
            {
                "account_id": account.id,
                "outcome": outcome,
                "amount": "" if outcome == "renewed" else build._money(amount),
                "date": day.isoformat(),
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "actuals.csv"
    build._write_csv(path, ("account_id", "outcome", "amount", "date"), rows)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("q1", "q2", "actuals"))
    parser.add_argument("--out", type=Path, required=True, help="folder of the story's files")
    parser.add_argument("--data", type=Path, default=build.DEFAULT_DATA)
    parser.add_argument("--plan", type=Path, help="q2: the Q1 plan (territory solve --out)")
    args = parser.parse_args(argv)
    if args.step == "q1":
        print(q1(args.out, args.data))
    elif args.step == "q2":
        if args.plan is None:
            parser.error("q2 needs --plan (the Q1 plan)")
        print(q2(args.out, args.data, args.plan))
    else:
        print(actuals(args.out, args.data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
