# carelake: `make demo`, `make test`, `make dev` each work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export CARELAKE_HOME ?= $(CURDIR)/.carelake
export DAGSTER_HOME ?= $(CARELAKE_HOME)/dagster_home

.PHONY: install demo dev test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	command -v gpg >/dev/null || (apt-get update && apt-get install -y gnupg)
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

clean:
	rm -rf .carelake
