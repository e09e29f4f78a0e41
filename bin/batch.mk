# `make batch`, the part that runs in parallel (README: Batch evaluation). The main Makefile runs
#   make -f bin/batch.mk -jJOBS CONTRIBUTIONS=dir/ [RESULTS=dir] [BASELINE=bundle/] [BATCH_OPTIONS=...]
#
# bin/hp-batch-plan lists the folder's files into $(STATE)/plan.mk: one target
# $(RESULTS)/<file name>.json per contribution, remade when its file's stamp (its identity, size
# and times) or $(STATE)/settings (the baseline's manifest, BATCH_OPTIONS, the tool version)
# changed; make -j runs them in parallel.
# Each runs bin/hp-batch-one, which previews through the stage cache (so a remade target redoes
# only the stages whose inputs changed) and turns a bad file into an error record instead of
# stopping the batch. The summaries are made from all the results.

BIN ?= .venv/bin
RESULTS ?= results
JOBS ?= 1
BATCH_OPTIONS ?=
STATE := $(RESULTS)/.batch
.DEFAULT_GOAL := all
# make runs JOBS previews at once, so each trains on one core (all of them when alone).
TRAIN_JOBS := $(if $(filter 1,$(JOBS)),0,1)

# A value as one shell word, whatever quotes it holds: 'it'\''s'.
shq = '$(subst ','\'',$(1))'

# Listed when the makefile is read, so that the targets below name the folder's current files.
PLANNED := $(shell $(BIN)/python bin/hp-batch-plan $(call shq,$(value CONTRIBUTIONS)) $(call shq,$(RESULTS)) \
  $(if $(BASELINE),$(call shq,--baseline=$(value BASELINE))) $(call shq,--options=$(BATCH_OPTIONS)) \
  --train-jobs=$(TRAIN_JOBS) >&2; echo $$?)
ifneq ($(PLANNED),0)
$(error the batch did not start (see the line above))
endif
include $(STATE)/plan.mk

SUMMARY := $(RESULTS)/summary.jsonl $(RESULTS)/summary.md $(RESULTS)/summary.csv $(RESULTS)/summary.png

.PHONY: all
all: $(SUMMARY)
	@cat $(RESULTS)/summary.md
	@echo "hp-batch: $(words $(BATCH_OUTPUTS)) results in $(RESULTS)/; summary: $(SUMMARY)"

$(BATCH_OUTPUTS): $(STATE)/settings
	@$(BIN)/python bin/hp-batch-one --train-jobs=$(TRAIN_JOBS) $(if $(BASELINE),$(call shq,--baseline=$(value BASELINE))) \
	  $(if $(NAME_PROBLEM),--name-problem=$(NAME_PROBLEM)) $(SOURCE) $@ -- $(BATCH_OPTIONS)

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
