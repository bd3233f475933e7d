# calmswap: staged blue-green deploys for Docker Compose on small machines.
# Every target installs what it needs itself: `make deploy` and `make test` work on a fresh clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

SOURCES := $(wildcard lib/*.ts lib/*/*.ts scripts/*.ts) build.mjs package-lock.json
# Extra flags for a script: make deploy ARGS=--dry-run, make cleanup ARGS=--yes
ARGS ?=

.PHONY: help nodejs deps build node18-image docker images deploy rollback cleanup status health history doctor adopt recover install-recover recover-unit switch proxy down test test-unit test-e2e test-power soak bench bench-watch bench-keepalive bench-proxy test-watch swarm-deploy swarm-lab-bench check format typecheck clean

help: ## this list
	@printf 'calmswap targets (pass flags with ARGS=..., e.g. make deploy ARGS=--dry-run):\n\n'
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@printf '\nEvery step also answers --help with its env vars and exit codes: node dist/calmswap.mjs deploy --help\n'

nodejs: ## Node.js 18.19+ and npm: Debian's nodejs and npm with apt when missing (root), or what to install
	@provision/node.sh

node_modules/.package-lock.json: package.json package-lock.json | nodejs
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json ## install node dependencies (npm ci)

dist/.built: node_modules/.package-lock.json $(SOURCES)
	node build.mjs
	@touch $@

build: dist/.built ## build scripts/*.ts into dist/*.mjs (shared chunks in dist/chunks/; status and health one CommonJS file each, dist/*.cjs) and the package's types

docker: ## install and start Docker Engine + Compose v2 if missing (Debian, root)
	@provision/docker.sh

node18-image: docker ## Debian 12 with Debian's nodejs and no other Node, for the package test (offline, debootstrap)
	@provision/node18-image.sh

images: docker ## official images, or build the offline base image when no registry answers
	@provision/images.sh

deploy: build images ## deploy the example stack: the color that is not live gets the new release
	node dist/deploy.mjs $(ARGS)

rollback: build ## traffic back to the previous color, its workers resumed
	node dist/rollback.mjs $(ARGS)

cleanup: build ## remove the old color (asks first; ARGS=--yes to skip the question)
	node dist/cleanup.mjs $(ARGS)

status: build ## live color, containers, health, CPU pressure, lock (ARGS=--json)
	@node dist/status.cjs $(ARGS)

health: build ## health-check a color's web (ARGS="--color green")
	node dist/health.cjs $(ARGS)

history: build ## past deploys, rollbacks and cleanups (ARGS=--json)
	@node dist/history.mjs $(ARGS)

doctor: build ## check docker, compose, config, the compose contract, nginx and ports
	node dist/doctor.mjs $(ARGS)

adopt: build images ## take over a running plain Compose project in place (CALMSWAP_SHARED_PROJECT=<it>; ARGS="--proxy-from nginx")
	node dist/adopt.mjs $(ARGS)

recover: build ## after a reboot: finish or undo what was cut short, one color, one set of workers, one beat
	node dist/recover.mjs $(ARGS)

# Where install-recover writes the unit (a test writes it elsewhere).
UNIT_DIR ?= /etc/systemd/system
install-recover: build recover-unit ## run `recover` at every boot, after Docker (systemd unit; root)
	systemctl daemon-reload && systemctl enable calmswap-recover.service

# The checkout's path reaches the unit through the environment: no sed delimiter or shell quote it can break.
recover-unit: export CALMSWAP_CHECKOUT := $(CURDIR)
recover-unit:
	node provision/recover-unit.mjs < provision/calmswap-recover.service > "$$UNIT_FILE"
recover-unit: export UNIT_FILE := $(UNIT_DIR)/calmswap-recover.service

proxy: build ## apply the proxy's changed config (validate, graceful reload) or image (new container beside the old; ARGS=--replace)
	node dist/proxy.mjs $(ARGS)

down: ## remove the whole example stack (all three projects), calmswap's image tags of it, and its state
	-for p in blue green shared; do docker compose -p $${CALMSWAP_PREFIX:-calmswap}-$$p down -t 5 --remove-orphans; done
	-docker images --format '{{.Repository}}:{{.Tag}}' "calmswap/$${CALMSWAP_PREFIX:-calmswap}/*" | xargs -r docker rmi
	rm -rf .calmswap

test: deps build ## unit + plan tests, then end-to-end tests on real Docker when it is here
	vitest run --project unit --project plan
	@if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then \
	  provision/images.sh && provision/django-image.sh && provision/caddy-image.sh && provision/node18-image.sh && vitest run --project e2e; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "FAILED: CI=true but no Docker Engine with Compose v2 is reachable, so the end-to-end tests cannot run (make docker)" >&2; exit 1; \
	else \
	  echo "SKIPPED: end-to-end tests. No Docker Engine with Compose v2 is reachable here; run 'make docker' (root) and 'make test' again." >&2; \
	fi

test-unit: deps ## unit + plan tests only (no Docker needed)
	vitest run --project unit --project plan

test-e2e: build images ## end-to-end tests only (real Docker)
	provision/django-image.sh
	provision/caddy-image.sh
	provision/node18-image.sh
	vitest run --project e2e

test-power: build images ## dockerd restarted at every step of a deploy (about 5 minutes; make test runs a few)
	POWER_FULL=1 vitest run --project e2e test/e2e/power.test.ts

soak: build images ## the stop path under load: N deploys in a row, counting grace expiries, failed requests, lost tasks (ARGS="--deploys 20 --stack django")
	node --import tsx bench/soak.ts $(ARGS)

bench-watch: build images ## the watch and the canary under load: bad releases' cost, good ones never rolled back, the watch's CPU (ARGS="--repeat 10")
	node --import tsx bench/watch.ts $(ARGS)

bench-keepalive: build images ## POSTs on kept-alive connections through the proxy across deploys and rollbacks: how many fail (ARGS="--cycles 5")
	node --import tsx bench/keepalive.ts $(ARGS)

test-watch: build images ## the watch and canary end-to-end tests alone (E2E_PORTS=<from>-<to> for your own ports)
	vitest run --project e2e test/e2e/watch.test.ts test/e2e/watch-canary.test.ts test/e2e/watch-worker.test.ts

bench-proxy: deps ## each real proxy's switches and replacement under GETs and kept-alive POSTs, no Docker (nginx-light and caddy on the host; ARGS="--switches 40")
	@if ! command -v caddy >/dev/null || ! [ -x /usr/sbin/nginx ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light caddy; fi
	node --import tsx bench/proxy-reload.ts $(ARGS)

bench: build images ## measure deploy strategies under load (not part of make test)
	node --import tsx bench/bench.ts $(ARGS)

# Swarm mode on this box's swarm (docker swarm init first): the example app image built here,
# .env exported as docker stack deploy does not read it, no registry asked for digests.
swarm-deploy: build images ## the example stack on a Docker Swarm of this box, staged (CALMSWAP_ENGINE=swarm)
	@set -a; [ ! -f .env ] || . ./.env; set +a; \
	release=$${CALMSWAP_RELEASE:-$$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d-%H%M%S)}; \
	docker build -q -t calmswap-example-app:$$release --build-arg PYTHON_IMAGE=$${PYTHON_IMAGE:-python:3.12-slim} example/app >/dev/null; \
	CALMSWAP_ENGINE=swarm CALMSWAP_COMPOSE_FILE=example/swarm/compose.yml CALMSWAP_RELEASE=$$release \
	  CALMSWAP_SWARM_RESOLVE_IMAGE=$${CALMSWAP_SWARM_RESOLVE_IMAGE:-never} node dist/deploy.mjs $(ARGS)

swarm-lab-bench: build images ## three-node swarm on this box (provision/swarm-lab.sh, root): calmswap vs a plain docker stack deploy
	node --import tsx bench/swarm-lab.ts $(ARGS)

check: deps ## formatter and linter (Biome) and the type checker: what CI runs before the tests
	biome ci .
	tsc --noEmit

format: deps ## rewrite the sources in the house style (Biome)
	biome check --write .

typecheck: deps
	tsc --noEmit

clean: ## remove build output
	rm -rf dist
