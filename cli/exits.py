"""Exit codes of the ``territory`` command, shared by the commands and the dispatcher.

Scripts and CI jobs branch on them, so their values are part of the interface (README.md, "CLI").
"""

# 0: a plan was produced (or an assignment was evaluated, or a file was written).
EXIT_OK = 0
# 1: no plan, because the scenario is infeasible or no solution was found in time.
EXIT_NO_PLAN = 1
# 2: invalid input; the problems are listed, each naming the account, CSM or option.
EXIT_INVALID = 2
# 3: ``territory monitor --fail-on-trigger``: a trigger fired (the findings are printed).
EXIT_TRIGGERED = 3
# 130: Ctrl-C outside a solve (128 + SIGINT, what shells report for an interrupted command).
EXIT_INTERRUPTED = 130
