# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench load lint audit fuzz install browser

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot run here).
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m runtime.launch

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

lint: $(STAMP) audit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Known vulnerabilities in the pinned dependencies (pip-audit, in a venv of its own). --strict:
# a dependency that could not be checked (no route to the vulnerability service) fails too.
AUDIT := .venv-audit/bin/pip-audit
$(AUDIT): requirements-audit.lock
	test -x .venv-audit/bin/python || $(PYTHON) -m venv .venv-audit
	.venv-audit/bin/python -m pip install -q -r requirements-audit.lock
	touch $(AUDIT)

audit: $(AUDIT)
	$(AUDIT) -r requirements.lock --no-deps --disable-pip --strict --progress-spinner off

# The webhooks and the staff API fuzzed with many more examples than `make test` runs (30).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(BIN)/pytest -q tests/fuzz

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The whole stack at several arrival rates, 5 minutes each (about 25 minutes in all).
load: $(STAMP)
	$(BIN)/python -m bench.sustained --rates 2,4,8 --minutes 5 --agents 20,6,6
