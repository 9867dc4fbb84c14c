# The README's two commands are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# the suite on 2 worker processes (pytest-xdist): each file whole on one worker (its module fixtures run once), the
# longest files first (LONG_FIRST in tests/conftest.py); `make test XDIST=` runs it in one process
XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder

.PHONY: setup demo test lint unit integration bench models alerts dashboards clean

# the project's bytecode is compiled here (a no-op when up to date): with PYTHONDONTWRITEBYTECODE set, every
# `vitals` process would otherwise compile its sources again (~0.2-0.3 CPU s each)
setup: $(VENV)/.installed $(VENV)/.kernels
	@$(PY) -m compileall -q vitals pipelines

# numba compiles the kernels on their first call and caches them in __pycache__ (per checkout path): done here
# once, by replaying 15 simulated minutes of the city, so the first `vitals demo` shows vitals within seconds
# instead of after ~20-40 s of compiling. Redone when a kernel's source changes.
KERNELS := $(wildcard vitals/*/*kernel*.py)
WARMUP := $(VENV)/warmup
$(VENV)/.kernels: $(VENV)/.installed $(KERNELS)
	@echo "compiling the numba kernels once (~20-40 s): a replay of 15 simulated minutes"
	@mkdir -p $(WARMUP)
	@$(VENV)/bin/vitals simulate --hours 0.25 --start 2025-06-02T00:00:00Z --out $(WARMUP)/city.parquet \
		>$(WARMUP)/log 2>&1 || { cat $(WARMUP)/log; exit 1; }
	@$(VENV)/bin/vitals replay $(WARMUP)/city.parquet --metrics-port 0 --no-progress \
		--dead-letters $(WARMUP)/dead_letters.jsonl --final-vitals $(WARMUP)/final.parquet \
		>>$(WARMUP)/log 2>&1 || { cat $(WARMUP)/log; exit 1; }
	@rm -rf $(WARMUP)
	@touch $@

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
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest -m "not integration" $(XDIST) $(PYTEST_ARGS)

integration: setup
	$(PY) -m pytest -m integration $(XDIST) $(PYTEST_ARGS)

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

alerts: setup
	$(VENV)/bin/vitals alerts build

dashboards: setup
	$(VENV)/bin/vitals dashboards build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
