"""Plans kept while solving, for a solve stopped from outside.

With ``solve(..., solution_file=PATH)`` the search keeps its best plan on disk as it goes, so
that a solve killed from outside (a cancelled job, a stopped server) still leaves its best plan,
which :func:`optimizer.recover` turns back into a plan:

- ``PATH``: the model's solution vectors in HiGHS's improving-solution format (HiGHS writes it,
  CP-SAT's callback and the neighbourhood search append to it: ``backends.base``);
- ``PATH.columns``: for a restricted model (column generation), its pairs per account, so that
  the same model can be rebuilt to read those vectors;
- ``PATH.plan.json``: the decomposition's best plan by ids (it has no model whose vectors to
  read), replaced atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .backends import get_backend
from .backends.base import read_last_solution
from .formulation import AssignmentModel, build_model
from .instance import Instance


def write_plan(inst: Instance, choice: Any, objective: float | None, path: str) -> None:
    """The decomposition's best plan so far (CSM positions per account), replaced atomically."""
    plan = {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(choice.tolist())}
    partial = f"{path}.part"
    Path(partial).write_text(
        json.dumps({"objective": objective, "assignment": plan}), encoding="utf-8"
    )
    os.replace(partial, path)


def read_plan(path: str, inst: Instance) -> dict[str, str] | None:
    """The plan :func:`write_plan` wrote, if it is there and names this scenario's accounts."""
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))["assignment"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(plan, dict) or set(plan) != set(inst.account_index):
        return None
    if not all(c in inst.csm_index for c in plan.values()):
        return None
    return {str(a): str(c) for a, c in plan.items()}


def write_columns(built: AssignmentModel, path: str) -> None:
    """A restricted model's pairs (per account, its CSM ids in model order)."""
    inst = built.instance
    per_account = {
        inst.accounts[a].id: [inst.csms[c].id for c in cs]
        for a, cs in enumerate(built.columns())
        if cs
    }
    Path(path).write_text(json.dumps(per_account), encoding="utf-8")


def read_columns(path: str, inst: Instance) -> list[list[int]] | None:
    """The pairs :func:`write_columns` wrote, or ``None`` (a full model) if there is no file."""
    try:
        per_account = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [
        [inst.csm_index[c] for c in per_account.get(account.id, []) if c in inst.csm_index]
        for account in inst.accounts
    ]


def saved_assignment(inst: Instance, path: str, backend: str) -> dict[str, str] | None:
    """The last complete plan kept beside ``path`` (account id -> CSM id), or ``None``.

    A decomposition's plan file wins; else the last solution vector, read with the model that
    wrote it (the restricted one when a columns file is there; the dense one for a backend that
    needs it).
    """
    decomposed = read_plan(f"{path}.plan.json", inst)
    if decomposed is not None:
        return decomposed
    pairs = read_columns(f"{path}.columns", inst)
    built = build_model(inst, dense=get_backend(backend).dense_books, columns=pairs)
    values = read_last_solution(path, len(built.model.variables))
    return None if values is None else built.assignment(values)


def companions(path: str) -> tuple[str, ...]:
    """Every file a solve keeps for ``path``."""
    return (path, f"{path}.columns", f"{path}.plan.json")
