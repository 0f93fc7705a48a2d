"""What-if scenario files: a scenario that ``extends`` another and changes a few things.

A variant is a JSON file with ``"extends": "base.json"`` (a path relative to the variant) and
any of these keys; everything else comes from the base, which may itself extend another file:

| key | effect |
|---|---|
| ``name``, ``description``, ``as_of`` | replace the base's |
| ``objectives``, ``constraints``, ``solver``, ``travel`` | merged key by key into the base's (``null`` switches a rule off) |
| ``add_csms`` | CSM records appended (a new hire) |
| ``remove_csms`` | CSM ids removed; their accounts lose their CSM (and any lock) and are placed anew |
| ``csm_changes`` | ``{csm_id: {field: value}}``, e.g. a capacity change |
| ``lock_accounts`` / ``unlock_accounts`` | account ids to lock with / release from their current CSM |
| ``account_changes`` | ``{account_id: {field: value}}`` |

Unknown keys, unknown ids and cycles in ``extends`` are reported with the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optimizer import Scenario, ScenarioError, ScenarioIssue, load_scenario
from optimizer.scenario import read_json, resolve_files

_MERGED = ("objectives", "constraints", "solver", "travel")
_REPLACED = ("name", "description", "as_of")
_EDITS = (
    "add_csms",
    "remove_csms",
    "csm_changes",
    "lock_accounts",
    "unlock_accounts",
    "account_changes",
)


def load_variant(path: str | Path) -> Scenario:
    """Load a scenario file, following ``extends`` chains and applying each file's changes.

    A file without ``extends`` is a plain scenario (:func:`optimizer.load_scenario`).
    """
    path = Path(path)
    if "extends" not in read_json(path):
        return load_scenario(path)
    return Scenario.from_dict(_resolved(path, chain=()))


def _resolved(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The full scenario dict of ``path`` (inline accounts and CSMs)."""
    path = path.resolve()
    if path in chain:
        loop = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError([ScenarioIssue(path=str(path), message=f"'extends' loops: {loop}")])
    data = read_json(path)
    parent = data.pop("extends", None)
    if parent is None:
        edits = [k for k in _EDITS if k in data]
        if edits:
            raise ScenarioError(
                [
                    ScenarioIssue(
                        path=f"{path.name}.{k}",
                        message="only a scenario that 'extends' another may use it",
                    )
                    for k in edits
                ]
            )
        return resolve_files(data, path.parent)
    if not isinstance(parent, str):
        raise ScenarioError(
            [ScenarioIssue(path=f"{path.name}.extends", message="must be a file path")]
        )
    base = _resolved(path.parent / parent, (*chain, path))
    travel = data.get("travel")
    if isinstance(travel, dict) and isinstance(travel.get("locations"), str):
        # A locations table named by the variant is relative to the variant's folder.
        data["travel"] = resolve_files({"travel": travel}, path.parent)["travel"]
    return apply_changes(base, data, source=path.name)


def apply_changes(
    base: dict[str, Any], changes: dict[str, Any], source: str = "variant"
) -> dict[str, Any]:
    """``base`` (a full scenario dict) with a variant's ``changes`` applied; ``base`` is not modified."""
    out = json.loads(json.dumps(base, default=str))
    issues: list[ScenarioIssue] = []
    known = {*_MERGED, *_REPLACED, *_EDITS, "csms", "accounts"}
    for key in changes:
        if key not in known:
            issues.append(
                ScenarioIssue(path=f"{source}.{key}", message="unknown key in a scenario variant")
            )
    for key in _REPLACED:
        if key in changes:
            out[key] = changes[key]
    for key in _MERGED:
        if key in changes:
            if not isinstance(changes[key], dict):
                issues.append(ScenarioIssue(path=f"{source}.{key}", message="must be an object"))
                continue
            out[key] = {**out.get(key, {}), **changes[key]}
    for key in ("csms", "accounts"):
        if key in changes:
            out[key] = changes[key]  # a variant may replace a list wholesale

    csms: list[dict[str, Any]] = out.get("csms", [])
    accounts: list[dict[str, Any]] = out.get("accounts", [])
    csm_ids = {c.get("id") for c in csms}
    account_by_id = {a.get("id"): a for a in accounts}

    removed = changes.get("remove_csms", [])
    for csm_id in removed:
        if csm_id not in csm_ids:
            issues.append(
                ScenarioIssue(path=f"{source}.remove_csms", message=f"unknown CSM id {csm_id!r}")
            )
    if removed:
        csms = [c for c in csms if c.get("id") not in removed]
        for account in accounts:
            if account.get("current_csm") in removed:
                account["current_csm"] = None
                account["locked"] = False
    csms.extend(changes.get("add_csms", []))
    by_csm = {c.get("id"): c for c in csms}
    for csm_id, fields in changes.get("csm_changes", {}).items():
        if csm_id not in by_csm:
            issues.append(
                ScenarioIssue(path=f"{source}.csm_changes.{csm_id}", message="unknown CSM id")
            )
        elif not isinstance(fields, dict):
            issues.append(
                ScenarioIssue(path=f"{source}.csm_changes.{csm_id}", message="must be an object")
            )
        else:
            by_csm[csm_id].update(fields)
    for key, locked in (("lock_accounts", True), ("unlock_accounts", False)):
        for account_id in changes.get(key, []):
            if account_id not in account_by_id:
                issues.append(
                    ScenarioIssue(
                        path=f"{source}.{key}", message=f"unknown account id {account_id!r}"
                    )
                )
            else:
                account_by_id[account_id]["locked"] = locked
    for account_id, fields in changes.get("account_changes", {}).items():
        if account_id not in account_by_id:
            issues.append(
                ScenarioIssue(
                    path=f"{source}.account_changes.{account_id}", message="unknown account id"
                )
            )
        elif not isinstance(fields, dict):
            issues.append(
                ScenarioIssue(
                    path=f"{source}.account_changes.{account_id}", message="must be an object"
                )
            )
        else:
            account_by_id[account_id].update(fields)
    if issues:
        raise ScenarioError(issues)
    out["csms"] = csms
    out["accounts"] = accounts
    return out
