// The stack file in swarm mode: the file `docker stack deploy` takes, unchanged. calmswap
// reads it through Compose (merge keys resolved, `${VAR}`s and relative paths left as
// written) for each service's role and update knobs, and hands `docker stack deploy` one
// step at a time: a copy holding only that step's services, with the update order each
// role needs. Interpolation, relative paths and the conversion to service specs stay the
// docker CLI's own, so a step deploys exactly what the whole file would. The values
// calmswap acts on itself (mode, replicas, stop_grace_period) it reads once more with the
// `${VAR}`s filled in, as the stack deploy will fill them.

import { stackConfig, stackConfigResolved } from '../builders/compose.ts'
import { render } from '../command.ts'
import type { Config } from '../config.ts'
import type { Ctx } from '../context.ts'
import { ConfigError } from '../errors.ts'

export type Role = 'web' | 'core' | 'singleton' | 'worker' | 'shared'

/** A service as the stack file declares it, the parts calmswap acts on. */
export interface StackService {
  readonly name: string
  readonly role: Role | null
  readonly global: boolean
  /** deploy.replicas; null when unset (Swarm runs one) and for global services. */
  readonly replicas: number | null
  /** stop_grace_period: how long Swarm waits after SIGTERM; null when unset (Docker's 10 s). */
  readonly stopGraceMs: number | null
  readonly healthcheck: boolean
  /** Publishes a port in `mode: host`: two tasks of it cannot share a node. */
  readonly hostPort: boolean
  readonly raw: Record<string, unknown>
}

export interface StackFile {
  readonly path: string
  /** The file as data: anchors and merge keys resolved, `${VAR}`s left for the CLI. */
  readonly data: Record<string, unknown>
  readonly services: ReadonlyMap<string, StackService>
  /** Values that filled in are not what the stack deploy takes: reported with stackProblems. */
  readonly unresolved: readonly string[]
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {})

export function roleOf(c: Config, service: string): Role | null {
  const r = c.roles
  if (r.web.includes(service)) return 'web'
  if (r.core.includes(service)) return 'core'
  if (r.singletons.includes(service)) return 'singleton'
  if (r.workers.includes(service)) return 'worker'
  if (r.shared.includes(service)) return 'shared'
  return null
}

function healthcheckOf(svc: Record<string, unknown>): boolean {
  const h = obj(svc.healthcheck)
  if (!svc.healthcheck || h.disable === true) return false
  const test = h.test
  return !(Array.isArray(test) && test[0] === 'NONE')
}

const parseJson = (path: string, json: string): Record<string, unknown> => {
  try {
    return obj(JSON.parse(json))
  } catch (e) {
    throw new ConfigError([`cannot read the stack file ${path}: docker compose config printed no JSON (${(e as Error).message})`])
  }
}

/** A Go duration as Compose prints stop_grace_period ("1m30s", "500ms"), in ms; undefined if it is not one. */
export function goDuration(text: string): number | undefined {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined
  return Math.round([...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)].reduce((ms, m) => ms + Number(m[1]) * unit[m[2]!]!, 0))
}

/**
 * The stack file from the JSON `docker compose config` printed (lib/builders/ stackConfig),
 * and the same file with its variables filled in (stackConfigResolved), where the mode,
 * replicas and stop grace are read.
 */
export function parseStack(c: Config, path: string, json: string, resolvedJson = json): StackFile {
  const top = parseJson(path, json)
  const filled = obj(parseJson(path, resolvedJson).services)
  const services = new Map<string, StackService>()
  const unresolved: string[] = []
  for (const [name, v] of Object.entries(obj(top.services))) {
    const svc = obj(v)
    const resolved = obj(filled[name])
    const deploy = obj(resolved.deploy)
    const ports = Array.isArray(svc.ports) ? svc.ports : []
    const written = (k: string, of: Record<string, unknown>) => JSON.stringify(of[k])
    if (deploy.replicas !== undefined && !(Number.isInteger(deploy.replicas) && (deploy.replicas as number) >= 0)) {
      unresolved.push(`service "${name}": deploy.replicas is ${written('replicas', obj(svc.deploy))}, ${written('replicas', deploy)} filled in: not a number of replicas`)
    }
    const grace = typeof resolved.stop_grace_period === 'string' ? goDuration(resolved.stop_grace_period) : undefined
    if (resolved.stop_grace_period !== undefined && grace === undefined) {
      unresolved.push(`service "${name}": stop_grace_period is ${written('stop_grace_period', svc)}, ${written('stop_grace_period', resolved)} filled in: not a duration`)
    }
    services.set(name, {
      name,
      role: roleOf(c, name),
      global: deploy.mode === 'global',
      replicas: typeof deploy.replicas === 'number' ? deploy.replicas : null,
      stopGraceMs: grace ?? null,
      healthcheck: healthcheckOf(svc),
      hostPort: ports.some((p) => obj(p).mode === 'host'),
      raw: svc,
    })
  }
  return { path, data: top, services, unresolved }
}

