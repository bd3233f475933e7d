import { describe, expect, it } from 'vitest'
import { formatChecks } from '../../lib/checks.ts'
import { sanitize, Ui } from '../../lib/ui.ts'

// Container logs printed on rollback come from the failed release: they must not drive the terminal.
describe('text from outside is made safe for a terminal', () => {
  it.each([
    ['colors', 'a\x1b[31mred\x1b[0m b', 'ared b'],
    ['cursor moves and screen clears', 'x\x1b[2J\x1b[H\x1b[1A', 'x'],
    ['a window title', 'x\x1b]0;pwned\x07y', 'xy'],
    ['a hyperlink', '\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\', 'click'],
    ['bells, backspaces and carriage returns', 'ok\x07\x08\r', 'ok'],
    ['the 8-bit CSI', 'a\x9b31mb', 'a31mb'],
    ['newlines and tabs stay', 'line 1\n\tline 2', 'line 1\n\tline 2'],
  ])('%s', (_, input, want) => expect(sanitize(input)).toBe(want))
})

// An error carrying what `nginx -t`, a build or a daemon printed reaches the terminal through
// the Ui: every message is made safe there, and only calmswap's own colors remain.
describe('every message the Ui prints is made safe', () => {
  const NGINX = 'nginx -t rejected the new upstream:\n\x1b]0;pwned\x07nginx: [emerg] \x1b[2J\x1b[31mbad\x1b[0m'
  const SAFE = 'nginx -t rejected the new upstream:\nnginx: [emerg] bad'
  const printed = async (color: boolean, f: (ui: Ui) => unknown) => {
    const out: string[] = []
    const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream
    const ui = new Ui({ err: sink, out: sink, color, interactive: false, json: false })
    await f(ui)
    return out.join('')
  }
  it.each([
    ['error', (ui: Ui) => ui.error(NGINX), `✗ ${SAFE}\n`],
    ['warn', (ui: Ui) => ui.warn(NGINX), `! ${SAFE}\n`],
    ['info', (ui: Ui) => ui.info(NGINX), `${SAFE}\n`],
    ['info with a title', (ui: Ui) => ui.info(NGINX, 'calmswap deploy'), `calmswap deploy ${SAFE}\n`],
    ['detail', (ui: Ui) => ui.detail(NGINX), `${SAFE}\n`],
    ['ok', (ui: Ui) => ui.ok(NGINX), `✓ ${SAFE}\n`],
  ])('%s', async (_, f, want) => expect(await printed(false, f)).toBe(want))
  it('a step name too', async () => expect(await printed(false, (ui) => ui.step('build \x1b[2Jx', async () => {}))).not.toMatch(/\x1b/))
  it('with colors on, only calmswap’s own color codes remain', async () => {
    const text = await printed(true, (ui) => ui.error(NGINX))
    expect(text.replace(/\x1b\[(31|39)m/g, '')).toBe(`✗ ${SAFE}\n`)
  })
  it('doctor’s checks quote nginx -t safely', () => {
    const id = (s: string) => s
    expect(formatChecks([{ name: 'proxy config', ok: false, detail: NGINX, fix: 'fix \x1b]0;t\x07it' }], { green: id, red: id, yellow: id })).not.toMatch(/[\x1b\x07]/)
  })
})
