# podferry: the two commands a newcomer needs are `make demo` (a real migration on the local lab)
# and `make test` (every test). Both set up whatever is missing first; a second run reuses it all.

LAB := deploy/lab
LAB_CACHE ?= $(or $(PODFERRY_LAB_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/podferry-lab)
# Node.js 24 from the lab tools comes first: the system's Node 20 is too old for @kubernetes/client-node 2.x.
export PATH := $(LAB_CACHE)/node-24/bin:$(PATH)

# bench: the downtime benchmark on the lab (bench/README.md); pass flags with BENCH_FLAGS="--runs 1 --sizes 16"
.PHONY: bench demo test deps build lab-tools lab-up lab-down lab-status lab-reset lab-prune lab-selftest lab-selftest-crio

# lab-up / lab-down: the whole lab, or only the clusters named, e.g. `make lab-up LAB_CLUSTERS=lab-c`
LAB_CLUSTERS ?=

## demo: build the lab if needed, start it, and migrate the sample pod from lab-a to lab-b
demo: deps lab-up
	$(LAB)/demo.sh

## test: unit, registry and workflow tests, the end-to-end tests and the fault matrix on the lab, then the lab's up/down cycle
test: deps
	npm test
	$(MAKE) lab-up
	npm run test:e2e
	npm run test:faults
	npm run test:lab

bench: deps lab-up
	$(LAB)/workers.sh
	node dist/bench/main.js $(BENCH_FLAGS)

deps: lab-tools node_modules build

lab-tools:
	$(LAB)/tools.sh

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

build: node_modules
	npm run build

lab-up: lab-tools
	$(LAB)/up.sh $(LAB_CLUSTERS)

lab-down:
	$(LAB)/down.sh $(LAB_CLUSTERS)

lab-status:
	$(LAB)/status.sh

lab-reset:
	$(LAB)/reset.sh

## lab-prune: free the disk space migrations leave behind (unused checkpoint images on the nodes, registry blobs)
lab-prune:
	$(LAB)/prune.sh

## lab-selftest: checkpoint the sample pod in lab-a and restore it in lab-b, with no workflow
# (The test file comes before --selectProjects, which would otherwise take it as a second project name and run
# every e2e test.)
lab-selftest: deps lab-up
	NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/lab-restore.test.ts --selectProjects e2e

## lab-selftest-crio: checkpoint the sample pod on lab-c (CRI-O) and restore it there from podferry's checkpoint images
lab-selftest-crio: deps
	$(LAB)/up.sh lab-c
	NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/crio-restore.test.ts --selectProjects e2e
