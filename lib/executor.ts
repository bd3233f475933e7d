// The one place that runs commands. Steps build Cmds (lib/builders/) and hand them here,
// so --dry-run, --verbose and the plan tests' recording executor see every effect.
// A command runs as an argv, never through a shell: no quoting, no ZX_*/BASH_ENV surprises.
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { answer, type Cmd, type Effect, type Reader, type Result, render } from './command.ts'
import { DEADLINE } from './deadlines.ts'
import { callApi, connectionMessage, type DockerApi, eventsPath } from './docker-api.ts'
import { CommandError } from './errors.ts'
import { SHARED, writeFileAtomic } from './files.ts'

/** How a command reached Docker: its argv through the CLI, or its `api` through the socket. */
export type Via = 'cli' | 'api'

export interface Executor {
  readonly dryRun: boolean
  /**
   * Runs the command within its deadline; never throws for a non-zero exit (see `must`).
   * When `signal` aborts, a read ends at once and a change gets DEADLINE.abortGrace to finish.
   */
  run(cmd: Cmd, signal?: AbortSignal): Promise<Result>
  /**
   * A read whose answer comes line by line over its whole deadline (the events stream):
   * each line goes to `onLine` as it arrives. Ends with the command, its deadline or `signal`.
   * Absent where nothing can stream; the caller then does without.
   */
  stream?(cmd: Cmd, onLine: (line: string) => void, signal?: AbortSignal): Promise<Result>
  /** Atomic: readers see the old file or the new one, never half of either. */
  writeFile(path: string, content: string, mode?: number): Promise<void>
  /** Removes a file calmswap wrote; one that is not there is fine. */
  removeFile(path: string): Promise<void>
  /** The changes a dry run has planned so far, for the projected inventory; empty otherwise. */
  readonly planned: readonly Effect[]
  /** Called for each command before it runs (verbose output, cache invalidation). */
  onRun?: (cmd: Cmd, planned: boolean, via: Via) => void
  /** Each complete line a `stream` command prints, as it prints it. */
  onLine?: (cmd: Cmd, line: string) => void
}

/** Cuts a byte stream into lines; a line split across chunks is held until its end comes. */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let pending = ''
  return (chunk) => {
    pending += chunk.toString()
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const l of lines) if (l.trim()) onLine(l)
  }
}

/** Runs a command that has to succeed and returns its stdout. */
export async function must(exec: Executor, cmd: Cmd, signal?: AbortSignal): Promise<string> {
  return succeeded(cmd, await exec.run(cmd, signal)).stdout
}

/** Runs a read that has to succeed and returns its answer, from whichever source gave it. */
export async function mustRead<T, D>(exec: Executor, cmd: Cmd, read: Reader<T, D>, signal?: AbortSignal): Promise<T> {
  return answer(succeeded(cmd, await exec.run(cmd, signal)), read)
}

function succeeded(cmd: Cmd, r: Result): Result {
  if (r.code !== 0) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
  return r
}

/**
 * The signal a command obeys: its deadline, and the caller's abort (a change is given
 * DEADLINE.abortGrace to finish first). Plain timers held until `clear()`: a signal made by
 * AbortSignal.timeout can be collected before it fires, and then never fires at all.
 */
function stopSignal(cmd: Cmd, signal: AbortSignal | undefined): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController()
  const timers: NodeJS.Timeout[] = [setTimeout(() => ac.abort(new DOMException(`deadline of ${cmd.timeoutMs}ms passed`, 'TimeoutError')), cmd.timeoutMs)]
  const onAbort = () => {
    if (!cmd.mutates || cmd.interruptible) return ac.abort(signal!.reason)
    timers.push(setTimeout(() => ac.abort(signal!.reason), DEADLINE.abortGrace))
  }
  if (signal?.aborted) onAbort()
  else signal?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: ac.signal,
    clear() {
      for (const t of timers) clearTimeout(t)
      signal?.removeEventListener('abort', onAbort)
    },
  }
}

const live = new Set<ChildProcess>()

/** A process group may be gone already: nothing to end then. */
function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, sig)
  } catch {}
}

/** Ends every child still running, with its process group: for a hard exit. */
export function killChildren(sig: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of live) killGroup(child, sig)
}

/** Output kept per stream: enough for any answer calmswap reads, bounded for one that never ends. */
const MAX_OUTPUT = 16 * 1024 * 1024

