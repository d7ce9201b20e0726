# segkit — run `make` for the list of targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= reports.yml
JOBS   ?= 2
PIP_FLAGS ?= --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help report test test-fast test-notebooks bench lab clean browser postgres mutate

help: ## list the targets
	@echo "segkit — decide how to split customers into groups, and prove the choice."
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

# Reinstall when the package metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $(VENV)/.installed $@

browser: ## install headless Chromium for the report tests (Debian/Ubuntu, as root)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	    else echo "note: install chromium to run the browser tests (they are skipped without it)"; fi; }

# The PostgreSQL tests start a throw-away server from the distribution's binaries (tests/pg_server.py);
# without them the tests are skipped with the reason, so a failed install does not fail `make test`.
postgres: ## install the PostgreSQL server for the warehouse tests (Debian/Ubuntu, as root)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null 2>&1 \
	        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }) \
	      || echo "warning: could not install PostgreSQL; the PostgreSQL tests will be skipped"; \
	    else echo "note: install postgresql-15 to run the PostgreSQL tests (they are skipped without it)"; fi; }

report: $(VENV)/.installed ## set up (first time) and publish the reports of $(CONFIG) into reports/
	$(BIN)/segkit run $(CONFIG) --jobs $(JOBS)

test: $(VENV)/.installed-dev browser postgres ## set up (first time) and run the whole test suite
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

test-fast: $(VENV)/.installed-dev ## the suite without slow and browser tests
	$(BIN)/python -m pytest -n $(JOBS) -m "not slow and not browser"

test-notebooks: $(VENV)/.installed-dev ## the notebooks run top to bottom as in JupyterLab (nbval)
	$(BIN)/python -m pytest --nbval-lax -p no:xdist -o addopts= notebooks/

# Mutation testing (slow, not part of `make test`): every mutant of the numeric modules listed in
# pyproject.toml's [tool.mutmut] against the fast unit tests. MUTANTS narrows it to some modules,
# e.g. make mutate MUTANTS="segkit.schemes.rfm* segkit.schemes.tiers*"
MUTANTS ?=
mutate: $(VENV)/.installed-dev ## mutation testing of the numeric modules (slow): killed K of M mutants, survivors
	nice -n 19 $(BIN)/mutmut run --max-children $(JOBS) $(MUTANTS) > mutants.log 2>&1 || { tail -20 mutants.log; exit 1; }
	$(BIN)/python tools/mutation_summary.py mutants

bench: $(VENV)/.installed-dev ## benchmark table (ratios against baselines measured in the same run)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lab: $(VENV)/.installed-dev ## JupyterLab on notebooks/
	$(BIN)/jupyter lab notebooks/

clean: ## remove the virtualenv and caches (not the reports)
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info mutants mutants.log
