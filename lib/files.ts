// Files calmswap owns in its state folder. calmswap often runs as root, so a symbolic link
// planted where it writes must never redirect a write: every open refuses to follow one
// (O_NOFOLLOW) or to reuse a file that is already there (O_EXCL). Renames are made durable
// with an fsync of the folder, so a power cut leaves the old file or the new, never neither.
import { chmodSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { StateError, unwritable } from './errors.ts'

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_APPEND, O_RDONLY, O_DIRECTORY } = constants

/** The mode of calmswap's own files: state and history may name hosts and users. */
export const PRIVATE = 0o600
/** Files another program reads (the nginx upstream file, read by nginx's workers). */
export const SHARED = 0o644

/** A folder made for a file: private, unless another program reads what it holds. */
const dirFor = (fileMode: number) => (fileMode & 0o044 ? 0o755 : 0o700)

/**
 * Takes group and world access off a folder of calmswap's own (the state folder): one made
 * by an older calmswap, or by Docker for a bind mount, was 0755. Only one this user owns.
 */
export function keepPrivate(dir: string): void {
  const st = lstatSync(dir)
  if (!st.isDirectory() || !(st.mode & 0o077) || st.uid !== process.getuid?.()) return
  chmodSync(dir, st.mode & 0o7700)
}

function fsyncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY)
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse a directory fsync; the rename itself is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Atomic: readers see the old file or the new one, never half of either. */
export function writeFileAtomic(path: string, content: string, mode = PRIVATE): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true, mode: dirFor(mode) })
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  try {
    const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
    try {
      writeSync(fd, content)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    // rename replaces a link at `path` itself, it never writes through it.
    renameSync(tmp, path)
    fsyncDir(dir)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {}
    throw e
  }
}

/** Appends one line; a link in its place is refused, not followed. */
export function appendLine(path: string, line: string, mode = PRIVATE): void {
  mkdirSync(dirname(path), { recursive: true, mode: dirFor(mode) })
  const fd = openSync(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, mode)
  try {
    writeSync(fd, line.endsWith('\n') ? line : `${line}\n`)
  } finally {
    closeSync(fd)
  }
}

/** Reads a file of calmswap's own; a link in its place is refused. Null when it does not exist. */
export function readOwnFile(path: string): string | null {
  let fd: number
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  try {
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

/**
 * Proves the folder takes a write of `bytes` before anything on the host is touched: an
 * unwritable folder or a full disk must stop an operation, not strand it halfway. The state
 * folder's first write (the lock): it is made, or kept, private unless `tighten` is off.
 */
export function probeWritable(dir: string, bytes = 4096, tighten = true): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (tighten) keepPrivate(dir)
  const probe = `${dir}/.probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const fd = openSync(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, PRIVATE)
  try {
    writeSync(fd, 'x'.repeat(bytes))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
    unlinkSync(probe)
  }
}

/** What a JSON file of calmswap's is, for `JsonFile`: its empty value, its shape check, its messages. */
export interface JsonFileSpec<T> {
  readonly empty: T
  /** Everything wrong with what was read; empty when calmswap wrote it. */
  readonly problems: (parsed: unknown) => string[]
  /** How messages name the file ("state file <path>"). */
  readonly name: string
  /** What to do when it is not JSON, and when it is not one calmswap wrote. */
  readonly fixJson: string
  readonly fixShape: string
}

/**
 * A JSON file of calmswap's own (state.json, swarm.json): checked against its shape at every
 * load, written whole and atomically, private, with the time of the write. A read-only one (a
 * dry run) keeps its changes in memory, so later steps plan on them; nothing reaches the disk.
 */
export class JsonFile<T extends { readonly updatedAt: string | null }> {
  private memory: T | null = null

  constructor(
    readonly dir: string,
    readonly file: string,
    readonly readOnly: boolean,
    private readonly spec: JsonFileSpec<T>,
  ) {}

  load(): T {
    if (this.memory) return this.memory
    const { name, empty } = this.spec
    let text: string | null
    try {
      text = readOwnFile(this.file)
    } catch (e) {
      throw new StateError(`cannot read the ${name}: ${(e as Error).message}`)
    }
    if (text === null) return empty
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (e) {
      throw new StateError(`${name} is not valid JSON (${(e as Error).message}); ${this.spec.fixJson}`)
    }
    const problems = this.spec.problems(parsed)
    if (problems.length) throw new StateError(`${name} is not one calmswap wrote:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${this.spec.fixShape}`)
    return { ...empty, ...(parsed as Partial<T>) }
  }

  save(next: T): T {
    const r = { ...next, updatedAt: new Date().toISOString() }
    if (this.readOnly) {
      this.memory = r
      return r
    }
    try {
      writeFileAtomic(this.file, `${JSON.stringify(r, null, 2)}\n`, PRIVATE)
    } catch (e) {
      throw unwritable(this.dir, e)
    }
    return r
  }
}
