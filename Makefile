# Kisah: two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast eval lint format check bench clean

# Re-install whenever pyproject.toml changes, so a stale .venv never runs old deps.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

test: $(STAMP)
	$(PY) -m pytest

# Seconds, not a minute: skips the end-to-end and subprocess tests (marked slow).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# Matching quality: every labelled set in eval/ scores at least its floor (eval/floors.toml).
eval: $(STAMP)
	$(PY) eval/gate.py

lint: $(STAMP)
	$(VENV)/bin/ruff check bot tests bench eval
	$(VENV)/bin/ruff format --check bot tests bench eval

format: $(STAMP)
	$(VENV)/bin/ruff format bot tests bench eval
	$(VENV)/bin/ruff check --fix bot tests bench eval

check: $(STAMP)
	$(PY) -m bot check

bench: $(STAMP)
	$(PY) bench/matching.py
	$(PY) bench/telegram_load.py
	$(PY) bench/broadcast.py
	$(PY) bench/inbox.py
	$(PY) bench/first_message.py

clean:
	rm -rf $(VENV) .pytest_cache
