# Two entry points (README "Quick start"): `make demo` and `make test`. Both create the
# virtualenv from pyproject.toml on first use.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

CHROMIUM ?= /usr/bin/chromium
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: install demo test bench screenshots

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The web UI's tests drive Debian's Chromium (Playwright cannot download a browser here).
$(CHROMIUM):
	$(APT_INSTALL) chromium || (apt-get update && $(APT_INSTALL) chromium)

demo: install
	$(BIN)/edgenas demo

test: install $(CHROMIUM)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -m "not timing" --durations=25  # the slowest, for keeping CI short
	$(BIN)/python -m pytest -m timing  # alone: another test on the 2 cores would skew them

screenshots: install $(CHROMIUM)  # the README's pictures, from the browser test
	EDGENAS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/web_tests/test_browser.py

bench: install
	$(BIN)/python benchmarks/reference_networks.py
	$(BIN)/python benchmarks/latency_fidelity.py
	$(BIN)/python benchmarks/evaluator.py
	$(BIN)/python benchmarks/multi_fidelity.py
	$(BIN)/python benchmarks/strategies.py
	$(BIN)/python benchmarks/search_vs_baselines.py
