# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
# CI builds a clean clone once: incremental caches would only cost disk and time there.
ifeq ($(CI),true)
export CARGO_INCREMENTAL ?= 0
endif

.PHONY: run test setup widget build lint unit e2e clean fuzz

setup:
	@scripts/setup.sh

widget: setup
	@scripts/build-widget.sh

build: widget
	$(CARGO) build --bin c2c

## Starts the gateway on 127.0.0.1:8080 with the demo campaign and the echoing demo trunk.
run: build
	./target/debug/c2c serve --demo

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Every test: unit, storage on SQLite and PostgreSQL, SIP against SIPp, the browser against
## headless Chromium.
test: build lint
	pg_url="$$(scripts/postgres.sh)" && TEST_POSTGRES_URL="$$pg_url" $(CARGO) test --workspace --no-fail-fast

## Coverage-guided fuzzing of every network and storage parser (FUZZING.md); FUZZ_SECONDS per
## target (default 60), FUZZ_TARGETS to pick some. Installs nightly and cargo-fuzz if missing.
fuzz:
	@scripts/fuzz.sh

clean:
	$(CARGO) clean
	rm -rf static/pkg e2e/artifacts
