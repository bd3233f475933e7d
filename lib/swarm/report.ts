// status and doctor in swarm mode: nodes (with their CPU pressure where it can be read),
// the stack's services with their update state, their tasks, the release, the lock.
import { existsSync } from 'node:fs'
import { dockerVersion } from '../builders/reads.ts'
import { serviceName, stackName } from '../builders/swarm.ts'
import { type Check, check, stateChecks } from '../checks.ts'
import { type Config, withRelease } from '../config.ts'
import type { Ctx } from '../context.ts'
import { type LockInfo, lockHeld, readLock } from '../lock.ts'
import { type NodePsi, nodePsi, psiSourceOf } from './node-pressure.ts'
import { readStack, type StackFile, stackNotes, stackProblems } from './stack.ts'
import { type SwarmJournal, swarmStore } from './state.ts'
import { readNodes, readServices, readSwarmInfo, readTasks, type SwarmInfo, type SwarmNode, type UpdateStatus } from './view.ts'

export interface SwarmStatusReport {
  readonly engine: 'swarm'
  readonly stack: string
  readonly release: string | null
  readonly previousRelease: string | null
  readonly swarm: SwarmInfo
  readonly lock: (LockInfo & { alive: boolean }) | null
  readonly interrupted: SwarmJournal | null
  readonly nodes: (SwarmNode & { psi: NodePsi })[]
  readonly services: {
    service: string
    mode: string
    running: number
    desired: number | null
    image: string
    update: UpdateStatus | null
  }[]
  readonly tasks: { service: string; task: string; node: string; desired: string; state: string; image: string; error: string }[]
}

/**
 * The stack file is read with the variables its stack deploy gets, the release among them.
 * status and doctor deploy nothing: the release last deployed (or "latest") stands in.
 */
const withSomeRelease = (ctx: Ctx): Ctx => (ctx.config.release ? ctx : ctx.withConfig(withRelease(ctx.config, swarmStore(ctx, true).load().release ?? 'latest')))

/** Names in the stack file, or those the settings give when the file cannot be read. */
async function stackServices(ctx: Ctx): Promise<string[]> {
  try {
    return [...(await readStack(withSomeRelease(ctx))).services.keys()]
  } catch {
    const r = ctx.config.roles
    return [...r.shared, ...r.web, ...r.core, ...r.singletons, ...r.workers]
  }
}

export async function swarmStatus(ctx: Ctx): Promise<SwarmStatusReport> {
  const c = ctx.config
  const rec = swarmStore(ctx, true).load()
  const held = lockHeld(c.stateDir)
  const note = readLock(c.stateDir)
  const swarm = await readSwarmInfo(ctx)
  const base = {
    engine: 'swarm' as const,
    stack: stackName(c),
    release: rec.release,
    previousRelease: rec.previousRelease,
    swarm,
    lock: note ? { ...note, alive: held } : null,
    // A journal with no live lock holder is an operation that died halfway.
    interrupted: rec.journal && !held ? rec.journal : null,
  }
  if (swarm.state !== 'active' || !swarm.manager) return { ...base, nodes: [], services: [], tasks: [] }
  const nodes = await readNodes(ctx)
  const psi = nodePsi(
    c,
    nodes.map((n) => n.hostname),
  )
  const names = await stackServices(ctx)
  const services = await readServices(ctx, names)
  const tasks = await readTasks(ctx, [...services.keys()])
  return {
    ...base,
    nodes: nodes.map((n, i) => ({ ...n, psi: psi[i]! })),
    services: [...services].map(([short, s]) => ({
      service: short,
      mode: s.global ? 'global' : 'replicated',
      running: tasks.filter((t) => t.service === s.name && t.desired === 'running' && t.state === 'running').length,
      desired: s.replicas,
      image: s.image,
      update: s.update,
    })),
    tasks: tasks
      .filter((t) => t.desired === 'running' || t.state === 'running' || t.state === 'starting')
      .map((t) => ({ service: t.service.slice(c.prefix.length + 1), task: t.name, node: t.node, desired: t.desired, state: t.state, image: t.image, error: t.error })),
  }
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(w[i]!))
      .join('  ')
      .trimEnd(),
  )
}

