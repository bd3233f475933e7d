# calmswap's Make targets for your own repo: in your Makefile,
#   include node_modules/calmswap/calmswap.mk
# then make deploy / rollback / cleanup / status / doctor / history / recover / health, for
# the compose file calmswap.json (or CALMSWAP_COMPOSE_FILE) names. Flags go in ARGS:
# make deploy ARGS=--dry-run, make cleanup ARGS=--yes, make health ARGS="--color green".
# Nothing here provisions anything: Docker and your images are yours.

CALMSWAP ?= node_modules/.bin/calmswap
ARGS ?=

# status and health, the steps a monitor runs often, through their one-file CommonJS build beside
# the command when it is there: a smaller process (44 MB, not 51: docs/benchmark.md, Lean).
calmswap_dist := $(dir $(realpath $(CALMSWAP)))
calmswap_alone = $(if $(and $(calmswap_dist),$(wildcard $(calmswap_dist)$(1).cjs)),node $(calmswap_dist)$(1).cjs,$(CALMSWAP) $(1))

# Your Makefile's first target stays its default goal.
calmswap_default_goal := $(.DEFAULT_GOAL)

.PHONY: deploy rollback cleanup status doctor history recover health calmswap-check

calmswap-check:
	@command -v node >/dev/null 2>&1 || { echo "calmswap needs Node.js 18.19 or newer: sudo apt install nodejs npm (Debian 12 / Raspberry Pi OS)" >&2; exit 2; }
	@[ -x "$(CALMSWAP)" ] || { echo "$(CALMSWAP) is missing: npm install --save-dev calmswap (or the tarball from npm pack)" >&2; exit 2; }

deploy: calmswap-check ## staged blue-green deploy of your compose stack (ARGS=--dry-run)
	$(CALMSWAP) deploy $(ARGS)

rollback: calmswap-check ## traffic back to the previous color, its workers resumed
	$(CALMSWAP) rollback $(ARGS)

cleanup: calmswap-check ## remove the old color (ARGS=--yes to skip the question)
	$(CALMSWAP) cleanup $(ARGS)

status: calmswap-check ## live color, containers, health, CPU pressure, lock (ARGS=--json)
	@$(call calmswap_alone,status) $(ARGS)

doctor: calmswap-check ## check docker, compose, config, the compose contract, nginx and ports
	$(CALMSWAP) doctor $(ARGS)

history: calmswap-check ## past deploys, rollbacks and cleanups (ARGS=--json)
	@$(CALMSWAP) history $(ARGS)

recover: calmswap-check ## after a reboot: finish or undo what was cut short
	$(CALMSWAP) recover $(ARGS)

health: calmswap-check ## health-check a color's web (ARGS="--color green")
	$(call calmswap_alone,health) $(ARGS)

.DEFAULT_GOAL := $(calmswap_default_goal)
