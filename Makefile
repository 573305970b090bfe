# One command each: `make run` (set up, index, serve), `make test` (set up, test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: install index run test bench eval clean-index browser

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(RUNTIME)

index: $(RUNTIME)
	$(PY) -m rag index

run: $(RUNTIME)
	$(PY) app.py

# The UI tests drive Debian's Chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: $(DEV) browser
	$(PY) -m pytest

bench: $(DEV)
	$(PY) benchmarks/bench_index.py
	$(PY) benchmarks/bench_quality.py
	$(PY) benchmarks/bench_query.py

NEWS_QA := ../shared/data/news-qa
eval: $(RUNTIME)
	$(PY) -m rag eval $(NEWS_QA)/questions-dev.jsonl --corpus $(NEWS_QA)/corpus --split valid --leave-gold-out

clean-index:
	rm -rf index/generations index/CURRENT index/embedding-cache.sqlite
