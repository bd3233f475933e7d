import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SETTINGS } from '../../lib/config.ts'

// The README's config table is documentation people copy from: it must match the code. A `|`
// in a table cell is written `\|`, or GitHub would start a new cell there.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

describe('README config table', () => {
  it.each(SETTINGS.map((s) => [s.env, s.def]))('%s defaults to %j', (env, def) =>
    expect(readme).toContain(`| \`${env}\` | ${def ? `\`${def.replaceAll('|', '\\|')}\`` : '(empty)'} |`),
  )
})
