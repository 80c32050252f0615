# Two entry points for a fresh machine: `make report` (the main job) and `make test`.
# Both create and fill the local virtual environment .venv on first use, from the
# pinned requirements.lock, so a scheduled run next month installs what this one did.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: report test lint bench lab lock clean-venv

$(READY): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	touch $@

report: $(READY)
	$(BIN)/capacity run sizing

test: $(READY)
	$(BIN)/python -m pytest

lint: $(READY)
	$(BIN)/ruff format --check capacity tests benchmarks scripts
	$(BIN)/ruff check capacity tests benchmarks scripts
	$(BIN)/mypy

bench: $(READY)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

lab: $(READY)
	$(BIN)/capacity lab

# Re-resolve the newest compatible versions and pin them (run by hand, then commit).
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet -e '.[test]' setuptools wheel
	.lockvenv/bin/python -m pip freeze --all --exclude-editable | grep -v "^pip==" | sort -f > requirements.lock
	rm -rf .lockvenv

clean-venv:
	rm -rf $(VENV)
