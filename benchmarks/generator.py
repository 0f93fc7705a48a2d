"""Seeded generator of synthetic Customer Success teams, shaped like real B2B SaaS books.

``generate(n_accounts, n_csms, seed)`` returns a scenario dict: CSMs with specializations
(enterprise/technical, mid-market/industry), historical retention and expansion rates;
accounts with log-normal ARR, health-driven churn risk, complexity, renewal dates, expansion
potential, required skills for enterprise accounts, and a current assignment that reflects
"historical accident" (books within about ±15% of the mean, risk bunched on a few CSMs).
The same arguments always give the same scenario.

Run ``python -m benchmarks.generator 150 8 --seed 7 --out examples/seed_150x8`` to write a
scenario folder (scenario.json + accounts.csv + csms.csv).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
from pathlib import Path
from typing import Any

INDUSTRIES = ("software", "fintech", "healthcare", "retail", "manufacturing", "education")
REGIONS = ("NA", "EMEA")
FIRST = (
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Parker",
    "Quinn",
    "Riley",
    "Sage",
    "Taylor",
    "Rowan",
    "Skyler",
    "Reese",
)
LAST = (
    "Chen",
    "Okafor",
    "Garcia",
    "Novak",
    "Silva",
    "Khan",
    "Muller",
    "Rossi",
    "Tanaka",
    "Dubois",
    "Haddad",
    "Larsen",
    "Moreau",
    "Ivanova",
    "Patel",
    "Kowalski",
    "Nguyen",
    "Schmidt",
    "Costa",
    "Berg",
)
COMPANY_A = (
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Echo",
    "Fern",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "North",
    "Orbit",
    "Pioneer",
    "Quartz",
    "River",
    "Summit",
    "Tidal",
)
COMPANY_B = (
    "Labs",
    "Health",
    "Systems",
    "Retail",
    "Works",
    "Analytics",
    "Logistics",
    "Bank",
    "Foods",
    "Learning",
    "Networks",
    "Clinics",
    "Motors",
    "Pay",
    "Cloud",
    "Goods",
)

AS_OF = dt.date(2026, 11, 16)


def generate(
    n_accounts: int, n_csms: int, seed: int = 7, *, mean_book_arr: float = 2_100_000.0
) -> dict[str, Any]:
    """A scenario dict with ``n_accounts`` accounts and ``n_csms`` CSMs (see module docstring)."""
    rng = random.Random(seed)
    csms = _csms(rng, n_csms)
    accounts = _accounts(rng, n_accounts, n_csms * mean_book_arr)
    _assign_current(rng, accounts, csms)
    per_csm = n_accounts / n_csms
    high_risk = sum(1 for a in accounts if a["churn_risk"] == "high")
    return {
        "name": f"synthetic_{n_accounts}x{n_csms}_seed{seed}",
        "description": (
            f"Synthetic B2B SaaS team: {n_csms} CSMs, {n_accounts} accounts (seed {seed}). Weights 40/30/20/10; "
            "ARR within ±15% of target; strategic accounts locked; at most 20% of accounts move."
        ),
        "as_of": AS_OF.isoformat(),
        "csms": csms,
        "accounts": accounts,
        "objectives": {
            "churn_risk": 40,
            "balance": 30,
            "expertise": 20,
            "expansion": 10,
            "continuity": 0,
        },
        "constraints": {
            "arr_tolerance": 0.15,
            "max_accounts_per_csm": math.ceil(per_csm * 1.32),
            "min_arr_per_csm": round(mean_book_arr * 0.715, -5),
            "max_high_risk_per_csm": max(3, math.ceil(3 * high_risk / n_csms)),
            "max_moves": math.ceil(0.2 * n_accounts),
            "renewal_freeze_days": 30,
            "required_skills": True,
        },
        "solver": {"backend": "auto", "time_limit_s": 60, "gap": 0.0001, "seed": 0},
    }


def _csms(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    names: set[str] = set()
    for i in range(n):
        enterprise = i % 2 == 0
        primary = INDUSTRIES[i % len(INDUSTRIES)]
        secondary = INDUSTRIES[(i * 7 + 3) % len(INDUSTRIES)]
        industries = (
            [primary] if secondary == primary or rng.random() < 0.4 else [primary, secondary]
        )
        skills = (
            ["enterprise", "technical"]
            if enterprise and i % 4 == 0
            else (["enterprise"] if enterprise else ["mid-market"])
        )
        if not enterprise and rng.random() < 0.3:
            skills.append("technical")
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 3 + i // len(FIRST)) % len(LAST)]}"
        while name in names:
            name = f"{name} {i}"
        names.add(name)
        out.append(
            {
                "id": f"C{i + 1:03d}" if n > 99 else f"C{i + 1:02d}",
                "name": name,
                "capacity": 1.0,
                "industries": industries,
                "skills": skills,
                "region": REGIONS[0] if i % 3 else REGIONS[1],
                "languages": ["en", "de"] if i % 3 == 0 else ["en"],
                "retention_rate": round(rng.uniform(0.82, 0.95), 3),
                "expansion_rate": round(rng.uniform(0.08, 0.30), 3),
            }
        )
    return out


def _accounts(rng: random.Random, n: int, total_arr: float) -> list[dict[str, Any]]:
    raw = [math.exp(rng.gauss(0.0, 0.85)) for _ in range(n)]
    scale = total_arr / sum(raw)
    out = []
    width = len(str(n))
    for i, r in enumerate(raw):
        arr = max(5_000.0, round(r * scale, -2))
        health = max(5, min(99, round(rng.gauss(72, 15))))
        risk = "high" if health < 50 else ("medium" if health < 68 else "low")
        industry = rng.choice(INDUSTRIES)
        big = arr >= 2.2 * scale
        complexity = max(
            1, min(5, round(1 + 3 * min(1.0, arr / (4 * scale)) + rng.uniform(-0.6, 1.2)))
        )
        required = ["enterprise"] if big else []
        if complexity >= 5 and rng.random() < 0.5:
            required.append("technical")
        potential = rng.choices(
            ("low", "medium", "high"), weights=(5, 3, 2) if health >= 60 else (6, 3, 1)
        )[0]
        renewal = AS_OF + dt.timedelta(days=rng.randrange(0, 365))
        out.append(
            {
                "id": f"A{i + 1:0{width}d}",
                "name": f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {i + 1}",
                "arr": arr,
                "health_score": health,
                "churn_risk": risk,
                "industry": industry,
                "complexity": complexity,
                "renewal_date": renewal.isoformat(),
                "expansion_potential": potential,
                "region": REGIONS[0] if rng.random() < 0.7 else REGIONS[1],
                "language": "de" if rng.random() < 0.1 else "en",
                "required_skills": required,
                "current_csm": None,
                "locked": False,
            }
        )
    return out


#: Teams larger than this get their inherited assignment from a sample of CSMs per account.
SAMPLED_TEAM = 250


def _assign_current(
    rng: random.Random, accounts: list[dict[str, Any]], csms: list[dict[str, Any]]
) -> None:
    """A plausible inherited assignment: books near (not at) the mean, risk bunched by accident."""
    n = len(csms)
    total = sum(a["arr"] for a in accounts)
    wants = [rng.uniform(0.88, 1.12) for _ in range(n)]
    target = [total * w / sum(wants) for w in wants]
    load = [0.0] * n
    count = [0] * n
    cap = math.ceil(len(accounts) / n * 1.25)
    order = sorted(range(len(accounts)), key=lambda i: -accounts[i]["arr"])
    for i in order:
        acc = accounts[i]
        fits = [
            c
            for c in range(n)
            if set(acc["required_skills"]) <= set(csms[c]["skills"]) and count[c] < cap
        ] or [c for c in range(n) if count[c] < cap]

        # Mostly "whoever has room", with a bias that piles risk onto some CSMs.
        def room(c: int, acc: dict[str, Any] = acc) -> float:
            bias = 0.15 * target[c] if acc["churn_risk"] == "high" and c % 3 == 1 else 0.0
            return target[c] - load[c] + bias + rng.uniform(0, 0.05 * target[c])

        if n > SAMPLED_TEAM:
            # Large teams: "whoever has room" among a seeded sample of the CSMs that fit (the
            # full scan is n x m draws: minutes at 250,000 x 1,000).
            fits = rng.sample(fits, min(len(fits), 24))
        c = max(fits, key=room)
        acc["current_csm"] = csms[c]["id"]
        load[c] += acc["arr"]
        count[c] += 1
    # The largest accounts are strategic: locked with their CSM.
    for i in order[: max(1, len(accounts) // 25)]:
        accounts[i]["locked"] = True


def write_folder(scenario: dict[str, Any], folder: Path) -> Path:
    """Write ``scenario.json`` with ``accounts.csv`` and ``csms.csv`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("accounts", "csms"):
        rows = scenario[kind]
        fields = list(rows[0].keys())
        with (folder / f"{kind}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: ";".join(v) if isinstance(v, list) else ("" if v is None else v)
                        for k, v in row.items()
                    }
                )
    body = {k: v for k, v in scenario.items() if k not in ("accounts", "csms")}
    body["csms"] = "csms.csv"
    body["accounts"] = "accounts.csv"
    path = folder / "scenario.json"
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accounts", type=int)
    parser.add_argument("csms", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", type=Path, required=True, help="folder to write scenario.json and CSVs into"
    )
    args = parser.parse_args()
    path = write_folder(generate(args.accounts, args.csms, args.seed), args.out)
    print(path)


if __name__ == "__main__":
    main()