/** Why `docker compose config` failed, without its warnings (`version` is obsolete…). */
const composeSaid = (r: { code: number; stdout: string; stderr: string }) =>
  (r.stderr || r.stdout)
    .trim()
    .split('\n')
    .filter((l) => !/level=warning/.test(l))
    .join('\n') || `exit ${r.code}`

export async function readStack(ctx: Ctx): Promise<StackFile> {
  const c = ctx.config
  const r = await ctx.run(stackConfig(c))
  if (r.code !== 0) throw new ConfigError([`cannot read the stack file ${c.composeFile} with docker compose config: ${composeSaid(r)}`])
  const cmd = stackConfigResolved(c)
  const filled = await ctx.run(cmd)
  if (filled.code !== 0) {
    throw new ConfigError([
      `cannot fill in the variables of the stack file ${c.composeFile} as docker stack deploy would (this environment, no .env): ${composeSaid(filled)}\n    (${render(cmd)})`,
    ])
  }
  return parseStack(c, c.composeFile, r.stdout, filled.stdout)
}

/** Every way the stack file cannot be deployed calmly, each with its fix. Empty means fine. */
export function stackProblems(c: Config, f: StackFile): string[] {
  const problems: string[] = [...f.unresolved]
  if (!f.services.size) return [`${f.path} has no services`]
  const all = [...f.services.keys()]
  const roles: [string, readonly string[]][] = [
    ['web', c.roles.web],
    ['core', c.roles.core],
    ['workers', c.roles.workers],
    ['singletons', c.roles.singletons],
    ['shared', c.roles.shared],
  ]
  for (const [role, names] of roles) {
    for (const n of names) if (!f.services.has(n)) problems.push(`${role} service "${n}" is not in ${f.path} (it has: ${all.join(', ')}). Fix CALMSWAP_${role.toUpperCase()}.`)
  }
  for (const s of f.services.values()) {
    if (!s.role) problems.push(`service "${s.name}" has no role. Add it to CALMSWAP_SHARED (created once, never updated by calmswap), CALMSWAP_CORE or CALMSWAP_WORKERS.`)
    if (s.role === 'web' && !s.healthcheck) {
      problems.push(
        `web service "${s.name}" has no healthcheck: Swarm would count a new task as up the moment it starts, and stop the old one under traffic. Add one, e.g. healthcheck: {test: [CMD, curl, -fsS, "http://127.0.0.1:8000${c.health.path}"], interval: 2s, start_period: 20s}.`,
      )
    }
    if ((s.role === 'web' || s.role === 'core') && s.hostPort) {
      problems.push(
        `${s.role} service "${s.name}" publishes a port in mode: host: a start-first update cannot place the new task beside the old one on a node, and waits forever. Publish the proxy instead, or use ingress mode.`,
      )
    }
    if (s.role === 'singleton' && (s.global || (s.replicas ?? 1) > 1)) {
      problems.push(`singleton "${s.name}" must run once: remove deploy.mode global and set deploy.replicas to 1 (or leave it unset).`)
    }
  }
  return problems
}

const dur = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

type Knobs = Record<string, unknown>

/**
 * The update_config and rollback_config a role gets: the file's parallelism, delay, monitor
 * and max_failure_ratio where it sets them (else the CALMSWAP_SWARM_* defaults), and the
 * order the role needs. The web goes start-first and rolls back by itself on a failure, and
 * its rollback is start-first too (a rollback runs with the rollback_config of the spec it
 * returns to, so every deploy sets it for the next one). Singletons and workers go
 * stop-first: never two beats, never a doubled worker set on a node. Global services go one
 * node at a time.
 */
