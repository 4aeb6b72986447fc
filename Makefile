# carelake: `make demo`, `make test`, `make dev` each work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export CARELAKE_HOME ?= $(CURDIR)/.carelake
export DAGSTER_HOME ?= $(CARELAKE_HOME)/dagster_home
# The embedded profile's HMAC key for PHI tokens: fine for simulated data, not a secret. Production sets
# its own (the variable sources/_platform.yaml names under privacy.hmac_key_env).
export CARELAKE_HMAC_KEY ?= embedded-profile-demo-key-not-a-secret

.PHONY: install system-packages demo dev test bench bench-pipeline clean

# Debian packages the tests need and pip cannot provide: gpg (PGP feeds), Chromium (the browser test;
# Playwright drives it and never downloads a browser). Installed with apt-get
# when missing, and said so; without root, the command to run is printed instead.
SYSTEM_PACKAGES := gpg:gnupg chromium:chromium

system-packages:
	@for entry in $(SYSTEM_PACKAGES); do \
	  cmd=$${entry%%:*}; pkg=$${entry#*:}; \
	  command -v $$cmd >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make install: $$cmd is missing; installing the Debian package $$pkg (apt-get install -y $$pkg)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null || exit 1; \
	  else \
	    echo "make install: $$cmd is missing; install it with: sudo apt-get install $$pkg" >&2; exit 1; \
	  fi; \
	done

install: system-packages $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.local.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.local.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/carelake validate
	$(BIN)/carelake demo

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: install
	$(BIN)/python bench/definitions_load.py

# landed -> raw -> transformed of a 1 / 2 / 4 GB delivery through Dagster against polars' ceiling (~1 h on
# 2 cores; needs ~15 GB of free disk in the temp folder). Results: BENCHMARKS.md, issue 14.
bench-pipeline: install
	$(BIN)/python bench/pipeline.py --sizes 1 2 4

clean:
	rm -rf .carelake
