# andon: the two commands a new user needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

KAFKA_LIB := tools/kafka/lib
KAFKA_STAMP := $(KAFKA_LIB)/.resolved
# Apache Kafka for the tests, the demo and the benchmarks where a JDK and Maven are present; Tansu otherwise.
HAVE_JDK := $(shell command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 && echo yes)
TEST_BROKER := $(if $(HAVE_JDK),kafka,tansu)

.PHONY: demo test lint bench fuzz install clean system-deps kafka promtool promtool-deb

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Kafka's jars (broker + command-line tools) from Maven Central into tools/kafka/lib, once (about 55 MB).
$(KAFKA_STAMP): tools/kafka/pom.xml
	rm -rf $(KAFKA_LIB) && cd tools/kafka && mvn -q -B dependency:copy-dependencies
	touch $(KAFKA_STAMP)

kafka:
	@if [ -n "$(HAVE_JDK)" ]; then $(MAKE) --no-print-directory $(KAFKA_STAMP); \
	else echo "no JDK/Maven on this machine: the broker is Tansu (Python only)"; fi

# promtool (Prometheus's rule and metrics checker) for the alert and scrape checks in tests/k8s and tests/pipelines.
# `make test` takes it from Debian's prometheus package (promtool alone is extracted into tools/bin, no root needed)
# and goes on without it where that package cannot be had; `make promtool` then builds it from the Go module proxy
# (a cold build takes many minutes).
PROMTOOL := tools/bin/promtool
PROMTOOL_VERSION := v0.316.0
promtool-deb:
	@test -x $(PROMTOOL) || { d=$$(mktemp -d); \
	  if (cd $$d && apt-get download -qq prometheus && dpkg-deb -x prometheus_*.deb x) >/dev/null 2>&1; then \
	    mkdir -p tools/bin && cp $$d/x/usr/bin/promtool $(PROMTOOL) && echo "promtool: Debian's, in $(PROMTOOL)"; \
	  else echo "promtool: Debian's prometheus package cannot be had; the promtool checks skip (make promtool)"; fi; \
	  rm -rf $$d; }
promtool: promtool-deb
	@test -x $(PROMTOOL) || GOBIN=$(CURDIR)/tools/bin go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

demo: $(STAMP) kafka
	$(BIN)/andon demo

# Debian's Chromium renders the HTML reports and status page in the tests (installed once, as root or via sudo).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Most integration tests wait on brokers, dataflows and timeouts rather than compute: TEST_WORKERS pytest-xdist
# processes (one test file each at a time, each with its own broker) run them side by side; TEST_WORKERS=0 runs serially.
# On 2 cores, 3 workers kept the CPU about 45 % busy (16 min 42 s); 4 workers took 12 min 54 s.
TEST_WORKERS ?= 4
test: $(STAMP) system-deps kafka promtool-deb
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider --broker=$(TEST_BROKER) -n $(TEST_WORKERS) --dist loadfile

# The decoders' and kernels' property tests with random draws and ANDON_FUZZ_SCALE times their CI examples, round
# after round (a new seed each, printed) for FUZZ_SECONDS; replay a failure with `make fuzz SEED=<seed>`.
FUZZ_SECONDS ?= 300
FUZZ_SCALE ?= 5
FUZZ_TESTS := tests/fault/test_fuzzed_readings.py tests/fault/test_corpus.py tests/andon/test_jsonguard.py \
	tests/wire/test_decoder.py tests/wire/test_json_scan.py tests/wire/test_arrow.py tests/wire/test_mapping.py \
	tests/operators/test_reference_twins.py
fuzz: $(STAMP)
	@end=$$(( $$(date +%s) + $(FUZZ_SECONDS) )); round=0; \
	while [ $$round -eq 0 ] || [ $$(date +%s) -lt $$end ]; do \
	  round=$$((round + 1)); seed=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	  echo "fuzz round $$round: seed $$seed (replay: make fuzz SEED=$$seed FUZZ_SECONDS=0)"; \
	  ANDON_HYPOTHESIS_PROFILE=fuzz ANDON_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/python -m pytest -q -x -p no:cacheprovider \
	    --hypothesis-seed=$$seed $(FUZZ_TESTS) || { echo "fuzz FAILED with seed $$seed"; exit 1; }; \
	  [ -z "$(SEED)" ] || break; \
	done; echo "fuzz: $$round round(s), no failure"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) kafka
	$(BIN)/python -m benchmarks --json benchmarks/results/latest.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(KAFKA_LIB)
