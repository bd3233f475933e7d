// A command is data: the argv a person would type, what it does to the host, and the same
// request as an Engine API call where there is one. lib/builders/ builds them, the
// executor runs them, tests compare them.

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /**
   * The Engine API's answer to a read with structure, as data (ApiData in lib/docker-api.ts);
   * absent when the CLI ran it, or when the answer is text (stdout). Read it with `answer`.
   */
  readonly data?: unknown
}

/**
 * How a read's answer becomes T, whichever way it ran: `cli` parses the stdout of its argv,
 * `api` reads the Engine API's data. Each source is parsed once, by its own half.
 */
export interface Reader<T, D = unknown> {
  readonly cli: (stdout: string) => T
  readonly api: (data: D) => T
}

/** The answer of a read, from the source that gave it. */
export const answer = <T, D>(r: Result, read: Reader<T, D>): T => (r.data === undefined ? read.cli(r.stdout) : read.api(r.data as D))

export type ContainerState = 'running' | 'paused' | 'exited' | 'created' | 'restarting' | 'removing' | 'dead'

/**
 * The same request through Docker's socket, as data; lib/docker-api.ts answers each, a read
 * with structure as `Result.data` that the caller's Reader takes instead of the argv's stdout.
 */
export type ApiCall =
  | { readonly op: 'version' }
  | { readonly op: 'list' }
  | { readonly op: 'post'; readonly action: 'start' | 'pause' | 'unpause' | 'kill' | 'stop'; readonly ids: readonly string[]; readonly signal?: string; readonly graceS?: number }
  | { readonly op: 'wait'; readonly ids: readonly string[] }
  /** Each container's whole inspect: the caller's Reader takes the fields its argv's --format prints. */
  | { readonly op: 'inspect'; readonly ids: readonly string[] }
  | { readonly op: 'exec'; readonly container: string; readonly argv: readonly string[] }
  | { readonly op: 'cpu'; readonly ids: readonly string[]; readonly windowMs: number }
  | { readonly op: 'remove'; readonly ids: readonly string[] }
  | { readonly op: 'image'; readonly ref: string }
  | { readonly op: 'tag'; readonly id: string; readonly ref: string }
  | { readonly op: 'rmi'; readonly ref: string }
  | { readonly op: 'swarm' }
  | { readonly op: 'nodes' }
  | { readonly op: 'services'; readonly names: readonly string[] }
  | { readonly op: 'tasks'; readonly services: readonly string[] }
  | { readonly op: 'scale'; readonly replicas: Readonly<Record<string, number>> }
  | { readonly op: 'rollback'; readonly service: string }
  | { readonly op: 'stack-containers'; readonly stack: string }
  | { readonly op: 'task-containers'; readonly ids: readonly string[] }
  /** What a container logged since `sinceS` (unix seconds), each line led by its time, both streams. */
  | { readonly op: 'logs'; readonly id: string; readonly sinceS: number }
  /** Container events of a project between two times (unix seconds): a stream that ends at `untilS`. */
  | { readonly op: 'events'; readonly project: string; readonly sinceS: number; readonly untilS: number }

/**
 * What a mutating command does to the containers, as far as a dry run needs to know to plan
 * the next step the way the real run would: the projected inventory applies it.
 */
export type Effect =
  | { readonly on: 'containers'; readonly names: readonly string[]; readonly to: ContainerState | 'removed' }
  | { readonly on: 'services'; readonly project: string; readonly services: readonly string[]; readonly to: ContainerState }
  | { readonly on: 'project'; readonly project: string; readonly to: 'removed' }

export interface Cmd {
  readonly argv: readonly string[]
  /** Extra env on top of the process env. */
  readonly env?: Readonly<Record<string, string>>
  /** False for read-only commands, which --dry-run still runs to see the host. */
  readonly mutates: boolean
  /** A change that can be cut short without leaving anything half-done (a wait): on abort it ends at once, like a read. */
  readonly interruptible?: boolean
  /** The deadline; the executor ends the command (and its process group) when it passes. */
  readonly timeoutMs: number
  readonly api?: ApiCall
  readonly effect?: Effect
  /** Where to run it; the compose file's folder for compose. */
  readonly cwd?: string
  /** Its output is for the operator as it comes (a release job's log), not only for calmswap. */
  readonly stream?: boolean
  /** Its standard input (`docker stack deploy -c -`); none when absent. */
  readonly input?: string
}

/** How a person would type the same call, for --dry-run and --verbose. */
export function render(cmd: Pick<Cmd, 'argv' | 'env' | 'input'>): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${q(v)}`)
  const line = [...env, ...cmd.argv.map(q)].join(' ')
  return cmd.input === undefined ? line : `${line} <<'EOF'\n${cmd.input.trimEnd()}\nEOF`
}
