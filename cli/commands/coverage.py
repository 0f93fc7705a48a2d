"""``segment``: coverage segments, capacity, expansion and migrations, then optionally the
assignment of the named accounts.

``coverage.segmentation``, ``documents.letters`` and ``documents.templating`` load when the
command runs, not when ``territory`` starts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from documents.briefs import plan_document
from optimizer import Plan, Scenario, ScenarioError, solve
from scenarios.variants import load_variant

from ..exits import EXIT_INVALID, EXIT_OK
from ..render.coverage import print_routed_plan, print_segmentation
from ..render.issues import print_issues
from .files import write_json

if TYPE_CHECKING:
    from coverage import Routing, SegmentationReport


def load_for_segment(args: argparse.Namespace) -> Scenario:
    """Load the scenario with ``--scheme`` and ``--time-limit`` applied.

    Raises
    ------
    optimizer.ScenarioError
        When the scenario is invalid.
    """
    scenario = load_variant(args.scenario)
    if args.scheme:
        scenario = scenario.replace(
            segmentation=scenario.segmentation.model_copy(update={"scheme": args.scheme})
        )
    if args.time_limit is not None:
        scenario = scenario.replace(
            solver=scenario.solver.model_copy(update={"time_limit_s": args.time_limit})
        )
    return scenario


def write_segment_files(
    out: Path,
    report: SegmentationReport,
    messages: dict[str, str],
    routing: Routing | None,
    plan: Plan | None,
) -> None:
    """Write the report, its CSV tables and the letters; with a plan, also the routed scenario,
    the pool and the plan.

    Parameters
    ----------
    out : Path
        The ``--out`` folder.
    report : coverage.SegmentationReport
        The segmentation.
    messages : dict
        The communications, by file name under ``communications/``.
    routing : coverage.Routing or None
        The routing of ``--solve``.
    plan : optimizer.Plan or None
        The routed scenario's plan.
    """
    from documents.segmentation import tables

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report.to_dict())
    for name, text in tables(report).items():
        (out / name).write_text(text, encoding="utf-8")
    for name, text in messages.items():
        path = out / "communications" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if routing is not None and plan is not None:
        write_json(out / "routed-scenario.json", routing.scenario.model_dump(mode="json"))
        write_json(
            out / "pool.json",
            {"pooled": list(routing.pooled), "pool_csms": list(routing.pool_csms)},
        )
        write_json(out / "plan.json", plan_document(plan, routing.scenario))


def print_segment(
    args: argparse.Namespace,
    console: Console,
    report: SegmentationReport,
    routing: Routing | None,
    plan: Plan | None,
) -> None:
    """Print the report (and the plan) as JSON or as tables."""
    if args.json:
        data = report.to_dict()
        if plan is not None and routing is not None:
            data["plan"] = plan_document(plan, routing.scenario)
        print(json.dumps(data, indent=2, default=str))
        return
    print_segmentation(console, report, args.top)
    if routing is not None and plan is not None:
        print_routed_plan(console, routing, plan)
    if args.out:
        console.print(f"Report, tables and communications written to {args.out}/")


def cmd_segment(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory segment``: segment the accounts; with ``--solve``, assign the named ones.

    Returns
    -------
    int
        0, or the plan's exit code with ``--solve``; 2 for an invalid scenario, a template
        problem, or accounts that cannot be routed.
    """
    from coverage import route, segment
    from documents.letters import communications
    from documents.templating import TemplateProblem

    try:
        scenario = load_for_segment(args)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    report = segment(scenario)
    try:
        messages = communications(scenario, report, template_dir=args.templates)
    except TemplateProblem as exc:
        err.print(f"[bold red]Template problem[/]: {exc}")
        return EXIT_INVALID
    plan = None
    routing = None
    if args.solve:
        try:
            routing = route(scenario, report)
        except (ScenarioError, ValueError) as exc:
            err.print(f"[bold red]Cannot route the accounts[/]: {exc}")
            return EXIT_INVALID
        plan = solve(routing.scenario)
    if args.out:
        write_segment_files(args.out, report, messages, routing, plan)
    print_segment(args, console, report, routing, plan)
    return EXIT_OK if plan is None else plan.exit_code
