"""What every strategy shares: the context of one solve, and what a search returns.

A strategy is one way to search a scenario's model (the full model, column generation, the
Lagrangian decomposition); :func:`optimizer.solve` picks one (:func:`optimizer.strategies.choose`),
calls :meth:`Strategy.search`, and turns the :class:`Outcome` into a plan: it scores the
assignment with the evaluator, takes the better of the bound and the plan's value, says how
far from optimal the plan can be, and explains it. On Ctrl-C it asks the strategy for the best
plan so far (:meth:`Strategy.interrupted`) instead.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..backends import ProgressCallback, SolverBackend
from ..diagnose import Diagnosis
from ..evaluate import Evaluation
from ..instance import Instance
from ..scenario import SolverSettings
from ..status import Termination


@dataclass
class Context:
    """One solve: the instance, the settings in effect, the backend, where to start from, who
    hears of progress, where to keep improving plans, and the clock."""

    inst: Instance
    settings: SolverSettings
    backend: SolverBackend
    #: The plan to start from (account id -> CSM id): a base scenario's plan, or today's.
    start_plan: Mapping[str, str | None]
    progress: ProgressCallback | None = None
    #: Where improving plans are appended while searching (``None``: nowhere), for recovery.
    solution_file: str | None = None
    #: Whether a caller asked for that file (then strategies also write what :func:`recover`
    #: needs beside it); else it is the solve's own, for Ctrl-C, and goes away with it.
    recoverable: bool = False
    #: The evaluator's score of today's books.
    today: Evaluation | None = None
    #: Also write the model to this .mps or .lp file.
    export_model: Path | None = None
    #: ``time.perf_counter()`` when the solve began: the time limit counts from there.
    started: float = field(default_factory=time.perf_counter)
    #: Set on Ctrl-C: searches that can stop early stop at their next step.
    stop: threading.Event = field(default_factory=threading.Event)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        """Seconds left of the time limit."""
        return self.settings.time_limit_s - self.elapsed()

    def explain_reserve(self, per_account: float) -> float:
        """Seconds a search keeps from the limit for scoring and explaining its plan
        afterwards: 2 s plus ``per_account`` seconds per account (each strategy's measured
        rate), at most a quarter of the limit."""
        return min(0.25 * self.settings.time_limit_s, 2.0 + per_account * len(self.inst.accounts))

    def positions(self) -> dict[int, int]:
        """The start plan as positions (account -> CSM), for the accounts and CSMs it knows."""
        inst = self.inst
        out = {}
        for account_id, csm_id in self.start_plan.items():
            if csm_id in inst.csm_index and account_id in inst.account_index:
                out[inst.account_index[account_id]] = inst.csm_index[csm_id]
        return out


@dataclass
class Outcome:
    """What a search found: why it stopped, its best plan keeping every rule (account id ->
    CSM id; ``None``: none), and the best bound of the *full* model's optimum it proved."""

    termination: Termination
    assignment: dict[str, str] | None = None
    bound: float | None = None
    #: Without a plan: why, in words.
    message: str = ""
    #: With a plan: what the strategy adds to the plan's message (how it searched).
    note: str = ""
    #: When the hard rules conflict: which ones.
    diagnosis: Diagnosis | None = None
    #: For a search stopped from outside (Ctrl-C, a cancelled job): what stopped it, as the
    #: plan's message begins ("Interrupted", "Cancelled").
    stopped_by: str | None = None


class Strategy(ABC):
    """One way to search: a name, whether its bound alone proves a plan optimal, the search,
    and the best plan so far when the search is interrupted."""

    #: ``solver.strategy``'s value for it.
    name: str = ""
    #: True when the strategy's bound is the full model's and proves optimality by itself
    #: (the gap closes); False when only the solver's own proof counts (branch and bound).
    bound_proves: bool = False

    @abstractmethod
    def search(self, ctx: Context) -> Outcome:
        """Search within ``ctx.settings.time_limit_s`` (counted from ``ctx.started``)."""

    @abstractmethod
    def interrupted(self, ctx: Context) -> Outcome:
        """The best plan so far and its bound, after Ctrl-C stopped :meth:`search`."""
