# craftmap: `make run` serves the app on http://127.0.0.1:8000 with the Thanh Hóa demo;
# `make test` runs the whole test suite. Both install what is missing first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
CRAFTMAP := $(UV) run --frozen craftmap
PYTEST_ARGS ?=

.PHONY: run test setup system-deps venv map-assets db demo lint bench clean

run: setup demo
	$(CRAFTMAP) serve

test: system-deps venv map-assets
	$(UV) run --frozen pytest $(PYTEST_ARGS)

setup: system-deps venv map-assets db

system-deps:
	@bash scripts/install-system-deps.sh

venv:
	$(UV) sync --frozen

# Leaflet and its plugins from the npm registry, pinned by hash (the map pages work offline).
map-assets:
	$(CRAFTMAP) map assets

db:
	$(CRAFTMAP) db start
	$(CRAFTMAP) migrate

demo:
	$(CRAFTMAP) demo load

# The national-scale benchmark (generates ~200 000 parcels on first use; see README).
bench: setup
	$(UV) run --frozen python -m bench.run

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

clean:
	-$(CRAFTMAP) db stop
	rm -rf .craftmap
