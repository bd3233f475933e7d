// One build of every script, the `calmswap` command and the library entry into dist/: no
// tsx at run time (a tsx start costs about a CPU-second on a Pi). The entries share their
// code as chunks (dist/chunks/).
// Each entry imports lib/main.ts alone before anything else: the Node version check runs
// before any code an old Node could not load. Then the types of the library entry.

import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
const scripts = readdirSync('scripts').filter((f) => f.endsWith('.ts'))
rmSync('dist', { recursive: true, force: true })
await build({
  entryPoints: Object.fromEntries([...scripts.map((f) => [f.replace(/\.ts$/, ''), `scripts/${f}`]), ['api', 'lib/api.ts']]),
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  // lib/main.ts's NODE_MIN.
  target: 'node18.19',
  legalComments: 'none',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  define: { __CALMSWAP_VERSION__: JSON.stringify(pkg.version) },
})
// The sources' shebang runs tsx; the built scripts need only node.
for (const f of scripts) {
  const out = `dist/${f.replace(/\.ts$/, '.mjs')}`
  writeFileSync(out, readFileSync(out, 'utf8').replace(/^#!.*\n/, '#!/usr/bin/env node\n'), { mode: 0o755 })
}
// Types for `import ... from 'calmswap'`; relative imports as a .d.ts consumer resolves them.
execFileSync(join('node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.types.json'], { stdio: 'inherit' })
const typesDir = 'dist/types'
for (const f of readdirSync(typesDir, { recursive: true })) {
  if (!String(f).endsWith('.d.ts')) continue
  const p = join(typesDir, String(f))
  writeFileSync(p, readFileSync(p, 'utf8').replace(/(from '\.{1,2}\/[^']+)\.ts'/g, "$1.js'"))
}
console.error(`built ${scripts.length} scripts and the library entry into dist/`)
