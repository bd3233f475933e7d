import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, test } from 'vitest'
import { LockedError, StateError } from '../../lib/errors.ts'
import { appendLine } from '../../lib/files.ts'
import { historyFile, readHistory } from '../../lib/history.ts'
import { abstractNames, acquireLock, lockHeld, lockPath, readLock } from '../../lib/lock.ts'
import { EMPTY_STATE, StateStore } from '../../lib/state.ts'
import { holdLock } from '../plan/hold-lock.ts'

const tmp = () => mkdtempSync(join(tmpdir(), 'calmswap-lock-'))
const deadPid = () => spawnSync('true').pid!

describe('lock', () => {
  // Node 18's libuv binds every abstract name as the same empty one (lockHeld then asks the note's pid).
  test.each([
    ['1.44.2', false],
    ['1.45.0', false],
    ['1.46.0', true],
    ['1.51.0', true],
    ['2.0.0', true],
  ])('libuv %s binds abstract names of its own: %s', (uv, ok) => expect(abstractNames(uv)).toBe(ok))
  it('is taken and released', async () => {
    const d = tmp()
    const l = await acquireLock(d, 'deploy')
    expect([readLock(d)?.pid, lockHeld(d)]).toEqual([process.pid, true])
    l.release()
    expect([readLock(d), lockHeld(d)]).toEqual([null, false])
  })
  it('refuses a second holder, naming the first', async () => {
    const d = tmp()
    const other = await holdLock(d, 'deploy')
    try {
      await expect(acquireLock(d, 'cleanup')).rejects.toThrow(new RegExp(`another deploy is running: pid ${other.pid} \\(`))
      await expect(acquireLock(d, 'cleanup')).rejects.toThrow(LockedError)
    } finally {
      other.release()
    }
  })
  it('is re-entrant within one process: a step inside a deploy', async () => {
    const d = tmp()
    const outer = await acquireLock(d, 'deploy')
    const inner = await acquireLock(d, 'switch')
    inner.release()
    expect(lockHeld(d)).toBe(true)
    outer.release()
    expect(lockHeld(d)).toBe(false)
  })
  it('takes over from a dead holder and says so', async () => {
    const d = tmp()
    writeFileSync(lockPath(d), JSON.stringify({ op: 'deploy', pid: deadPid(), host: hostname(), who: 'x', since: new Date().toISOString() }))
    const l = await acquireLock(d, 'deploy')
    expect([l.tookOver?.op, readLock(d)?.pid]).toEqual(['deploy', process.pid])
    l.release()
  })
  it('a holder killed with SIGKILL frees the lock at once', async () => {
    const d = tmp()
    const other = await holdLock(d)
    other.release()
    await new Promise((r) => setTimeout(r, 200))
    const l = await acquireLock(d, 'deploy')
    expect(l.tookOver?.pid).toBe(other.pid)
    l.release()
  })
  it('one folder under two names (a symbolic link to it) is one lock, whichever name comes first, created or not', async () => {
    for (const first of ['real', 'alias'] as const) {
      const t = tmp()
      mkdirSync(join(t, 'real'))
      symlinkSync(join(t, 'real'), join(t, 'alias'))
      const other = first === 'real' ? 'alias' : 'real'
      // The holder's name of the folder does not exist yet: taking the lock creates it.
      const holder = await holdLock(join(t, first, '.calmswap'))
      try {
        expect(lockHeld(join(t, other, '.calmswap'))).toBe(true)
        await expect(acquireLock(join(t, other, '.calmswap'), 'deploy')).rejects.toThrow(LockedError)
      } finally {
        holder.release()
      }
    }
  })
  it('takes over a torn note', async () => {
    const d = tmp()
    writeFileSync(lockPath(d), '{"op":')
    expect((await acquireLock(d, 'rollback')).info.pid).toBe(process.pid)
  })
})

describe('state', () => {
  it('starts empty', () => expect(new StateStore(tmp()).load()).toEqual(EMPTY_STATE))
  it('round-trips', () => {
    const s = new StateStore(tmp())
    s.deployed(null, 'green', 'abc')
    expect(s.load()).toMatchObject({ live: 'green', release: 'abc' })
  })
  it('read-only stores (dry run) keep changes in memory and write nothing', () => {
    const d = tmp()
    const s = new StateStore(d, true)
    s.deployed(null, 'blue', 'r')
    expect([s.load().live, new StateStore(d).load().live]).toEqual(['blue', null])
  })
  it('a corrupt file is a clear error', () => {
    const d = tmp()
    writeFileSync(join(d, 'state.json'), '{')
    expect(() => new StateStore(d).load()).toThrow(StateError)
  })
})

describe('history', () => {
  it('appends lines', () => {
    const d = tmp()
    const e = { op: 'deploy', at: 'now', user: 'u', host: 'h', from: null, to: 'blue', release: 'r', steps: [], result: 'ok', ms: 1 } as const
    appendLine(historyFile(d), JSON.stringify(e))
    appendLine(historyFile(d), JSON.stringify({ ...e, to: 'green' }))
    expect(readHistory(d).map((h) => h.to)).toEqual(['blue', 'green'])
  })
})
