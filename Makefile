# Two entry points: `make demo` (a simulation on the embedded model) and `make test`.
# Everything installs into .venv from this project's own files: the package editable with the `dev` and
# `embedded` extras (the published core, `pip install roleplay-sim`, has neither); llama-cpp-python builds
# from source once (~6 min on 2 cores) and pip caches the wheel for later runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,embedded]"
	touch $@

demo: venv
	$(BIN)/roleplay run doctor_patient --out runs/demo

test: venv
	$(BIN)/ruff check roleplay tests bench
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check roleplay tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
