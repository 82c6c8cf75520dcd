# T1578 detector. Two commands matter on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
VENV := .tools/venv
SIGMA_VENV := .tools/sigma-venv

.PHONY: run test tools fmt lint unit infra sigma sigma-rules sigma-coverage queries build-aws build-azure e2e-aws event-pattern bench link-order clean-tools fuzz fuzz-short

## Replay events/ through the default profile on the embedded store and print the alerts.
run:
	$(CARGO) run -q -p t1578-cli --bin t1578 -- replay events/

## Every check: formatting, lints, all tests (starting their local stand-ins), Terraform checks,
## the Lambda end to end through `cargo lambda watch` + `cargo lambda invoke`, and each fuzz
## target for about 20 s.
test: tools fmt lint unit infra sigma queries e2e-aws fuzz-short

tools:
	./scripts/install-tools.sh

fmt:
	$(CARGO) fmt --all -- --check

## Clippy, and the crate docs with their links checked: a doc link to a renamed or private
## item is an error here, not a dead link in the rendered docs.
lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps -q

unit:
	$(CARGO) test --workspace

infra:
	$(CARGO) build -q -p t1578-cli --bin t1578
	T1578_EVENT_PATTERN_CMD="target/debug/t1578 event-pattern" ./scripts/infra-check.sh $(VENV)

## The generated Sigma rules, offline: pySigma loads them, the seven SIEM backends convert them
## with the pipelines of scripts/sigma_targets.py (coverage table checked against
## shared/catalog/sigma/COVERAGE.md; the KQL analyzed by Kusto.Language, the AQL of the rules
## and correlations run in DuckDB against the evaluator, the LogScale queries run by an interpreter
## of the subset they use), and an evaluator of its own runs them
## over events/ and the Stratus captures.
sigma: tools
	$(SIGMA_VENV)/bin/python scripts/sigma_check.py

## Regenerate the committed Sigma rules from the catalog.
sigma-rules:
	$(CARGO) run -q -p t1578-cli --bin t1578 -- sigma --out shared/catalog/sigma

## Regenerate the committed coverage table (after sigma-rules or a backend upgrade).
sigma-coverage: tools
	$(SIGMA_VENV)/bin/python scripts/sigma_check.py --write

## The hunting queries of real alerts, benign and hostile: SQL parsed as Trino (sqlglot) and run in
## DuckDB, KQL parsed and analyzed by Kusto.Language; values from logs must stay in their literals.
queries: tools
	$(CARGO) build -q -p t1578-cli --bin t1578
	$(VENV)/bin/python scripts/query-check/check_queries.py target/debug/t1578 events .tools/node/node_modules

## Lambda zip (bootstrap, provided.al2023) under target/lambda/.
build-aws: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ./scripts/build-aws.sh

## Function App zip (host.json, function folders, handler) under target/azure/.
build-azure:
	./scripts/build-azure.sh

## The Lambda through `cargo lambda watch` + `cargo lambda invoke` against moto.
e2e-aws: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ./scripts/e2e-aws-lambda.sh

## Every cargo-fuzz target for FUZZ_SECONDS each (default 600; see BENCHMARKS.md), nightly.
fuzz: tools
	./scripts/fuzz.sh

## The short fuzz run of `make test`: a regression shows up within seconds.
fuzz-short: tools
	FUZZ_SECONDS=20 ./scripts/fuzz.sh

## Regenerate the EventBridge patterns Terraform deploys from the catalog.
event-pattern:
	$(CARGO) run -q -p t1578-cli --bin t1578 -- event-pattern > infra/aws/modules/detector/event-patterns.json

## Throughput and memory against DuckDB on generated data, then alert quality on the multi-day
## workload (see BENCHMARKS.md).
bench: tools
	./scripts/bench.sh

## Regenerate cli/link-order.txt, the order the CLI's functions are linked in (cli/build.rs), from
## a release build run under Valgrind's callgrind; after a change of profile or dependencies.
# The order is made from a build's symbols, and takes effect only in the next build: both here.
link-order:
	$(CARGO) build --release -q -p t1578-cli --bin t1578
	python3 bench/link_order.py
	$(CARGO) build --release -q -p t1578-cli --bin t1578

clean-tools:
	rm -rf .tools
