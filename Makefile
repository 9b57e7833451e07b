# floodkit: two commands on a fresh machine.
#   make demo   set up .venv and run the whole chain on the sample case into out/demo
#   make test   set up .venv, lint with ruff and run the test suite
#   make bench  run the benchmarks in benchmarks/ and print their figures
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint slow clean setup

setup: $(STAMP)

# Reinstall only when the project's dependency list changes (idempotent).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) cli.py run data_samples/dongguanxi --out out/demo

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) lint
	$(PY) -m pytest -q

slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache .ruff_cache
