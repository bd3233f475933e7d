// `make install-recover` fills the checkout's path into the systemd unit. A path may hold any
// character a sed delimiter or a shell quote would trip on; the unit must name it exactly, in
// systemd's own escapes, and stop the way a rollback needs. (Not a backslash: node itself
// refuses to load a module from such a path.)
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('../..', import.meta.url).pathname

/** A checkout with the Makefile and the unit's files, at `dir`. */
function checkout(dir: string): void {
  mkdirSync(join(dir, 'provision'), { recursive: true })
  copyFileSync(join(ROOT, 'Makefile'), join(dir, 'Makefile'))
  for (const f of ['calmswap-recover.service', 'recover-unit.mjs']) copyFileSync(join(ROOT, 'provision', f), join(dir, 'provision', f))
}

/** What systemd reads back from a unit line's value: specifiers (`%%`), and in a quoted ExecStart argument `\` escapes and `$$`. */
const unquote = (v: string) => v.replace(/\\(.)/g, '$1').replaceAll('$$', '$').replaceAll('%%', '%')
const value = (unit: string, key: string) =>
  unit
    .split('\n')
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1) ?? ''

describe('the recover unit', () => {
  it.each([['plain'], ['with # and %'], ['with a space, "double" and \'single\' quotes, $HOME and &']])('names a checkout %s exactly', (name) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'calmswap-unit-')), name)
    checkout(dir)
    const out = mkdtempSync(join(tmpdir(), 'calmswap-unit-out-'))
    const r = spawnSync('make', ['--no-print-directory', 'recover-unit', `UNIT_DIR=${out}`], { cwd: dir, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const unit = readFileSync(join(out, 'calmswap-recover.service'), 'utf8')
    expect(value(unit, 'WorkingDirectory').replaceAll('%%', '%')).toBe(dir)
    expect(value(unit, 'EnvironmentFile').replaceAll('%%', '%')).toBe(`-${dir}/calmswap.env`)
    const exec = /^\/usr\/bin\/env node "((?:[^"\\]|\\.)*)"$/.exec(value(unit, 'ExecStart'))
    expect(exec && unquote(exec[1]!)).toBe(`${dir}/dist/recover.mjs`)
  })
  it('stops as a rollback needs: SIGTERM to node alone, and time to finish', () => {
    const unit = readFileSync(join(ROOT, 'provision/calmswap-recover.service'), 'utf8')
    expect(value(unit, 'KillMode')).toBe('mixed')
    expect(value(unit, 'TimeoutStopSec')).toMatch(/^\d+min$/)
    expect(Number.parseInt(value(unit, 'TimeoutStopSec'), 10)).toBeGreaterThanOrEqual(5)
  })
})
