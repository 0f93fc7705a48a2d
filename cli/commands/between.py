"""``monitor``: between re-plans, what today's books break and where they drift."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from optimizer import ScenarioError
from scenarios.monitor import load_reference, monitor
from scenarios.variants import load_variant

from ..exits import EXIT_INVALID, EXIT_OK, EXIT_TRIGGERED
from ..render.issues import print_issues
from ..render.monitor import print_monitor
from .files import write_json


def cmd_monitor(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory monitor``: the triggers of the snapshot's ``monitor`` section on today's
    books, and with ``--since`` the drift and trajectories since an earlier snapshot or plan.

    Returns
    -------
    int
        0; 3 with ``--fail-on-trigger`` when a trigger fired; 2 for invalid input.
    """
    try:
        snapshot = load_variant(args.snapshot)
        since = load_reference(args.since) if args.since else None
        report = monitor(snapshot, since)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    data = report.to_dict()
    if args.out:
        write_json(args.out, data)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print_monitor(console, report)
    return EXIT_TRIGGERED if args.fail_on_trigger and report.fired else EXIT_OK
