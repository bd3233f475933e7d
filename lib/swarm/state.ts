// Swarm mode's record, <stateDir>/swarm.json: the stack's release, and what the operation in
// progress did to each service, written before each change so that a rollback (now, after a
// crash, or after the deploy finished) knows how to take every service back. Separate from
// state.json, whose colors and upstream have no meaning for a stack.
import { join } from 'node:path'
import type { Ctx } from '../context.ts'
import { JsonFile } from '../files.ts'
import type { Role } from './stack.ts'

export interface ServiceMark {
  readonly role: Role
  /** It did not exist before this deploy: there is no earlier spec to go back to. */
  readonly created?: boolean
  /** Replicas before the stand-down: what its old spec is scaled back to. */
  readonly replicas?: number
  /** Where its tasks ran before the stand-down: where the new ones most likely start. */
  readonly nodes?: readonly string[]
  /**
   * Its Version.Index before the stand-down scaled it to 0 (written before the call): a later
   * version means the scale happened, and the undo scales it back to `replicas`.
   */
  readonly scaledFrom?: number
  /**
   * Its Celery workers were asked to stop consuming before that scale (written before the
   * ask): if the scale never happened, they still run but take no task until restarted.
   */
  readonly quiesced?: boolean
  /** Its Version.Index before calmswap's `stack deploy` of it; written before the call. */
  readonly deployedFrom?: number
  /** Its UpdateStatus.StartedAt before that deploy: a later one is this deploy's update. */
  readonly updateBefore?: string
  /**
   * Its Version.Index before calmswap asked for its rollback (written before the call): a
   * later version means the rollback happened, and must not be asked for again (a second
   * `service rollback` goes forward again).
   */
  readonly undoFrom?: number
  /** The same, before the undo brought it back from the stand-down (its scale, or its restart). */
  readonly restoreFrom?: number
}

export type SwarmOp = 'deploy' | 'rollback'

export interface SwarmJournal {
  readonly op: SwarmOp
  readonly release: string
  readonly startedAt: string
  readonly pid: number
  readonly done: readonly string[]
  readonly current?: string
  readonly services: Readonly<Record<string, ServiceMark>>
}

export interface SwarmState {
  readonly version: 1
  readonly stack: string | null
  readonly release: string | null
  readonly previousRelease: string | null
  readonly journal: SwarmJournal | null
  /** What the last finished deploy did to each service: what `rollback` undoes. */
  readonly last: { readonly release: string; readonly services: Readonly<Record<string, ServiceMark>> } | null
  readonly updatedAt: string | null
}

export const EMPTY_SWARM: SwarmState = { version: 1, stack: null, release: null, previousRelease: null, journal: null, last: null, updatedAt: null }

const ROLES = ['web', 'core', 'singleton', 'worker', 'shared']
const isObj = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

function marksProblems(where: string, v: unknown): string[] {
  if (!isObj(v)) return [`"${where}" must be an object`]
  const p: string[] = []
  for (const [name, m] of Object.entries(v)) {
    if (!isObj(m) || !ROLES.includes(m.role as string)) p.push(`"${where}.${name}" must hold a role (${ROLES.join(', ')})`)
    else {
      for (const k of ['replicas', 'scaledFrom', 'deployedFrom', 'undoFrom', 'restoreFrom'])
        if (m[k] !== undefined && !Number.isInteger(m[k])) p.push(`"${where}.${name}.${k}" must be a whole number`)
      if (m.nodes !== undefined && !(Array.isArray(m.nodes) && m.nodes.every((n) => typeof n === 'string'))) p.push(`"${where}.${name}.nodes" must be a list of node names`)
    }
  }
  return p
}

