// Bundles every script into one self-contained dist/<name>.mjs: no tsx at run time
// (a tsx start costs about a CPU-second on a Pi), and one file to copy to another box.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { build } from 'esbuild'

const scripts = readdirSync('scripts').filter((f) => f.endsWith('.ts'))
// One build per script: each bundle is told its entry's name, so that in a bundle only the
// entry script's main runs (every module in it shares one import.meta.url).
await Promise.all(
  scripts.map((f) =>
    build({
      entryPoints: [`scripts/${f}`],
      outfile: `dist/${f.replace(/\.ts$/, '.mjs')}`,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      legalComments: 'none',
      minify: true,
      keepNames: true,
      logLevel: 'warning',
      define: { __CALMSWAP_ENTRY__: JSON.stringify(f.replace(/\.ts$/, '')) },
      // zx and undici still call require() for node built-ins here and there.
      banner: { js: "import { createRequire as __calmswapRequire } from 'node:module'; const require = __calmswapRequire(import.meta.url);" },
    }),
  ),
)
// The sources' shebang runs tsx; the bundles need only node.
for (const f of scripts) {
  const out = `dist/${f.replace(/\.ts$/, '.mjs')}`
  writeFileSync(out, readFileSync(out, 'utf8').replace(/^#!.*\n/, '#!/usr/bin/env node\n'), { mode: 0o755 })
}
console.error(`built ${scripts.length} scripts into dist/`)
