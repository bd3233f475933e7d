// One build of every script, the `calmswap` command and the library entry into dist/: no
// tsx at run time (a tsx start costs about a CPU-second on a Pi). The entries share their
// code as chunks (dist/chunks/), but for ALONE below.
// Each entry imports lib/main.ts alone before anything else: the Node version check runs
// before any code an old Node could not load. Then the types of the library entry.

import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
const scripts = readdirSync('scripts').filter((f) => f.endsWith('.ts'))
// The read-only steps a person or a monitor runs often, each one file of its own: a process
// then loads one module, not the 15-30 chunks that splitting by all 17 entries cuts. Each ES
// module costs about 40 kB of RSS besides its code, and resolving each chunk import runs
// node's path code: past about 90 of them on an install path as long as /usr/lib/node_modules/,
// V8 compiles that code with TurboFan, 4 MB more (docs/benchmark.md, Lean). They are CommonJS,
// dist/status.cjs and dist/health.cjs: node's ES module loader costs a run 1.0-1.6 MB more.
// Their import.meta.url is the file's URL from __filename (lib/main.ts's isMain reads it); the
// built-ins they import when used stay import(), loaded then.
const ALONE = ['status', 'health']
rmSync('dist', { recursive: true, force: true })
const options = {
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
}
const entry = (name) => (name === 'api' ? 'lib/api.ts' : `scripts/${name}.ts`)
const shared = [...scripts.map((f) => f.replace(/\.ts$/, '')).filter((n) => !ALONE.includes(n)), 'api']
await build({ ...options, entryPoints: Object.fromEntries(shared.map((n) => [n, entry(n)])) })
for (const n of ALONE) {
  await build({
    ...options,
    splitting: false,
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    entryPoints: { [n]: entry(n) },
    define: { ...options.define, 'import.meta.url': '__calmswap_url' },
    banner: { js: '"use strict";const __calmswap_url=require("node:url").pathToFileURL(__filename).href;' },
  })
}
// The sources' shebang runs tsx; the built scripts need only node.
for (const f of scripts) {
  const name = f.replace(/\.ts$/, '')
  const out = `dist/${name}${ALONE.includes(name) ? '.cjs' : '.mjs'}`
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
