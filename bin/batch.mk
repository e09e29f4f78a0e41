# `make batch`, the part that runs in parallel (README: Batch evaluation). The main Makefile runs
# bin/hp-batch-plan, then
#   make -f bin/batch.mk [-jJOBS] RESULTS=dir BIN=.venv/bin [BATCH_OPTIONS=...]
# (without -j when make was given its own -jN: its job slots are shared).
#
# bin/hp-batch-plan has listed the folder's files into $(STATE)/plan.mk: one target
# $(RESULTS)/<file name>.json per contribution, remade when its file's stamp (its identity, size
# and times) or $(STATE)/settings (the baseline's manifest, BATCH_OPTIONS, the tool version)
# changed, and what bin/hp-batch-one gives every preview (ONE_OPTIONS); make -j runs them in
# parallel. Each runs bin/hp-batch-one, which previews through the stage cache (so a remade target
# redoes only the stages whose inputs changed) and turns a bad file into an error record instead
# of stopping the batch. The summaries are made from all the results.

BIN ?= .venv/bin
BATCH_OPTIONS ?=
STATE := $(RESULTS)/.batch
.DEFAULT_GOAL := all

include $(STATE)/plan.mk

SUMMARY := $(RESULTS)/summary.jsonl $(RESULTS)/summary.md $(RESULTS)/summary.csv $(RESULTS)/summary.png

.PHONY: all
all: $(SUMMARY)
	@cat $(RESULTS)/summary.md
	@echo "hp-batch: $(RESULTS_TEXT) in $(RESULTS)/; summary: $(SUMMARY)"

$(BATCH_OUTPUTS): $(STATE)/settings
	@$(BIN)/python bin/hp-batch-one $(ONE_OPTIONS) $(if $(NAME_PROBLEM),--name-problem=$(NAME_PROBLEM)) \
	  $(SOURCE) $@ -- $(BATCH_OPTIONS)

# The rows, once; the table, the CSV and the picture are made from them (hp-format reads rows back).
# Made on every run, and replaced only when they changed (so the picture is redrawn only then):
# results' times cannot say it all (a failed file's record is dated back, to be retried; a file
# taken out of the folder leaves no result behind).
$(RESULTS)/summary.jsonl: $(BATCH_OUTPUTS) FORCE
	@$(BIN)/hp-format --quiet --summary --summary-format jsonl --output-file $@.new $(BATCH_OUTPUTS)
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

.PHONY: FORCE
FORCE:

$(RESULTS)/summary.md: $(RESULTS)/summary.jsonl
	@$(BIN)/hp-format --quiet --summary --summary-format md --output-file $@ $<

$(RESULTS)/summary.csv: $(RESULTS)/summary.jsonl
	@$(BIN)/hp-format --quiet --summary --summary-format csv --output-file $@ $<

$(RESULTS)/summary.png: $(RESULTS)/summary.jsonl
	@$(BIN)/hp-format --quiet --summary --plot $@ $< >/dev/null
