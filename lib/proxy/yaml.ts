// The small YAML calmswap writes for Traefik's file provider, and reads back in its tests:
// block mappings and sequences of mappings, scalars as JSON strings (a double-quoted JSON
// string is a YAML double-quoted scalar) or numbers and booleans. No YAML library: the
// subset is what the dynamic configuration needs, and the reader refuses anything else.

export type Yaml = string | number | boolean | readonly Yaml[] | { readonly [k: string]: Yaml }

const scalar = (v: string | number | boolean) => (typeof v === 'string' ? JSON.stringify(v) : String(v))
const isMap = (v: Yaml): v is { readonly [k: string]: Yaml } => typeof v === 'object' && !Array.isArray(v)

export function toYaml(v: Yaml, indent = ''): string {
  if (isMap(v)) {
    return Object.entries(v)
      .map(([k, x]) => (typeof x === 'object' ? `${indent}${k}:\n${toYaml(x, `${indent}  `)}` : `${indent}${k}: ${scalar(x)}\n`))
      .join('')
  }
  if (Array.isArray(v)) {
    return v
      .map((x) => {
        if (!isMap(x)) return `${indent}- ${typeof x === 'object' ? JSON.stringify(x) : scalar(x)}\n`
        // The first key on the dash's line, the rest below it at the same column.
        const body = toYaml(x, `${indent}  `)
        return `${indent}- ${body.slice(indent.length + 2)}`
      })
      .join('')
  }
  return `${indent}${scalar(v as string)}\n`
}

/** Reads what toYaml writes (and comments); throws on anything outside that subset. */
export function fromYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((l, i) => ({ n: i + 1, raw: l }))
    .filter((l) => l.raw.trim() && !l.raw.trim().startsWith('#'))
  let i = 0
  const depth = (s: string) => s.length - s.trimStart().length
  const value = (s: string, n: number): Yaml => {
    if (s.startsWith('"')) return JSON.parse(s) as string
    if (s === 'true' || s === 'false') return s === 'true'
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s)
    if (/^[A-Za-z0-9_./@:-]+$/.test(s)) return s
    throw new Error(`line ${n}: cannot read ${JSON.stringify(s)}`)
  }
  const block = (ind: number): Yaml => {
    const first = lines[i]!
    if (first.raw.trimStart().startsWith('- ')) {
      const out: Yaml[] = []
      while (i < lines.length && depth(lines[i]!.raw) === ind && lines[i]!.raw.trimStart().startsWith('- ')) {
        const l = lines[i]!
        const rest = l.raw.slice(ind + 2)
        if (/^[A-Za-z0-9_-]+:/.test(rest)) {
          // A mapping item: rewrite the dash as indentation and read a mapping at ind + 2.
          lines[i] = { n: l.n, raw: `${' '.repeat(ind + 2)}${rest}` }
          out.push(block(ind + 2))
        } else {
          out.push(value(rest.trim(), l.n))
          i++
        }
      }
      return out
    }
    const out: Record<string, Yaml> = {}
    while (i < lines.length && depth(lines[i]!.raw) === ind) {
      const l = lines[i]!
      const m = /^([A-Za-z0-9_.@-]+):(?: (.*))?$/.exec(l.raw.slice(ind))
      if (!m) throw new Error(`line ${l.n}: expected "key: value", got ${JSON.stringify(l.raw)}`)
      i++
      if (m[2] !== undefined && m[2] !== '') out[m[1]!] = value(m[2].trim(), l.n)
      else if (i < lines.length && depth(lines[i]!.raw) > ind) out[m[1]!] = block(depth(lines[i]!.raw))
      else throw new Error(`line ${l.n}: ${m[1]} has no value`)
    }
    return out
  }
  if (!lines.length) return {}
  const doc = block(depth(lines[0]!.raw))
  if (i < lines.length) throw new Error(`line ${lines[i]!.n}: unexpected indentation`)
  return doc
}
