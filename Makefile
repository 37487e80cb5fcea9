# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,asr-model
STAMP  := $(VENV)/.chorus-installed

.PHONY: demo test venv browser bench serve clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: venv
	$(BIN)/chorus demo

# The HTML report is checked in headless Chromium (Debian's package). Installed here when we can (root + apt);
# without it that one test says it was skipped and why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the HTML report test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "note: could not install chromium; the HTML report's browser test will be skipped"; \
	  else echo "note: chromium not found; the HTML report's browser test will be skipped"; fi; }

test: venv browser
	$(BIN)/python -m pytest

# Benchmarks print their figures and the ratio against a baseline measured in the same run (they take minutes).
bench:
	$(MAKE) venv EXTRAS=test,asr-model,bench
	$(BIN)/python benchmarks/caption.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/events.py

serve: venv
	$(BIN)/chorus serve examples/first-vote/campaign.yaml

clean:
	rm -rf $(VENV) .chorus .pytest_cache
