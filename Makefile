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

# Headless runs: no GUI backend, no progress bars (they stay on when a person runs a notebook).
export MPLBACKEND := Agg
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export PATH := $(abspath $(ENV_DIR))/bin:$(PATH)

.PHONY: help env all notebooks report test test-fast test-notebooks lint bench clean

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

report: $(STAMP) ## Render REPORT.md from the claims ledgers in results/
	$(PY) -m saelib.report

test: test-fast test-notebooks ## Unit tests, smoke-profile notebook runs, and nbval over the notebooks

test-fast: $(STAMP) ## Unit tests and the smoke-profile notebook runs
	SAELIB_ARTIFACTS=$(TEST_ARTIFACTS) $(PY) -m pytest tests

test-notebooks: $(STAMP) ## Re-run the committed notebooks (default profile) and compare the checked cells
	SAELIB_ARTIFACTS=$(TEST_ARTIFACTS) $(PY) -m pytest --nbval-lax --nbval-current-env \
		--nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider notebooks/

lint: $(STAMP) ## ruff over the package, tests and benchmarks
	$(PY) -m ruff check saelib tests benchmarks

bench: $(STAMP) ## Time every notebook at its default profile against its budget
	$(PY) benchmarks/bench_notebooks.py

clean: ## Remove generated data, results and caches (keeps the environment and committed figures)
	rm -rf data/*/ results/*/ results/*.json build .pytest_cache
	find saelib tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} +
