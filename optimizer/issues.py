"""What is wrong with an input, and where: every problem is collected and reported at once.

Scenario validation (:mod:`optimizer.scenario`) and the table reader (:mod:`optimizer.tables`)
both report with these, so a spreadsheet can be fixed in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class ScenarioIssue(BaseModel):
    """One problem in a scenario: where it is and what is wrong, in words."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ScenarioError(ValueError):
    """The scenario is invalid. ``issues`` holds every problem found, not just the first."""

    def __init__(self, issues: Iterable[ScenarioIssue]):
        self.issues = list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the scenario:\n{lines}")
