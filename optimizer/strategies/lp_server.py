"""A HiGHS linear-programming server for column generation (over pairs in
optimizer/strategies/columns.py, over whole books in optimizer/strategies/books.py), run as its
own process.

Column generation re-solves one relaxation many times, each with a few more columns. Through
OR-Tools' MathOpt every re-solve starts from scratch (it passes HiGHS no basis), so each round
costs as much as the first. HiGHS's own Python API (``highspy``) keeps the model and its basis
between solves and adds columns in place, so a round after the first costs a fraction of it.
``highspy`` and OR-Tools cannot be loaded in one process (their HiGHS symbols clash), so this
file runs as a script in a child process (not as part of the ``optimizer`` package, whose
imports load OR-Tools) and speaks pickled messages on its stdin and stdout. ``highspy`` is not
even installed beside the engine (PuLP imports it whenever it can, which would break OR-Tools):
``make`` puts it in ``.venv/highs-lp`` (``$TERRITORY_HIGHSPY_PATH`` overrides), and without it
column generation re-solves through MathOpt instead (see ``optimizer/strategies/columns.py``).

The child first answers ``{"ready": True}`` (or ``{"ready": False, "error": ...}``); then:

- ``{"op": "rows", "lb": [...], "ub": [...]}``: add empty rows;
- ``{"op": "cols", "cost", "lb", "ub", "starts", "index", "value"}``: add columns (CSC);
- ``{"op": "solve", "seconds": s}``: solve; the answer is ``{"ok", "objective", "x", "y"}``
  (primal values and row duals, ``cost - A^T y`` being the reduced costs);
- end of input: exit.

:class:`LpServer` is the parent's side.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any


class LpServer:
    """The parent's handle on a server process (a context manager)."""

    def __init__(self, threads: int = 1, seed: int = 0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(threads), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            hello = self._receive()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self.close()
            raise RuntimeError("the HiGHS LP server did not start") from exc
        if not hello.get("ready"):
            self.close()
            raise RuntimeError(f"the HiGHS LP server did not start: {hello.get('error')}")

    def _receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        answer: dict[str, Any] = pickle.load(self._process.stdout)
        return answer

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.flush()

    def add_rows(self, lb: Any, ub: Any) -> None:
        self._send({"op": "rows", "lb": lb, "ub": ub})

    def add_columns(self, cost: Any, lb: Any, ub: Any, starts: Any, index: Any, value: Any) -> None:
        self._send(
            {
                "op": "cols",
                "cost": cost,
                "lb": lb,
                "ub": ub,
                "starts": starts,
                "index": index,
                "value": value,
            }
        )

    def set_basis(self, columns: Any, rows: Any) -> None:
        self._send({"op": "basis", "columns": columns, "rows": rows})

    def solve(self, seconds: float) -> dict[str, Any]:
        self._send({"op": "solve", "seconds": seconds})
        return self._receive()

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> LpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_highspy_path() -> str:
    """Where ``make`` installs highspy for this server: ``<venv>/highs-lp``."""
    return str(Path(sys.prefix) / "highs-lp")


def _serve(threads: int, seed: int) -> None:  # pragma: no cover - runs in the child
    # The protocol owns the real stdout; anything HiGHS prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.path.insert(0, os.environ.get("TERRITORY_HIGHSPY_PATH") or default_highspy_path())
    try:
        import highspy
        import numpy as np
    except ImportError as exc:
        pickle.dump({"ready": False, "error": str(exc)}, out)
        out.flush()
        return
    pickle.dump({"ready": True}, out)
    out.flush()

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", threads)
    highs.setOptionValue("random_seed", seed)
    source = sys.stdin.buffer
    while True:
        try:
            message = pickle.load(source)
        except EOFError:
            return
        op = message["op"]
        if op == "rows":
            n = len(message["lb"])
            empty = np.zeros(n, dtype=np.int32)
            highs.addRows(
                n,
                np.asarray(message["lb"], dtype=float),
                np.asarray(message["ub"], dtype=float),
                0,
                empty,
                np.zeros(0, dtype=np.int32),
                np.zeros(0),
            )
        elif op == "cols":
            cost = np.asarray(message["cost"], dtype=float)
            index = np.asarray(message["index"], dtype=np.int32)
            highs.addCols(
                len(cost),
                cost,
                np.asarray(message["lb"], dtype=float),
                np.asarray(message["ub"], dtype=float),
                len(index),
                np.asarray(message["starts"], dtype=np.int32),
                index,
                np.asarray(message["value"], dtype=float),
            )
        elif op == "basis":
            # A starting basis: statuses as HiGHS numbers (0 lower, 1 basic, 2 upper).
            basis = highspy.HighsBasis()
            kinds = list(highspy.HighsBasisStatus.__members__.values())
            by_value = {int(k): k for k in kinds}
            basis.col_status = [by_value[int(v)] for v in message["columns"]]
            basis.row_status = [by_value[int(v)] for v in message["rows"]]
            basis.valid = True
            highs.setBasis(basis)
            highs.setOptionValue("presolve", "off")
        elif op == "solve":
            # HiGHS's time limit counts from the first run of this object.
            limit = highs.getRunTime() + max(float(message["seconds"]), 0.01)
            highs.setOptionValue("time_limit", limit)
            highs.run()
            status = highs.getModelStatus()
            ok = status == highspy.HighsModelStatus.kOptimal
            answer: dict[str, Any] = {
                "ok": ok,
                "status": highs.modelStatusToString(status),
                "iterations": highs.getInfo().simplex_iteration_count,
            }
            # Later solves start from this basis (presolve would discard it).
            highs.setOptionValue("presolve", "off")
            if ok:
                solution = highs.getSolution()
                answer.update(
                    objective=highs.getInfo().objective_function_value,
                    x=np.asarray(solution.col_value),
                    y=np.asarray(solution.row_dual),
                )
            pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()


if __name__ == "__main__":  # pragma: no cover
    _serve(int(sys.argv[1]), int(sys.argv[2]))
