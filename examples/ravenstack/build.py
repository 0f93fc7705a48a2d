"""Build the RavenStack example scenario from two public data sets.

Accounts come from the RavenStack synthetic B2B SaaS data set (accounts, subscriptions,
feature usage, support tickets, churn events; by River @ Rivalytics). The CSM roster comes
from the Maven Analytics CRM Sales Opportunities sample (``sales_teams.csv``, with per-agent
rates from ``sales_pipeline.csv``). Every derivation rule is documented in README.md next to
this file.

    python examples/ravenstack/build.py [--data examples/data] [--out examples/ravenstack]

writes ``accounts.csv``, ``csms.csv`` and ``scenario.json``. The output is byte-identical on
every run: rows are sorted, numbers have a fixed format and nothing depends on the clock.
Standard library only.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent / "data"
RAVENSTACK = "ravenstack-saas"
MAVEN = "maven-crm"

#: The plan date. The data runs from January 2023 to December 2024.
AS_OF = dt.date(2025, 1, 1)
#: Feature adoption looks at usage in this many days before AS_OF; there are 40 features.
USAGE_DAYS = 180
FEATURES = 40
#: Support signals (satisfaction, escalations, urgent share, ticket volume) look back a year.
TICKET_DAYS = 365
#: Monthly list price per seat of each plan: every paid subscription has mrr = seats x price.
PRICE = {"Basic": 19, "Pro": 49, "Enterprise": 199}
NEXT_PLAN = {"Basic": "Pro", "Pro": "Enterprise", "Enterprise": "Enterprise"}
#: Today's revenue-based coverage: the first band whose ARR floor the account reaches.
COVERAGE_BANDS = (
    ("Task Force", 750_000),
    ("Sync", 250_000),
    ("Async", 50_000),
    ("Inbound", 0),
)
#: A mean CSAT stands in for accounts without a rated ticket in the window (scale 1-5).
NEUTRAL_CSAT = 4.0
CHURN_FLOOR, CHURN_CAP = 0.02, 0.9
#: Pipeline halves for the CSMs' retention: customers won before the split, won again after.
PIPELINE_SPLIT = dt.date(2017, 7, 1)
EXPANSION_RANGE = (0.10, 0.35)
RETENTION_RANGE = (0.80, 0.95)

ACCOUNT_COLUMNS = (
    "id",
    "name",
    "arr",
    "health_score",
    "churn_risk",
    "industry",
    "complexity",
    "renewal_date",
    "expansion_potential",
    "current_csm",
    "coverage",
    "potential_arr",
    "adoption",
    "growth",
    "maturity",
    "strategic",
    "competitive_risk",
)
CSM_COLUMNS = (
    "id",
    "name",
    "capacity",
    "industries",
    "region",
    "retention_rate",
    "expansion_rate",
)

SCENARIO_NAME = "ravenstack"
DESCRIPTION = (
    "RavenStack SaaS accounts (River @ Rivalytics, synthetic, used with credit) as of "
    "2025-01-01, assigned to 35 CSMs from the Maven Analytics CRM sales teams (30 with a "
    "round-robin book by signup date, 5 new hires with empty books; Inbound accounts sit in "
    "the pool). Objectives churn risk 40%, balance 30%, expertise 20%, expansion 10%; ARR "
    "within +/-25% and workload within +/-30% of target. Derivations: "
    "examples/ravenstack/README.md."
)


# ---------------------------------------------------------------------------------------------
# Reading


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _true(value: str) -> bool:
    return value.strip() == "True"


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value.strip()[:10])


def _slug(name: str) -> str:
    text = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(part for part in text.split("-") if part)


# ---------------------------------------------------------------------------------------------
# Formatting (fixed, so the output is byte-identical)


def _money(value: float) -> str:
    return str(round(value))  # whole dollars: every amount in the data is whole


def _fraction(value: float) -> str:
    return f"{value:.4f}"


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


# ---------------------------------------------------------------------------------------------
# Helpers


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def quintile_scores(values: dict[str, float]) -> dict[str, int]:
    """1 to 5: ``1 + floor(5 x (accounts with a strictly smaller value) / accounts)``.

    Ties get the same score, so the result does not depend on any order.
    """
    ordered = sorted(values.values())
    n = len(ordered)
    scores: dict[str, int] = {}
    for key, value in values.items():
        below = bisect.bisect_left(ordered, value)
        scores[key] = 1 + (5 * below) // n
    return scores


def _scaled(values: dict[str, float], bounds: tuple[float, float]) -> dict[str, float]:
    """Min-max scale ``values`` linearly onto ``bounds``."""
    low, high = min(values.values()), max(values.values())
    lo, hi = bounds
    span = high - low
    return {
        key: lo + (hi - lo) * ((value - low) / span if span else 0.5)
        for key, value in values.items()
    }


def is_active(subscription: dict[str, str], as_of: dt.date = AS_OF) -> bool:
    """Paid and running on ``as_of``: started on or before it, no end or an end after it."""
    if _true(subscription["is_trial"]):
        return False
    end = subscription["end_date"].strip()
    return _date(subscription["start_date"]) <= as_of and (not end or _date(end) > as_of)


def coverage_for(arr: float) -> str:
    for name, floor in COVERAGE_BANDS:
        if arr >= floor:
            return name
    return COVERAGE_BANDS[-1][0]


def mentions_competitor(event: dict[str, str]) -> bool:
    return (
        event["reason_code"].strip() == "competitor"
        or "competitor" in event["feedback_text"].lower()
    )


def renewal_date(active: Iterable[dict[str, str]], as_of: dt.date = AS_OF) -> dt.date:
    """Next anniversary after ``as_of`` of the latest active annual subscription's start; an
    account with monthly subscriptions only renews on the next monthly anniversary of its
    latest one."""
    subscriptions = list(active)
    annual = [s for s in subscriptions if s["billing_frequency"].strip() == "annual"]
    pool, step = (annual, _add_years) if annual else (subscriptions, _add_months)
    latest = max(pool, key=lambda s: (_date(s["start_date"]), s["subscription_id"]))
    start = _date(latest["start_date"])
    k = 1
    while step(start, k) <= as_of:
        k += 1
    return step(start, k)


# ---------------------------------------------------------------------------------------------
# Accounts


@dataclass
class _Account:
    id: str
    name: str
    industry: str
    signup: dt.date
    arr: float
    potential_arr: float
    health_score: int
    churn_risk: float
    renewal_date: dt.date
    coverage: str
    adoption: float
    growth: float
    strategic: float
    competitive_risk: float
    # Inputs of the rank-based fields (complexity, maturity).
    features: int
    seats: int
    tickets: int
    complexity: int = 0
    maturity: int = 0
    current_csm: str = ""

    @property
    def expansion_potential(self) -> float:
        return (self.potential_arr - self.arr) / self.potential_arr

    def row(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "arr": _money(self.arr),
            "health_score": str(self.health_score),
            "churn_risk": _fraction(self.churn_risk),
            "industry": self.industry,
            "complexity": str(self.complexity),
            "renewal_date": self.renewal_date.isoformat(),
            "expansion_potential": _fraction(self.expansion_potential),
            "current_csm": self.current_csm,
            "coverage": self.coverage,
            "potential_arr": _money(self.potential_arr),
            "adoption": _fraction(self.adoption),
            "growth": _fraction(self.growth),
            "maturity": str(self.maturity),
            "strategic": _fraction(self.strategic),
            "competitive_risk": _fraction(self.competitive_risk),
        }


def _accounts(data_dir: Path, as_of: dt.date = AS_OF) -> list[_Account]:
    base = data_dir / RAVENSTACK
    accounts = _read(base / "ravenstack_accounts.csv")
    subscriptions = _read(base / "ravenstack_subscriptions.csv")
    usage = _read(base / "ravenstack_feature_usage.csv")
    tickets = _read(base / "ravenstack_support_tickets.csv")
    churn_events = _read(base / "ravenstack_churn_events.csv")

    subs_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    account_of_sub: dict[str, str] = {}
    for sub in subscriptions:
        subs_of[sub["account_id"]].append(sub)
        account_of_sub[sub["subscription_id"]] = sub["account_id"]

    # Usage of the last USAGE_DAYS: distinct features, and the share of records with an error.
    usage_from = as_of - dt.timedelta(days=USAGE_DAYS)
    features: dict[str, set[str]] = defaultdict(set)
    usage_rows: dict[str, int] = defaultdict(int)
    error_rows: dict[str, int] = defaultdict(int)
    for record in usage:
        account_id = account_of_sub.get(record["subscription_id"])
        if account_id is None or not usage_from <= _date(record["usage_date"]) < as_of:
            continue
        features[account_id].add(record["feature_name"].strip())
        usage_rows[account_id] += 1
        error_rows[account_id] += int(record["error_count"]) > 0

    tickets_from = as_of - dt.timedelta(days=TICKET_DAYS)
    tickets_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    for ticket in tickets:
        if tickets_from <= _date(ticket["submitted_at"]) < as_of:
            tickets_of[ticket["account_id"]].append(ticket)

    churns: dict[str, int] = defaultdict(int)
    competitor_churns: dict[str, int] = defaultdict(int)
    for event in churn_events:
        if _date(event["churn_date"]) < as_of:
            churns[event["account_id"]] += 1
            competitor_churns[event["account_id"]] += mentions_competitor(event)

    kept: list[_Account] = []
    for account in accounts:
        account_id = account["account_id"]
        subs = subs_of.get(account_id, [])
        active = [s for s in subs if is_active(s, as_of)]
        arr = sum(float(s["arr_amount"]) for s in active)
        if arr <= 0:
            continue

        potential = max(arr, sum(12 * int(s["seats"]) * next_plan_price(s) for s in active))
        enterprise_share = (
            _arr_where(active, lambda s: s["plan_tier"].strip() == "Enterprise") / arr
        )
        manual_share = _arr_where(active, lambda s: not _true(s["auto_renew_flag"])) / arr
        downgraded = any(_true(s["downgrade_flag"]) for s in active)
        partner_or_event = account["referral_source"].strip() in ("partner", "event")

        history = sorted(subs, key=lambda s: (_date(s["start_date"]), s["subscription_id"]))
        first_seats, last_seats = int(history[0]["seats"]), int(history[-1]["seats"])
        growth = min(10.0, max(-1.0, last_seats / first_seats - 1)) if first_seats else 0.0

        window = tickets_of.get(account_id, [])
        rated = [float(t["satisfaction_score"]) for t in window if t["satisfaction_score"].strip()]
        satisfaction = ((statistics.fmean(rated) if rated else NEUTRAL_CSAT) - 1) / 4
        escalated = _share(window, lambda t: _true(t["escalation_flag"]))
        urgent = _share(window, lambda t: t["priority"].strip() == "urgent")
        errors = error_rows[account_id] / usage_rows[account_id] if usage_rows[account_id] else 0

        health = 100 * (
            0.4 * satisfaction + 0.2 * (1 - escalated) + 0.2 * (1 - urgent) + 0.2 * (1 - errors)
        )
        churn = (
            0.04
            + 0.06 * min(churns[account_id], 3)
            + 0.08 * downgraded
            + 0.15 * manual_share
            + 0.40 * (1 - satisfaction)
            + 0.20 * escalated
        )
        seats = sum(int(s["seats"]) for s in active)
        kept.append(
            _Account(
                id=account_id,
                name=account["account_name"].strip(),
                industry=account["industry"].strip(),
                signup=_date(account["signup_date"]),
                arr=arr,
                potential_arr=potential,
                health_score=_round_half_up(health),
                churn_risk=min(CHURN_CAP, max(CHURN_FLOOR, churn)),
                renewal_date=renewal_date(active, as_of),
                coverage=coverage_for(arr),
                adoption=len(features[account_id]) / FEATURES,
                growth=growth,
                strategic=0.6 * enterprise_share + 0.4 * partner_or_event,
                competitive_risk=min(1.0, 0.4 * competitor_churns[account_id]),
                features=len(features[account_id]),
                seats=seats,
                tickets=len(window),
            )
        )

    def scores(value: Callable[[_Account], float]) -> dict[str, int]:
        return quintile_scores({a.id: value(a) for a in kept})

    by_features = scores(lambda a: a.features)
    by_seats = scores(lambda a: a.seats)
    by_tickets = scores(lambda a: a.tickets)
    by_age = scores(lambda a: (as_of - a.signup).days)
    by_load = scores(lambda a: a.tickets / a.seats)
    for a in kept:
        a.complexity = _round_half_up((by_features[a.id] + by_seats[a.id] + by_tickets[a.id]) / 3)
        a.maturity = _round_half_up((by_age[a.id] + 6 - by_load[a.id]) / 2)
    return sorted(kept, key=lambda a: a.id)


def _arr_where(active: Sequence[dict[str, str]], test: Callable[[dict[str, str]], bool]) -> float:
    return sum(float(s["arr_amount"]) for s in active if test(s))


def _share(rows: Sequence[dict[str, str]], test: Callable[[dict[str, str]], bool]) -> float:
    return sum(test(r) for r in rows) / len(rows) if rows else 0.0


def next_plan_price(subscription: dict[str, str]) -> int:
    """Monthly price per seat one plan up (Enterprise stays Enterprise)."""
    return PRICE[NEXT_PLAN[subscription["plan_tier"].strip()]]


# ---------------------------------------------------------------------------------------------
# CSMs


@dataclass
class _Csm:
    id: str
    name: str
    manager: str
    region: str
    industries: list[str]
    retention_rate: float | None
    expansion_rate: float | None

    @property
    def has_deals(self) -> bool:
        return self.expansion_rate is not None

    def row(self) -> dict[str, str]:
        def rate(value: float | None) -> str:
            return "" if value is None else f"{value:.3f}"

        return {
            "id": self.id,
            "name": self.name,
            "capacity": "1.0",
            "industries": ";".join(self.industries),
            "region": self.region,
            "retention_rate": rate(self.retention_rate),
            "expansion_rate": rate(self.expansion_rate),
        }


def _csms(data_dir: Path, industry_arr: dict[str, float]) -> list[_Csm]:
    base = data_dir / MAVEN
    teams = _read(base / "sales_teams.csv")
    pipeline = _read(base / "sales_pipeline.csv")

    won: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    first_half: dict[str, set[str]] = defaultdict(set)
    second_half: dict[str, set[str]] = defaultdict(set)
    for deal in pipeline:
        agent, stage = deal["sales_agent"].strip(), deal["deal_stage"].strip()
        if stage == "Lost":
            lost[agent] += 1
        elif stage == "Won":
            won[agent] += 1
            half = first_half if _date(deal["close_date"]) < PIPELINE_SPLIT else second_half
            half[agent].add(deal["account"].strip())
    with_deals = sorted(won.keys() | lost.keys())
    win_rate = {a: won[a] / (won[a] + lost[a]) for a in with_deals}
    repeat = {
        a: len(first_half[a] & second_half[a]) / len(first_half[a])
        for a in with_deals
        if first_half[a]
    }
    expansion = _scaled(win_rate, EXPANSION_RANGE)
    retention = _scaled(repeat, RETENTION_RANGE)

    # Managers sorted by name take the industries sorted by name, one each; a manager beyond
    # the fifth (the data has six) covers the two industries with the most ARR.
    managers = sorted({t["manager"].strip() for t in teams})
    industries = sorted(industry_arr)
    biggest = sorted(sorted(industries, key=lambda i: (-industry_arr[i], i))[:2])
    covers = {
        manager: [industries[index]] if index < len(industries) else biggest
        for index, manager in enumerate(managers)
    }

    csms = []
    for team in teams:
        agent = team["sales_agent"].strip()
        csms.append(
            _Csm(
                id=_slug(agent),
                name=agent,
                manager=team["manager"].strip(),
                region=team["regional_office"].strip(),
                industries=covers[team["manager"].strip()],
                retention_rate=retention.get(agent),
                expansion_rate=expansion.get(agent),
            )
        )
    return sorted(csms, key=lambda c: c.id)


# ---------------------------------------------------------------------------------------------
# Today's books and the scenario


def _deal_books(accounts: list[_Account], csms: list[_Csm]) -> None:
    """Named-coverage accounts, by signup date then id, dealt round-robin over the CSMs with
    deals (sorted by id). Inbound accounts stay in the pool (no current CSM)."""
    owners = [c.id for c in csms if c.has_deals]
    named = sorted((a for a in accounts if a.coverage != "Inbound"), key=lambda a: (a.signup, a.id))
    for index, account in enumerate(named):
        account.current_csm = owners[index % len(owners)]


def scenario_dict() -> dict[str, object]:
    return {
        "name": SCENARIO_NAME,
        "description": DESCRIPTION,
        "as_of": AS_OF.isoformat(),
        "objectives": {
            "churn_risk": 40,
            "balance": 30,
            "expertise": 20,
            "expansion": 10,
            "continuity": 0,
        },
        "constraints": {"arr_tolerance": 0.25, "workload_tolerance": 0.3},
        "solver": {"time_limit_s": 30},
        "csms": "csms.csv",
        "accounts": "accounts.csv",
    }


def build(
    data_dir: Path = DEFAULT_DATA,
) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, object]]:
    """The accounts rows and the CSM rows, exactly as written to the CSV files (every value a
    string; an empty string is an absent field), and the scenario dict."""
    data_dir = Path(data_dir)
    accounts = _accounts(data_dir)
    industry_arr: dict[str, float] = defaultdict(float)
    for account in accounts:
        industry_arr[account.industry] += account.arr
    csms = _csms(data_dir, industry_arr)
    _deal_books(accounts, csms)
    return [a.row() for a in accounts], [c.row() for c in csms], scenario_dict()


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def scenario_text(scenario: dict[str, object]) -> str:
    return json.dumps(scenario, indent=2) + "\n"


def write(out_dir: Path, data_dir: Path = DEFAULT_DATA) -> list[Path]:
    accounts, csms, scenario = build(data_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "accounts.csv", out_dir / "csms.csv", out_dir / "scenario.json"]
    _write_csv(paths[0], ACCOUNT_COLUMNS, accounts)
    _write_csv(paths[1], CSM_COLUMNS, csms)
    paths[2].write_text(scenario_text(scenario), encoding="utf-8", newline="\n")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the raw data")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the example to")
    args = parser.parse_args(argv)
    for path in write(args.out, args.data):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
