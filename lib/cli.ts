// What turns a module into a script: flags, --help, config, the executor, signals, the
// lock for scripts that change the host, and the exit code. Every script's main is one call
// of `run` with one step from lib/.
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { COLORS, type Color, type Config, otherColor, SETTINGS } from './config.ts'
import { loadConfig } from './config-loader.ts'
import { type Ctx, composeStepRefusal, type Engine, makeContext } from './context.ts'
import { composePlugin, dockerSocket, SocketDockerApi } from './docker-api.ts'
import { EXIT, exitCodeOf, UsageError } from './errors.ts'
import { DryRunExecutor, type Executor, killChildren, ProcessExecutor } from './executor.ts'
import { runOp } from './operation.ts'
import { StateStore } from './state.ts'
import { sanitize, Ui } from './ui.ts'

export interface ScriptSpec {
  readonly name: string
  readonly summary: string
  readonly usage: string
  readonly options?: ParseArgsConfig['options']
  readonly allowPositionals?: boolean
  readonly dryRun?: boolean
  readonly notes?: string
  /** Scripts that report data (status, doctor, history) print one JSON document for --json, not events. */
  readonly jsonIsData?: boolean
  /** Scripts that change the host run under the state folder's lock, named for them. */
  readonly lock?: string
  /**
   * The engines a step that differs by engine picks from (lib/engines.ts): ctx.engine is the one
   * CALMSWAP_ENGINE names, and it may refuse the step. A step without them is a step of compose
   * mode, refused in any other, unless it needs no engine at all (`anyEngine`, e.g. history).
   */
  readonly engines?: Readonly<Record<Config['engine'], Engine>>
  readonly anyEngine?: boolean
}

export type Flags = Record<string, string | boolean | undefined>

export interface Invocation {
  readonly flags: Flags
  readonly positionals: readonly string[]
}

/** A --color flag, or the fallback when none was given. */
export function colorArg(given: unknown, fallback: Color | null): Color {
  if (given === undefined) {
    if (!fallback) throw new UsageError('no color given and none is live yet: pass --color blue or --color green')
    return fallback
  }
  if (!COLORS.includes(given as Color)) throw new UsageError(`--color must be blue or green, not ${JSON.stringify(given)}`)
  return given as Color
}

/** The color a step script acts on when none is given: the one that is not live (blue at first). */
export function idleColor(ctx: Ctx): Color {
  const live = ctx.state.load().live
  return live ? otherColor(live) : 'blue'
}

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  config: { type: 'string' },
}

function helpText(spec: ScriptSpec): string {
  const own = Object.entries(spec.options ?? {}).map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}`)
  const env = SETTINGS.map((s) => `  ${s.env.padEnd(28)} ${(s.def || '""').padEnd(22)} ${s.doc}`)
  return [
    `${spec.name}: ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Options:',
    ...own,
    ...(spec.dryRun ? ['  --dry-run             print every command and file write, change nothing'] : []),
    spec.jsonIsData ? '  --json                the report as one JSON document on stdout' : '  --json                one JSON event per line on stdout',
    '  --verbose, -v         show every docker command',
    '  --config <file>       JSON config file (also CALMSWAP_CONFIG; default ./calmswap.json if present)',
    '  --help, -h            this text',
    ...(spec.notes ? ['', spec.notes] : []),
    '',
    'Environment (name, default, meaning):',
    ...env,
    '  NO_COLOR                     turns colors off; CI=true turns the spinner off',
    '',
    'Exit codes: 0 ok, 1 a step failed (rolled back where it could be), 2 usage or config error (nothing touched).',
  ].join('\n')
}

/** A script's main: one step from lib/; a number it returns is the exit code (doctor's 1 for a failed check). */
export type Main = (ctx: Ctx, inv: Invocation) => Promise<unknown>

/** One step: what its --help says and what it runs. scripts/<name>.ts and `calmswap <name>` run the same one. */
export interface Step {
  readonly spec: ScriptSpec
  readonly main: Main
}

export interface RunDeps {
  argv?: string[]
  env?: Record<string, string | undefined>
  executor?: Executor
  ui?: Ui
}

