# Two commands: `make demo` and `make test`. Each creates or updates .venv/ from
# pyproject.toml first, so a machine with Python 3.11 and make needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs clean

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,notebooks,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tfae demo --out runs

# The tests run in one process per core (at most 4; pytest-xdist): 12 minutes on one
# process of a 2-core machine, 9 on two.
test: $(STAMP)
	$(BIN)/ruff check tfae tests export benchmarks
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4

lint: $(STAMP)
	$(BIN)/ruff check tfae tests export benchmarks

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) runs site
