PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every package the venv gets (runtime, dev, stack, the build backend), pinned with its hashes.
LOCK := requirements.lock
# Inside the venv, so a fresh venv always reinstalls.
STAMP := $(VENV)/.installed
# The resolver `make lock` runs, from a throwaway venv: never one of the project's dependencies.
UV_VERSION := 0.13.8

.PHONY: venv lock run demo test lint stress chaos histories bench bench-vitals bench-pages bench-throughput

venv: $(STAMP)

# Only from the lock: pip refuses any file whose sha256 the lock does not list and, with
# --no-deps, installs nothing the lock does not name. pip will not take an editable install in
# --require-hashes mode, so the project itself goes in after, editable, without dependencies
# and built offline with the lock's setuptools. `pip check` fails if the lock no longer
# satisfies pyproject.toml (a floor raised without `make lock`).
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --no-deps --no-build-isolation --no-index -e .
	$(BIN)/pip check
	touch $@

# Rewrites the lock from pyproject.toml (the dev extra, all it pulls in, and build-system.requires)
# for this Python, with the hash of every file PyPI has for each pin. Pins already in the lock are
# kept where they still fit; make lock LOCK_ARGS=--upgrade moves every pin to the newest release,
# LOCK_ARGS="--upgrade-package NAME" just one.
# The lock is replaced only if it changed, so an unchanged one does not reinstall the venv.
lock:
	set -e; tool=$$(mktemp -d); trap 'rm -rf "$$tool"' EXIT; \
	$(PYTHON) -m venv "$$tool/venv"; \
	"$$tool/venv/bin/pip" install --quiet uv==$(UV_VERSION); \
	if test -f $(LOCK); then cp $(LOCK) "$$tool/lock"; fi; \
	"$$tool/venv/bin/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	| "$$tool/venv/bin/uv" pip compile pyproject.toml - --extra dev --generate-hashes \
		--python "$$tool/venv/bin/python" --custom-compile-command "make lock" \
		--quiet --output-file "$$tool/lock" $(LOCK_ARGS); \
	cmp -s "$$tool/lock" $(LOCK) || cp "$$tool/lock" $(LOCK)

# make run WORKERS=3: three worker processes share the task queues (worker-1.log, ...).
WORKERS ?= 1
run: venv
	$(BIN)/trdflow dev up --workers $(WORKERS)

# With `make run` up, in another terminal: four simulated courses on a compressed clock.
demo: venv
	$(BIN)/trdflow demo --allow-simulation

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# pytest exits 5 when it collects no tests; like any non-zero exit, that fails the target.
# First one pytest process per core, each taking whole modules (their time-skipping servers stay
# apart); then the tests on live dev servers, alone: the fault run's crashes and timings must not
# compete with the rest of the suite for the CPU.
test: lint
	$(BIN)/pytest -n auto --dist loadfile -m "not devserver"
	$(BIN)/pytest -m devserver

# `make test` N times on a fresh clone with one core kept busy: make stress N=5
stress:
	tests/stress/repeat $(N)

# The fault run on a stack of its own: while 20 courses play, worker SIGKILLs, PostgreSQL down
# for 30 s, a dev server SIGKILL and 200 bad messages; then every history replayed. Fails on any
# lost, stuck or unreplayable one, a 500 or 502 answer, or a staff action left unaudited.
# make chaos CHAOS_ARGS="--courses 20 --kills 7 --seed 1"; a fleet of three worker processes, one
# lost for good halfway: make chaos CHAOS_ARGS="--workers 3 --lose-workers 1"
chaos: venv
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

# Re-record the replay test's stored histories: read tests/histories/README.md first.
histories: venv
	$(BIN)/python -m tests.histories.record

# Every benchmark, then bench/results/<time>-<commit>.json and the plots in bench/results/latest/:
# make bench BENCH_ARGS="--repeats 3 --pages 10 100 --judged 50 --throughput 10 50"
bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

# Latency on a live stack of its own (dev server, Postgres, worker, API on free loopback ports):
# make bench-vitals BENCH_ARGS="--sessions 50 --each 8"; make bench-pages BENCH_ARGS="--sessions 10 100"
bench-vitals: venv
	$(BIN)/python -m bench.vitals_latency $(BENCH_ARGS)

bench-pages: venv
	$(BIN)/python -m bench.page_latency $(BENCH_ARGS)

# make bench-throughput BENCH_ARGS="--sessions 10 50"
bench-throughput: venv
	$(BIN)/python -m bench.session_throughput $(BENCH_ARGS)
