# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,asr-model
STAMP  := $(VENV)/.chorus-installed

.PHONY: demo test venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: venv
	$(BIN)/chorus demo

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .chorus .pytest_cache
