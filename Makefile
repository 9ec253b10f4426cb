# The two set-up commands of the README:
#   make packs   install, build the default synthetic extract and every locality pack
#   make test    install (with Chromium for the browser tests) and run the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
EXTRACT ?= data/synthetic
DATE ?= 2025-03-31
JOBS ?= 2
PYTEST_ARGS ?=

.PHONY: install packs prepare extract test test-all lint bench system-deps clean

$(BIN)/bsol: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# bytecode of the package, written even where PYTHONDONTWRITEBYTECODE is set (each
	# command, notebook kernel and worker would otherwise compile it again at start-up)
	$(BIN)/python -m compileall -q bsol_analytics
	touch $@

install: $(BIN)/bsol

extract: install
	$(BIN)/bsol synth --out $(EXTRACT)

prepare: extract
	$(BIN)/bsol prepare $(EXTRACT) --out data/processed

packs: prepare
	$(BIN)/bsol packs data/processed --date $(DATE) --jobs $(JOBS) --out reports

# Debian's Chromium and ChromeDriver (browser and accessibility tests), a Java runtime (Spark
# in local mode), and axe-core 4 for the accessibility checks (the test falls back to the copy
# bundled with axe-selenium-python when npm is not available).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core \
	    $$(command -v java >/dev/null 2>&1 || echo openjdk-17-jre-headless) >/dev/null; \
	fi
	@if [ ! -f node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then \
	  npm install --no-save --no-audit --no-fund --silent axe-core@4 || echo "axe-core 4 not installed"; \
	fi

test: install system-deps
	$(BIN)/ruff check bsol_analytics tests benchmarks scripts notebooks
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-all: install system-deps
	$(BIN)/python -m pytest -n 2 -m "" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check bsol_analytics tests benchmarks scripts notebooks
	$(BIN)/ruff format --check bsol_analytics tests benchmarks scripts notebooks

# Print the timing and memory figures (full-size data; takes several minutes).
bench: install
	for b in synth prepare indicators engines packs stats sql_baseline; do $(BIN)/python benchmarks/bench_$$b.py || exit 1; done

clean:
	rm -rf $(VENV) data/processed/* reports/* .pytest_cache
