// Lines a copied script takes along: the script and every module it imports, statically
// or dynamically, from this repo (packages not counted). README's "Copy one script" quotes it.
// Run: node --import tsx bench/closure.ts scripts/health.ts scripts/switch.ts scripts/deploy.ts
import { existsSync, readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'

function closure(entry: string): Set<string> {
  const seen = new Set<string>()
  const todo = [resolve(entry)]
  while (todo.length) {
    const f = todo.pop()!
    if (seen.has(f)) continue
    seen.add(f)
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
      const p = resolve(dirname(f), m[1]!)
      if (existsSync(p)) todo.push(p)
    }
  }
  return seen
}

for (const entry of process.argv.slice(2)) {
  const files = [...closure(entry)]
  const lines = files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length - 1, 0)
  console.log(`${entry}: ${files.length} files, ${lines} lines: ${files.map((f) => relative(process.cwd(), f)).join(' ')}`)
}
