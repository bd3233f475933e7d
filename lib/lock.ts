// One operation at a time. The lock file names its holder; a holder that died is
// detected by pid and taken over, so nobody has to delete lock files by hand.
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { hostname } from 'node:os'
import type { Op } from './state.ts'
import { StateError, whoami } from './state.ts'

export interface LockInfo {
  readonly op: Op
  readonly pid: number
  readonly host: string
  readonly who: string
  readonly since: string
}

export class LockedError extends Error {
  name = 'LockedError'
  constructor(readonly holder: LockInfo) {
    const age = Math.round((Date.now() - Date.parse(holder.since)) / 1000)
    super(`another ${holder.op} is running: pid ${holder.pid} (${holder.who}), started ${holder.since} (${age}s ago). Wait for it to finish; nothing was changed.`)
  }
}

export const lockPath = (stateDir: string) => join(stateDir, 'lock')

export function readLock(stateDir: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(lockPath(stateDir), 'utf8')) as LockInfo
  } catch {
    return null
  }
}

export function isAlive(info: LockInfo): boolean {
  // A lock taken on another host (a shared state folder) cannot be checked from here.
  if (info.host !== hostname()) return true
  try {
    process.kill(info.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface Lock {
  readonly info: LockInfo
  /** Set when the lock of a dead holder was taken over. */
  readonly tookOver: LockInfo | null
  release(): void
}

/** The lock is the first write of every operation: a full disk or read-only folder shows up here. */
function unwritable(stateDir: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code
  const why = code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? 'it is not writable' : (e as Error).message
  return new StateError(`state folder ${stateDir} cannot be written: ${why}. Nothing was changed. Fix it or set CALMSWAP_STATE_DIR.`)
}

export function acquireLock(stateDir: string, op: Op): Lock {
  try {
    mkdirSync(stateDir, { recursive: true })
  } catch (e) {
    throw unwritable(stateDir, e)
  }
  const path = lockPath(stateDir)
  const info: LockInfo = { op, pid: process.pid, host: hostname(), who: whoami(), since: new Date().toISOString() }
  let tookOver: LockInfo | null = null
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // O_EXCL: of two racing processes exactly one creates the file.
      const fd = openSync(path, 'wx', 0o644)
      try {
        writeSync(fd, JSON.stringify(info))
      } catch (e) {
        // An empty lock file left behind would read as a dead holder to the next run.
        closeSync(fd)
        rmSync(path, { force: true })
        throw unwritable(stateDir, e)
      }
      closeSync(fd)
      let released = false
      return {
        info,
        tookOver,
        release() {
          if (released) return
          released = true
          const now = readLock(stateDir)
          if (now && now.pid === info.pid && now.host === info.host) rmSync(path, { force: true })
        },
      }
    } catch (e) {
      if (e instanceof StateError) throw e
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(stateDir, e)
      const holder = readLock(stateDir)
      if (holder && isAlive(holder)) throw new LockedError(holder)
      tookOver = holder ?? { op, pid: 0, host: '?', who: '?', since: '?' }
      rmSync(path, { force: true })
    }
  }
  const holder = readLock(stateDir)
  throw new LockedError(holder ?? info)
}
