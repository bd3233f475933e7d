// The plan tests' executor: records what a step would run, in order, and answers from a
// responder (the pretend Docker host of world.ts). No process, no daemon.
import type { Cmd, Result } from '../../lib/command.ts'
import { sleep } from '../../lib/deadlines.ts'
import type { Executor, Via } from '../../lib/executor.ts'

export type Responder = (cmd: Cmd) => (Partial<Result> & { delayMs?: number }) | undefined
/** Lines a stream (the events API) hands over, each after its delay from the stream's start. */
export type Streamer = (cmd: Cmd) => readonly { readonly afterMs: number; readonly line: string }[]

export class RecordingExecutor implements Executor {
  readonly dryRun = false
  readonly planned = []
  /** Commands and file writes, in the order they happened. */
  readonly events: ({ cmd: Cmd } | { write: string; content: string } | { remove: string })[] = []
  onRun?: (cmd: Cmd, planned: boolean, via: Via) => void
  constructor(
    private readonly respond: Responder = () => undefined,
    private readonly lines: Streamer = () => [],
  ) {}

  /** The commands alone, in order. */
  get calls(): Cmd[] {
    return this.events.flatMap((e) => ('cmd' in e ? [e.cmd] : []))
  }

  /** Each file written, with its last content (in the order each was first written). */
  get files(): Map<string, string> {
    return new Map(this.events.flatMap((e) => ('write' in e ? [[e.write, e.content] as const] : [])))
  }

  async run(cmd: Cmd, signal?: AbortSignal): Promise<Result> {
    this.onRun?.(cmd, false, 'cli')
    this.events.push({ cmd })
    const r = this.respond(cmd) ?? {}
    // A command that takes a while (the world says so) ends early on the signal, as an interruptible one does.
    if (r.delayMs) {
      await sleep(r.delayMs, signal)
      if (signal?.aborted) return { code: 124, stdout: '', stderr: 'interrupted' }
    }
    return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
  }

  /** Hands over the streamer's lines as their times come, and ends with the signal or the deadline, as the daemon does. */
  async stream(cmd: Cmd, onLine: (line: string) => void, signal?: AbortSignal): Promise<Result> {
    this.onRun?.(cmd, false, 'api')
    this.events.push({ cmd })
    await new Promise<void>((resolve) => {
      const timers = this.lines(cmd).map((l) => setTimeout(() => onLine(l.line), l.afterMs))
      const end = () => {
        for (const t of timers) clearTimeout(t)
        clearTimeout(deadline)
        resolve()
      }
      const deadline = setTimeout(end, cmd.timeoutMs)
      if (signal?.aborted) end()
      signal?.addEventListener('abort', end, { once: true })
    })
    return { code: 0, stdout: '', stderr: '' }
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.events.push({ write: path, content })
  }

  async removeFile(path: string): Promise<void> {
    this.events.push({ remove: path })
  }
}