/** A step as its own script: scripts/<name>.ts and `calmswap <name>` both end here. */
export const runStep = (step: Step, deps: RunDeps = {}): Promise<number> => run(step.spec, step.main, deps)

/** Parses flags and config, wires signals, runs main, and sets process.exitCode. */
export async function run(spec: ScriptSpec, main: Main, deps: RunDeps = {}): Promise<number> {
  const code = await runInner(spec, main, deps)
  process.exitCode = code
  return code
}

/** Signals that end an operation: each lands it in a safe state (an SSH session that drops sends SIGHUP). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

async function runInner(spec: ScriptSpec, main: Main, deps: RunDeps): Promise<number> {
  let flags: Flags
  let positionals: string[]
  const options = { ...COMMON, ...(spec.dryRun ? { 'dry-run': { type: 'boolean' as const } } : {}), ...spec.options }
  try {
    const parsed = parseArgs({ args: deps.argv ?? process.argv.slice(2), options, allowPositionals: spec.allowPositionals ?? false, strict: true })
    flags = parsed.values as Flags
    positionals = parsed.positionals
  } catch (e) {
    process.stderr.write(`${spec.name}: ${sanitize((e as Error).message)}\nTry: ${spec.name} --help\n`)
    return EXIT.usage
  }
  if (flags.help) {
    process.stdout.write(`${helpText(spec)}\n`)
    return EXIT.ok
  }
  const ui = deps.ui ?? new Ui({ json: Boolean(flags.json) && !spec.jsonIsData, verbose: Boolean(flags.verbose) })
  const env = deps.env ?? process.env
  let config: Config
  try {
    config = loadConfig({ env, file: flags.config as string | undefined })
  } catch (e) {
    return report(ui, e)
  }
  const engine = spec.engines?.[config.engine]
  const refusal = engine ? engine.refuses(spec.name) : config.engine === 'compose' || spec.anyEngine ? null : composeStepRefusal(spec.name)
  if (refusal) return report(ui, new UsageError(refusal))

  const socket = deps.executor ? null : dockerSocket(env, config.docker, config.dockerApi)
  const api = socket ? new SocketDockerApi(socket) : null
  const real = deps.executor ?? new ProcessExecutor(api, socket ? composePlugin(env) : null)
  const exec = flags['dry-run'] ? new DryRunExecutor(real, (line) => ui.data(line)) : real
  const abort = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals) => {
    signals++
    if (signals === 1) {
      ui.warn(`${sig}: finishing the current command, then landing in a safe state (press Ctrl-C again to exit at once)`)
      abort.abort(sig)
    } else {
      ui.error(secondSignalMessage(sig, spec.name, config, engine))
      killChildren()
      process.exit(EXIT.failed)
    }
  }
  for (const s of STOP_SIGNALS) process.on(s, onSignal)
  try {
    const ctx = makeContext({ config, exec, ui, signal: abort.signal, engine })
    const go = () => main(ctx, { flags, positionals })
    const r = spec.lock ? await runOp(ctx, spec.lock, go) : await go()
    return typeof r === 'number' ? r : EXIT.ok
  } catch (e) {
    return report(ui, e)
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal)
    api?.close()
  }
}

/**
 * Said on the second signal. Each engine journals in its own file; and a deploy's first
 * signal may have begun its rollback, which a deploy run again does not finish: it refuses
 * and names `rollback` (exit 2), in either engine.
 */
export function secondSignalMessage(sig: string, script: string, c: Config, engine?: Engine): string {
  const file = engine?.storeFile(c.stateDir) ?? new StateStore(c.stateDir).file
  return `${sig} again: exiting now. ${file} records how far it got: ${script} run again continues from there, or names the command that does.`
}

function report(ui: Ui, e: unknown): number {
  const err = e as Error
  const code = exitCodeOf(e)
  ui.error(err.message)
  ui.event('exit', { code, error: err.name })
  if (ui.verbose && code !== EXIT.usage && err.stack) ui.detail(err.stack)
  return code
}
