# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench soak clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the bundled sample site: one preview cycle without a token, the bot until stopped with one.
run: $(STAMP)
	$(PY) -m bot run $(if $(TELEGRAM_BOT_TOKEN),,--once --backfill 3) --config examples/newsbot.toml \
		--articles examples/site --feeds feeds --state state

## The whole test suite (CI runs exactly this).
test: $(STAMP)
	$(PY) -m pytest -q

## Benchmarks: each prints a table (see bench/).
bench: $(STAMP)
	$(PY) bench/run_all.py

## Long torture tests.
soak: $(STAMP)
	$(PY) -m pytest -q -m soak

clean:
	rm -rf $(VENV) feeds/* state/* out
