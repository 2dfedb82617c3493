# craftmap: `make run` serves the app on http://127.0.0.1:8000 with the Thanh Hóa demo;
# `make test` runs the whole test suite. Both install what is missing first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
CRAFTMAP := $(UV) run --frozen craftmap
# Two pytest-xdist workers, whole files each (module fixtures stay shared): see
# tests/conftest.py; the 40 slowest tests are listed at the end, to keep the suite in time.
# `make test PYTEST_ARGS=tests/api` runs a part without xdist.
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=40

.PHONY: run test setup system-deps venv map-assets db demo lint bench clean

run: setup demo
	$(CRAFTMAP) serve

test: system-deps venv map-assets
	$(UV) run --frozen pytest $(PYTEST_ARGS)

setup: system-deps venv map-assets db

system-deps:
	@bash scripts/install-system-deps.sh

# Bytecode written once here, for the dependencies and the project's own packages: where
# PYTHONDONTWRITEBYTECODE is set (as on the CI machines) Python never writes it, and every
# process compiled its imports again (4.7 s to import the app, 5 s to start a server).
venv:
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen python -m compileall -q api geo maps ops migrations bench

# Leaflet and its plugins from the npm registry, pinned by hash (the map pages work offline).
map-assets:
	$(CRAFTMAP) map assets

db:
	$(CRAFTMAP) db start
	$(CRAFTMAP) migrate

demo:
	$(CRAFTMAP) demo load --folder data/demo

# The national-scale benchmark (generates ~200 000 parcels on first use; see README).
bench: setup
	$(UV) run --frozen python -m bench.run

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

# `make clean` deletes the private cluster (every feature, key and history row) with the
# rest of .craftmap, so it asks first: type "delete". Without a terminal (CI, scripts) it
# refuses unless CONFIRM=yes. Save the data first with `craftmap backup FILE`.
CONFIRM ?=
CLUSTER_STATE := .craftmap/cluster.json

clean:
	@if { [ -e $(CLUSTER_STATE) ] || [ -e .craftmap/postgres ]; } && [ "$(CONFIRM)" != yes ]; then \
	  echo "make clean deletes the craftmap database in .craftmap (features, keys, history)." >&2; \
	  echo "Save it first with: $(CRAFTMAP) backup craftmap.dump" >&2; \
	  if [ ! -t 0 ]; then \
	    echo "No terminal to ask: nothing deleted. Run 'make clean CONFIRM=yes' to delete." >&2; \
	    exit 1; \
	  fi; \
	  read -r -p "Type 'delete' to delete it: " answer; \
	  if [ "$$answer" != delete ]; then echo "Nothing deleted." >&2; exit 1; fi; \
	fi
	-CRAFTMAP_HOME=.craftmap $(CRAFTMAP) db stop
	@# A cluster kept outside .craftmap (home unreachable by the postgres account) goes too.
	@outside=$$(sed -n 's/.*"cluster_dir": "\(\/var\/tmp\/craftmap-clusters\/[0-9a-f]\{12\}\)".*/\1/p' \
	  $(CLUSTER_STATE) 2>/dev/null); if [ -n "$$outside" ]; then rm -rf "$$outside"; fi
	rm -rf .craftmap
