// What every step receives: config, the executor, output, state and journal, and the abort
// signal. Steps run commands through ctx.run/ctx.must, which hand the signal along.

import { listContainers } from './builders/reads.ts'
import type { Cmd, Reader, Result } from './command.ts'
import { COLORS, type Config, pinFile, withPin } from './config.ts'
import { Interrupted } from './errors.ts'
import { type Executor, must, mustRead } from './executor.ts'
import { containerList, Inventory, projectedContainers } from './inventory.ts'
import { JournalWriter, type State, StateStore } from './state.ts'
import { Ui } from './ui.ts'

export interface Ctx {
  readonly config: Config
  readonly exec: Executor
  readonly ui: Ui
  readonly state: StateStore
  readonly journal: JournalWriter
  readonly signal: AbortSignal
  /** Compose or swarm, as CALMSWAP_ENGINE picked: what deploy, rollback, status... run. */
  readonly engine: Engine
  /** Runs a command with this context's signal; never throws for a non-zero exit. */
  run(cmd: Cmd): Promise<Result>
  /** Runs a command that has to succeed; returns its stdout. */
  must(cmd: Cmd): Promise<string>
  /** Runs a read that has to succeed; returns its answer, as `reader` reads the CLI's text or the API's data. */
  read<T, D>(cmd: Cmd, reader: Reader<T, D>): Promise<T>
  /** One `docker ps` serves every step until something changes the host. */
  inventory(fresh?: boolean): Promise<Inventory>
  /** Throws Interrupted once Ctrl-C, SIGTERM or SIGHUP arrived: steps call it between changes. */
  checkpoint(): void
  /** The same context with another signal: a rollback must finish even after Ctrl-C. */
  withSignal(signal: AbortSignal): Ctx
  /** The same context with a signal nothing aborts: for what must finish even after Ctrl-C (a rollback, an undo). */
  uninterruptible(): Ctx
  /** The same context with another config (a deploy's release label). */
  withConfig(config: Config): Ctx
}

/** One line of doctor's report (lib/checks.ts formats them). */
export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
  readonly fix?: string
}

// ---------------------------------------------------------------- the seam between the engines
// Compose (lib/compose/engine.ts) and Swarm (lib/swarm/engine.ts) each implement Engine once;
// cli.ts picks one from CALMSWAP_ENGINE and every script reaches it as ctx.engine, so no script
// and no shared module asks which runs.

export interface DeployRequest {
  /** deploy --release: this label instead of CALMSWAP_RELEASE or the git hash. */
  readonly release?: string
  /** deploy --rerun-jobs: run an interrupted release job again. */
  readonly rerunJobs?: boolean
}

export interface RecoverReport {
  readonly action: string
  readonly changes: readonly string[]
}

export interface Engine {
  readonly name: 'compose' | 'swarm'
  /** The file that journals its operations, which a run cut short continues from. */
  storeFile(stateDir: string): string
  /** Why it does not run this script (one of the other engine's steps), or null when it does. */
  refuses(script: string): string | null
  deploy(ctx: Ctx, o: DeployRequest): Promise<unknown>
  rollback(ctx: Ctx): Promise<unknown>
  cleanup(ctx: Ctx, o: { readonly yes?: boolean }): Promise<unknown>
  /** The status report: one JSON document, or the text for a terminal. */
  status(ctx: Ctx, json: boolean): Promise<string>
  doctor(ctx: Ctx): Promise<Check[]>
  recover(ctx: Ctx): Promise<RecoverReport>
}

export interface CtxParts {
  config: Config
  exec: Executor
  ui?: Ui
  state?: StateStore
  signal?: AbortSignal
  engine?: Engine
}

export function makeContext(p: CtxParts): Ctx {
  const ui = p.ui ?? new Ui()
  const state = p.state ?? new StateStore(p.config.stateDir, p.exec.dryRun)
  // `gen` counts changes: a listing that started before a change (a create beside the health
  // watch) is returned to its caller but not kept for the next one.
  const cache: { inv: Inventory | null; gen: number } = { inv: null, gen: 0 }
  p.exec.onRun = (cmd, planned, via) => {
    if (cmd.mutates) {
      cache.inv = null
      cache.gen++
    }
    ui.command(cmd, planned, via)
  }
  p.exec.onLine = (cmd, line) => ui.output(cmd.argv.at(-1) ?? cmd.argv[0]!, line)
  const engine = p.engine ?? NO_ENGINE
  const build = (config: Config, signal: AbortSignal): Ctx => ({
    config,
    exec: p.exec,
    ui,
    state,
    journal: new JournalWriter(state),
    signal,
    engine,
    run: (cmd) => p.exec.run(cmd, signal),
    must: (cmd) => must(p.exec, cmd, signal),
    read: (cmd, reader) => mustRead(p.exec, cmd, reader, signal),
    async inventory(fresh = false) {
      if (!fresh && cache.inv) return cache.inv
      const gen = cache.gen
      const inv = new Inventory(config, projectedContainers(await mustRead(p.exec, listContainers(config), containerList, signal), p.exec.planned))
      if (gen === cache.gen) cache.inv = inv
      return inv
    },
    checkpoint() {
      if (signal.aborted) throw new Interrupted(String(signal.reason ?? 'signal'))
    },
    withSignal: (s) => build(config, s),
    uninterruptible: () => build(config, new AbortController().signal),
    withConfig: (c) => build(c, signal),
  })
  return build(withStatePins(p.config, state), p.signal ?? new AbortController().signal)
}

/** Said when a step of compose mode (up-core, switch, ...) is run with another engine. */
export const composeStepRefusal = (script: string): string =>
  `${script} is a step of compose mode; with CALMSWAP_ENGINE=swarm, deploy runs every step itself and rollback takes every service back (README: Swarm)`

/** A context made without one (a step's own test) has no engine to hand out. */
const NO_ENGINE = new Proxy({} as Engine, {
  get(_t, key) {
    if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined
    throw new Error(`this context was made without an engine (engine.${String(key)})`)
  },
})

/** The config with each color's images pinned as the state records them. */
function withStatePins(c: Config, state: StateStore): Config {
  let colors: State['colors']
  try {
    colors = state.load().colors
  } catch {
    // An unreadable state is reported by whatever reads it next; the pins wait for it.
    return c
  }
  for (const color of COLORS) {
    const pin = colors?.[color]
    if (pin) c = withPin(c, color, { file: pinFile(c, color), release: pin.release })
  }
  return c
}