/**
 * One stream of a child, kept apart from the other: its bytes (bounded), and its unfinished
 * last line, so that lines the operator follows live are never two streams' halves joined.
 */
class Captured {
  private readonly chunks: Buffer[] = []
  private size = 0
  private partial = ''
  constructor(private readonly onLine?: (line: string) => void) {}

  readonly add = (b: Buffer): void => {
    if (this.size < MAX_OUTPUT) this.chunks.push(b)
    this.size += b.length
    if (!this.onLine) return
    const parts = (this.partial + b.toString('utf8')).split('\n')
    this.partial = parts.pop() ?? ''
    for (const l of parts) this.onLine(l)
  }

  text(): string {
    if (this.onLine && this.partial) this.onLine(this.partial)
    this.partial = ''
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/**
 * At the deadline or abort: the group, not only the child (a child that exited can leave
 * children of its own holding its output open, and they go too), SIGTERM, then SIGKILL after
 * DEADLINE.killGrace. Returns why it ended, once it has; and a child that exits but leaves a
 * process of its own holding its output is ended shortly after its exit.
 */
function endOnAbort(child: ChildProcess, signal: AbortSignal, timeoutMs: number): { why(): string | null; done(): void } {
  let ended: string | null = null
  const timers: NodeJS.Timeout[] = []
  const end = () => {
    if (ended !== null) return
    const reason = signal.reason as Error | string | undefined
    ended = reason instanceof Error && reason.name === 'TimeoutError' ? `timed out after ${timeoutMs}ms` : `interrupted (${String(reason ?? 'abort')})`
    killGroup(child, 'SIGTERM')
    timers.push(setTimeout(() => killGroup(child, 'SIGKILL'), DEADLINE.killGrace))
  }
  if (signal.aborted) end()
  else signal.addEventListener('abort', end, { once: true })
  child.on('exit', () => timers.push(setTimeout(() => killGroup(child, 'SIGKILL'), DEADLINE.killGrace)))
  return {
    why: () => ended,
    done() {
      for (const t of timers) clearTimeout(t)
      signal.removeEventListener('abort', end)
    },
  }
}

/**
 * Spawns argv in its own process group (a Ctrl-C on the terminal reaches calmswap alone,
 * which decides how to land safely) and ends the whole group at the deadline or abort.
 */
async function runProcess(
  argv: readonly string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; signal: AbortSignal; timeoutMs: number; onLine?: (line: string) => void; input?: string },
): Promise<Result> {
  // Loaded at the first spawn: a run that the Engine API answers whole never pays for it.
  const { spawn } = await import('node:child_process')
  return new Promise((resolve) => {
    let child: ChildProcess
    try {
      child = spawn(argv[0]!, argv.slice(1), { env: o.env, cwd: o.cwd, detached: true, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], shell: false })
    } catch (e) {
      return resolve({ code: 127, stdout: '', stderr: (e as Error).message })
    }
    live.add(child)
    if (o.input !== undefined) {
      // A child that exits without reading all of it must not turn into an EPIPE here.
      child.stdin!.on('error', () => {})
      child.stdin!.end(o.input)
    }
    const out = new Captured(o.onLine)
    const err = new Captured(o.onLine)
    child.stdout!.on('data', out.add)
    child.stderr!.on('data', err.add)
    const ending = endOnAbort(child, o.signal, o.timeoutMs)
    let spawnError: NodeJS.ErrnoException | null = null
    child.on('error', (e) => (spawnError = e))
    child.on('close', (code, sig) => {
      live.delete(child)
      ending.done()
      const stdout = out.text()
      const stderr = err.text()
      if (spawnError) return resolve({ code: 127, stdout: '', stderr: spawnError.code === 'ENOENT' ? `${argv[0]}: command not found` : spawnError.message })
      const ended = ending.why()
      if (ended) return resolve({ code: 124, stdout, stderr: `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${argv[0]}: ${ended}` })
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr })
    })
  })
}

export class ProcessExecutor implements Executor {
  readonly dryRun = false
  readonly planned: readonly Effect[] = []
  onRun?: (cmd: Cmd, planned: boolean, via: Via) => void
  onLine?: (cmd: Cmd, line: string) => void

