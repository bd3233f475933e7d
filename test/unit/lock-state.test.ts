import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { acquireLock, LockedError, lockPath, readLock } from '../../lib/lock.ts'
import { EMPTY_STATE, StateError, StateStore } from '../../lib/state.ts'

const tmp = () => mkdtempSync(join(tmpdir(), 'calmswap-lock-'))
const deadPid = () => spawnSync('true').pid!

describe('lock', () => {
  it('is taken and released', () => {
    const d = tmp()
    const l = acquireLock(d, 'deploy')
    expect(readLock(d)?.pid).toBe(process.pid)
    l.release()
    expect(readLock(d)).toBeNull()
  })
  it('refuses a second holder, naming the first', () => {
    const d = tmp()
    writeFileSync(lockPath(d), JSON.stringify({ op: 'deploy', pid: process.ppid, host: hostname(), who: 'ann@pi', since: new Date().toISOString() }))
    expect(() => acquireLock(d, 'cleanup')).toThrow(/another deploy is running: pid \d+ \(ann@pi\)/)
  })
  it('is a LockedError', () => {
    const d = tmp()
    const l = acquireLock(d, 'deploy')
    expect(() => acquireLock(d, 'deploy')).toThrow(LockedError)
    l.release()
  })
  it('takes over the lock of a dead holder and says so', () => {
    const d = tmp()
    writeFileSync(lockPath(d), JSON.stringify({ op: 'deploy', pid: deadPid(), host: hostname(), who: 'x', since: new Date().toISOString() }))
    const l = acquireLock(d, 'deploy')
    expect([l.tookOver?.op, readLock(d)?.pid]).toEqual(['deploy', process.pid])
    l.release()
  })
  it('takes over a torn lock file', () => {
    const d = tmp()
    writeFileSync(lockPath(d), '{"op":')
    expect(acquireLock(d, 'rollback').info.pid).toBe(process.pid)
  })
})

describe('state', () => {
  it('starts empty', () => expect(new StateStore(tmp()).load()).toEqual(EMPTY_STATE))
  it('round-trips', () => {
    const s = new StateStore(tmp())
    s.save({ ...EMPTY_STATE, live: 'green', release: 'abc' })
    expect(s.load()).toMatchObject({ live: 'green', release: 'abc' })
  })
  it('read-only stores (dry run) write nothing', () => {
    const d = tmp()
    new StateStore(d, true).save({ ...EMPTY_STATE, live: 'blue' })
    expect(new StateStore(d).load().live).toBeNull()
  })
  it('a corrupt file is a clear error', () => {
    const d = tmp()
    writeFileSync(join(d, 'state.json'), '{')
    expect(() => new StateStore(d).load()).toThrow(StateError)
  })
  it('an unwritable folder is refused up front', () => {
    const d = tmp()
    writeFileSync(join(d, 'file'), '')
    expect(() => new StateStore(join(d, 'file', 'sub')).probeWritable()).toThrow(/cannot be written.*Nothing was changed/)
  })
  it('history appends lines', () => {
    const s = new StateStore(tmp())
    const e = { op: 'deploy', at: 'now', user: 'u', host: 'h', from: null, to: 'blue', release: 'r', steps: [], result: 'ok', ms: 1 } as const
    s.appendHistory(e)
    s.appendHistory({ ...e, to: 'green' })
    expect(s.history().map((h) => h.to)).toEqual(['blue', 'green'])
  })
})
