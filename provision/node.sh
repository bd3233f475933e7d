#!/usr/bin/env bash
# Node.js and npm for calmswap, checked first: does nothing when both are there. calmswap runs
# on Debian 12's / Raspberry Pi OS's own nodejs (18.19+), so as root with apt on a box without
# them it installs Debian's nodejs and npm; otherwise it says what to install.
set -euo pipefail

log() { printf '\033[2m[provision]\033[0m %s\n' "$*" >&2; }
min=18.19.0
node_ok() { command -v node >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 19) ? 0 : 1)'; }

if node_ok && command -v npm >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's nodejs and npm"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
  node_ok || { log "Debian's nodejs is $(node --version 2>/dev/null || echo missing), calmswap needs $min or newer: this is older than Debian 12 (bookworm); install Node.js $min+ (nodejs.org) and run again"; exit 2; }
  log "Node.js $(node --version), npm $(npm --version)"
  exit 0
fi
if node_ok; then
  log "npm is missing: sudo apt install npm (Debian 12 / Raspberry Pi OS), then run again"
else
  log "calmswap needs Node.js $min or newer and npm, this box has $(node --version 2>/dev/null || echo no node): sudo apt install nodejs npm (Debian 12 / Raspberry Pi OS), then run again"
fi
exit 2