const psiText = (p: NodePsi) => (p.avg10 === null ? 'unreadable from here' : `${p.avg10}% (${p.source === 'local' ? '/proc/pressure/cpu' : p.file})`)

export function formatSwarmStatus(r: SwarmStatusReport): string {
  const lines = [
    `stack:    ${r.stack} (swarm${r.swarm.state === 'active' ? `, ${r.swarm.nodes} node${r.swarm.nodes === 1 ? '' : 's'}, ${r.swarm.managers} manager${r.swarm.managers === 1 ? '' : 's'}` : `: ${r.swarm.state}`})`,
    `release:  ${r.release ?? '-'}${r.previousRelease ? `  (before: ${r.previousRelease})` : ''}`,
    `lock:     ${r.lock ? `${r.lock.op} by pid ${r.lock.pid} (${r.lock.who}) since ${r.lock.since}${r.lock.alive ? '' : ' (holder is gone; the next command takes it over)'}` : 'free'}`,
  ]
  if (r.interrupted)
    lines.push(`interrupted: ${r.interrupted.op} of ${r.interrupted.release} after [${r.interrupted.done.join(', ')}]; run deploy to continue it or rollback to undo it`)
  if (r.swarm.state !== 'active') return [...lines, '', 'this daemon is not in a swarm: docker swarm init --advertise-addr <IP>'].join('\n')
  if (!r.swarm.manager) return [...lines, '', 'this daemon is a worker node: point DOCKER_HOST at a manager to see the stack'].join('\n')
  lines.push(
    '',
    ...table([
      ['NODE', 'STATUS', 'AVAILABILITY', 'MANAGER', 'CPU PSI some avg10'],
      ...r.nodes.map((n) => [`${n.hostname}${n.self ? ' *' : ''}`, n.status, n.availability, n.manager || '-', psiText(n.psi)]),
    ]),
  )
  lines.push('')
  if (!r.services.length) lines.push('(no services of this stack yet)')
  else
    lines.push(
      ...table([
        ['SERVICE', 'MODE', 'TASKS', 'IMAGE', 'UPDATE'],
        ...r.services.map((s) => [
          s.service,
          s.mode,
          `${s.running}/${s.desired ?? 'each node'}`,
          s.image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]*/, '@$1'),
          s.update ? `${s.update.state}${s.update.message ? `: ${s.update.message}` : ''}` : '-',
        ]),
      ]),
    )
  if (r.tasks.length) {
    lines.push('', ...table([['TASK', 'NODE', 'DESIRED', 'STATE', 'ERROR'], ...r.tasks.map((t) => [t.task, t.node, t.desired, t.state, t.error])]))
  }
  return lines.join('\n')
}

export async function swarmDoctor(ctx: Ctx): Promise<Check[]> {
  const c = ctx.config
  const docker = await engineCheck(ctx)
  const info = docker.ok ? await readSwarmInfo(ctx).catch(() => null) : null
  const stack = await stackChecks(ctx)
  const checks = [docker, swarmCheck(info), ...stack]
  // Nodes and services are a manager's to list; a worker or a lone engine would only refuse.
  if (info?.state === 'active' && info.manager) {
    const nodes = await readNodes(ctx)
    checks.push(nodesCheck(nodes), pressureCheck(c, nodes))
    if (stack[0]?.ok) checks.push(await rollbackOrderCheck(ctx))
  }
  checks.push(...stateChecks(c.stateDir, 'deploy or rollback'))
  return checks
}

async function engineCheck(ctx: Ctx): Promise<Check> {
  const v = await ctx.run(dockerVersion(ctx.config))
  return check(
    'docker',
    v.code === 0,
    v.code === 0 ? `server ${v.stdout.trim()}` : ((v.stderr || v.stdout).trim().split('\n').at(-1) ?? 'no answer'),
    'start it, or fix DOCKER_HOST',
  )
}

