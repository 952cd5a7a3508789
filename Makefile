# The two commands a user needs: `make app` (start the app) and `make test` (run every test).
# Both set up what they need on a fresh machine: a virtual environment in .venv with the pinned
# packages, and (for the browser tests) Chromium.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLUSTER_STAMP := $(VENV)/.cluster
PORT   ?= 8501
# ADDRESS=0.0.0.0 lets other machines on the network (a classroom) open the app
ADDRESS ?= localhost

.PHONY: setup cluster app test bench browser clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

# Ray, for training on a cluster (optional: see the README); the tests need it for the cluster tests.
$(CLUSTER_STAMP): $(STAMP) requirements-cluster.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-cluster.txt
	@touch $(CLUSTER_STAMP)

cluster: $(CLUSTER_STAMP)

app: setup
	$(BIN)/python -m ui.serve --server.port $(PORT) --server.address $(ADDRESS)

browser:
	@bash scripts/ensure-browser.sh

# the linter first (rules in pyproject.toml): a new violation fails the suite before any test runs
test: setup cluster browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m playground bench

clean:
	rm -rf $(VENV) .pytest_cache artifacts
