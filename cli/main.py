"""The ``territory`` command: parse, call the engine, print. No optimization logic lives here.

Exit codes: 0 a plan was produced (or a plan was evaluated), 1 no plan (infeasible or no
solution in time), 2 invalid input (the problems are listed, each naming the account or CSM).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBar
from rich.table import Table

from documents.briefs import plan_document
from optimizer import (
    BACKENDS,
    Evaluation,
    Plan,
    Progress,
    ScenarioError,
    evaluate,
    json_schema,
    load_assignment,
    solve,
)
from optimizer.units import money
from scenarios.compare import ROWS, Comparison, compare
from scenarios.sensitivity import Sensitivity, sensitivity
from scenarios.sweep import SweepRow, parse_axis, sweep
from scenarios.variants import load_variant

EXIT_OK, EXIT_NO_PLAN, EXIT_INVALID = 0, 1, 2


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


# ------------------------------------------------------------------------------- printing


def print_issues(console: Console, error: ScenarioError) -> None:
    console.print(
        f"[bold red]Invalid input[/]: {len(error.issues)} problem(s), nothing was solved."
    )
    for issue in error.issues:
        # Paths hold ids in brackets (accounts[acme].arr): escaped, or Rich reads them as markup.
        console.print(f"  - [bold]{escape(issue.path)}[/]: {escape(issue.message)}")


def terms_table(after: Evaluation | None, before: Evaluation | None) -> Table:
    """Objective terms; with only ``after`` (evaluate mode) a single value column."""
    single = before is None
    table = Table(title="Objective (each term: 0 = ideal)", title_justify="left")
    table.add_column("term")
    table.add_column("weight", justify="right")
    if not single:
        table.add_column("before", justify="right")
    table.add_column("value" if single else "after", justify="right")
    source = after or before
    assert source is not None

    def cells(get: Any) -> list[str]:
        values = [] if single else ["-" if before is None else get(before)]
        return [*values, "-" if after is None else get(after)]

    for name, weight in source.weights.items():
        table.add_row(name, _pct(weight), *cells(lambda e, name=name: f"{e.terms[name]:.4f}"))
    table.add_row("[bold]total[/]", "", *cells(lambda e: f"[bold]{e.objective:.5f}[/]"))
    return table


def books_table(after: Evaluation | None, before: Evaluation) -> Table:
    title = "CSM books (before -> after)" if after is not None else "CSM books"
    table = Table(title=title, title_justify="left")
    for column in (
        "CSM",
        "accounts",
        "ARR",
        "% of target",
        "workload",
        "high-risk",
        "ARR at risk",
        "expertise",
    ):
        table.add_column(column, justify="left" if column == "CSM" else "right")
    for i, old in enumerate(before.books):
        new = after.books[i] if after else None

        def pair(get: Any, fmt: Any, old: Any = old, new: Any = new) -> str:
            return fmt(get(old)) if new is None else f"{fmt(get(old))} -> {fmt(get(new))}"

        table.add_row(
            f"{old.name or old.csm_id} ({old.csm_id})" if old.name else old.csm_id,
            pair(lambda b: b.accounts, str),
            pair(lambda b: b.arr, money),
            pair(lambda b: b.arr_vs_target, _pct),
            pair(lambda b: b.workload, lambda v: f"{v:,.0f}"),
            pair(lambda b: b.high_risk, str),
            pair(lambda b: b.arr_at_risk, money),
            pair(lambda b: b.expertise_match_rate, _pct),
        )
    return table


_KPI_FORMATS: dict[str, Any] = {
    "arr_spread": lambda v: _pct(v, 1),
    "arr_max_deviation": lambda v: _pct(v, 1),
    "workload_cv": lambda v: _pct(v, 1),
    "expertise_match": lambda v: _pct(v, 1),
    "arr_at_risk": money,
    "expected_expansion_arr": money,
    "max_high_risk_per_csm": str,
    "moves": str,
    "moved_arr": money,
}


def kpi_table(after: Evaluation | None, before: Evaluation) -> Table:
    """KPIs before and after; with ``after=None`` (evaluate mode) a single value column."""
    table = Table(title="KPIs", title_justify="left")
    table.add_column("KPI")
    table.add_column("value" if after is None else "before", justify="right")
    if after is not None:
        table.add_column("after", justify="right")
    for key, fmt in _KPI_FORMATS.items():
        row = [before.kpis.get(key)] + ([] if after is None else [after.kpis.get(key)])
        table.add_row(key, *("-" if v is None else fmt(v) for v in row))
    return table


def moves_table(plan: Plan, limit: int) -> Table:
    moves = sorted(plan.moves(), key=lambda r: -r.arr)
    table = Table(
        title=f"Moves ({len(moves)}; largest {min(limit, len(moves))} shown)", title_justify="left"
    )
    for column in ("account", "ARR", "from", "to", "why"):
        table.add_column(column, justify="right" if column == "ARR" else "left")
    for row in moves[:limit]:
        table.add_row(
            f"{row.account_name or row.account_id} ({row.account_id})",
            money(row.arr),
            row.previous_csm_id or "-",
            row.csm_id,
            "; ".join(row.reasons),
        )
    return table


def print_plan(console: Console, plan: Plan, moves_shown: int = 15) -> None:
    colour = {"optimal": "green", "feasible": "yellow"}.get(plan.status, "red")
    console.print(f"[bold {colour}]{plan.status.upper()}[/] {plan.message}")
    if plan.has_plan:
        bound = "-" if plan.bound is None else f"{plan.bound:.5f}"
        console.print(
            f"objective {plan.objective:.5f}  bound {bound}  gap {_pct(plan.gap, 4)}  "
            f"backend {plan.backend}  {plan.seconds:.2f} s"
        )
    if plan.diagnosis is not None:
        console.print(f"[bold]Why[/] ({plan.diagnosis.method}):")
        for conflict in plan.diagnosis.conflicts:
            console.print(f"  - {conflict.message}")
        if plan.diagnosis.note:
            console.print(f"  {plan.diagnosis.note}")
    if plan.before is None:
        return
    console.print(terms_table(plan.after, plan.before))
    console.print(books_table(plan.after, plan.before))
    console.print(kpi_table(plan.after, plan.before))
    if plan.has_plan and plan.moves():
        console.print(moves_table(plan, moves_shown))
    if plan.has_plan and plan.transition and plan.transition["moves"]:
        t = plan.transition
        used = [w for w in t["waves"] if w["moves"]]
        console.print(
            f"Transition: {len(t['moves'])} change(s) in {len(used)} weekly wave(s) from "
            f"{t['start']} (at most {t['max_handoffs_per_week']} handoffs per CSM per week); "
            f"{t['flagged']} flagged. Briefs: plan JSON `transition.moves[].brief`, "
            "or `territory report`."
        )
    if plan.held:
        kinds: dict[str, int] = {}
        for row in plan.held:
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
        held = ", ".join(f"{n} by {kind}" for kind, n in sorted(kinds.items()))
        console.print(f"Held in place although a move would score better: {held}.")
        for row in plan.held[:5]:
            console.print(
                f"  - {escape(str(row['account_name'] or row['account_id']))}: {escape(row['text'])}"
            )


def print_evaluation(console: Console, evaluation: Evaluation) -> None:
    console.print(terms_table(evaluation, None))
    console.print(books_table(None, evaluation))
    console.print(kpi_table(None, evaluation))
    if evaluation.violations:
        console.print(f"[bold red]{len(evaluation.violations)} hard-rule violation(s)[/]:")
        for v in evaluation.violations:
            console.print(f"  - [bold]{v.rule}[/] ({v.subject}): {v.message}")
    else:
        console.print("[green]No hard-rule violations.[/]")


# ------------------------------------------------------------------------------- commands


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def cmd_solve(args: argparse.Namespace, console: Console, err: Console) -> int:
    try:
        scenario = load_variant(args.scenario)
        overrides = {
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
        if overrides:
            scenario = scenario.replace(solver=scenario.solver.model_copy(update=overrides))
    except ScenarioError as exc:
        print_issues(err, exc)
        invalid = Plan.invalid(exc.issues, scenario=str(args.scenario)).to_dict()
        if args.out:
            _write_json(args.out, invalid)
        if args.json:
            print(json.dumps(invalid, indent=2))
        return EXIT_INVALID
    if args.export_model and args.export_model.suffix.lower() not in (".mps", ".lp"):
        err.print(
            f"[bold red]Invalid option[/]: --export-model must name a .mps or .lp file, not {args.export_model}"
        )
        return EXIT_INVALID

    progress_cb = None
    status = None
    if not args.json and not args.quiet and err.is_terminal:
        status = err.status("solving...")
        status.start()

        def progress_cb(p: Progress) -> None:
            assert status is not None
            gap = "-" if p.gap is None else f"{p.gap:.3%}"
            inc = "-" if p.incumbent is None else f"{p.incumbent:.5f}"
            bnd = "-" if p.bound is None else f"{p.bound:.5f}"
            status.update(
                f"solving ({p.backend}): incumbent {inc}  bound {bnd}  gap {gap}  {p.elapsed_s:.1f} s"
            )

    try:
        # Ctrl-C during the search returns the best plan so far (see optimizer.solve).
        plan = solve(scenario, progress=progress_cb, export_model=args.export_model)
    finally:
        if status is not None:
            status.stop()
    interrupted = plan.message.startswith("Interrupted")
    if interrupted:
        err.print("[yellow]Interrupted[/]: writing the best plan found so far.")
    data = plan_document(plan, scenario)
    if args.out:
        _write_json(args.out, data)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif not args.quiet:
        print_plan(console, plan)
        if args.out:
            console.print(f"Plan written to {args.out}")
        if args.export_model:
            console.print(f"Model written to {args.export_model}")
    if interrupted:
        # The solver thread still runs to its time limit: end the process now, output written.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(plan.exit_code)
    return plan.exit_code


def cmd_segment(args: argparse.Namespace, console: Console, err: Console) -> int:
    from coverage.segmentation import route, segment, tables
    from documents.letters import communications
    from documents.templating import TemplateProblem

    try:
        scenario = load_variant(args.scenario)
        if args.scheme:
            scenario = scenario.replace(
                segmentation=scenario.segmentation.model_copy(update={"scheme": args.scheme})
            )
        if args.time_limit is not None:
            scenario = scenario.replace(
                solver=scenario.solver.model_copy(update={"time_limit_s": args.time_limit})
            )
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
        out: Path = args.out
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "report.json", report.to_dict())
        for name, text in tables(report).items():
            (out / name).write_text(text, encoding="utf-8")
        for name, text in messages.items():
            path = out / "communications" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if routing is not None and plan is not None:
            _write_json(out / "routed-scenario.json", routing.scenario.model_dump(mode="json"))
            _write_json(
                out / "pool.json",
                {"pooled": list(routing.pooled), "pool_csms": list(routing.pool_csms)},
            )
            _write_json(out / "plan.json", plan_document(plan, routing.scenario))
    if args.json:
        data = report.to_dict()
        if plan is not None and routing is not None:
            data["plan"] = plan_document(plan, routing.scenario)
        print(json.dumps(data, indent=2, default=str))
    else:
        print_segmentation(console, report, args.top)
        if routing is not None and plan is not None:
            console.print(
                f"\nAssignment of the named accounts: {len(routing.scenario.accounts)} accounts, "
                f"{len(routing.scenario.csms)} CSMs; {len(routing.pooled)} account(s) go to the pool."
            )
            for note in routing.notes:
                console.print(f"  - {note}")
            print_plan(console, plan)
        if args.out:
            console.print(f"Report, tables and communications written to {args.out}/")
    return EXIT_OK if plan is None else plan.exit_code


def print_segmentation(console: Console, report: Any, top: int) -> None:
    m = report.misalignment
    console.print(
        f"[bold]{report.scenario}[/] as of {report.as_of}: {m.accounts} accounts, "
        f"{money(m.arr)} ARR; coverage driven by [bold]{report.scheme}[/]."
    )
    table = Table(title="Coverage models", title_justify="left")
    for col in (
        "model",
        "cadence",
        "today",
        "recommended",
        "ARR",
        "FTE needed",
        "FTE staffed",
        "gap",
    ):
        table.add_column(col, justify="left" if col in ("model", "cadence") else "right")
    today = report.counts("current")
    for row in report.capacity.models:
        table.add_row(
            row.name + ("" if row.named else " (pool)"),
            row.cadence,
            str(today.get(row.name, 0)),
            str(row.accounts),
            money(row.arr),
            f"{row.fte_needed:.1f}",
            f"{row.fte_staffed:.1f}",
            f"{row.gap:+.1f}",
        )
    console.print(table)
    tiers = report.counts("tier")
    console.print(
        "Value tiers: " + ", ".join(f"{name} {tiers.get(name, 0)}" for name in sorted(tiers))
    )
    console.print(
        f"Misaligned: {m.misaligned} accounts ({m.share:.0%}), {money(m.misaligned_arr)} ARR "
        f"({m.arr_share:.0%}); under-served {m.under_served} ({money(m.under_served_arr)}), "
        f"over-served {m.over_served} ({money(m.over_served_arr)}); "
        f"{m.fte_needed:.1f} FTE more needed, {m.fte_freed:.1f} FTE freed."
    )
    if m.top:
        impact = Table(title="Highest-impact coverage changes", title_justify="left")
        for col in ("account", "ARR", "today", "recommended", "impact"):
            impact.add_column(col, justify="left" if col == "account" else "right")
        for account_id in m.top[:top]:
            r = report.account(account_id)
            impact.add_row(
                r.name or r.account_id, money(r.arr), r.current, r.recommended, money(r.impact)
            )
        console.print(impact)
    loads = sorted(report.capacity.csms, key=lambda c: -c.utilization_recommended)
    if loads:
        util = Table(title="CSM utilization (1.0 = a full book)", title_justify="left")
        for col in ("CSM", "serves", "accounts", "as covered today", "as recommended", "state"):
            util.add_column(col, justify="left" if col in ("CSM", "serves", "state") else "right")
        shown = loads if len(loads) <= 2 * top else loads[:top] + loads[-top:]
        for c in shown:
            util.add_row(
                c.name or c.csm_id,
                c.serves,
                str(c.accounts),
                f"{c.utilization_current:.2f}",
                f"{c.utilization_recommended:.2f}",
                c.state,
            )
        console.print(util)
    for action in report.capacity.actions:
        console.print(f"  - {action.text}")
    exp = Table(title="Expansion opportunities", title_justify="left")
    for col in ("#", "account", "ARR", "headroom", "score", "owner", "trigger"):
        exp.add_column(col, justify="left" if col in ("account", "owner", "trigger") else "right")
    for e in report.expansion[:top]:
        exp.add_row(
            str(e.rank),
            e.name or e.account_id,
            money(e.arr),
            money(e.headroom),
            f"{e.score:.2f}",
            e.owner,
            e.trigger,
        )
    console.print(exp)
    ups = sum(1 for g in report.migrations if g.direction == "up")
    exceptions = sum(1 for g in report.migrations if g.exception)
    console.print(
        f"Migrations: {ups} up, {len(report.migrations) - ups} down, {exceptions} exception(s) "
        "(renewal close, at risk, competitor, locked)."
    )


def cmd_report(args: argparse.Namespace, console: Console, err: Console) -> int:
    from documents.report import render_html

    def read(path: Path, what: str) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            err.print(f"[bold red]Invalid input[/]: {what} file not found: {escape(str(path))}")
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            err.print(
                f"[bold red]Invalid input[/]: {escape(str(path))} is not JSON ({escape(str(exc))})"
            )
            return None
        if not isinstance(data, dict):
            err.print(f"[bold red]Invalid input[/]: {escape(str(path))} is not a JSON object")
            return None
        return data

    plan = read(args.plan, "plan")
    if plan is None:
        return EXIT_INVALID
    if "status" not in plan or "assignments" not in plan:
        err.print(
            f"[bold red]Invalid input[/]: {escape(str(args.plan))} is not a plan "
            "(no status or assignments; see docs/plan-format.md)"
        )
        return EXIT_INVALID
    sensitivity = None
    if args.sensitivity is not None:
        sensitivity = read(args.sensitivity, "sensitivity")
        if sensitivity is None:
            return EXIT_INVALID
    try:
        text = render_html(plan, sensitivity=sensitivity, title=args.title)
    except (KeyError, TypeError, ValueError) as exc:
        err.print(
            f"[bold red]Invalid input[/]: the plan is missing or has a wrong field ({escape(repr(exc))})"
        )
        return EXIT_INVALID
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    console.print(
        f"Report written to {escape(str(args.out))} ({len(text) / 1024:,.0f} KB, works offline)"
    )
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace, console: Console, err: Console) -> int:
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
    try:
        scenario = load_variant(args.scenario)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    console.print(
        f"[green]Valid[/]: {scenario.name}: {len(scenario.accounts)} accounts, {len(scenario.csms)} CSMs."
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, console: Console, err: Console) -> int:
    from api import Settings, run

    overrides: dict[str, Any] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.database_url:
        overrides["database_url"] = args.database_url
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        return EXIT_INVALID
    err.print(
        f"Serving on http://{args.host}:{args.port} (OpenAPI at /docs), {settings.workers} "
        f"solver process(es), store {settings.database_url.split('://')[0]}"
    )
    run(args.host, args.port, settings)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, console: Console, err: Console) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def run_batch(
    err: Console,
    args: argparse.Namespace,
    label: str,
    total: int | None,
    fn: Any,
    *fn_args: Any,
    **extra: Any,
) -> Any:
    """Call a batch function (compare, sensitivity, sweep) with the --backend, --time-limit,
    --workers and --scheduler options and a progress bar on stderr (hidden when not a terminal)."""
    options: dict[str, Any] = dict(extra)
    if args.time_limit is not None:
        options["time_limit_s"] = args.time_limit
    if args.backend is not None:
        options["backend"] = args.backend
    with ProgressBar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        return fn(
            *fn_args,
            scheduler=args.scheduler,
            workers=args.workers,
            on_done=lambda _i, _outcome: bar.advance(task),
            **options,
        )


def add_batch_options(p: argparse.ArgumentParser, per: str) -> None:
    """The options every batch command shares."""
    p.add_argument("--backend", choices=("auto", *BACKENDS))
    p.add_argument("--time-limit", type=float, help=f"seconds per {per}")
    p.add_argument("--workers", type=int, help="local processes (default: one per core)")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")


def _compare_cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "gap" or key in ("arr_spread", "expertise_match"):
        return _pct(value, 3 if key == "gap" else 1)
    if key in ("arr_at_risk", "moved_arr"):
        return money(value)
    if isinstance(value, float):
        return f"{value:.4f}" if key.startswith("term.") or key == "objective" else f"{value:,.2f}"
    return str(value)


def comparison_table(result: Comparison) -> Table:
    table = Table(title="Scenarios side by side", title_justify="left")
    table.add_column("")
    for name in result.names:
        table.add_column(name, justify="right")
    for key, label in ROWS:
        table.add_row(
            label, *(_compare_cell(key, result.value(i, key)) for i in range(len(result.names)))
        )
    return table


def cmd_compare(args: argparse.Namespace, console: Console, err: Console) -> int:
    scenarios = []
    names = []
    failed = False
    for path in args.scenarios:
        try:
            scenarios.append(load_variant(path))
            names.append(path.stem if path.stem != "scenario" else path.parent.name)
        except ScenarioError as exc:
            failed = True
            err.print(f"[bold]{path}[/]:")
            print_issues(err, exc)
    if not scenarios:
        return EXIT_INVALID
    result = run_batch(err, args, "solving", len(scenarios), compare, scenarios, names)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    elif args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["metric", *result.names])
        for key, label in ROWS:
            writer.writerow([label, *(result.value(i, key) for i in range(len(result.names)))])
    else:
        console.print(comparison_table(result))
    return EXIT_INVALID if failed else EXIT_OK


def _signed(value: float | None, fmt: Any = None) -> str:
    if value is None:
        return "-"
    text = fmt(abs(value)) if fmt else f"{abs(value):.4f}"
    return ("-" if value < 0 else "+") + text


def print_sensitivity(console: Console, result: Sensitivity) -> None:
    base = result.base
    console.print(
        f"Base plan: [bold]{base.status}[/], objective {_compare_cell('objective', base.objective)}, "
        f"gap {_compare_cell('gap', base.gap)}"
    )
    table = Table(title="Disruption frontier: best plan per move budget", title_justify="left")
    for column in ("max moves", "status", "objective", "share of the gain", "moves", "moved ARR"):
        table.add_column(column, justify="right")
    for run, (_, share) in zip(result.frontier, result.frontier_gain_shares(), strict=True):
        after = run.plan.after
        table.add_row(
            "unlimited" if run.value is None else str(run.value),
            run.plan.status,
            _compare_cell("objective", run.plan.objective),
            _pct(share),
            "-" if after is None else str(after.kpis["moves"]),
            "-" if after is None else money(float(after.kpis["moved_arr"] or 0)),
        )
    console.print(table)
    table = Table(title="Price of each hard rule (objective gain without it)", title_justify="left")
    for column in ("rule", "status", "price", "accounts placed differently"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for run in sorted(result.prices, key=lambda r: -(r.price or 0.0)):
        table.add_row(
            run.input.removeprefix("rule.").replace("lock.", "lock on "),
            run.plan.status,
            _compare_cell("objective", run.price),
            str(run.changed_accounts),
        )
    console.print(table)
    for kpi, fmt in (
        ("objective", None),
        ("arr_at_risk", money),
        ("arr_spread", lambda v: _pct(v, 1)),
        ("moves", lambda v: f"{v:.0f}"),
    ):
        rows = result.tornado(kpi)
        if not rows:
            continue
        table = Table(title=f"Tornado: {kpi} (change vs the base plan)", title_justify="left")
        for column in ("input", "low", "high"):
            table.add_column(column, justify="left" if column == "input" else "right")
        for name, low, high in rows:
            table.add_row(name, _signed(low, fmt), _signed(high, fmt))
        console.print(table)
    table = Table(
        title="Stability: accounts that change CSM when a weight moves by 5%", title_justify="left"
    )
    table.add_column("weight")
    table.add_column("value", justify="right")
    table.add_column("accounts changed", justify="right")
    for run in result.stability:
        table.add_row(
            run.input.removeprefix("weight."), f"{run.value:g}", str(run.changed_accounts)
        )
    console.print(table)


def cmd_sensitivity(args: argparse.Namespace, console: Console, err: Console) -> int:
    try:
        scenario = load_variant(args.scenario)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    options: dict[str, Any] = {}
    if args.weight_factors:
        options["weight_factors"] = [float(f) for f in args.weight_factors.split(",")]
    if args.tolerance_steps:
        options["tolerance_steps"] = [float(f) for f in args.tolerance_steps.split(",")]
    if args.budgets:
        options["move_budgets"] = [
            None if b in ("none", "unlimited") else int(b) for b in args.budgets.split(",")
        ]
    result = run_batch(err, args, "variants", None, sensitivity, scenario, **options)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print_sensitivity(console, result)
    return EXIT_OK if result.base.has_plan else EXIT_NO_PLAN


SWEEP_KPIS = ("arr_spread", "arr_at_risk", "expertise_match", "moves", "moved_arr")


def cmd_sweep(args: argparse.Namespace, console: Console, err: Console) -> int:
    try:
        scenario = load_variant(args.scenario)
        axes = [parse_axis(spec) for spec in args.set]
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    rows = run_batch(err, args, "sweep", None, sweep, scenario, axes)
    rejected = [row for row in rows if row.issues]
    for row in rejected:
        err.print(f"[bold]{row.name}[/]:")
        print_issues(err, ScenarioError(row.issues))
    keys = list(rows[0].settings) if rows else []

    def record(row: SweepRow) -> dict[str, Any]:
        plan = row.plan
        kpis = plan.after.kpis if plan is not None and plan.after is not None else {}
        return {
            **row.settings,
            "status": "invalid" if plan is None else plan.status,
            "gap": None if plan is None else plan.gap,
            "objective": None if plan is None else plan.objective,
            **{k: kpis.get(k) for k in SWEEP_KPIS},
        }

    records = [record(row) for row in rows]
    if args.json:
        print(json.dumps(records, indent=2, default=str))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]) if records else keys)
        writer.writeheader()
        writer.writerows(records)
    else:
        table = Table(title=f"Sweep: {len(rows)} combinations", title_justify="left")
        for column in [*keys, "status", "gap", "objective", *SWEEP_KPIS]:
            table.add_column(column, justify="right")
        for rec in records:
            table.add_row(
                *(str(rec[k]) for k in keys),
                *(_compare_cell(k, rec[k]) for k in list(rec)[len(keys) :]),
            )
        console.print(table)
    return EXIT_INVALID if rejected else EXIT_OK


def _iso_date(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def cmd_import(args: argparse.Namespace, console: Console, err: Console) -> int:

    from documents.importer import import_tables, write_scenario

    name = args.name or args.out.resolve().name or "imported"
    try:
        result = import_tables(
            args.accounts,
            args.csms,
            mapping=args.mapping,
            ignore_unknown=args.ignore_unknown,
            date_format=args.date_format,
            name=name,
            as_of=args.as_of,
        )
    except ScenarioError as exc:
        err.print(f"[bold red]Invalid input[/]: {len(exc.issues)} problem(s), nothing was written.")
        for issue in exc.issues:
            err.print(f"  - [bold]{escape(issue.path)}[/]: {escape(issue.message)}")
        return EXIT_INVALID
    try:
        written = write_scenario(result, args.out)
    except OSError as exc:
        err.print(f"[bold red]Cannot write[/] {escape(str(args.out))}: {escape(str(exc))}")
        return EXIT_INVALID
    for summary in result.files:
        style = "; European numbers (1.250.000,50)" if summary.european_numbers else ""
        table = Table(
            title=f"{escape(summary.label)}: {summary.rows} row(s) of {summary.kind}{style}",
            title_justify="left",
        )
        for column in ("column", "field", "how"):
            table.add_column(column)
        for column, target, how in summary.mapped:
            table.add_row(escape(column), target, how)
        for column, why in summary.ignored:
            table.add_row(escape(column), "[dim]ignored[/]", why)
        console.print(table)
    owners = result.owners_translated
    if any(owners.values()):
        console.print(
            f"Owners translated to CSM ids: {owners['name']} by name, {owners['email']} by email."
        )
    scenario = result.scenario
    console.print(
        f"[green]Imported[/] {len(scenario.accounts)} accounts and {len(scenario.csms)} CSMs "
        f"as of {scenario.as_of}: {escape(', '.join(str(p) for p in written))}"
    )
    console.print(f"Next: territory solve {escape(str(args.out / 'scenario.json'))}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, console: Console, err: Console) -> int:

    from documents.exports import (
        book_summary_rows,
        books_rows,
        owner_updates_rows,
        table_csv,
        write_xlsx,
    )

    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
    except FileNotFoundError:
        err.print(f"[bold red]Cannot export[/]: plan file not found: {escape(str(args.plan))}")
        return EXIT_INVALID
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]Cannot export[/]: {escape(str(args.plan))} is not a plan JSON file: "
            + escape(str(exc))
        )
        return EXIT_INVALID
    if not isinstance(plan, dict):
        err.print(f"[bold red]Cannot export[/]: {escape(str(args.plan))} is not a plan JSON object")
        return EXIT_INVALID
    try:
        tables = {
            "Owner updates": owner_updates_rows(plan, args.effective_date),
            "Books": books_rows(plan),
            "Book summary": book_summary_rows(plan),
        }
    except ValueError as exc:
        err.print(f"[bold red]Cannot export[/] {escape(str(args.plan))}: {escape(str(exc))}")
        return EXIT_INVALID
    files = dict(
        zip(("owner_updates.csv", "books.csv", "book_summary.csv"), tables.values(), strict=True)
    )
    out: Path = args.out
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for file_name, (columns, rows) in files.items():
            (out / file_name).write_text(table_csv(columns, rows), encoding="utf-8")
            written.append(out / file_name)
        if args.xlsx:
            written.append(write_xlsx(out / "territory-plan.xlsx", tables))
    except OSError as exc:
        err.print(f"[bold red]Cannot write[/] {escape(str(out))}: {escape(str(exc))}")
        return EXIT_INVALID
    updates = tables["Owner updates"][1]
    dates = sorted({str(row[6]) for row in updates})
    when = f" effective {', '.join(dates)}" if dates else ""
    transition = plan.get("transition")
    if dates and isinstance(transition, dict) and transition.get("moves"):
        when += " (from the plan's transition waves)"
    console.print(
        f"{len(updates)} owner update(s){when}; books of {len(tables['Book summary'][1])} CSM(s): "
        + escape(", ".join(str(p) for p in written))
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="territory", description="Assign customer accounts to CSMs, optimally."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve a scenario and write a reassignment plan")
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, help="write the plan JSON here")
    p.add_argument("--backend", choices=("auto", *BACKENDS))
    p.add_argument("--time-limit", type=float, help="seconds (overrides solver.time_limit_s)")
    p.add_argument("--gap", type=float, help="relative gap to stop at (overrides solver.gap)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--strategy",
        choices=("auto", "full", "columns", "lagrangian"),
        help="full model, column generation for large teams, Lagrangian decomposition for very "
        "large ones, or auto by size",
    )
    p.add_argument("--export-model", type=Path, help="also write the model as .mps or .lp")
    p.add_argument("--json", action="store_true", help="print the plan JSON instead of tables")
    p.add_argument("--quiet", action="store_true", help="print nothing (exit code and --out only)")
    p.set_defaults(run=cmd_solve)

    p = sub.add_parser("evaluate", help="score an assignment: objective, books, KPIs, violations")
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--plan", type=Path, help="plan JSON or CSV (account_id,csm_id); default: current CSMs"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("compare", help="solve several scenarios and show them side by side")
    p.add_argument("scenarios", type=Path, nargs="+")
    add_batch_options(p, "scenario")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser(
        "sensitivity", help="which inputs matter, the disruption frontier, rule prices"
    )
    p.add_argument("scenario", type=Path)
    add_batch_options(p, "solve")
    p.add_argument("--budgets", help="move budgets for the frontier, e.g. 0,5,10,20,none")
    p.add_argument("--weight-factors", help="grid of weight multipliers (default 0.5,1.5)")
    p.add_argument("--tolerance-steps", help="grid of tolerance changes (default -0.05,0.05)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_sensitivity)

    p = sub.add_parser("sweep", help="solve every combination of a few settings")
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="SECTION.FIELD=V1,V2",
        help="an axis, e.g. constraints.arr_tolerance=0.1,0.15,0.2 (repeat for more axes)",
    )
    add_batch_options(p, "solve")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    p.set_defaults(run=cmd_sweep)

    p = sub.add_parser(
        "segment", help="coverage segments, capacity, expansion ranking, tier migrations"
    )
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, help="folder for report.json, CSV tables, communications")
    p.add_argument("--scheme", choices=("segments", "tiers"), help="which scheme drives coverage")
    p.add_argument(
        "--templates", type=Path, help="folder of Jinja2 templates overriding the built-in ones"
    )
    p.add_argument(
        "--solve",
        action="store_true",
        help="also assign the named accounts (segment workloads, pool routing)",
    )
    p.add_argument(
        "--time-limit", type=float, help="seconds for --solve (overrides solver.time_limit_s)"
    )
    p.add_argument("--top", type=int, default=10, help="rows shown per table (default 10)")
    p.add_argument("--json", action="store_true", help="print the report JSON instead of tables")
    p.set_defaults(run=cmd_segment)

    p = sub.add_parser(
        "import", help="read accounts and CSMs from CSV/XLSX exports into a scenario"
    )
    p.add_argument(
        "--accounts", type=Path, required=True, help="accounts file: .csv, .xlsx or book.xlsx#Sheet"
    )
    p.add_argument(
        "--csms", type=Path, required=True, help="CSM roster: .csv, .xlsx or book.xlsx#Sheet"
    )
    p.add_argument(
        "--mapping",
        type=Path,
        help='JSON {"accounts": {"Their Column": "field" or null}, "csms": {...}} (null ignores)',
    )
    p.add_argument(
        "--ignore-unknown", action="store_true", help="skip columns no alias or mapping names"
    )
    p.add_argument(
        "--date-format",
        choices=("us", "eu", "iso"),
        default="us",
        help="03/04/2026 is March 4 (us, default) or 3 April (eu); iso accepts only YYYY-MM-DD",
    )
    p.add_argument("--name", help="scenario name (default: the --out folder's name)")
    p.add_argument("--as-of", type=_iso_date, help="the scenario's as_of date (default: today)")
    p.add_argument(
        "--out", type=Path, required=True, help="folder for scenario.json, accounts.csv, csms.csv"
    )
    p.set_defaults(run=cmd_import)

    p = sub.add_parser(
        "export", help="a plan as a CRM owner update CSV and per-CSM books (CSV, XLSX)"
    )
    p.add_argument("plan", type=Path, help="plan JSON written by territory solve --out")
    p.add_argument(
        "--out", type=Path, required=True, help="folder for owner_updates.csv, books.csv, ..."
    )
    p.add_argument(
        "--effective-date",
        type=_iso_date,
        help="date of the owner changes when the plan has no transition dates",
    )
    p.add_argument(
        "--xlsx", action="store_true", help="also write territory-plan.xlsx with the three sheets"
    )
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("report", help="one self-contained HTML report of a plan")
    p.add_argument("plan", type=Path, help="a plan JSON (territory solve --out)")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="default report.html")
    p.add_argument(
        "--sensitivity", type=Path, help="territory sensitivity --json output: adds the frontier"
    )
    p.add_argument("--title", help="the report's title")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("validate", help="check a scenario and list every problem")
    p.add_argument("scenario", type=Path)
    p.set_defaults(run=cmd_validate)

    p = sub.add_parser("schema", help="print the scenario JSON Schema")
    p.add_argument("--out", type=Path)
    p.set_defaults(run=cmd_schema)

    p = sub.add_parser("serve", help="run the HTTP API (docs/api.md)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, help="solver processes (default: the cores)")
    p.add_argument(
        "--database-url", help="job store URL (default TERRITORY_DATABASE_URL or SQLite)"
    )
    p.set_defaults(run=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    try:
        code: int = args.run(args, console, err)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
