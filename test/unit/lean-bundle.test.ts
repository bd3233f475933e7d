// status and health build into one file each (build.mjs): the built-ins that file imports at
// its start load in every run, so the ones only a deploy, a prompt, a spawn or a body pattern
// needs must stay dynamic, and node:http is not needed at all: the Engine API and the check
// speak HTTP/1.1 through lib/http1.ts (peak RSS: docs/benchmark.md, Lean).
import { build } from 'esbuild'
import { describe, expect, test } from 'vitest'

const startImports = async (entry: string): Promise<string[]> => {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'silent', define: { __CALMSWAP_VERSION__: '"test"' } })
  const code = r.outputFiles[0]!.text
  return [...new Set([...code.matchAll(/^import .*from "(node:[^"]+)"/gm)].map((m) => m[1]!))].sort()
}

describe('one-file steps load only the built-ins they use at once', () => {
  for (const step of ['status', 'health'])
    test(step, async () => {
      const got = await startImports(`scripts/${step}.ts`)
      for (const lazy of ['node:child_process', 'node:crypto', 'node:http', 'node:readline/promises', 'node:worker_threads']) expect(got).not.toContain(lazy)
      expect(got).toContain('node:fs')
    })
})
