// The one place that runs commands. Steps build Cmds (lib/compose.ts) and hand them here,
// so --dry-run, --verbose and the recording executor of the plan tests see every effect.
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { $ } from 'zx/core'
import { render, type Cmd, type Result } from './compose.ts'
import { connectionMessage, type Engine } from './engine.ts'

export type { Result }

/** How a command reached Docker: its argv through the CLI, or its `api` through the socket. */
export type Via = 'cli' | 'api'

export interface Executor {
  readonly dryRun: boolean
  /** Never throws for a non-zero exit; see `must`. */
  run(cmd: Cmd): Promise<Result>
  /** Atomic: readers see the old file or the new one, never half of either. */
  writeFile(path: string, content: string): Promise<void>
  /** Called for each command before it runs (verbose output, cache invalidation). */
  onRun?: (cmd: Cmd, planned: boolean, via?: Via) => void
}

export class CommandError extends Error {
  constructor(
    readonly cmd: Cmd,
    readonly result: Result,
  ) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n')
    super(`command failed (exit ${result.code}): ${render(cmd)}${tail ? `\n${tail}` : ''}`)
    this.name = 'CommandError'
  }
}

/** Runs a command that has to succeed and returns its stdout. */
export async function must(exec: Executor, cmd: Cmd): Promise<string> {
  const r = await exec.run(cmd)
  if (r.code !== 0) throw new CommandError(cmd, r)
  return r.stdout
}

export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      writeSync(fd, content)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {}
    throw e
  }
}

export class ShellExecutor implements Executor {
  readonly dryRun = false
  onRun?: (cmd: Cmd, planned: boolean, via?: Via) => void

  /**
   * engine: the local Docker socket, when the CLI would use it too (see engineSocket).
   * composeBin: the Compose plugin, run directly for `docker compose` (see composePlugin).
   */
  constructor(
    private readonly engine: Engine | null = null,
    private readonly composeBin: string | null = null,
  ) {}

  async run(cmd: Cmd): Promise<Result> {
    if (cmd.api && this.engine) {
      this.onRun?.(cmd, false, 'api')
      try {
        return await cmd.api(this.engine, cmd.timeoutMs ? AbortSignal.timeout(cmd.timeoutMs) : undefined)
      } catch (e) {
        const err = e as Error
        const why = err.name === 'TimeoutError' ? `timed out after ${cmd.timeoutMs}ms` : (connectionMessage(this.engine, err) ?? err.message)
        return { code: 1, stdout: '', stderr: why }
      }
    }
    this.onRun?.(cmd, false, 'cli')
    const argv = this.composeBin && cmd.argv[0] === 'docker' && cmd.argv[1] === 'compose' ? [this.composeBin, ...cmd.argv.slice(2)] : cmd.argv
    // detached: a Ctrl-C on the terminal reaches calmswap alone, which then decides how to
    // land safely, instead of also killing a half-done `docker compose up`.
    const p = await $({
      // Go programs (docker, compose) run one thread per core; on a box whose cores are busy
      // with the app, each of those threads waits, and makes the app wait. One at a time
      // they cost the same CPU and stall a third less (`make bench`). The user's own setting wins.
      env: { GOMAXPROCS: '1', ...process.env, ...cmd.env },
      quiet: true,
      nothrow: true,
      detached: true,
      verbose: false,
      timeout: cmd.timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    })`${argv}`
    return { code: p.exitCode ?? 1, stdout: p.stdout, stderr: p.stderr }
  }

  async writeFile(path: string, content: string): Promise<void> {
    writeFileAtomic(path, content)
  }
}

/** --dry-run: reads the host for real, prints every change instead of making it. */
export class DryRunExecutor implements Executor {
  readonly dryRun = true
  onRun?: (cmd: Cmd, planned: boolean, via?: Via) => void
  constructor(
    private readonly real: Executor,
    private readonly print: (line: string) => void,
  ) {
    real.onRun = (cmd, planned, via) => this.onRun?.(cmd, planned, via)
  }

  async run(cmd: Cmd): Promise<Result> {
    if (!cmd.mutates) return this.real.run(cmd)
    this.onRun?.(cmd, true)
    this.print(render(cmd))
    return { code: 0, stdout: '', stderr: '' }
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.print(`write ${path} <<EOF\n${content.trimEnd()}\nEOF`)
  }
}

export type Responder = (cmd: Cmd) => Partial<Result> | undefined

/** For plan tests: records what a step would run; answers from a responder. */
export class RecordingExecutor implements Executor {
  readonly dryRun = false
  /** Commands and file writes, in the order they happened. */
  readonly events: ({ cmd: Cmd } | { write: string; content: string })[] = []
  onRun?: (cmd: Cmd, planned: boolean, via?: Via) => void
  constructor(private readonly respond: Responder = () => undefined) {}

  /** The commands alone, in order. */
  get calls(): Cmd[] {
    return this.events.flatMap((e) => ('cmd' in e ? [e.cmd] : []))
  }

  /** Each file written, with its last content (in the order each was first written). */
  get files(): Map<string, string> {
    return new Map(this.events.flatMap((e) => ('write' in e ? [[e.write, e.content] as const] : [])))
  }

  async run(cmd: Cmd): Promise<Result> {
    this.onRun?.(cmd, false)
    this.events.push({ cmd })
    const r = this.respond(cmd) ?? {}
    return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.events.push({ write: path, content })
  }
}
