"""``solve``, ``evaluate``, ``validate`` and ``schema``: one scenario, one plan or one check."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from documents.briefs import plan_document
from optimizer import (
    Plan,
    Progress,
    Scenario,
    ScenarioError,
    Termination,
    evaluate,
    json_schema,
    load_assignment,
    solve,
)
from scenarios.variants import load_variant

from ..exits import EXIT_INVALID, EXIT_OK
from ..render.issues import print_issues
from ..render.plans import print_evaluation, print_plan, progress_line
from .files import write_json


def interrupted(plan: Plan) -> bool:
    """Whether Ctrl-C stopped the solve, so that ``plan`` is the best found until then.

    Parameters
    ----------
    plan : optimizer.Plan
        The solve's result.

    Returns
    -------
    bool
        True for an interrupted solve.
    """
    return plan.termination is Termination.INTERRUPTED


def solver_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The solver settings given on the command line; the scenario's own apply to the rest."""
    return {
        key: value
        for key, value in {
            "backend": args.backend,
            "time_limit_s": args.time_limit,
            "gap": args.gap,
            "seed": args.seed,
            "threads": args.threads,
            "strategy": args.strategy,
        }.items()
        if value is not None
    }


def load_for_solve(args: argparse.Namespace) -> Scenario:
    """Load the scenario with the command line's solver settings.

    Raises
    ------
    optimizer.ScenarioError
        When the scenario, or a setting given on the command line, is invalid.
    """
    scenario = load_variant(args.scenario)
    overrides = solver_overrides(args)
    if overrides:
        scenario = scenario.replace(solver=scenario.solver.model_copy(update=overrides))
    return scenario


def reject(args: argparse.Namespace, err: Console, exc: ScenarioError) -> int:
    """List the problems, and still write an ``invalid`` plan to ``--out`` and ``--json``:
    a pipeline reading the plan file learns why there is no plan."""
    print_issues(err, exc)
    invalid = Plan.invalid(exc.issues, scenario=str(args.scenario)).to_dict()
    if args.out:
        write_json(args.out, invalid)
    if args.json:
        print(json.dumps(invalid, indent=2))
    return EXIT_INVALID


def model_file_ok(args: argparse.Namespace, err: Console) -> bool:
    """Check ``--export-model`` before solving: the suffix picks the format, .mps or .lp."""
    if args.export_model and args.export_model.suffix.lower() not in (".mps", ".lp"):
        err.print(
            f"[bold red]Invalid option[/]: --export-model must name a .mps or .lp file, not {args.export_model}"
        )
        return False
    return True


@contextmanager
def solving_status(
    args: argparse.Namespace, err: Console
) -> Iterator[Callable[[Progress], None] | None]:
    """Show the solver's progress on one status line while the block runs.

    Only on a terminal, and not with ``--json`` or ``--quiet``; otherwise the block gets no
    progress callback and the solver reports nothing.
    """
    if args.json or args.quiet or not err.is_terminal:
        yield None
        return
    status = err.status("solving...")
    status.start()
    try:
        yield lambda p: status.update(progress_line(p))
    finally:
        status.stop()


def output_plan(args: argparse.Namespace, console: Console, plan: Plan, data: Any) -> None:
    """Write the plan document to ``--out``, then print it as JSON, as tables, or not at all."""
    if args.out:
        write_json(args.out, data)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif not args.quiet:
        print_plan(console, plan)
        if args.out:
            console.print(f"Plan written to {args.out}")
        if args.export_model:
            console.print(f"Model written to {args.export_model}")


def exit_now(code: int) -> NoReturn:
    """End the process once the output is flushed, without waiting for other threads.

    After Ctrl-C the solver's thread still runs to its time limit; the plan is already written.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_solve(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory solve``: solve a scenario, write and print the plan.

    Problems and the progress line go to ``err``; the plan to ``console`` and ``--out``.

    Returns
    -------
    int
        The plan's exit code (0 a plan, 1 none), or 2 for invalid input.
    """
    try:
        scenario = load_for_solve(args)
    except ScenarioError as exc:
        return reject(args, err, exc)
    if not model_file_ok(args, err):
        return EXIT_INVALID
    with solving_status(args, err) as progress:
        # Ctrl-C during the search returns the best plan so far (see optimizer.solve).
        plan = solve(scenario, progress=progress, export_model=args.export_model)
    stopped = interrupted(plan)
    if stopped:
        err.print("[yellow]Interrupted[/]: writing the best plan found so far.")
    output_plan(args, console, plan, plan_document(plan, scenario))
    if stopped:
        exit_now(plan.exit_code)
    return plan.exit_code


def cmd_evaluate(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory evaluate``: score today's assignment, or a plan file, without solving.

    Returns
    -------
    int
        0, or 2 when the scenario or the plan is invalid.
    """
    try:
        scenario = load_variant(args.scenario)
        assignment = load_assignment(args.plan) if args.plan else None
        evaluation = evaluate(scenario, assignment)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2, default=str))
    else:
        what = f"plan {args.plan}" if args.plan else "the current assignment"
        console.print(
            f"Evaluating {what} of {scenario.name}: objective [bold]{evaluation.objective:.5f}[/]"
        )
        print_evaluation(console, evaluation)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory validate``: list every problem of a scenario at once.

    Returns
    -------
    int
        0 for a valid scenario, 2 otherwise.
    """
    try:
        scenario = load_variant(args.scenario)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    console.print(
        f"[green]Valid[/]: {scenario.name}: {len(scenario.accounts)} accounts, {len(scenario.csms)} CSMs."
    )
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory schema``: the scenario JSON Schema, to stdout or to ``--out``.

    Returns
    -------
    int
        0.
    """
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK
