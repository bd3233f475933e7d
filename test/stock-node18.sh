#!/usr/bin/env bash
# `make deploy`'s first steps on a stock Debian 12 box, in calmswap-node18:bookworm (Debian's
# nodejs 18, no npm, no other Node; provision/node18-image.sh): this repository's HEAD as a
# clone would have it (git archive), then `make nodejs` (installs Debian's npm 9.2), `make nodejs`
# again (does nothing), `make deps build` (npm ci with this lockfile, esbuild, tsc) and the built
# command. Needs the Debian mirror and the npm registry, so it is not part of `make test`; the
# host's CA bundle goes along for networks that intercept TLS.
set -euo pipefail
image=${CALMSWAP_NODE18_IMAGE:-calmswap-node18:bookworm}
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git archive HEAD | tar -x -C "$src"
docker run --rm --network host -v "$src:/src:ro" \
  -v /etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro -e npm_config_cafile=/host-ca.crt \
  "$image" bash -euo pipefail -c '
    cp -a /src /repo && cd /repo
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null
    ! command -v npm >/dev/null
    make nodejs 2>&1 | grep "\[provision\]"
    [ -z "$(make nodejs 2>&1)" ] && echo "make nodejs again: nothing to do"
    make deps build
    node dist/calmswap.mjs --version
    node dist/calmswap.mjs --help | head -1
  '
