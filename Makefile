# ontofleet — see README.md. Every target that needs PostgreSQL bootstraps it with scripts/db.sh.
SHELL := /bin/bash
CARGO := env -u DATABASE_URL cargo

.PHONY: help build demo fake-llm test deploy-check api-fuzz browser-test explain-ui chaos lint fmt bench bench-scale bench-peers bench-telemetry bench-governor bench-incremental clean-db

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build the ontofleet binary (debug, with the test-only fault injection the suites use)
	$(CARGO) build -p ontofleet-cli --features faults --bin ontofleet

demo: build ## Seed a demo dataset and migrate it with two workers (DEMO_CLASSIFIER=openai: through fake-llm)
	$(CARGO) build --bin fake-llm
	scripts/demo.sh

fake-llm: ## Run the OpenAI-compatible fake server in the foreground (FAKE_LLM_ARGS="--addr … --rate 429=0.1 …")
	$(CARGO) build --bin fake-llm
	target/debug/fake-llm $(FAKE_LLM_ARGS)

test: build ## Full test suite against a real PostgreSQL, make deploy-check, make api-fuzz and make browser-test
	scripts/deploy-check.sh
	eval "$$(scripts/db.sh)" && $(CARGO) test --workspace
	scripts/api-fuzz.sh
	scripts/browser-test.sh

browser-test: build ## The dashboard's flows in Debian's Chromium (playwright-core, axe-core); screenshots in target/browser-artifacts
	scripts/browser-test.sh

explain-ui: build ## Plans of every dashboard page and API read on a big migrated database (DB=URL, a superuser's)
	scripts/explain-ui.sh "$(DB)"

api-fuzz: build ## schemathesis against `ontofleet serve` from its OpenAPI document (operator and viewer tokens)
	scripts/api-fuzz.sh

deploy-check: build ## Offline checks of deploy/: kustomize, kubernetes-validate, KEDA schemas, yamllint, hadolint, checkov, glibc floor
	scripts/deploy-check.sh

chaos: build ## Chaos suite, full form: SIGKILL/terminate/restart/faults/double start; prints a table
	eval "$$(scripts/db.sh)" && CHAOS_FULL=1 $(CARGO) test -p ontofleet-e2e --test e2e chaos -- --nocapture

lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## 5 × (seed ≥ 50k tasks, migrate with 2 worker processes); medians; then one run with the openai classifier (fake, 300 ms)
	$(CARGO) build --release --bin ontofleet --bin fake-llm
	scripts/bench.sh

bench-telemetry: ## Telemetry off vs on (ops server + OTLP export), interleaved pairs of the make bench run
	$(CARGO) build --release --bin ontofleet --bin fake-llm
	scripts/bench-telemetry.sh

bench-scale: ## The 50k and the 1M-task workloads (plus a 50k-task project, also through the openai fake) in one go; figures and ratios
	$(CARGO) build --release --bin ontofleet --bin fake-llm
	scripts/bench-scale.sh

bench-governor: ## Governor off vs on (no signal firing), interleaved pairs of the bench-scale 50k and 1M workloads
	$(CARGO) build --release --bin ontofleet
	scripts/bench-governor.sh

bench-incremental: ## A catch-up pass (1 % of the projects changed) against the full run, on the 1M-task workload; sync status's cost
	$(CARGO) build --release --bin ontofleet
	scripts/bench-incremental.sh

bench-peers: ## Queue layer vs graphile-worker, pg-boss, pgqueuer, procrastinate (installs them under target/)
	$(CARGO) build --release --bin ontofleet
	$(CARGO) build --release -p ontofleet-queue --example queue_bench
	scripts/bench-peers/run.sh

clean-db: ## Stop the private cluster under .pgdata (if one was started)
	scripts/db.sh stop
