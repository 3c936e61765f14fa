# One command to start the bot, one to run the tests. Both build .venv/ from the lock file when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)

.PHONY: bench-scale bench-latency bench-fresh bench-ready bench-reliability bench-load bench-import run test lint typecheck migrate console lock clean bench worker

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## make run: start the bot (long polling with TELEGRAM_BOT_TOKEN, a console chat without it)
run: $(STAMP)
	$(PY) -m bot run

## make test: lint, type-check, then the test suite (the real-data tier too when WTW_DATASETS is set)
test: $(STAMP) lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot domain recommender db integrations

migrate: $(STAMP)
	$(PY) -m bot migrate

## make worker: a background job worker (embeddings, taste vectors, CF model); `make run` has one built in
worker: $(STAMP)
	$(PY) -m bot worker

## make bench: recommendation quality vs. baselines on MovieLens + /recommend latency (needs WTW_DATASETS)
bench: $(STAMP)
	WTW_DATASETS=$${WTW_DATASETS:-../shared/datasets} $(PY) -m bench.recommend_quality

## make bench-fresh: the fresh-install protocol: every user alone, without and with a 5-fold ratings prior (needs WTW_DATASETS)
bench-fresh: $(STAMP)
	WTW_DATASETS=$${WTW_DATASETS:-../shared/datasets} $(PY) -m bench.recommend_quality --fresh

## make bench-import: Letterboxd import precision vs MovieLens, speed at 50 ms TMDB latency (needs WTW_DATASETS)
bench-import: $(STAMP)
	WTW_DATASETS=$${WTW_DATASETS:-../shared/datasets} $(PY) -m bench.import_quality

## make bench-reliability: fuzzed updates, concurrent delivery, killed workers, TMDB faults, a DB restart (needs WTW_DATASETS)
bench-reliability: $(STAMP)
	WTW_DATASETS=$${WTW_DATASETS:-../shared/datasets} $(PY) -m bench.reliability

## make bench-ready: new install → TMDB 5000 loaded and embedded → a Letterboxd import → seconds to a personal /recommend (needs WTW_DATASETS)
bench-ready: $(STAMP)
	WTW_DATASETS=$${WTW_DATASETS:-../shared/datasets} $(PY) -m bench.time_to_personal

## make bench-latency: /recommend p50/p95/p99, CPU and SQL statements for the heaviest user of the loaded wtw_bench DB, reusing the ranking and from scratch (after make bench; --profile via ARGS)
bench-latency: $(STAMP)
	$(PY) -m bench.latency $(ARGS)

## make bench-scale: CF build time and peak memory, model size and load time, /recommend p50/p95 on a synthetic 200,000 users × 50,000 films × 10M interactions (database wtw_scale; ARGS="--users N --films N --interactions N" for a quick run)
bench-scale: $(STAMP)
	$(PY) -m bench.scale $(ARGS)

## make bench-load: two webhook replicas + a worker under a rising rate of updates from 1,000 users (fake Bot API)
bench-load: $(STAMP)
	$(PY) -m bench.load

## make lock: re-resolve requirements.lock from pyproject.toml (needs uv: pip install uv)
lock:
	uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
