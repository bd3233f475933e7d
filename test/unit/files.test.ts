// As root, a symbolic link planted in the state folder must never redirect a write.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateError } from '../../lib/errors.ts'
import { appendLine, PRIVATE, probeWritable, SHARED, writeFileAtomic } from '../../lib/files.ts'
import { historyFile } from '../../lib/history.ts'
import { StateStore } from '../../lib/state.ts'

const setup = () => {
  const d = mkdtempSync(join(tmpdir(), 'calmswap-files-'))
  const victim = join(d, 'victim')
  writeFileSync(victim, 'precious\n')
  return { d, victim }
}

describe('symbolic links in the state folder', () => {
  it('an atomic write replaces a link at its path, and the file it pointed to is untouched', () => {
    const { d, victim } = setup()
    symlinkSync(victim, join(d, 'state.json'))
    writeFileAtomic(join(d, 'state.json'), '{}\n')
    expect([readFileSync(victim, 'utf8'), lstatSync(join(d, 'state.json')).isSymbolicLink()]).toEqual(['precious\n', false])
  })
  it('history is never appended through a link', () => {
    const { d, victim } = setup()
    symlinkSync(victim, historyFile(d))
    expect(() => appendLine(historyFile(d), '{"op":"deploy"}')).toThrow(/ELOOP/)
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
  })
  it('a state file that is a link is refused, not read through', () => {
    const { d, victim } = setup()
    symlinkSync(victim, join(d, 'state.json'))
    expect(() => new StateStore(d).load()).toThrow(StateError)
  })
  it('the writability probe leaves nothing behind', () => {
    const { d } = setup()
    probeWritable(d)
    expect(existsSync(join(d, 'victim'))).toBe(true)
    expect(readdirSync(d)).toEqual(['victim'])
  })
})

describe('modes are chosen on purpose', () => {
  it('state is private', () => {
    const { d } = setup()
    new StateStore(d).deployed(null, 'blue', 'r')
    expect(statSync(join(d, 'state.json')).mode & 0o777).toBe(PRIVATE)
  })
  it('a file nginx reads is readable by others', () => {
    const { d } = setup()
    writeFileAtomic(join(d, 'nginx', 'upstream.conf'), 'x', SHARED)
    expect(statSync(join(d, 'nginx', 'upstream.conf')).mode & 0o777).toBe(SHARED)
  })
})
