// What a copied script takes along, and how deep it stands: the script and every module it
// imports from this repo (static, dynamic and type-only imports alike; packages not counted),
// and the longest chain of imports from it to the ground floor. README's "Copy one script" and
// docs/architecture.md ("Floors") quote it.
// Run: node --import tsx bench/closure.ts scripts/health.ts scripts/switch.ts scripts/deploy.ts
import { existsSync, readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'

const imports = new Map<string, string[]>()
function importsOf(f: string): string[] {
  let found = imports.get(f)
  if (!found) {
    found = [...readFileSync(f, 'utf8').matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(f), m[1]!)).filter((p) => existsSync(p))
    imports.set(f, found)
  }
  return found
}

function closure(entry: string): Set<string> {
  const seen = new Set<string>()
  const todo = [resolve(entry)]
  while (todo.length) {
    const f = todo.pop()!
    if (seen.has(f)) continue
    seen.add(f)
    todo.push(...importsOf(f))
  }
  return seen
}

const chains = new Map<string, string[]>()
/** The longest chain of imports from f down (the house has no circle; a circle would be cut where it closes). */
function longest(f: string, path: ReadonlySet<string> = new Set()): string[] {
  const known = chains.get(f)
  if (known) return known
  let best: string[] = []
  for (const d of importsOf(f)) {
    if (path.has(d)) continue
    const c = longest(d, new Set([...path, f]))
    if (c.length > best.length) best = c
  }
  const chain = [f, ...best]
  chains.set(f, chain)
  return chain
}

const rel = (f: string) => relative(process.cwd(), f)
for (const entry of process.argv.slice(2)) {
  const files = [...closure(entry)]
  const lines = files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length - 1, 0)
  const chain = longest(resolve(entry))
  console.log(`${entry}: ${files.length} files, ${lines} lines; longest chain ${chain.length}: ${chain.map(rel).join(' → ')}`)
  if (process.env.FILES) console.log(`  ${files.map(rel).join(' ')}`)
}
