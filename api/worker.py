"""What runs inside a solver process: one task at a time, progress sent back as it comes.

The server keeps ``Settings.workers`` of these processes alive (imports done once, so a small
plan costs only its solve). Messages to the server are ``(kind, payload)`` tuples:
``("progress", {...})``, ``("done", {"plan": ...} | {"result": ...})``, ``("failed", text)``.
No user-supplied code or pickle ever reaches this process: tasks are plain JSON-like dicts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from multiprocessing.connection import Connection
from typing import Any

#: Progress messages are sent at most this often (seconds).
PROGRESS_EVERY_S = 0.25
#: ``prctl`` option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux ``prctl``
    ``PR_SET_PDEATHSIG``; elsewhere nothing): a server killed with ``kill -9`` leaves no solver
    behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class _BoundPopen(subprocess.Popen[Any]):
    """A child process (CBC, the LP server) that dies with this worker, as the worker dies
    with its server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("preexec_fn", die_with_parent)
        super().__init__(*args, **kwargs)


def main(conn: Connection, server_pid: int | None = None) -> None:
    """The process's loop: receive a task, run it, send its messages; ``None`` ends it."""
    die_with_parent()
    if server_pid is not None and os.getppid() != server_pid:
        return  # the server died before this process could ask to die with it
    # Every process a solve starts (CBC through PuLP, the LP server) dies with this one.
    subprocess.Popen = _BoundPopen  # type: ignore[misc]
    import optimizer  # noqa: F401  (import the solvers before the first task)

    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        try:
            payload = run(task, lambda p: conn.send(("progress", p)))
        except Exception as exc:  # reported on the job; the process lives on
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", payload))


def run(task: dict[str, Any], send: Any) -> dict[str, Any]:
    """Run one task (``kind`` plan, compare or sensitivity) and return its payload."""
    from documents.briefs import plan_document
    from optimizer import Progress, Scenario, solve

    kind = task["kind"]
    request = task["request"]
    scenario = Scenario.from_dict(task["scenario"])
    if request.get("threads"):
        # The server sizes solver threads so that its processes share the cores.
        scenario = scenario.replace(
            solver={**scenario.solver.model_dump(), "threads": int(request["threads"])}
        )
    options = {k: request[k] for k in ("backend", "time_limit_s") if request.get(k) is not None}
    last = [0.0]

    def throttled(payload: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if force or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            send(payload)

    if kind == "plan":

        def on_progress(p: Progress) -> None:
            throttled(
                {
                    "elapsed_s": round(p.elapsed_s, 3),
                    "incumbent": p.incumbent,
                    "bound": p.bound,
                    "gap": p.gap,
                    "backend": p.backend,
                }
            )

        plan = solve(
            scenario, progress=on_progress, solution_file=task.get("solution_file"), **options
        )
        return {"plan": plan_document(plan, scenario)}

    count = [0]

    def on_done(_index: int, _outcome: Any) -> None:
        count[0] += 1
        throttled({"runs_done": count[0]}, force=True)

    if kind == "compare":
        from scenarios.compare import compare
        from scenarios.variants import apply_changes

        others = [
            Scenario.from_dict(apply_changes(task["scenario"], changes, f"variants[{i}]"))
            for i, changes in enumerate(request.get("variants", []))
        ]
        comparison = compare([scenario, *others], workers=1, on_done=on_done, **options)
        result = comparison.to_dict()
        scenarios = [scenario, *others]
        result["plans"] = [
            plan_document(p, s) for p, s in zip(comparison.plans, scenarios, strict=True)
        ]
        return {"result": result}

    if kind == "sensitivity":
        from scenarios.sensitivity import sensitivity

        grid = {
            k: request[k]
            for k in ("weight_factors", "tolerance_steps", "move_budgets", "prices")
            if request.get(k) is not None
        }
        report = sensitivity(scenario, workers=1, on_done=on_done, **grid, **options)
        return {"result": report.to_dict()}

    raise ValueError(f"unknown task kind {kind!r}")
