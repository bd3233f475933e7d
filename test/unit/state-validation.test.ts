// state.json and its journal are read as calmswap wrote them, or refused with what is wrong.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateError } from '../../lib/errors.ts'
import { journalProblems, StateStore, stateProblems } from '../../lib/state.ts'

const journal = { op: 'deploy', from: 'blue', to: 'green', release: 'r', startedAt: 't', pid: 1, done: [] }
const kept = {
  release: 'a1b2c3d',
  at: '2026-12-04T22:00:00.000Z',
  images: { web: { tag: 'calmswap/app/web:a1b2c3d', ref: 'registry.local:5000/shop/web:latest', id: `sha256:${'0'.repeat(64)}` } },
}
const load = (content: string) => {
  const d = mkdtempSync(join(tmpdir(), 'calmswap-state-'))
  writeFileSync(join(d, 'state.json'), content)
  return () => new StateStore(d).load()
}

describe('state.json is validated on load', () => {
  it('a state calmswap wrote passes', () =>
    expect(stateProblems({ version: 1, live: 'green', previous: 'blue', upstream: { color: 'green', port: 18002, backup: 18001 }, journal })).toEqual([]))
  it.each([
    [{ live: 'purple' }, '"live" is "purple", expected blue, green or null'],
    [{ previous: 3 }, '"previous" is 3'],
    [{ live: 'blue', previous: 'blue' }, '"live" and "previous" are both blue'],
    [{ upstream: { color: 'blue', port: 'x', backup: null } }, '"upstream" is'],
    [{ version: 2 }, 'this calmswap reads version 1'],
    [{ journal: { ...journal, to: 'green', from: 'green' } }, 'both green: a deploy always goes from one color to the other'],
    [{ journal: { ...journal, op: 'explode' } }, '"journal.op" is "explode"'],
    [{ journal: { ...journal, done: 'all' } }, '"journal.done" must be a list of step names'],
    [[], 'must hold a JSON object'],
    // Every field for what it is used as: a label lands in the pins file's comment line (YAML).
    [{ release: 'r1\nservices:\n  web:\n    privileged: true' }, '"release" is "r1\\nservices:'],
    [{ journal: { ...journal, release: 'r\n# x' } }, '"journal.release" is'],
    [{ colors: { blue: { release: 'r\nx: 1', images: {} } } }, '"colors" must map'],
    [{ colors: { blue: { release: 'r', images: { 'web:\n  x': 'calmswap/app/web:r' } } } }, '"colors" must map'],
    [{ colors: { blue: { release: 'r', images: { web: null } } } }, '"colors" must map'],
    [{ releases: [{ ...kept, images: { web: null } }] }, '"releases" must be a list'],
    [{ releases: [{ ...kept, release: 'r\n' }] }, '"releases" must be a list'],
    [{ releases: [{ ...kept, images: { web: { ...kept.images.web, tag: 'x\ny' } } }] }, '"releases" must be a list'],
    [{ releases: [{ ...kept, images: { web: { ...kept.images.web, id: 'rm -rf' } } }] }, '"releases" must be a list'],
    [{ journal: { ...journal, signalled: ['--privileged'] } }, '"journal.signalled" must be a list of container names'],
    [{ journal: { ...journal, proxyFrom: '-d' } }, '"journal.proxyFrom" must be a service name'],
    [{ journal: { ...journal, signalledAt: 'soon' } }, '"journal.signalledAt" must be a time'],
  ])('%j', (state, want) => expect(stateProblems(state).join('\n')).toContain(want))
  it('a state with pinned colors and kept releases, as a deploy writes it, passes', () =>
    expect(stateProblems({ release: 'a1b2c3d', colors: { blue: { release: 'a1b2c3d', images: { web: 'calmswap/app/web:a1b2c3d' } } }, releases: [kept] })).toEqual([]))
  it('the store refuses it with every problem and the way out', () => {
    const f = load(JSON.stringify({ live: 'purple', journal: { ...journal, from: 'green' } }))
    expect(f).toThrow(StateError)
    expect(f).toThrow(/is not one calmswap wrote:\n {2}- "live" is "purple".*\n {2}- "journal.from" and "journal.to" are both green.*\nRestore it, or delete it to start over/s)
  })
  it('a rollback journal from a first deploy (nothing to go back to) is fine', () => expect(journalProblems({ ...journal, op: 'rollback', from: 'blue', to: 'blue' })).toEqual([]))
})
