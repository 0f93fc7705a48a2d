"""One solver-neutral model of the assignment problem.

The model is a plain mixed-integer linear program (:class:`LinearModel`): variables with bounds,
rows with bounds and a *group* (the hard rule and its subject, e.g. ``("max_accounts", "C")``),
and a linear objective to minimize. Backends translate it; nothing here knows about a solver.
The hard rules come from the registry (:mod:`optimizer.rules`): pair rules decide which
variables exist, and every book and team rule is written by :func:`book_rules` and
:func:`team_rules` from its entry; each objective term is a named function here.

Variables
    ``x[a, c]`` binary, 1 when account ``a`` goes to CSM ``c``; created only for eligible pairs
    (locks, renewal freezes, skills, region and language are applied by not creating the others).
    ``arr_load[c]``, ``workload_load[c]``: continuous, the book's totals, each defined by one
    equality; the book rules are short rows on them.
    ``over_arr[c]``, ``under_arr[c]`` (and the workload pair): continuous, the deviation of a book
    beyond its comfort band, in units of one full-time book.

Money is expressed in full-time books (ARR / (total ARR / total capacity)) and effort likewise,
so coefficients stay near 1 whatever the currency: a term in raw dollars is silently ignored by
some solvers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .instance import Instance
from .rules import ARR, MONEY_STEPS, WORKLOAD, Quantity, active, families

Group = tuple[str, str]  # (rule, subject id)
#: The quantities whose book totals are variables of the model (the balance term reads them).
LOADED = (ARR, WORKLOAD)


@dataclass
class Variable:
    name: str
    lb: float
    ub: float
    integer: bool
    #: Integer steps per model unit, for backends that need integers (CP-SAT): 100 = cents of a unit.
    steps: float = 1.0


@dataclass
class Row:
    name: str
    group: Group | None  # None: part of an objective term, never relaxed
    index: list[int]
    coef: list[float]
    lb: float = -float("inf")
    ub: float = float("inf")
    #: Multiply the row by this to get (near) integer coefficients, for CP-SAT.
    steps: float = 1.0


@dataclass
class LinearModel:
    """A minimization MILP with named rows grouped by the hard rule they express."""

    variables: list[Variable] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    objective: dict[int, float] = field(default_factory=dict)
    constant: float = 0.0

    def add_var(self, name: str, lb: float, ub: float, integer: bool, steps: float = 1.0) -> int:
        self.variables.append(Variable(name, lb, ub, integer, steps))
        return len(self.variables) - 1

    def add_row(
        self,
        name: str,
        group: Group | None,
        index: list[int],
        coef: list[float],
        lb: float = -float("inf"),
        ub: float = float("inf"),
        steps: float = 1.0,
    ) -> None:
        self.rows.append(Row(name, group, index, coef, lb, ub, steps))

    def add_objective(self, var: int, coef: float) -> None:
        if coef:
            self.objective[var] = self.objective.get(var, 0.0) + coef

    def value(self, values: list[float]) -> float:
        """The objective of a solution vector (what the solver reports)."""
        return self.constant + sum(c * values[i] for i, c in self.objective.items())

    def objective_scale(self) -> float:
        """A power of two that brings the largest objective coefficient near 1.

        Solvers' optimality tolerances are absolute; terms normalized to shares have
        coefficients of 1e-6 and below on large teams, which HiGHS flags as "excessively small
        costs".
        """
        largest = max((abs(c) for c in self.objective.values()), default=0.0)
        if largest <= 0.0:
            return 1.0
        return float(2.0 ** round(-math.log2(largest)))

    def elastic_slacks(self) -> list[tuple[int, float]]:
        """The slacks that make a relaxation elastic (it always solves): for every hard rule's
        row except the assignment rows, one per finite side (row, +1 for the lower side, -1 for
        the upper side)."""
        out = []
        for j, row in enumerate(self.rows):
            if row.group is None or row.group[0] == "assign":
                continue
            for sign, limit in ((1.0, row.lb), (-1.0, row.ub)):
                if not math.isinf(limit):
                    out.append((j, sign))
        return out


@dataclass
class AssignmentModel:
    """The built model plus the maps needed to read a solution back."""

    instance: Instance
    model: LinearModel
    x: dict[tuple[int, int], int]
    #: Per quantity ("arr", "workload") and CSM: the book total as (index, coef, largest value),
    #: in full-time books.
    books: dict[str, list[tuple[list[int], list[float], float]]] = field(default_factory=dict)

    def assignment(self, values: list[float]) -> dict[str, str]:
        """Read the account -> CSM assignment from a solution vector."""
        out: dict[str, str] = {}
        inst = self.instance
        best: dict[int, tuple[float, int]] = {}
        for (a, c), var in self.x.items():
            v = values[var]
            if a not in best or v > best[a][0]:
                best[a] = (v, c)
        for a, (_, c) in best.items():
            out[inst.accounts[a].id] = inst.csms[c].id
        return out

    def columns(self) -> list[list[int]]:
        """Per account, the CSMs it has a variable for (in model order): the ``columns`` that
        rebuild this model with :func:`build_model`."""
        out: list[list[int]] = [[] for _ in self.instance.accounts]
        for a, c in self.x:
            out[a].append(c)
        return out

    def hint(self, assignment: Mapping[str, str | None]) -> dict[int, float]:
        """A (possibly partial) starting solution for the binary variables.

        Accounts without a CSM in ``assignment``, or whose CSM they may no longer have, are left
        for the solver to place.
        """
        inst = self.instance
        chosen: dict[int, int] = {}
        for account_id, csm_id in assignment.items():
            if csm_id is not None and csm_id in inst.csm_index and account_id in inst.account_index:
                a, c = inst.account_index[account_id], inst.csm_index[csm_id]
                if (a, c) in self.x:
                    chosen[a] = c
        return {var: float(chosen[a] == c) for (a, c), var in self.x.items() if a in chosen}


def build_model(
    instance: Instance,
    *,
    relax: frozenset[str] = frozenset(),
    dense: bool = False,
    columns: list[list[int]] | None = None,
) -> AssignmentModel:
    """Build the model of ``instance``.

    ``relax`` names rules to drop (used by the diagnosis to price a rule); pair rules in it
    (``locked``, ``renewal_freeze``, ``required_skills``, ``match_region``, ``match_language``)
    re-admit the pairs they exclude. ``dense`` repeats book sums in every rule (see
    :func:`book_loads`); the model's optimum is the same either way. ``columns`` restricts each
    account to the listed CSMs (a *restricted model*, see :mod:`optimizer.strategies.columns`): every rule
    and term stays, with fewer ``x`` variables, and every plan of it is a plan of the full model.
    """
    model = LinearModel()
    x: dict[tuple[int, int], int] = {}
    inst = instance
    everyone = range(len(inst.csms))
    for a, account in enumerate(inst.accounts):
        for c in everyone if columns is None else columns[a]:
            reason = inst.exclusions[a].get(c)
            if reason is not None and reason not in relax:
                continue
            x[a, c] = model.add_var(f"x[{account.id},{inst.csms[c].id}]", 0.0, 1.0, True)
    built = AssignmentModel(inst, model, x)
    weights = inst.weights()

    each_account_once(built)
    book_loads(built, dense, full_tops=None if columns is None else full_tops(inst))
    book_rules(built, relax)
    team_rules(built, relax)
    assignment_costs(built, weights, inst.tie_break)
    if weights["balance"] > 0:
        balance_term(built, weights["balance"])
    return built


def _by_csm(built: AssignmentModel) -> list[list[tuple[int, int]]]:
    """For each CSM, its (account, variable) pairs."""
    out: list[list[tuple[int, int]]] = [[] for _ in built.instance.csms]
    for (a, c), var in built.x.items():
        out[c].append((a, var))
    return out


# ---------------------------------------------------------------------------- hard rules


def each_account_once(built: AssignmentModel) -> None:
    """Hard: every account goes to exactly one CSM."""
    per_account: dict[int, list[int]] = {}
    for (a, _c), var in built.x.items():
        per_account.setdefault(a, []).append(var)
    for a, account in enumerate(built.instance.accounts):
        vars_ = per_account.get(a, [])
        built.model.add_row(
            f"assign[{account.id}]", ("assign", account.id), vars_, [1.0] * len(vars_), 1.0, 1.0
        )


def full_tops(inst: Instance) -> dict[str, list[float]]:
    """Each book's largest possible ARR and workload over every eligible account, in full-time
    books: the bounds of ``arr_load`` / ``workload_load`` in a restricted model, so that they are
    those of the full model (the bound of :mod:`optimizer.strategies.columns` relies on it)."""
    m = len(inst.csms)
    arr = [0.0] * m
    workload = [0.0] * m
    group_arr = [0.0] * len(inst.group_eligible)
    group_workload = [0.0] * len(inst.group_eligible)
    for a, g in enumerate(inst.group):
        group_arr[g] += inst.arr[a]
        group_workload[g] += inst.workload[a]
    for g, cs in enumerate(inst.group_eligible):
        for c in cs:
            arr[c] += group_arr[g]
            workload[c] += group_workload[g]
    for a, per_csm in enumerate(inst.workload_with):
        eligible = inst.eligible[a]
        for c, units in per_csm.items():
            if c in eligible:
                workload[c] += units - inst.workload[a]
    return {
        "arr": [v / inst.arr_unit for v in arr],
        "workload": [v / inst.workload_unit for v in workload],
    }


def book_loads(
    built: AssignmentModel, dense: bool, full_tops: dict[str, list[float]] | None = None
) -> None:
    """Definitions (not rules): the expression of each book's ARR and workload total.

    By default each total is a variable (``arr_load[c]``, ``workload_load[c]``) defined by one
    equality, and the rules and the balance term are short rows on it: repeating the long sums
    in every rule made HiGHS's presolve take minutes on 5,000 x 40 (parallel dense rows). With
    ``dense=True`` the rules repeat the sums instead, which CBC's knapsack cuts need to see.
    """
    inst = built.instance
    for quantity in LOADED:
        label = quantity.name
        amount = _amount_of(inst, quantity)
        unit = quantity.unit(inst)
        steps = quantity.steps(inst)
        books: list[tuple[list[int], list[float], float]] = []
        for c, pairs in enumerate(_by_csm(built)):
            index = [v for _, v in pairs]
            coef = [amount(a, c) / unit for a, _ in pairs]
            if dense:
                books.append((index, coef, sum(coef)))
                continue
            name = f"{label}_load[{inst.csms[c].id}]"
            top = sum(coef) if full_tops is None else max(full_tops[label][c], sum(coef))
            load = built.model.add_var(name, 0.0, top, False, steps)
            built.model.add_row(name, None, [*index, load], [*coef, -1.0], 0.0, 0.0, steps)
            books.append(([load], [1.0], top))
        built.books[label] = books


def book_rules(built: AssignmentModel, relax: frozenset[str]) -> None:
    """Hard: every book rule of the registry (optimizer/rules.py) not in ``relax``, one row per
    CSM it limits: the book's total of the rule's quantity between the CSM's limits.

    Rules on one quantity are written CSM by CSM (all of one CSM's ARR rules together). A soft
    rule (``hard=False``) gets a slack on each side it limits, which the ``soft_rules`` term
    pays per full-time book of the quantity (see :func:`soft_rule_cost`); its rows carry no
    group, so the diagnosis never names them.
    """
    inst = built.instance
    cost = soft_rule_cost(inst, inst.weights()["soft_rules"])
    for quantity, rules in families([r for r in inst.book_rules if active(inst, r)]):
        unit = quantity.unit(inst)
        steps = quantity.steps(inst)
        sums = _book_sums(built, quantity)
        for c, csm in enumerate(inst.csms):
            index, coef = sums[c]
            for rule in rules:
                lo, hi = inst.rule_limits[rule.name][c]
                if rule.name in relax or (lo is None and hi is None):
                    continue
                name = f"{rule.name}[{csm.id}]"
                if rule.hard:
                    built.model.add_row(
                        name,
                        (rule.name, csm.id),
                        index,
                        coef,
                        -math.inf if lo is None else lo / unit,
                        math.inf if hi is None else hi / unit,
                        steps,
                    )
                    continue
                # Soft: lo <= total + short - over <= hi, each slack paying its cost.
                reach = sum(abs(v) for v in coef) + abs(lo or 0.0) / unit + abs(hi or 0.0) / unit
                slacks, signs = [], []
                for side, sign, limit in (("short", 1.0, lo), ("over", -1.0, hi)):
                    if limit is None:
                        continue
                    var = built.model.add_var(f"{side}_{name}", 0.0, reach, False, steps)
                    built.model.add_objective(var, cost)
                    slacks.append(var)
                    signs.append(sign)
                built.model.add_row(
                    name,
                    None,
                    [*index, *slacks],
                    [*coef, *signs],
                    -math.inf if lo is None else lo / unit,
                    math.inf if hi is None else hi / unit,
                    steps,
                )


def soft_rule_cost(inst: Instance, weight: float) -> float:
    """The objective's cost of one full-time book (one model unit) outside a soft rule: the
    ``soft_rules`` term is the total excess over every soft rule and CSM, in full-time books
    of each rule's quantity, divided by the team's capacity."""
    return weight / inst.total_capacity


def _book_sums(built: AssignmentModel, quantity: Quantity) -> list[tuple[list[int], list[float]]]:
    """Per CSM, the book's total of ``quantity`` in model units as (variables, coefficients):
    the load variable of an ARR or workload book (or its sum, in a dense model), else the sum
    over the book's accounts that count."""
    if quantity.name in built.books:
        return [(index, coef) for index, coef, _ in built.books[quantity.name]]
    inst = built.instance
    unit = quantity.unit(inst)
    amount = _amount_of(inst, quantity)
    out = []
    for c, pairs in enumerate(_by_csm(built)):
        terms = [(var, amount(a, c) / unit) for a, var in pairs]
        terms = [(var, coef) for var, coef in terms if coef]
        out.append(([var for var, _ in terms], [coef for _, coef in terms]))
    return out


def _amount_of(inst: Instance, quantity: Quantity) -> Callable[[int, int], float]:
    """A fast ``(a, c) -> amount`` for ``quantity`` (called once per pair)."""
    base = inst.amounts(quantity)
    if quantity.per_pair is None:
        return lambda a, c: base[a]
    overrides = quantity.per_pair(inst)
    return lambda a, c: overrides[a].get(c, base[a])


def team_rules(built: AssignmentModel, relax: frozenset[str]) -> None:
    """Hard: every team rule of the registry (the move budgets) not in ``relax``.

    An account moves when it has a current CSM and is not assigned to them, so a total over the
    moved accounts is the total over accounts with a current CSM minus the sum over those that
    stay: ``sum(amount * stay) >= with_current - budget``. Accounts whose current CSM is not even
    a variable are forced moves (a constant).
    """
    inst = built.instance
    stays = [
        (a, built.x[a, c])
        for a, c in enumerate(inst.current)
        if c is not None and (a, c) in built.x
    ]
    forced = [a for a, c in enumerate(inst.current) if c is not None and (a, c) not in built.x]
    for rule in inst.team_rules:
        budget = rule.budget(inst)
        if budget is None or rule.name in relax:
            continue
        quantity = rule.quantity
        unit = quantity.unit(inst)
        amount = inst.amounts(quantity)
        movable = sum(amount[a] for a, _ in stays) + sum(amount[a] for a in forced)
        built.model.add_row(
            rule.name,
            (rule.name, "team"),
            [v for _, v in stays],
            [amount[a] / unit for a, _ in stays],
            lb=(movable - budget) / unit,
            steps=quantity.steps(inst),
        )


# ---------------------------------------------------------------------------- soft terms


def assignment_costs(built: AssignmentModel, weights: dict[str, float], tie_break: float) -> None:
    """Soft: churn risk, expertise, expansion, continuity and preference, each linear in ``x``."""
    inst = built.instance
    for (a, c), var in built.x.items():
        costs = inst.pair_costs(a, c)
        value = sum(weights[name] * costs[name] for name in costs) + tie_break * costs["continuity"]
        built.model.add_objective(var, value)
    # An account whose current CSM is ineligible pays continuity on every pair: a forced move.


def balance_term(built: AssignmentModel, weight: float) -> None:
    """Soft: ARR (and workload) beyond ``balance_band`` of target, scaled by the balance reference.

    ``over[c] >= load[c] - (1 + band) * target[c]`` and ``under[c] >= (1 - band) * target[c] -
    load[c]``; the objective pays ``weight * (over + under) / total_capacity / reference``
    (halved when the workload part is active), which equals :meth:`Instance.balance_excess`
    at the optimum.
    """
    inst = built.instance
    band = inst.scenario.constraints.balance_band
    parts = [("arr", inst.arr_unit, inst.arr_target)]
    if inst.balances_workload:
        parts.append(("workload", inst.workload_unit, inst.workload_target))
    for label, unit, targets in parts:
        share = weight / len(parts) / inst.total_capacity / inst.balance_reference(label)
        steps = unit * MONEY_STEPS
        for c, (index, coef, top) in enumerate(built.books[label]):
            csm = inst.csms[c]
            target = targets[c] / unit
            over = built.model.add_var(f"over_{label}[{csm.id}]", 0.0, max(top, 0.0), False, steps)
            under = built.model.add_var(f"under_{label}[{csm.id}]", 0.0, target, False, steps)
            built.model.add_row(
                f"over_{label}[{csm.id}]",
                None,
                [*index, over],
                [*coef, -1.0],
                ub=(1 + band) * target,
                steps=steps,
            )
            built.model.add_row(
                f"under_{label}[{csm.id}]",
                None,
                [*index, under],
                [*coef, 1.0],
                lb=(1 - band) * target,
                steps=steps,
            )
            built.model.add_objective(over, share)
            built.model.add_objective(under, share)


def pair_rule_names(inst: Instance) -> frozenset[str]:
    """The names of the pair (eligibility) rules: relaxed, they re-admit excluded pairs."""
    return frozenset(rule.name for rule in inst.pair_rules)
