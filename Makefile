# The companion's commands. `make all` and `make test` bootstrap their own environment on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CONDA_ENV_NAME := sae-companion
# An active conda environment made from environment.yml is used as it is; otherwise a local .venv.
ifeq ($(CONDA_DEFAULT_ENV),$(CONDA_ENV_NAME))
  ENV_DIR := $(CONDA_PREFIX)
else
  ENV_DIR := .venv
endif
PY := $(ENV_DIR)/bin/python
STAMP := $(ENV_DIR)/.saelib-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
TEST_ARTIFACTS := $(CURDIR)/build/test-artifacts
SEED_ARTIFACTS := $(CURDIR)/build/seeds
K ?= 3
# make paper: which notebooks, at which profile, into which folders (a test runs it on one notebook at smoke size)
PAPER_NOTEBOOKS ?= $(NOTEBOOKS)
PAPER_PROFILE ?= paper
PAPER_ARTIFACTS ?= $(CURDIR)/build/paper
PAPER_RESULTS ?= results/paper
PAPER_REPORT ?= 1

# Headless runs: no GUI backend, no progress bars (they stay on when a person runs a notebook).
export MPLBACKEND := Agg
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# seeds, paper and test runs write under their own folders (SAELIB_ARTIFACTS) but share the caches in data/
export SAELIB_DATA ?= $(CURDIR)/data
export PATH := $(abspath $(ENV_DIR))/bin:$(PATH)

.PHONY: help env all notebooks report seeds paper test test-fast test-notebooks lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@if [ ! -x "$(PY)" ]; then echo "creating $(ENV_DIR) with $$(command -v python3)"; python3 -m venv $(ENV_DIR); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $@

env: $(STAMP) ## Create or update the environment (only when pyproject.toml changed)

all: notebooks report ## Run every notebook at its default profile, then write REPORT.md

notebooks: $(STAMP) ## Run every notebook in order through papermill (in place, only on success)
	@for nb in $(NOTEBOOKS); do echo "running $$nb"; $(PY) -m saelib.runner $$nb; done

report: $(STAMP) ## Render REPORT.md from the claims ledgers in results/ (seed 0) and results/seeds/
	$(PY) -m saelib.report

seeds: $(STAMP) ## Re-run every notebook at K further seeds (K=3; make seeds K=5) into build/seeds/, verdicts to results/seeds/
	@for k in $$(seq 1 $(K)); do \
		out=$(SEED_ARTIFACTS)/seed-$$k; mkdir -p $$out/notebooks; \
		for nb in $(NOTEBOOKS); do echo "seed $$k: $$nb"; \
			SAELIB_ARTIFACTS=$$out $(PY) -m saelib.runner $$nb --output $$out/notebooks/$$(basename $$nb) -p SEED $$k; \
		done; \
		rm -rf results/seeds/seed-$$k; \
		for nb in $(NOTEBOOKS); do $(PY) -m saelib.report collect $$out/results results/seeds/seed-$$k $$(basename $$nb .ipynb); done; \
	done
	$(MAKE) report

paper: $(STAMP) ## Run notebooks at the posts' scale (PAPER_NOTEBOOKS="notebooks/00_target_model.ipynb ..."; notebook 00 first) into build/paper/, ledgers to results/paper/
	@for nb in $(PAPER_NOTEBOOKS); do echo "paper ($(PAPER_PROFILE)): $$nb"; \
		mkdir -p $(PAPER_ARTIFACTS)/notebooks; \
		SAELIB_ARTIFACTS=$(PAPER_ARTIFACTS) $(PY) -m saelib.runner $$nb \
			--output $(PAPER_ARTIFACTS)/notebooks/$$(basename $$nb) -p PROFILE $(PAPER_PROFILE); \
		$(PY) -m saelib.report collect $(PAPER_ARTIFACTS)/results $(PAPER_RESULTS) $$(basename $$nb .ipynb); \
	done
	@if [ "$(PAPER_REPORT)" = 1 ]; then $(MAKE) report; fi

test: lint test-fast test-notebooks ## ruff, unit tests, smoke-profile notebook runs, and nbval over the notebooks

test-fast: $(STAMP) ## Unit tests and the smoke-profile notebook runs
	SAELIB_ARTIFACTS=$(TEST_ARTIFACTS) $(PY) -m pytest tests

test-notebooks: $(STAMP) ## Re-run the committed notebooks (default profile): nbval on verdicts, then numbers within tolerance
	rm -rf $(TEST_ARTIFACTS)/results/claims
	SAELIB_ARTIFACTS=$(TEST_ARTIFACTS) $(PY) -m pytest --nbval-lax --nbval-current-env \
		--nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider notebooks/
	$(PY) -m saelib.ledger check $(TEST_ARTIFACTS)/results/claims

.PHONY: lab html

lab: $(STAMP) ## Open the notebooks in JupyterLab, kernel "Python 3" = this environment (more options: LAB_ARGS="--port 8890")
	env -u MPLBACKEND -u TQDM_DISABLE JUPYTER_PREFER_ENV_PATH=1 $(PY) -m jupyterlab \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

html: $(STAMP) ## Render the notebooks (stored outputs) and REPORT.md to static HTML: build/html/index.html
	$(PY) -m saelib.static_html build/html

lint: $(STAMP) ## ruff over the package, tests, benchmarks and notebooks
	$(PY) -m ruff check saelib tests benchmarks notebooks

bench: $(STAMP) ## Training-step speed against the GEMM limit, then every notebook's run time against its budget
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_notebooks.py

clean: ## Remove generated data and caches (keeps the environment and the committed figures, ledgers and report)
	rm -rf data/*/ build .pytest_cache
	find saelib tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} +
