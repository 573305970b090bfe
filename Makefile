# One command each: `make run` (set up, index, serve), `make test` (set up, test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: install index run test lint stress bench eval eval-data train train-data clean-index browser

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --editable .  # `import rag` from any folder (examples/, your app)
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt requirements-scale.txt
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

test: $(DEV) lint browser
	$(PY) -m pytest -m 'not slow' $(PYTEST_ARGS)

# Errors, not style (pyproject.toml: undefined and unused names, syntax); under a second.
lint: $(DEV)
	$(VENV)/bin/ruff check

# The long robustness runs: 50 MB / 5 MB-line hostile corpus, 1,000-example fuzzing, SIGKILL at 20
# random moments, a full disk (tmpfs; needs root), 50 sessions for 60 s. Ends with a table (~15 min).
STRESS_TESTS := tests/test_properties.py tests/test_hostile.py tests/test_crash.py tests/test_load.py
stress: $(DEV)
	RAG_PROPERTY_EXAMPLES=1000 $(PY) -m pytest -m "slow or fuzz" $(STRESS_TESTS)

bench: eval-data $(DEV)
	$(PY) benchmarks/bench_index.py
	$(PY) benchmarks/bench_quality.py
	$(PY) benchmarks/bench_query.py
	$(PY) benchmarks/bench_memory.py

TRAIN_DATA := ../shared/data/train
TRAINING := $(VENV)/.train-installed
$(TRAINING): $(RUNTIME) requirements-train.txt
	$(PY) -m pip install --quiet -r requirements-train.txt
	touch $@

# Rebuild the shipped reader (models/reader) from ../shared/data/train with a fixed seed: stage 1 learns
# to read (56 min on 2 CPU cores, 12 layers, fp32 there), stage 2 to say "no answer" in passages the
# search ranks high that do not answer (~22 min); then the article ranking it feeds is learned on
# news-qa train questions and kept in reader.json (~10 min, more when the news-qa index is built
# first), and the reader is measured on the held-out sets. Uses a GPU when there is one.
# The data checks come first: without ../shared, nothing is installed before saying so.
train-data:
	@test -f $(TRAIN_DATA)/idkmrc-train.jsonl -a -d ../shared/data/news-qa/corpus || { echo "error: $(TRAIN_DATA) or ../shared/data/news-qa is missing. make train reads the project's reader training data and the news-qa train questions (see ../shared/data/README.md), which live beside the project and are not part of the repository." >&2; exit 2; }

train: train-data $(TRAINING)
	$(PY) training/train_reader.py --data $(TRAIN_DATA) --out models/reader
	$(PY) training/train_reader.py --data $(TRAIN_DATA) --out models/reader --init models/reader \
		--negatives 2 --wiki-questions 1000 --epochs 1 --lr 3e-5
	$(PY) benchmarks/tune_on_train.py --reader --write --questions 600
	$(PY) training/validate_reader.py --data $(TRAIN_DATA) --reader models/reader

NEWS_QA := ../shared/data/news-qa
eval-data:
	@test -f $(NEWS_QA)/questions-dev.jsonl || { echo "error: $(NEWS_QA) is missing. make eval measures on the project's evaluation data (news-qa, see ../shared/data/README.md), which lives beside the project and is not part of the repository." >&2; exit 2; }

eval: eval-data $(RUNTIME)
	$(PY) -m rag eval $(NEWS_QA)/questions-dev.jsonl --corpus $(NEWS_QA)/corpus --split valid --leave-gold-out --compare-reader
	$(PY) -m rag eval benchmarks/data/news-qa-english.jsonl --corpus $(NEWS_QA)/corpus --split valid --leave-gold-out --compare-reader
	@if test -f $(TRAIN_DATA)/idkmrc-valid.jsonl; then \
		$(PY) -m rag eval $(TRAIN_DATA)/idkmrc-valid.jsonl --compare-reader; \
	else echo "note: $(TRAIN_DATA)/idkmrc-valid.jsonl is missing (see ../shared/data/README.md): the Wikipedia set (IDK-MRC valid) was not measured." >&2; fi

clean-index:
	rm -rf index/generations index/CURRENT index/embedding-cache.sqlite
