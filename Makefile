# The two entry points of the README: `make run` and `make test`.
# Each creates .venv when missing and installs the pinned dependencies.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast install bench browser-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

# torch first: the CPU wheel lies on disk; letting a dependency pull torch
# would fetch several GB of CUDA wheels.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Brings the index up to date with corpus/ (fast when nothing changed; exit 3 = some
# files skipped, which is reported and not fatal), then serves the app and prints its URL.
run: $(STAMP)
	$(BIN)/policyqa ingest corpus --quiet || [ $$? -eq 3 ]
	$(BIN)/python ui.py

# Debian's Chromium and a Chinese font for the browser tests (playwright itself is a
# test extra; playwright never downloads a browser of its own here).
browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi wenquanyi; then \
		echo "browser-deps: /usr/bin/chromium and fonts-wqy-zenhei present"; \
	else \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .policyqa
