"""The result of a solve: a reassignment plan with its proof of quality and its reasons.

``Plan.to_dict()`` is the plan JSON documented in docs/plan-format.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .diagnose import Diagnosis
from .evaluate import Evaluation
from .scenario import ScenarioIssue
from .status import EXIT_CODES, Status, Termination

#: Plan statuses (:class:`~optimizer.status.Status`), each with its exit code in EXIT_CODES.
STATUSES = tuple(Status)

__all__ = ["EXIT_CODES", "STATUSES", "AssignmentRow", "Plan", "Status", "Termination"]


@dataclass(frozen=True)
class AssignmentRow:
    """Where one account goes, where it was, and why."""

    account_id: str
    account_name: str | None
    csm_id: str
    csm_name: str | None
    previous_csm_id: str | None
    moved: bool
    arr: float
    reasons: list[str]
    #: Moved and new accounts: the best other CSM, what it would cost or the rule ruling it out.
    runner_up: dict[str, Any] | None = None
    #: Moved accounts: what staying with the previous CSM would cost, or the rule against it.
    stay: dict[str, Any] | None = None


@dataclass
class Plan:
    """A reassignment plan, or the reason there is none.

    ``status`` says what it is and ``termination`` why the solve stopped (both enums, see
    :mod:`optimizer.status`); ``message`` says the same in words for people.
    """

    status: Status
    message: str = ""
    scenario: str = ""
    backend: str = ""
    seconds: float = 0.0
    bound: float | None = None
    gap: float | None = None
    assignments: list[AssignmentRow] = field(default_factory=list)
    before: Evaluation | None = None
    after: Evaluation | None = None
    diagnosis: Diagnosis | None = None
    issues: list[ScenarioIssue] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    #: Accounts that kept their CSM although a single move would improve the objective, with
    #: the rule that holds each (docs/plan-format.md), and what was searched.
    held: list[dict[str, Any]] = field(default_factory=list)
    held_note: str = ""
    #: The scenario's date and hard rules, for reports that read only the plan.
    as_of: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    #: Projected impact against the current assignment (optimizer/explain/impact.py).
    impact: list[dict[str, Any]] = field(default_factory=list)
    #: The moves in weekly waves (optimizer/explain/transition.py).
    transition: dict[str, Any] | None = None
    #: Groups of accounts (region, segment, ARR band) served clearly worse than the rest
    #: (optimizer/explain/equity.py).
    equity: dict[str, Any] | None = None
    #: The leader's book rules (goals, renewal load) per CSM, today and under the plan
    #: (optimizer/explain/book_goals.py).
    book_goals: list[dict[str, Any]] = field(default_factory=list)
    #: Retained ARR, churned ARR and expected expansion 6 and 12 months out, today's books and
    #: the plan's (optimizer/explain/projection.py).
    projection: dict[str, Any] | None = None
    #: Every override with its reason and the gain a single change it rules out would bring
    #: (optimizer/explain/explanation.py, ``overrides_of``).
    overrides: list[dict[str, Any]] = field(default_factory=list)
    termination: Termination = Termination.UNKNOWN

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        self.termination = Termination(self.termination)

    @property
    def has_plan(self) -> bool:
        return self.after is not None and self.status.has_plan

    @property
    def objective(self) -> float | None:
        return None if self.after is None else self.after.objective

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def assignment(self) -> dict[str, str]:
        """account id -> CSM id."""
        return {row.account_id: row.csm_id for row in self.assignments}

    def moves(self) -> list[AssignmentRow]:
        return [row for row in self.assignments if row.moved]

    @classmethod
    def invalid(cls, issues: list[ScenarioIssue], scenario: str = "") -> Plan:
        text = f"{len(issues)} problem(s) in the input; nothing was solved."
        return cls(
            status=Status.INVALID,
            message=text,
            scenario=scenario,
            issues=list(issues),
            termination=Termination.INVALID_INPUT,
        )

    def summary(self) -> str:
        """A few lines for a terminal or a log: status, objective, bound, gap, moves, time."""
        lines = [f"{self.scenario or 'scenario'}: {self.status} ({self.termination})"]
        if self.after is not None:
            objective = f"objective {self.after.objective:.6f}"
            if self.before is not None:
                objective += f" (today {self.before.objective:.6f})"
            lines.append(objective)
            if self.bound is not None:
                gap = "-" if self.gap is None else f"{self.gap:.4%}"
                lines.append(f"bound {self.bound:.6f}, at most {gap} from optimal")
            moved_arr = sum(row.arr for row in self.moves())
            lines.append(f"{len(self.moves())} account(s) change CSM, {moved_arr:,.0f} of ARR")
        if self.diagnosis is not None:
            lines += [f"- {c.message}" for c in self.diagnosis.conflicts]
        lines += [f"- {issue}" for issue in self.issues]
        lines.append(f"{self.backend or '-'}, {self.seconds:.1f} s: {self.message}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The plan JSON (docs/plan-format.md)."""
        after = self.after
        before = self.before
        objective = None if after is None else after.objective_dict(before)
        csms: list[dict[str, Any]] = []
        books_before = {b.csm_id: b for b in before.books} if before else {}
        books_after = {b.csm_id: b for b in after.books} if after else {}
        for csm_id in books_before or books_after:
            csms.append(
                {
                    "csm_id": csm_id,
                    "name": (books_before.get(csm_id) or books_after[csm_id]).name,
                    "before": _book(books_before.get(csm_id)),
                    "after": _book(books_after.get(csm_id)),
                }
            )
        return {
            "status": str(self.status),
            "termination": str(self.termination),
            "message": self.message,
            "scenario": self.scenario,
            "as_of": self.as_of,
            "constraints": self.constraints,
            "backend": self.backend,
            "seconds": round(self.seconds, 4),
            "solver": self.settings,
            "objective": objective,
            "bound": self.bound,
            "gap": self.gap,
            "assignments": [asdict(row) for row in self.assignments],
            "csms": csms,
            "kpis": {
                "before": None if before is None else before.kpis,
                "after": None if after is None else after.kpis,
            },
            "violations": [] if after is None else [asdict(v) for v in after.violations],
            "impact": self.impact,
            "transition": self.transition,
            "equity": self.equity,
            "book_goals": self.book_goals,
            "projection": self.projection,
            "overrides": self.overrides,
            "held": self.held,
            "held_note": self.held_note,
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
            "issues": [issue.model_dump() for issue in self.issues],
        }


def _book(book: Any) -> dict[str, Any] | None:
    if book is None:
        return None
    data = asdict(book)
    data.pop("csm_id", None)
    data.pop("name", None)
    if data.get("utilization") is None:  # the scenario does not track hours
        for key in ("hours", "hours_available", "utilization"):
            data.pop(key, None)
    if data.get("travel_hours") is None:  # nor travel
        data.pop("travel_hours", None)
    return data
