# fnflight: every target bootstraps its own .venv first, so a fresh clone needs only `make train` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fnflight-installed
# torch is pinned for the bootstrap: on this CPU-only machine the wheel lies on disk; on a GPU
# cluster the same pin resolves to the CUDA build. torchvision must never be installed.
TORCH  ?= torch==2.13.0
ARGS   ?=
PYTEST_ARGS ?= -n 2

.DEFAULT_GOAL := help
.PHONY: venv help train test lint format bench bench-ops bench-data docs clean-venv

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  (pass options as ARGS=\"key=value ...\", e.g. make train ARGS=\"trainer.max_steps=50\")"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,export]"
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install fnflight with its dev tools and ONNX export

# `make train` runs the first-run recipe (configs/experiment/first_run.yaml) unless ARGS picks a model, data or
# experiment of its own (e.g. ARGS="model=sid_small data=raw_synthetic"), which then runs as `fnflight train` would
FIRST_RUN = $(if $(or $(findstring model=,$(ARGS)),$(findstring data=,$(ARGS)),$(findstring experiment=,$(ARGS))),,experiment=first_run)

train: $(STAMP) ## the first run: a small DeepFnF on the embedded photos (CPU, under 5 minutes)
	$(BIN)/fnflight train $(FIRST_RUN) $(ARGS)

test: $(STAMP) ## run the whole test suite (doctests, notebooks included)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) $(ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests scripts notebooks
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests scripts notebooks
	$(BIN)/ruff format src tests scripts

bench: bench-ops bench-data ## all benchmarks, JSON lines on stdout

bench-ops: $(STAMP) ## filtering-op speed/memory benchmark
	$(BIN)/fnflight bench ops --json $(ARGS)

bench-data: $(STAMP) ## data-pipeline throughput benchmark
	$(BIN)/fnflight bench data --json $(ARGS)

docs: $(STAMP) ## regenerate the pictures under docs/
	$(BIN)/python scripts/make_docs_figures.py $(ARGS)

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)
