# hokusai-preview: `make demo` sets everything up and previews a shipped contribution;
# `make test` sets everything up and runs the whole test suite (CI runs it).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASELINE := packages/hokusai_preview/baselines/default
EXAMPLE ?= examples/hpc_jobs_1000.csv

.PHONY: install baseline demo test lint unit bats examples clean

install: $(VENV)/.installed $(BASELINE)/manifest.json

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The embedded default baseline, rebuilt reproducibly from datasets/ (same rows, same seed).
baseline: $(BASELINE)/manifest.json

$(BASELINE)/manifest.json: datasets/hpc_data.parquet bin/make-default-data $(VENV)/.installed
	$(BIN)/python bin/make-default-data build/default
	$(BIN)/hp-baseline --quiet --force --model-id hpc-jobs-rf-default \
	  --train-data build/default/base.parquet --benchmark-data build/default/benchmark.parquet \
	  --output $(BASELINE)

# The committed example contributions (rows outside the baseline's base and benchmark tables).
examples: $(VENV)/.installed
	$(BIN)/python bin/make-default-data build/default --examples

demo: install
	$(BIN)/hokusai-preview --data-path $(EXAMPLE)

lint: $(VENV)/.installed
	$(BIN)/ruff check packages tests bin/make-default-data
	$(BIN)/vermin --no-tips --violations -t=3.8- packages bin/make-default-data

unit: install
	$(BIN)/python -m pytest -q

bats: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/bats tests/bats

test: lint unit bats

clean:
	rm -rf $(VENV) build $(BASELINE) .pytest_cache .ruff_cache
