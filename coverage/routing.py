"""Routing a segmentation into an assignment scenario: the accounts that need a named CSM,
each with its coverage model's workload, and those that go to the pool (docs/segmentation.md,
"From segmentation to assignment")."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.scenario import Scenario

from .segmentation import SegmentationReport, segment


@dataclass(frozen=True)
class Routing:
    """An assignment scenario built from a segmentation: the accounts with a named CSM, each
    with its coverage model's workload, and the accounts routed to the pool."""

    scenario: Scenario
    pooled: tuple[str, ...]
    pool_csms: tuple[str, ...]
    notes: tuple[str, ...]


def segment_skill(name: str) -> str:
    return f"segment:{name}"


def route(scenario: Scenario, report: SegmentationReport | None = None) -> Routing:
    """The assignment scenario for the recommended coverage.

    - Accounts whose recommended model has no named CSM go to the pool (not to a CSM), unless
      locked to their CSM.
    - Every other account's workload becomes its model's ``workload`` (per-CSM overrides scale
      with it), so the engine balances real effort.
    - CSMs who list ``segments`` only get accounts of those models (a required skill
      ``segment:<name>``); CSMs who serve only pooled models staff the pool and get no named
      accounts.
    """
    report = report or segment(scenario)
    config = scenario.segmentation
    models = {m.name: m for m in config.models()}
    named_models = [m.name for m in config.models() if m.named]
    pool_csms = tuple(
        c.id for c in scenario.csms if c.segments and not any(models[s].named for s in c.segments)
    )
    data = scenario.model_dump(mode="json")
    notes: list[str] = []
    locked_to = {a.current_csm for a in scenario.accounts if a.locked}
    keep_pool = [c for c in pool_csms if c in locked_to]
    if keep_pool:
        notes.append(
            f"{len(keep_pool)} pool CSM(s) keep a named book: accounts are locked to them "
            f"({', '.join(keep_pool)})"
        )
    pool_set = set(pool_csms) - set(keep_pool)
    enforce = scenario.constraints.required_skills

    accounts = []
    pooled = []
    rows = {r.account_id: r for r in report.accounts}
    for raw, a in zip(data["accounts"], scenario.accounts, strict=True):
        row = rows[a.id]
        model = models[row.recommended]
        if not model.named and not a.locked:
            pooled.append(a.id)
            continue
        if not model.named:
            notes.append(f"{a.label} is recommended for {model.name} but locked: it stays named")
            model = models[named_models[-1]]
        old = a.workload_units
        raw["workload"] = model.workload
        if raw.get("workload_by_csm"):
            factor = model.workload / old if old > 0 else 1.0
            raw["workload_by_csm"] = {c: w * factor for c, w in raw["workload_by_csm"].items()}
        skills = list(raw.get("required_skills") or []) if enforce else []
        raw["required_skills"] = [*skills, segment_skill(model.name)]
        raw["coverage"] = model.name
        if raw.get("current_csm") in pool_set:
            raw["current_csm"] = None
        accounts.append(raw)
    csms = []
    for raw, c in zip(data["csms"], scenario.csms, strict=True):
        if c.id in pool_set:
            continue
        serves = [s for s in c.segments if models[s].named] or named_models
        raw["skills"] = [*raw.get("skills", []), *(segment_skill(s) for s in serves)]
        csms.append(raw)
    if not accounts:
        raise ValueError("every account is routed to the pool: no account needs a named CSM")
    if not csms:
        raise ValueError("every CSM staffs the pool: no CSM can take a named account")
    data["accounts"] = accounts
    data["csms"] = csms
    data["constraints"] = {**data["constraints"], "required_skills": True}
    data["name"] = f"{scenario.name} (routed by {config.scheme})"
    return Routing(
        scenario=Scenario.from_dict(data),
        pooled=tuple(pooled),
        pool_csms=tuple(sorted(pool_set)),
        notes=tuple(notes),
    )
