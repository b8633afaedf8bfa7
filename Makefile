PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Inside the venv, so a fresh venv always reinstalls.
STAMP := $(VENV)/.installed

.PHONY: venv run demo test lint stress chaos histories bench bench-vitals bench-pages

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

run: venv
	$(BIN)/trdflow dev up

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
# make chaos CHAOS_ARGS="--courses 20 --kills 7 --seed 1"
chaos: venv
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

# Re-record the replay test's stored histories: read tests/histories/README.md first.
histories: venv
	$(BIN)/python -m tests.histories.record

# make bench BENCH_ARGS="--repeats 5"
bench: venv
	$(BIN)/python -m bench.course_simulation $(BENCH_ARGS)

# Latency on a live stack of its own (dev server, Postgres, worker, API on free loopback ports):
# make bench-vitals BENCH_ARGS="--sessions 50 --each 8"; make bench-pages BENCH_ARGS="--sessions 100"
bench-vitals: venv
	$(BIN)/python -m bench.vitals_latency $(BENCH_ARGS)

bench-pages: venv
	$(BIN)/python -m bench.page_latency $(BENCH_ARGS)
