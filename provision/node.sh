#!/usr/bin/env bash
# Node.js and npm for calmswap: checked before anything else, saying what to install. Debian
# 12's nodejs (18) is too old (undici 7 needs 20.18.1); with apt and root on a newer Debian,
# its nodejs and npm are installed. Does nothing when both are there.
set -euo pipefail

log() { printf '\033[2m[provision]\033[0m %s\n' "$*" >&2; }
min=20.18.1
node_ok() { command -v node >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number); const c = Number(process.versions.node.split(".")[2]); process.exit(a > 20 || (a === 20 && (b > 18 || (b === 18 && c >= 1))) ? 0 : 1)'; }

if node_ok && command -v npm >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's nodejs and npm"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
  node_ok || { log "Debian's nodejs is $(node --version 2>/dev/null || echo missing), calmswap needs $min or newer: this is not Debian 12 (bookworm) or newer; install Node.js $min+ (nodejs.org) and run again"; exit 2; }
  exit 0
fi
if node_ok; then
  log "npm is missing: sudo apt install npm (Debian 12 / Raspberry Pi OS), then run again"
else
  log "calmswap needs Node.js $min or newer and npm, this box has $(node --version 2>/dev/null || echo no node): sudo apt install nodejs npm (Debian 12 / Raspberry Pi OS), then run again"
fi
exit 2