export function knobsFor(c: Config, s: StackService): { update_config: Knobs; rollback_config: Knobs } {
  const deploy = obj(s.raw.deploy)
  const fill = (k: Knobs): Knobs => ({
    parallelism: s.global ? 1 : (k.parallelism ?? c.swarm.parallelism),
    delay: k.delay ?? dur(c.swarm.delayMs),
    monitor: k.monitor ?? dur(c.swarm.monitorMs),
    max_failure_ratio: k.max_failure_ratio ?? c.swarm.failureRatio,
  })
  const startFirst = s.role === 'web' || s.role === 'core'
  const order = startFirst ? 'start-first' : 'stop-first'
  const update = obj(deploy.update_config)
  const rollback = obj(deploy.rollback_config)
  return {
    update_config: { ...update, ...fill(update), order, failure_action: startFirst ? 'rollback' : (update.failure_action ?? 'rollback') },
    rollback_config: { ...rollback, ...fill(rollback), order },
  }
}

/** What calmswap changes of the file's own update settings, for the operator to see once. */
export function stackNotes(c: Config, f: StackFile): string[] {
  const notes: string[] = []
  for (const s of f.services.values()) {
    if (!s.role || s.role === 'shared') continue
    const deploy = obj(s.raw.deploy)
    const want = knobsFor(c, s)
    for (const key of ['update_config', 'rollback_config'] as const) {
      const own = obj(deploy[key])
      for (const k of ['order', 'failure_action', 'parallelism'] as const) {
        if (own[k] !== undefined && own[k] !== want[key][k]) notes.push(`${s.name}: ${key}.${k} ${own[k]} in the file, ${want[key][k]} in calmswap's steps`)
      }
    }
  }
  return notes
}

/**
 * The stack file of one step: only these services (each with its role's update knobs), and
 * every network, volume, config and secret of the file, which `docker stack deploy` creates
 * when missing and leaves alone otherwise. Services not named are not touched at all.
 */
export function stepFile(c: Config, f: StackFile, services: readonly string[]): string {
  const out: Record<string, unknown> = { version: STACK_FILE_VERSION }
  for (const [k, v] of Object.entries(f.data)) if (k !== 'services' && k !== 'name' && k !== 'version' && !k.startsWith('x-')) out[k] = v
  const picked: Record<string, unknown> = {}
  for (const name of services) {
    const s = f.services.get(name)
    if (!s) continue
    const svc = asStackService(s.raw)
    picked[name] = !s.role || s.role === 'shared' ? svc : { ...svc, deploy: { ...obj(svc.deploy), ...knobsFor(c, s) } }
  }
  out.services = picked
  return compactJson(out)
}

/**
 * The schema version of every step file. Compose drops the file's own `version:`; the
 * Debian docker CLI (20.10) refuses a file without one, and reads up to 3.9.
 */
export const STACK_FILE_VERSION = '3.9'

/**
 * A service as `docker compose config` prints it, back in the forms the stack file schema
 * (3.x) takes: Compose fills in long forms that `docker stack deploy` refuses even with
 * --no-normalize (depends_on conditions, published ports as strings, bind options).
 */
export function asStackService(raw: Record<string, unknown>): Record<string, unknown> {
  const svc: Record<string, unknown> = { ...raw }
  if (svc.depends_on && typeof svc.depends_on === 'object' && !Array.isArray(svc.depends_on)) svc.depends_on = Object.keys(svc.depends_on)
  if (Array.isArray(svc.ports)) {
    svc.ports = svc.ports.map((p) => {
      const port = obj(p)
      if (!p || typeof p !== 'object' || typeof port.published !== 'string' || !/^\d+$/.test(port.published)) return p
      return { ...port, published: Number(port.published) }
    })
  }
  if (Array.isArray(svc.volumes)) {
    svc.volumes = svc.volumes.map((v) => {
      if (!v || typeof v !== 'object' || !('bind' in v)) return v
      const { create_host_path: _, ...bind } = obj((v as Record<string, unknown>).bind)
      const { bind: __, ...rest } = v as Record<string, unknown>
      return Object.keys(bind).length ? { ...rest, bind } : rest
    })
  }
  return svc
}

/** Valid JSON (and so YAML) with one line per top-level key and per service: short enough to read in a dry run. */
function compactJson(o: Record<string, unknown>): string {
  const entry = ([k, v]: [string, unknown], indent: string) => `${indent}${JSON.stringify(k)}: ${JSON.stringify(v)}`
  const top = Object.entries(o).map(([k, v]) =>
    k === 'services' && v && typeof v === 'object'
      ? `  "services": {\n${Object.entries(v)
          .map((e) => entry(e, '    '))
          .join(',\n')}\n  }`
      : entry([k, v], '  '),
  )
  return `{\n${top.join(',\n')}\n}\n`
}