function swarmCheck(info: SwarmInfo | null): Check {
  const active = info?.state === 'active'
  return check(
    'swarm',
    Boolean(active && info?.manager),
    !info ? 'unknown' : !active ? `not in a swarm (${info.state})` : info.manager ? `manager of a swarm of ${info.nodes} node(s), ${info.managers} manager(s)` : 'a worker node',
    !active ? 'docker swarm init --advertise-addr <this node IP> (then docker swarm join on the other boxes)' : 'point DOCKER_HOST at a manager node',
  )
}

/** The stack file's check first (the services' checks need it to pass), then its routing. */
async function stackChecks(ctx: Ctx): Promise<Check[]> {
  const c = ctx.config
  try {
    const stack = await readStack(withSomeRelease(ctx))
    const problems = stackProblems(c, stack)
    const notes = stackNotes(c, stack)
    const file = check(
      'stack file',
      problems.length === 0,
      problems.length ? problems.join('\n') : `${c.composeFile}: every service has a role, the web a healthcheck${notes.length ? `\n${notes.join('\n')}` : ''}`,
      'see each line above',
    )
    // No IPVS: service VIPs and the ingress mesh cannot work on this kernel. Only meaningful
    // where calmswap runs on a node, which is where /proc/net/ip_vs would be.
    return existsSync('/proc/net/ip_vs') ? [file] : [file, routingCheck(stack)]
  } catch (e) {
    return [check('stack file', false, (e as Error).message, `fix ${c.composeFile}`)]
  }
}

function routingCheck(stack: StackFile): Check {
  const vip = [...stack.services.values()].filter((s) => {
    const deploy = (s.raw.deploy ?? {}) as Record<string, unknown>
    return deploy.endpoint_mode !== 'dnsrr'
  })
  return check(
    'service routing',
    vip.length === 0,
    vip.length
      ? `no IPVS in this kernel, and ${vip.map((s) => s.name).join(', ')} use a virtual IP, which nothing forwards here`
      : 'no IPVS in this kernel; every service uses endpoint_mode: dnsrr',
    'set deploy.endpoint_mode: dnsrr on each service, and publish the proxy with mode: host (or run on a kernel with IPVS)',
  )
}

function nodesCheck(nodes: readonly SwarmNode[]): Check {
  const down = nodes.filter((n) => n.status !== 'ready')
  return check(
    'nodes',
    down.length === 0,
    `${nodes.length - down.length} of ${nodes.length} ready${down.length ? `; ${down.map((n) => `${n.hostname} ${n.status}`).join(', ')}` : ''}`,
    'bring the node back, or docker node rm it',
  )
}

function pressureCheck(c: Config, nodes: readonly SwarmNode[]): Check {
  const sources = nodes.map((n) => [n.hostname, psiSourceOf(c, n.hostname)] as const)
  const unread = sources.filter(([, s]) => !s).map(([h]) => h)
  return check(
    'cpu pressure per node',
    true,
    `${
      sources
        .filter(([, s]) => s)
        .map(([h, s]) => `${h}: ${s!.file}`)
        .join(', ') || 'no node'
    } readable${unread.length ? `; ${unread.join(', ')} not readable from here: calm waits use the nodes that are, or this host's own PSI` : ''}`,
  )
}

async function rollbackOrderCheck(ctx: Ctx): Promise<Check> {
  const c = ctx.config
  const found = await readServices(ctx, [...c.roles.web, ...c.roles.core])
  const stopFirst = [...found].filter(([, s]) => s.rollbackOrder !== 'start-first').map(([n]) => n)
  return check(
    'web rollback order',
    stopFirst.length === 0,
    stopFirst.length
      ? `${stopFirst.map((n) => serviceName(c, n)).join(', ')}: rollback_config.order is stop-first; a rollback to this spec would stop the web before its old task is up`
      : found.size
        ? 'start-first: a rollback keeps the web up'
        : 'no web service yet (the first deploy creates it with a start-first rollback)',
    'deploy once with calmswap: every deploy sets rollback_config.order start-first on the web, for the rollback to it',
  )
}