  /**
   * api: the local Docker socket, when the CLI would use it too (see dockerSocket).
   * composeBin: the Compose plugin, run directly for `docker compose` (see composePlugin).
   */
  constructor(
    private readonly api: DockerApi | null = null,
    private readonly composeBin: string | null = null,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  async run(cmd: Cmd, signal?: AbortSignal): Promise<Result> {
    const { signal: stop, clear } = stopSignal(cmd, signal)
    try {
      return await this.runUntil(cmd, stop)
    } finally {
      clear()
    }
  }

  async stream(cmd: Cmd, onLine: (line: string) => void, signal?: AbortSignal): Promise<Result> {
    const { signal: stop, clear } = stopSignal(cmd, signal)
    const split = lineSplitter(onLine)
    try {
      if (cmd.api?.op === 'events' && this.api?.stream) {
        this.onRun?.(cmd, false, 'api')
        try {
          await this.api.stream(eventsPath(cmd.api), split, stop)
          return { code: 0, stdout: '', stderr: '' }
        } catch (e) {
          return { code: 1, stdout: '', stderr: connectionMessage(this.api, e as Error) ?? (e as Error).message }
        }
      }
      this.onRun?.(cmd, false, 'cli')
      const env = { GOMAXPROCS: '1', ...this.baseEnv, ...cmd.env }
      return await runProcess(cmd.argv, { env, cwd: cmd.cwd, signal: stop, timeoutMs: cmd.timeoutMs, onLine })
    } finally {
      clear()
    }
  }

  private async runUntil(cmd: Cmd, stop: AbortSignal): Promise<Result> {
    if (cmd.api && this.api) {
      this.onRun?.(cmd, false, 'api')
      try {
        return await callApi(this.api, cmd.api, stop)
      } catch (e) {
        const err = e as Error
        const why = stop.aborted
          ? (stop.reason as Error)?.name === 'TimeoutError'
            ? `no answer from the Docker daemon within ${cmd.timeoutMs}ms`
            : 'interrupted'
          : (connectionMessage(this.api, err) ?? err.message)
        return { code: stop.aborted ? 124 : 1, stdout: '', stderr: why }
      }
    }
    this.onRun?.(cmd, false, 'cli')
    const argv = this.composeBin && cmd.argv[0] === 'docker' && cmd.argv[1] === 'compose' ? [this.composeBin, ...cmd.argv.slice(2)] : cmd.argv
    // Go programs (docker, compose) run one thread per core; on a box whose cores are busy
    // with the app, each of those threads waits, and makes the app wait. One at a time they
    // cost the same CPU and stall less. The user's own setting wins.
    const env = { GOMAXPROCS: '1', ...this.baseEnv, ...cmd.env }
    const onLine = cmd.stream && this.onLine ? (l: string) => this.onLine!(cmd, l) : undefined
    return runProcess(argv, { env, cwd: cmd.cwd, signal: stop, timeoutMs: cmd.timeoutMs, onLine, input: cmd.input })
  }

  async writeFile(path: string, content: string, mode = SHARED): Promise<void> {
    writeFileAtomic(path, content, mode)
  }

  async removeFile(path: string): Promise<void> {
    rmSync(path, { force: true })
  }
}

/** --dry-run: reads the host for real, prints every change instead of making it. */
export class DryRunExecutor implements Executor {
  readonly dryRun = true
  readonly planned: Effect[] = []
  onRun?: (cmd: Cmd, planned: boolean, via: Via) => void
  constructor(
    private readonly real: Executor,
    private readonly print: (line: string) => void,
  ) {
    real.onRun = (cmd, planned, via) => this.onRun?.(cmd, planned, via)
  }

  /** A stream only reads: the dry run watches the host as the real run would. */
  stream(cmd: Cmd, onLine: (line: string) => void, signal?: AbortSignal): Promise<Result> {
    return this.real.stream ? this.real.stream(cmd, onLine, signal) : Promise.resolve({ code: 1, stdout: '', stderr: 'cannot stream here' })
  }

  async run(cmd: Cmd, signal?: AbortSignal): Promise<Result> {
    if (!cmd.mutates) return this.real.run(cmd, signal)
    this.onRun?.(cmd, true, 'cli')
    this.print(render(cmd))
    if (cmd.effect) this.planned.push(cmd.effect)
    return { code: 0, stdout: '', stderr: '' }
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.print(`write ${path} <<EOF\n${content.trimEnd()}\nEOF`)
  }

  async removeFile(path: string): Promise<void> {
    this.print(`rm -f ${path}`)
  }
}
