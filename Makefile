# Two commands: `make run` (set up, solve the bundled example) and `make test`
# (set up, lint, type-check, test). Both work from a clean clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE ?= examples/seed_150x8/scenario.json

.PHONY: run serve segment story test test-fast lint bench bench-gap bench-large bench-robust clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# highspy goes to its own folder, outside site-packages: PuLP imports it whenever it can, and
# it cannot share a process with OR-Tools. Only optimizer/strategies/lp_server.py (a child process) loads it.
HIGHSPY ?= highspy==1.15.*

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target $(VENV)/highs-lp '$(HIGHSPY)'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/territory solve $(EXAMPLE) --out plan.json
	$(BIN)/territory report plan.json --out report.html

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# The fast subset: everything not marked slow.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.solve_times

# The published GAP instances (gap1-12 in about 20 s; see benchmarks/README.md for the others).
# Large teams: 20,000 x 100, 50,000 x 250, 250,000 x 1,000 (about 12 minutes).
bench-large: $(VENV)/.installed
	$(BIN)/python -m benchmarks.large

bench-gap: $(VENV)/.installed
	$(BIN)/python -m benchmarks.gap --set orlib --time-limit 10

# Robustness: eleven team shapes at 120 x 6 and 400 x 12, three seeds, 30 s each, one solver
# thread (about 35 minutes); the worst gap at the limit is the figure to improve.
bench-robust: $(VENV)/.installed
	$(BIN)/python -m benchmarks.robustness --sizes 120x6,400x12 --seeds 1,2,3 --time-limit 30

# Two quarters on the RavenStack data (docs/monitor.md): snapshot Q1, plan, snapshot Q2 with
# the data's drift and new accounts, monitor, route, outcomes, report (about 40 s).
STORY ?= build/ravenstack-quarters
story: $(VENV)/.installed
	$(BIN)/python examples/ravenstack/quarters.py q1 --out $(STORY)
	$(BIN)/territory solve $(STORY)/q1/scenario.json --out $(STORY)/q1-plan.json --quiet
	$(BIN)/python examples/ravenstack/quarters.py q2 --plan $(STORY)/q1-plan.json --out $(STORY)
	$(BIN)/territory monitor $(STORY)/q2/scenario.json --since $(STORY)/q1-plan.json --out $(STORY)/q2-monitor.json
	$(BIN)/territory route $(STORY)/q2/scenario.json --out $(STORY)/q2-routing.json --commit-to $(STORY)/q2-routed.json
	$(BIN)/territory monitor $(STORY)/q2-routed.json --since $(STORY)/q1-plan.json --out $(STORY)/q2-routed-monitor.json --json > /dev/null
	$(BIN)/python examples/ravenstack/quarters.py actuals --out $(STORY)
	$(BIN)/territory outcomes $(STORY)/q1-plan.json --scenario $(STORY)/q1/scenario.json --actuals $(STORY)/actuals.csv --csms-out $(STORY)/csms-next.csv --out $(STORY)/outcomes.json
	$(BIN)/territory report $(STORY)/q1-plan.json --monitor $(STORY)/q2-monitor.json --out $(STORY)/report.html

# Coverage segmentation of the real-data example, then the assignment (docs/segmentation.md).
segment: $(VENV)/.installed
	$(BIN)/territory segment examples/ravenstack/scenario.json --out segmentation --solve

# The HTTP API on http://127.0.0.1:8000 (docs/api.md).
serve: $(VENV)/.installed
	$(BIN)/territory serve

clean:
	rm -rf $(VENV) plan.json report.html segmentation .pytest_cache .mypy_cache .ruff_cache
