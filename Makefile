# The README's two commands are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint unit integration bench models alerts dashboards clean

# the project's bytecode is compiled here (a no-op when up to date): with PYTHONDONTWRITEBYTECODE set, every
# `vitals` process would otherwise compile its sources again (~0.2-0.3 CPU s each)
setup: $(VENV)/.installed
	@$(PY) -m compileall -q vitals pipelines

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/vitals demo

lint: setup
	$(VENV)/bin/ruff check vitals pipelines tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

integration: setup
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

alerts: setup
	$(VENV)/bin/vitals alerts build

dashboards: setup
	$(VENV)/bin/vitals dashboards build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
