// One operation at a time, held by the kernel: the holder binds a unix socket in Linux's
// abstract namespace, which exactly one process can bind and which the kernel releases
// the moment that process dies, however it dies. So a dead holder's lock is free at once,
// and of any number of processes racing for it exactly one wins; no file is ever deleted
// on a guess. A file beside it names the holder, for the messages.
import { readFileSync, realpathSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { LockedError, unwritable } from './errors.ts'
import { PRIVATE, probeWritable, readOwnFile, writeFileAtomic } from './files.ts'
import { sha256Hex } from './sha256.ts'
import { whoami } from './whoami.ts'

export interface LockInfo {
  readonly op: string
  readonly pid: number
  readonly host: string
  readonly who: string
  readonly since: string
}

export const lockPath = (stateDir: string) => join(stateDir, 'lock')

/**
 * The state folder's one name: a symbolic link to it (or to a folder above it) is the same
 * folder, and must take the same lock. A folder that does not exist yet has no other name.
 */
function canonical(stateDir: string): string {
  try {
    return realpathSync(stateDir)
  } catch {
    return resolve(stateDir)
  }
}

/** The abstract socket that is the lock of this state folder (the leading NUL keeps it off the filesystem). */
const lockAddress = (stateDir: string) => `\0calmswap-lock-${sha256Hex(canonical(stateDir)).slice(0, 32)}`

/** The holder's note, as written; null when there is none or it is torn. */
export function readLock(stateDir: string): LockInfo | null {
  try {
    const x = JSON.parse(readOwnFile(lockPath(stateDir)) ?? 'null') as LockInfo | null
    return x && typeof x.pid === 'number' ? x : null
  } catch {
    return null
  }
}

/**
 * Whether this Node can bind an abstract socket name of its own. libuv before 1.46 (Node 18's,
 * Debian 12's) cuts a socket path at its first NUL, so every state folder's name binds the
 * same empty abstract name: the lock is still exclusive and still freed by the kernel, but one
 * for the whole host (two stacks on one box take turns), and /proc/net/unix cannot tell whose.
 */
export function abstractNames(uv: string = process.versions.uv ?? '0'): boolean {
  const [major = 0, minor = 0] = uv.split('.').map(Number)
  return major > 1 || (major === 1 && minor >= 46)
}

/** Whether some process on this host holds the lock of this state folder now. */
export function lockHeld(stateDir: string): boolean {
  if (!abstractNames()) return holderAlive(stateDir)
  // /proc/net/unix lists every bound unix socket of this network namespace; abstract ones
  // start with "@", and node binds the whole address, NUL-padded (shown as "@"s).
  const want = `@${lockAddress(stateDir).slice(1)}`
  try {
    return readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .some(
        (l) =>
          l
            .split(' ')
            .at(-1)
            ?.replace(/(?<=.)@+$/, '') === want,
      )
  } catch {
    return holderAlive(stateDir)
  }
}

/** The note's process is alive: the holder, unless the note outlived it (released notes are removed). */
function holderAlive(stateDir: string): boolean {
  const info = readLock(stateDir)
  if (!info) return false
  try {
    process.kill(info.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface Lock {
  readonly info: LockInfo
  /** The note of a holder that died without releasing: its operation was cut short. */
  readonly tookOver: LockInfo | null
  release(): void
}

const held = new Map<string, { lock: Lock; depth: number }>()

function bind(address: string): Promise<Server | null> {
  return new Promise((res, rej) => {
    const server = createServer()
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? res(null) : rej(e)))
    server.listen({ path: address, exclusive: true }, () => {
      // The lock must not keep the process alive on its own.
      server.unref()
      res(server)
    })
  })
}

/** Who holds the lock, in words; `advice` says what to do about it. */
export function lockedMessage(holder: LockInfo | null, advice = 'Wait for it to finish; nothing was changed.'): string {
  if (!holder) return `another calmswap operation holds the lock of this state folder. ${advice}`
  const age = Math.round((Date.now() - Date.parse(holder.since)) / 1000)
  return `another ${holder.op} is running: pid ${holder.pid} (${holder.who}), started ${holder.since} (${age}s ago). ${advice}`
}

/**
 * Takes the lock of the state folder for `op`. Re-entrant within one process: a step
 * script's lock inside a deploy that already holds it is the deploy's.
 */
export async function acquireLock(stateDir: string, op: string): Promise<Lock> {
  const mine = held.get(canonical(stateDir))
  if (mine) {
    mine.depth++
    // The outermost holder has said whom it took over from.
    return { ...mine.lock, tookOver: null, release: () => void (--mine.depth === 0 && mine.lock.release()) }
  }
  // The lock is the first write of every operation: a full disk or read-only folder shows up
  // here. It also creates the folder, whose real path then names the lock.
  try {
    probeWritable(stateDir)
  } catch (e) {
    throw unwritable(stateDir, e)
  }
  const key = canonical(stateDir)
  const server = await bind(lockAddress(stateDir))
  if (!server) throw new LockedError(lockedMessage(readLock(stateDir)))
  const before = readLock(stateDir)
  const info: LockInfo = { op, pid: process.pid, host: hostname(), who: whoami(), since: new Date().toISOString() }
  try {
    writeFileAtomic(lockPath(stateDir), JSON.stringify(info), PRIVATE)
  } catch (e) {
    server.close()
    throw unwritable(stateDir, e)
  }
  let released = false
  const lock: Lock = {
    info,
    tookOver: before && !(before.pid === info.pid && before.host === info.host) ? before : null,
    release() {
      if (released) return
      released = true
      held.delete(key)
      const now = readLock(stateDir)
      if (now && now.pid === info.pid && now.host === info.host) {
        // Removed while the socket still holds the lock: no new holder's note can be lost.
        rmSync(lockPath(stateDir), { force: true })
      }
      server.close()
    },
  }
  held.set(key, { lock, depth: 1 })
  return lock
}

/** Runs `fn` under the lock, saying so when it took over from a holder that died. */
export async function withLock<T>(stateDir: string, op: string, warn: (m: string) => void, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(stateDir, op)
  try {
    if (lock.tookOver) warn(`took over the lock of a ${lock.tookOver.op} (pid ${lock.tookOver.pid}) that is no longer running`)
    return await fn()
  } finally {
    lock.release()
  }
}
