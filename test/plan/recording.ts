// The plan tests' executor: records what a step would run, in order, and answers from a
// responder (the pretend Docker host of world.ts). No process, no daemon.
import type { Cmd, Result } from '../../lib/cmd.ts'
import type { Executor, Via } from '../../lib/executor.ts'

export type Responder = (cmd: Cmd) => Partial<Result> | undefined

export class RecordingExecutor implements Executor {
  readonly dryRun = false
  readonly planned = []
  /** Commands and file writes, in the order they happened. */
  readonly events: ({ cmd: Cmd } | { write: string; content: string } | { remove: string })[] = []
  onRun?: (cmd: Cmd, planned: boolean, via: Via) => void
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
    this.onRun?.(cmd, false, 'cli')
    this.events.push({ cmd })
    const r = this.respond(cmd) ?? {}
    return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.events.push({ write: path, content })
  }

  async removeFile(path: string): Promise<void> {
    this.events.push({ remove: path })
  }
}