/** Every way a swarm.json is not one calmswap wrote; empty when it is fine. */
export function swarmStateProblems(v: unknown): string[] {
  if (!isObj(v)) return ['it must hold a JSON object']
  const p: string[] = []
  if (v.version !== 1) p.push(`"version" is ${JSON.stringify(v.version)}; this calmswap reads version 1`)
  for (const k of ['stack', 'release', 'previousRelease', 'updatedAt'])
    if (v[k] !== undefined && v[k] !== null && typeof v[k] !== 'string') p.push(`"${k}" must be a string or null`)
  const j = v.journal
  if (j !== undefined && j !== null) {
    if (!isObj(j)) p.push('"journal" must be an object or null')
    else {
      if (j.op !== 'deploy' && j.op !== 'rollback') p.push(`"journal.op" is ${JSON.stringify(j.op)}, expected deploy or rollback`)
      if (typeof j.release !== 'string') p.push('"journal.release" must be a string')
      if (!Number.isInteger(j.pid)) p.push('"journal.pid" must be a whole number')
      if (!(Array.isArray(j.done) && j.done.every((d) => typeof d === 'string'))) p.push('"journal.done" must be a list of step names')
      p.push(...marksProblems('journal.services', j.services))
    }
  }
  const last = v.last
  if (last !== undefined && last !== null) {
    if (!isObj(last) || typeof last.release !== 'string') p.push('"last" must be {"release": <string>, "services": {...}} or null')
    else p.push(...marksProblems('last.services', last.services))
  }
  return p
}

export class SwarmStore {
  private readonly record: JsonFile<SwarmState>

  constructor(
    readonly dir: string,
    readonly readOnly = false,
  ) {
    const file = join(dir, 'swarm.json')
    this.record = new JsonFile(dir, file, readOnly, {
      empty: EMPTY_SWARM,
      problems: swarmStateProblems,
      name: `swarm record ${file}`,
      fixJson: 'restore it, or delete it (calmswap then knows no release and nothing to roll back)',
      fixShape: 'Restore it, or delete it.',
    })
  }

  get file(): string {
    return this.record.file
  }

  load(): SwarmState {
    return this.record.load()
  }

  private update(f: (r: SwarmState) => SwarmState): SwarmState {
    return this.record.save(f(this.load()))
  }

  private journal(f: (j: SwarmJournal) => SwarmJournal): void {
    this.update((r) => (r.journal ? { ...r, journal: f(r.journal) } : r))
  }

  /** Starts an operation's journal; the journal of the same operation, interrupted, is kept. */
  begin(op: SwarmOp, stack: string, release: string, services: Record<string, ServiceMark> = {}): SwarmJournal {
    const now = this.load().journal
    if (now?.op === op) return now
    const j: SwarmJournal = { op, release, startedAt: new Date().toISOString(), pid: process.pid, done: [], services }
    this.update((r) => ({ ...r, stack, journal: j }))
    return j
  }

  /** Records what is about to be done to a service (before the call), or what was. */
  mark(service: string, patch: Partial<ServiceMark> & { role?: Role }): void {
    this.journal((j) => {
      const before = j.services[service]
      const role = patch.role ?? before?.role
      if (!role) throw new Error(`no role known for ${service}`)
      return { ...j, services: { ...j.services, [service]: { ...before, ...patch, role } } }
    })
  }

  marks(): Readonly<Record<string, ServiceMark>> {
    return this.load().journal?.services ?? {}
  }

  markCurrent(step: string): void {
    this.journal((j) => ({ ...j, current: step }))
  }

  markDone(step: string): void {
    this.journal((j) => ({ ...j, done: [...j.done, step], current: undefined }))
  }

  /** A deploy failed or was interrupted: the same journal goes on as its rollback. */
  toRollback(): void {
    this.journal((j) => ({ ...j, op: 'rollback', done: [], current: undefined }))
  }

  /** The deploy finished: its release is live, and what it did is kept for `rollback`. */
  deployed(release: string): SwarmState {
    return this.update((r) => ({
      ...r,
      release,
      previousRelease: r.release,
      last: r.journal ? { release, services: r.journal.services } : null,
      journal: null,
    }))
  }

  /** A rollback finished: the release before the undone deploy serves again. */
  rolledBack(undoneRelease: string): SwarmState {
    return this.update((r) => ({
      ...r,
      // A deploy that failed never became the release; one rolled back after it finished did.
      release: r.release === undoneRelease ? r.previousRelease : r.release,
      previousRelease: r.release === undoneRelease ? null : r.previousRelease,
      last: null,
      journal: null,
    }))
  }
}

/** The swarm record of this context's state folder: the one way steps reach it (read-only for a dry run, or when asked). */
export const swarmStore = (ctx: Ctx, readOnly = ctx.exec.dryRun) => new SwarmStore(ctx.config.stateDir, readOnly)
