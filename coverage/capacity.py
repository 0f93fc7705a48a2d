"""Capacity planning: the people each coverage model needs against the people it has, each
CSM's utilization today and under the recommended coverage, and the moves and hires that
close the gaps (docs/segmentation.md, "Capacity")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optimizer.scenario import CoverageModel, Scenario

if TYPE_CHECKING:
    from .segmentation import AccountSegment


@dataclass(frozen=True)
class ModelCapacity:
    """Headcount one coverage model needs against what is staffed today."""

    name: str
    named: bool
    accounts: int
    arr: float
    fte_needed: float
    fte_staffed: float
    cadence: str

    @property
    def gap(self) -> float:
        return self.fte_needed - self.fte_staffed


@dataclass(frozen=True)
class CsmLoad:
    """A CSM's book today: the effort it takes as covered today and with the recommended
    coverage, as shares of the CSM's capacity (1 = a full book)."""

    csm_id: str
    name: str | None
    capacity: float
    accounts: int
    arr: float
    serves: str
    utilization_current: float
    utilization_recommended: float
    state: str


@dataclass(frozen=True)
class CapacityAction:
    kind: str  # "move", "hire" or "spare"
    fte: float
    from_model: str | None
    to_model: str | None
    text: str


@dataclass(frozen=True)
class Capacity:
    models: tuple[ModelCapacity, ...]
    csms: tuple[CsmLoad, ...]
    actions: tuple[CapacityAction, ...]
    team_fte: float
    fte_needed: float
    unallocated_fte: float


def plan_capacity(
    scenario: Scenario, rows: list[AccountSegment], models: tuple[CoverageModel, ...]
) -> Capacity:
    by_name = {m.name: m for m in models}
    books: dict[str, list[AccountSegment]] = defaultdict(list)
    for r in rows:
        if r.current_csm is not None:
            books[r.current_csm].append(r)

    staffed: dict[str, float] = defaultdict(float)
    unallocated = 0.0
    loads = []
    for csm in scenario.csms:
        book = books.get(csm.id, [])
        if csm.segments:
            shares = {name: 1 / len(csm.segments) for name in csm.segments}
        else:
            effort: dict[str, float] = defaultdict(float)
            for r in book:
                effort[r.current] += r.fte_current
            total = sum(effort.values())
            shares = {name: e / total for name, e in effort.items()} if total > 0 else {}
        if shares:
            for name, share in shares.items():
                staffed[name] += csm.capacity * share
        else:
            unallocated += csm.capacity
        now = sum(r.fte_current for r in book) / csm.capacity
        then = sum(r.fte_recommended for r in book) / csm.capacity
        limits = scenario.segmentation
        state = (
            "overloaded"
            if then > limits.overloaded_above
            else ("room" if then < limits.idle_below else "balanced")
        )
        serves = (
            "/".join(csm.segments)
            if csm.segments
            else (max(shares, key=lambda n: (shares[n], n)) if shares else "-")
        )
        loads.append(
            CsmLoad(
                csm_id=csm.id,
                name=csm.name,
                capacity=csm.capacity,
                accounts=len(book),
                arr=sum(r.arr for r in book),
                serves=serves,
                utilization_current=now,
                utilization_recommended=then,
                state=state,
            )
        )

    table = []
    for m in models:
        members = [r for r in rows if r.recommended == m.name]
        table.append(
            ModelCapacity(
                name=m.name,
                named=m.named,
                accounts=len(members),
                arr=sum(r.arr for r in members),
                fte_needed=len(members) * m.fte_per_account,
                fte_staffed=staffed.get(m.name, 0.0),
                cadence=m.cadence,
            )
        )
    actions = _actions(table, unallocated, by_name)
    return Capacity(
        models=tuple(table),
        csms=tuple(loads),
        actions=tuple(actions),
        team_fte=sum(c.capacity for c in scenario.csms),
        fte_needed=sum(m.fte_needed for m in table),
        unallocated_fte=unallocated,
    )


def _actions(
    table: list[ModelCapacity], unallocated: float, by_name: Mapping[str, CoverageModel]
) -> list[CapacityAction]:
    """Fill each model's shortfall from unallocated people first, then from models with more
    people than they need (largest surplus first), and hire what is left."""
    need = {m.name: m.gap for m in table}
    surplus = {name: -gap for name, gap in need.items() if gap < -1e-9}
    actions: list[CapacityAction] = []
    for m in sorted(table, key=lambda m: (-m.gap, m.name)):
        short = m.gap
        if short <= 1e-9:
            continue
        if unallocated > 1e-9:
            take = min(unallocated, short)
            unallocated -= take
            short -= take
            actions.append(
                CapacityAction(
                    "move",
                    take,
                    None,
                    m.name,
                    f"Give {_fte(take)} of unassigned capacity (CSMs with empty books) to {m.name}.",
                )
            )
        for source in sorted(surplus, key=lambda s: (-surplus[s], s)):
            if short <= 1e-9:
                break
            take = min(surplus[source], short)
            if take <= 1e-9:
                continue
            surplus[source] -= take
            short -= take
            actions.append(
                CapacityAction(
                    "move",
                    take,
                    source,
                    m.name,
                    f"Move {_fte(take)} from {source} to {m.name}.",
                )
            )
        if short > 1e-9:
            actions.append(
                CapacityAction("hire", short, None, m.name, f"Hire {_fte(short)} for {m.name}.")
            )
    for source, spare in sorted(surplus.items()):
        if spare > 1e-9:
            actions.append(
                CapacityAction(
                    "spare",
                    spare,
                    source,
                    None,
                    f"{_fte(spare)} in {source} is more than its accounts need.",
                )
            )
    if unallocated > 1e-9:
        actions.append(
            CapacityAction(
                "spare", unallocated, None, None, f"{_fte(unallocated)} of new capacity is unused."
            )
        )
    return actions


def _fte(value: float) -> str:
    return f"{value:.1f} FTE" if value >= 0.95 else f"{value:.2f} FTE"
