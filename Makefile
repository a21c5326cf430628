# certwatch: every command a developer or CI needs.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
BIN := .venv/bin

.DEFAULT_GOAL := help
.PHONY: help install browser run up down status test test-unit test-faults lint fmt bench eval-matching eval-matching-tuning contracts clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)  ## create .venv with the locked dependencies (uv.lock), and compile the matcher
	$(UV) sync --frozen --quiet
	$(BIN)/certwatch compile

run: install  ## start the local stack, load demo data, run the main job once, print the summary
	$(BIN)/certwatch run

up: install  ## start PostgreSQL, the broker, the mail sink and the four services in the background
	$(BIN)/certwatch up

down:  ## stop everything `up` started
	@if [ -x $(BIN)/certwatch ]; then $(BIN)/certwatch down; else echo "nothing to stop (no .venv)"; fi

status:  ## show what runs where
	@$(BIN)/certwatch status

test: install browser  ## run every test (unit, contract, integration, end-to-end, the fault suite) on real infrastructure
	$(BIN)/pytest

browser:  ## Debian's Chromium, which the dashboard's browser test drives with Playwright (never a downloaded browser), and a CJK font for its pages
	@{ command -v chromium >/dev/null 2>&1 && dpkg -s fonts-wqy-microhei >/dev/null 2>&1; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }
	@chromium --version 2>/dev/null

test-unit: install  ## only the tests that need no I/O
	$(BIN)/pytest -m "not integration"

test-faults: install  ## the fault suite alone (make test runs it too): 2,000 signals through kills, restarts, outages
	$(BIN)/pytest -m faults tests/faults -s

lint: install  ## ruff (lint + format check), mypy, and the architecture contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services certwatch
	$(BIN)/lint-imports

fmt: install  ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## benchmarks on the local stack (started if needed); they print their figures
	$(BIN)/certwatch up
	@# reporting on a backlog, first: it wants the stack idle.
	@echo "== bench/bench_reporting.py"; $(BIN)/python bench/bench_reporting.py
	@# The matcher first, then the whole flow (it waits for an idle stack): the ingest run leaves the stack's rules
	@# service busy with the signals it published.
	@for b in bench/bench_matching.py bench/bench_flow.py bench/bench_ingest.py bench/bench_import.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@# The campaign sweep on a PostgreSQL and broker of its own: 1M organisations, 2M signals unless SWEEP_ARGS says.
	@echo "== bench/bench_sweep.py"; $(BIN)/python bench/bench_sweep.py $(SWEEP_ARGS)
	@# The dashboard's main page with 1M risk events in reporting's read model (a database of its own on the stack).
	@echo "== bench/bench_dashboard.py"; $(BIN)/python bench/bench_dashboard.py
	@# API latency with 1M risk events in rules' and reporting's read models, the consumers busy on a backlog:
	@# api and worker in separate processes, then one process per service (a cluster and broker of its own).
	@echo "== bench/bench_api.py"; $(BIN)/python bench/bench_api.py

eval-matching: install  ## matching quality: the generated set and the held-out real names (bench/data)
	$(BIN)/python bench/eval_matching.py $(ARGS)

eval-matching-tuning: install  ## the real names' tuning part: the only real data thresholds may be chosen on
	$(BIN)/python bench/eval_matching.py --tuning

contracts: install  ## add JSON Schema snapshots for new topic versions (existing ones are never rewritten)
	$(BIN)/python -c "from shared.contracts.snapshots import write_missing; print(*write_missing(), sep='\n')"

clean: down  ## remove the local stack's data and the virtual environments
	rm -rf .data .venv .tools
