# genrenet: two commands on a fresh machine
#   make book   create .venv, install, run the demo experiments, build the book into _build/html
#   make test   create .venv if needed, run the test suite
# Every build renders the recorded real-data edition (book/recorded/) in the part "Results on real audio".
# Real data: make book DATA_DIR=/path/to/gtzan SPLITS_DIR=/path/to/gtzan-splits  also runs the `gtzan`
#            profile of experiments.yml and renders that fresh run in the real-audio part instead; several
#            GTZAN folders are joined by ':', e.g. DATA_DIR=gtzan-mini:gtzan-extra
#   make record DATA_DIR=... SPLITS_DIR=...   run the gtzan profile and store it in book/recorded/

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= demo
PYTEST_ARGS ?=

export TF_ENABLE_ONEDNN_OPTS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: venv book run-experiments build-book record test lint bench clean

$(BIN)/.installed: pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# the pretrained musicnn weights (genrenet.embeddings); the wheel pins numpy<1.17, hence --no-deps
	$(BIN)/python -m pip install --quiet --no-deps musicnn==0.1.0
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

venv: $(BIN)/.installed

run-experiments: venv
	$(BIN)/genrenet book run --profile $(PROFILE)
	$(if $(DATA_DIR),$(BIN)/genrenet book run --profile gtzan --data-dir $(DATA_DIR) \
		$(if $(SPLITS_DIR),--splits-dir $(SPLITS_DIR)))

record: venv
	$(BIN)/genrenet book record $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SPLITS_DIR),--splits-dir $(SPLITS_DIR))

build-book: venv
	$(BIN)/genrenet book build

book: run-experiments build-book
	@echo "book written to _build/html/index.html"

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check genrenet tests benchmarks

bench: venv
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_demo.py

clean:
	rm -rf _build results book/_executed
