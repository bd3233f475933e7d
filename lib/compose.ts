// Pure command builders: each returns an argv array plus the env it needs, and runs nothing.
// The executor runs them; tests assert on them.
import { dirname } from 'node:path'
import type { Color, Config } from './config.ts'

export type Project = Color | 'shared'

export interface Cmd {
  readonly argv: readonly string[]
  /** Extra env on top of the process env. */
  readonly env?: Readonly<Record<string, string>>
  /** False for read-only commands, which --dry-run still runs to see the host. */
  readonly mutates: boolean
  readonly timeoutMs?: number
}

export const projectName = (c: Config, p: Project) => `${c.prefix}-${p}`

/** What the compose file may interpolate: the color, its web port, the shared network prefix, the upstream dir. */
export function composeEnv(c: Config, p: Project): Record<string, string> {
  const env: Record<string, string> = {
    CALMSWAP_PREFIX: c.prefix,
    CALMSWAP_UPSTREAM_DIR: dirname(c.proxy.upstreamFile),
  }
  if (p !== 'shared') {
    env.DEPLOY_COLOR = p
    env[c.portVar] = String(c.ports[p])
  }
  if (c.release) env.CALMSWAP_RELEASE = c.release
  return env
}

function compose(c: Config, p: Project, args: readonly string[], mutates: boolean): Cmd {
  return {
    argv: [c.docker, 'compose', '-p', projectName(c, p), '-f', c.composeFile, ...args],
    env: composeEnv(c, p),
    mutates,
  }
}

export const composeConfig = (c: Config, p: Project = 'blue'): Cmd => compose(c, p, ['config', '--format', 'json'], false)

/** --no-deps: a color never starts its own Redis or database. */
export const up = (c: Config, p: Project, services: readonly string[]): Cmd =>
  compose(c, p, p === 'shared' ? ['up', '-d', '--no-recreate', ...services] : ['up', '-d', '--no-deps', '--force-recreate', '--no-build', ...services], true)

export const build = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['build', ...services], true)

/** SIGTERM, then SIGKILL after the grace period: Celery's warm shutdown finishes in-flight tasks. */
export const stop = (c: Config, p: Project, services: readonly string[], graceS = c.stopGraceS): Cmd =>
  compose(c, p, ['stop', '-t', String(graceS), ...services], true)

/** Sends the signal and returns at once: the containers shut down while the next step runs. */
export const signal = (c: Config, p: Project, services: readonly string[], sig = 'SIGTERM'): Cmd => compose(c, p, ['kill', '-s', sig, ...services], true)

/** Blocks until the containers exit; it sends no signal (a second SIGTERM turns Celery's warm shutdown cold). */
export const waitExit = (c: Config, containers: readonly string[], timeoutMs: number): Cmd => ({ argv: [c.docker, 'wait', ...containers], mutates: true, timeoutMs })

export const start = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['start', ...services], true)
export const pause = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['pause', ...services], true)
export const unpause = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['unpause', ...services], true)

/** No -v: volumes are the user's data and outlive a color. */
export const down = (c: Config, p: Project, graceS = c.stopGraceS): Cmd => compose(c, p, ['down', '-t', String(graceS), '--remove-orphans'], true)

export const logs = (c: Config, p: Project, services: readonly string[], tail = c.logTail): Cmd =>
  compose(c, p, ['logs', '--no-color', '--timestamps', '--tail', String(tail), ...services], false)

const PS_FORMAT = [
  '{{.ID}}',
  '{{.Label "com.docker.compose.project"}}',
  '{{.Label "com.docker.compose.service"}}',
  '{{.State}}',
  '{{.Status}}',
  '{{.Names}}',
  '{{.Image}}',
].join('\t')

/** One call sees every container of all three projects. */
export const inventory = (c: Config): Cmd => ({
  argv: [c.docker, 'ps', '-a', '--no-trunc', '--filter', `label=com.docker.compose.project`, '--format', PS_FORMAT],
  mutates: false,
})

export const dockerInfo = (c: Config): Cmd => ({ argv: [c.docker, 'info', '--format', '{{.ServerVersion}}'], mutates: false, timeoutMs: 15_000 })
export const composeVersion = (c: Config): Cmd => ({ argv: [c.docker, 'compose', 'version', '--short'], mutates: false, timeoutMs: 15_000 })

export const healthStatus = (c: Config, container: string): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', container],
  mutates: false,
})

export const imageIds = (c: Config, containers: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.Image}}', ...containers],
  mutates: false,
})

export const dockerExec = (c: Config, container: string, argv: readonly string[], mutates: boolean): Cmd => ({
  argv: [c.docker, 'exec', container, ...argv],
  mutates,
})

/** How a person would type the same call, for --dry-run and --verbose. */
export function render(cmd: Cmd): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${q(v)}`)
  return [...env, ...cmd.argv.map(q)].join(' ')
}
